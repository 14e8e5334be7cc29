//! A subscriber list with `RcuList`: subscribers join and leave while an
//! event loop walks the list and delivers every event to everyone present.
//! The event loop never waits for the threads that change the list.
//!
//! Run with `cargo run --release --example subscriber_list`.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;
use urcu::{read_lock, RcuList};

#[path = "common/args.rs"]
mod args;

/// A subscriber: a name and a mailbox counter.
struct Subscriber {
    name: String,
    received: AtomicU64,
}

impl Drop for Subscriber {
    fn drop(&mut self) {
        // Runs after a grace period: no event delivery can still be
        // touching this subscriber.
        println!(
            "  (freed {} after a grace period; it had received {} events)",
            self.name,
            self.received.load(Ordering::Relaxed)
        );
    }
}

fn main() {
    args::Cli {
        name: "subscriber_list",
        about: "RcuList: subscribers join and leave while an event loop delivers events to \
                everyone present.",
        synopsis: "",
        options: "",
    }
    .no_args();
    let list: Arc<RcuList<Subscriber>> = Arc::new(RcuList::new());
    let join = |name: &str| Subscriber {
        name: name.to_string(),
        received: AtomicU64::new(0),
    };
    list.push_back(join("logger"));
    list.push_back(join("metrics"));

    let stop = Arc::new(AtomicBool::new(false));
    let delivered = Arc::new(AtomicU64::new(0));
    let event_loop = {
        let (list, stop, delivered) = (list.clone(), stop.clone(), delivered.clone());
        std::thread::spawn(move || {
            let mut events = 0u64;
            while !stop.load(Ordering::Relaxed) {
                // One event: walk the list inside a read-side section.
                let g = read_lock();
                for s in list.iter(&g) {
                    s.received.fetch_add(1, Ordering::Relaxed);
                    delivered.fetch_add(1, Ordering::Relaxed);
                }
                drop(g);
                events += 1;
                std::thread::sleep(Duration::from_micros(100));
            }
            events
        })
    };

    let pause = || std::thread::sleep(Duration::from_millis(30));
    let show = |what: &str| {
        let g = read_lock();
        let names: Vec<&str> = list.iter(&g).map(|s| s.name.as_str()).collect();
        println!("{what:<32} subscribers now: {names:?}");
    };
    show("start");
    pause();
    list.push_back(join("alerts"));
    show("alerts joined (push_back)");
    pause();
    list.push_front(join("audit"));
    show("audit joined (push_front)");
    pause();
    list.remove_first(|s| s.name == "metrics");
    show("metrics left (remove_first)");
    pause();
    let _ = list.insert_after(|s| s.name == "logger", join("tracer"));
    show("tracer joined after logger");
    pause();
    list.retain(|s| s.name != "audit");
    show("audit left (retain)");
    pause();

    stop.store(true, Ordering::Relaxed);
    let events = event_loop.join().unwrap();
    println!(
        "the event loop sent {events} events, {} deliveries, and never waited for a writer",
        delivered.load(Ordering::Relaxed)
    );
    urcu::rcu_barrier();
    println!("rcu_barrier: every removed subscriber has been freed");
}
