//! A QSBR worker: an event loop whose reads cost nothing, because it tells
//! the domain when it holds no references (a *quiescent state*) instead of
//! announcing every read-side section.
//!
//! Run it with `cargo run --release --example qsbr_event_loop`.
//!
//! The worker follows the three QSBR rules (see `urcu::guide::qsbr`):
//! it registers with the domain (`register_thread`), reports a quiescent
//! state between events (`quiescent_state`), and goes `offline` while it
//! blocks waiting for the next event. A writer publishes new firewall
//! rules and times `synchronize_rcu` to show what each rule buys. At the
//! end the worker breaks the third rule on purpose, and the domain's stall
//! report names it.

use std::sync::mpsc::{channel, Receiver, Sender};
use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant};
use urcu::{Domain, Flavor, RcuBox, StallReport};

#[path = "common/args.rs"]
mod args;

/// What the worker reads on every event: firewall rules with a version.
struct Rules {
    version: u32,
    blocked_ports: Vec<u16>,
}

enum Event {
    /// A packet to check against the rules.
    Packet(u16),
    /// A long computation, in chunks, reading the rules in each chunk.
    LongJob,
    /// The mistake: sleep while online, with no quiescent state.
    SleepOnline(Duration),
}

/// The long job: `CHUNKS` chunks of work, each `CHUNK` long.
const CHUNKS: u32 = 20;
const CHUNK: Duration = Duration::from_millis(5);

fn spin_for(d: Duration) {
    let t = Instant::now();
    while t.elapsed() < d {
        std::hint::spin_loop();
    }
}

fn worker(d: Domain, rules: Arc<RcuBox<Rules>>, events: Receiver<Event>, done: Sender<()>) {
    // Rule 1: register. The handle makes reads free, and is this thread's
    // voice towards grace periods.
    let mut h = d.register_thread();
    println!("  worker: registered with the QSBR domain (online)");
    loop {
        // Rule 3: offline while blocked. Grace periods do not wait for an
        // offline thread, so a writer is never held up by an idle worker.
        h.offline();
        let event = events.recv();
        h.online();
        let Ok(event) = event else { break };

        match event {
            Event::Packet(port) => {
                // The read side: under QSBR this writes nothing at all.
                let g = h.read_lock();
                let r = rules.load(&g);
                let verdict = if r.blocked_ports.contains(&port) {
                    "BLOCKED"
                } else {
                    "allowed"
                };
                println!(
                    "  worker: packet to port {port}: {verdict} (rules v{})",
                    r.version
                );
                drop(g);
                // Rule 2: a quiescent state between events. `r` is gone; the
                // compiler would refuse this call while it was still alive.
                h.quiescent_state();
            }
            Event::LongJob => {
                let mut seen = Vec::new();
                for _chunk in 0..CHUNKS {
                    {
                        let g = h.read_lock();
                        let v = rules.load(&g).version;
                        if seen.last() != Some(&v) {
                            seen.push(v);
                        }
                        spin_for(CHUNK); // work on this chunk
                    }
                    // Rule 2 inside a long event: between chunks.
                    h.quiescent_state();
                }
                println!(
                    "  worker: long job done: {CHUNKS} chunks with a quiescent state after each; \
                     saw rules versions {seen:?}"
                );
            }
            Event::SleepOnline(how_long) => {
                println!(
                    "  worker: (mistake) sleeping {how_long:?} while online, without a \
                     quiescent state"
                );
                thread::sleep(how_long);
                h.quiescent_state();
            }
        }
        done.send(()).unwrap();
    }
    println!("  worker: no more events; dropping its handle (offline for good)");
}

fn main() {
    args::Cli {
        name: "qsbr_event_loop",
        about: "a QSBR worker (free reads, quiescent states, offline while blocked) and how \
                long a writer's grace period waits under each rule.",
        synopsis: "",
        options: "",
    }
    .no_args();
    println!("A QSBR event loop\n=================\n");

    // Grace periods that wait longer than 100 ms are reported, once, naming
    // the thread that holds them up.
    let d = Domain::builder()
        .flavor(Flavor::Qsbr)
        .stall_timeout(Duration::from_millis(100))
        .on_stall(|r: &StallReport| {
            println!(
                "  [stall report] a grace period has waited {:.0?} for thread(s) {:?}",
                r.waited, r.threads
            )
        })
        .build();
    let rules = Arc::new(RcuBox::new_in(
        Rules {
            version: 1,
            blocked_ports: vec![],
        },
        &d,
    ));
    println!("writer: published rules v1 (nothing blocked)");

    let (events, inbox) = channel();
    let (done_tx, done) = channel();
    let w = {
        let (d, rules) = (d.clone(), rules.clone());
        thread::Builder::new()
            .name("qsbr-worker".into())
            .spawn(move || worker(d, rules, inbox, done_tx))
            .unwrap()
    };

    // A writer step: publish a new version of the rules, then wait for a
    // grace period, and say how long that took.
    let publish = |version: u32, blocked: Vec<u16>| -> Duration {
        rules.replace(Rules {
            version,
            blocked_ports: blocked,
        });
        let t = Instant::now();
        d.synchronize_rcu();
        t.elapsed()
    };

    println!("\n1. An event, while the worker follows the rules:");
    events.send(Event::Packet(23)).unwrap();
    done.recv().unwrap();
    let took = publish(2, vec![23]);
    println!(
        "writer: published rules v2 (port 23 blocked); synchronize_rcu took {took:.1?}: the worker \
         is offline while it waits for events, so there was nobody to wait for"
    );
    events.send(Event::Packet(23)).unwrap();
    done.recv().unwrap();
    events.send(Event::Packet(443)).unwrap();
    done.recv().unwrap();

    println!("\n2. A long event, with quiescent states between its chunks:");
    events.send(Event::LongJob).unwrap();
    thread::sleep(Duration::from_millis(20));
    let took = publish(3, vec![23, 25]);
    // Say what was measured, in chunks. A grace period ends at one of the
    // worker's quiescent states between chunks, so it usually waits for the
    // rest of the chunk the worker is in. It can take longer: if another
    // grace period (the reclaimer's) is already running, `synchronize_rcu`
    // waits for that one and then its own, and a sleeping writer needs a
    // wake-up.
    let measured = if took <= CHUNK {
        format!("at most one chunk ({CHUNK:?})")
    } else {
        format!("more than one chunk ({CHUNK:?})")
    };
    println!(
        "writer: published rules v3 during the long job; synchronize_rcu took {took:.1?}, \
         {measured}: a grace period ends at a quiescent state between chunks, not at the end \
         of the job ({:?})",
        CHUNK * CHUNKS
    );
    done.recv().unwrap();

    println!("\n3. The mistake: blocking while online:");
    events
        .send(Event::SleepOnline(Duration::from_millis(300)))
        .unwrap();
    thread::sleep(Duration::from_millis(10));
    let took = publish(4, vec![23, 25, 135]);
    println!(
        "writer: published rules v4; synchronize_rcu took {took:.0?}: it had to wait for the \
         sleeping worker. The fix is rule 3: offline() before blocking."
    );
    done.recv().unwrap();

    drop(events);
    w.join().unwrap();
    d.rcu_barrier();
    let s = d.stats();
    println!(
        "\nstats: {} grace periods, {} stall(s) reported, longest grace period {:.0?}, {} old \
         rule versions freed, {} pending",
        s.grace_periods,
        s.stalls_reported,
        s.longest_grace_period,
        s.reclaimed,
        s.pending()
    );
    assert_eq!(s.pending(), 0);
}
