//! A guided tour of urcu-rs: publish, read, replace, reclaim, and look at
//! what happened. Run it with `cargo run --release --example tour`.
//!
//! Each step prints what it does in plain words, so the output reads as a
//! short lesson on RCU.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};
use urcu::{Domain, Flavor, RcuBox};

#[path = "common/args.rs"]
mod args;

/// The object we publish: a small routing table with a version number.
#[derive(Debug)]
struct Routes {
    version: u64,
    next_hop: [u32; 6],
}

static DROPPED: AtomicU64 = AtomicU64::new(0);

impl Drop for Routes {
    fn drop(&mut self) {
        DROPPED.fetch_add(1, Ordering::Relaxed);
    }
}

fn routes(version: u64) -> Routes {
    Routes {
        version,
        next_hop: [version as u32; 6],
    }
}

fn main() {
    args::Cli {
        name: "tour",
        about: "a guided tour of RCU: publish, read, replace, reclaim, and read the stats.",
        synopsis: "",
        options: "",
    }
    .no_args();
    println!("urcu-rs tour\n============\n");

    // 1. A domain: one set of readers and writers that share grace periods.
    let domain = Domain::builder().flavor(Flavor::Memb).build();
    println!(
        "1. Built a domain. Readers use the {:?} flavor{}.",
        domain.flavor(),
        if domain.flavor() == domain.requested_flavor() {
            ""
        } else {
            " (membarrier is unavailable here, so the portable fallback)"
        }
    );

    // 2. Publish an object. Readers will load it without locks.
    let table = Arc::new(RcuBox::new_in(routes(1), &domain));
    println!("2. Published routing table v1.");

    // 3. A reader holds a read-side section while a writer replaces the
    //    table: the reader keeps a valid reference to the old version.
    {
        let guard = domain.read_lock();
        let seen = table.load(&guard);
        table.replace(routes(2));
        println!(
            "3. A reader loaded v{}, then a writer published v2. The reader still reads v{} \
             (next hop {}): v1 cannot be freed while the reader's section lasts.",
            seen.version, seen.version, seen.next_hop[0]
        );
        assert_eq!(DROPPED.load(Ordering::Relaxed), 0);
    }
    println!("   The reader's section ended; v1 now waits in this thread's reclamation queue.");

    // 4. rcu_barrier waits until everything queued so far has been reclaimed.
    domain.rcu_barrier();
    println!(
        "4. rcu_barrier returned: v1 was dropped after a grace period ({} dropped).",
        DROPPED.load(Ordering::Relaxed)
    );

    // 5. Many readers, one writer, for a moment: readers never wait.
    let stop = Arc::new(AtomicBool::new(false));
    let reads = Arc::new(AtomicU64::new(0));
    let start = Instant::now();
    let readers: Vec<_> = (0..2)
        .map(|_| {
            let (d, t, stop, reads) = (domain.clone(), table.clone(), stop.clone(), reads.clone());
            std::thread::spawn(move || {
                let mut n = 0u64;
                while !stop.load(Ordering::Relaxed) {
                    for _ in 0..1000 {
                        let g = d.read_lock();
                        let r = t.load(&g);
                        // A reader always sees a whole table, never a torn one.
                        assert_eq!(r.next_hop[0] as u64, r.version);
                        n += 1;
                    }
                }
                reads.fetch_add(n, Ordering::Relaxed);
            })
        })
        .collect();
    let mut published = 2;
    while start.elapsed() < Duration::from_millis(300) {
        published += 1;
        table.replace(routes(published));
        std::thread::sleep(Duration::from_micros(200));
    }
    stop.store(true, Ordering::Relaxed);
    for r in readers {
        r.join().unwrap();
    }
    let secs = start.elapsed().as_secs_f64();
    println!(
        "5. 2 reader threads did {:.1} M reads in {:.2} s while a writer published {} versions.",
        reads.load(Ordering::Relaxed) as f64 / 1e6,
        secs,
        published - 2
    );

    // 6. Deferred closures go through the same queue (call_rcu).
    let done = Arc::new(AtomicBool::new(false));
    let flag = done.clone();
    domain.defer(move || flag.store(true, Ordering::Relaxed));
    domain.rcu_barrier();
    println!(
        "6. A deferred closure ran after a grace period: {}.",
        done.load(Ordering::Relaxed)
    );

    // 7. What the domain counted.
    let s = domain.stats();
    println!("7. Stats:");
    println!("   grace periods        {}", s.grace_periods);
    println!("   objects queued       {}", s.queued);
    println!("   objects reclaimed    {}", s.reclaimed);
    println!("   pending              {}", s.pending());
    println!(
        "   caller fallbacks     {} (a full queue made the writer wait and free)",
        s.caller_fallbacks
    );
    println!("   overflow spills      {}", s.overflow_spills);
    println!("   longest grace period {:?}", s.longest_grace_period);
    assert_eq!(s.pending(), 0);
    assert_eq!(
        DROPPED.load(Ordering::Relaxed),
        published - 1,
        "every replaced table was dropped once"
    );
    drop(table);
    println!("\nEvery replaced table was dropped exactly once; nothing is pending. Tour over.");
}
