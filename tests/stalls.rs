//! Stall reports: a grace period held up longer than the domain's
//! `stall_timeout` is reported once, through the `on_stall` hook, naming the
//! thread that holds it.

mod common;

use std::sync::{mpsc, Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};
use urcu::{Domain, Flavor, StallReport};

const TIMEOUT: Duration = Duration::from_millis(50);
const HOLD: Duration = Duration::from_millis(300);

fn domain_with_hook(flavor: Flavor) -> (Domain, Arc<Mutex<Vec<StallReport>>>) {
    let reports = Arc::new(Mutex::new(Vec::new()));
    let r = reports.clone();
    let d = Domain::builder()
        .flavor(flavor)
        .stall_timeout(TIMEOUT)
        .on_stall(move |rep: &StallReport| r.lock().unwrap().push(rep.clone()))
        .build();
    (d, reports)
}

fn one_report_names_the_stuck_reader(flavor: Flavor, qsbr_without_guard: bool) {
    let (d, reports) = domain_with_hook(flavor);
    let (entered_tx, entered_rx) = mpsc::channel();
    let reader = {
        let d = d.clone();
        thread::Builder::new()
            .name("stuck-reader".into())
            .spawn(move || {
                let mut h = d.register_thread();
                if qsbr_without_guard {
                    // QSBR: online, and no quiescent state for a while.
                    entered_tx.send(()).unwrap();
                    thread::sleep(HOLD);
                    h.quiescent_state();
                } else {
                    let g = h.read_lock();
                    entered_tx.send(()).unwrap();
                    thread::sleep(HOLD);
                    drop(g);
                }
                h.offline();
            })
            .unwrap()
    };
    entered_rx.recv().unwrap();
    // Another thread (this one) waits for a grace period.
    let start = Instant::now();
    common::within(
        Duration::from_secs(10),
        "synchronize behind a stuck reader",
        {
            let d = d.clone();
            move || d.synchronize_rcu()
        },
    );
    let waited = start.elapsed();
    reader.join().unwrap();
    assert!(
        waited >= HOLD / 2,
        "{flavor:?}: the grace period waited for the reader ({waited:?})"
    );

    let got = reports.lock().unwrap().clone();
    assert_eq!(
        got.len(),
        1,
        "{flavor:?}: exactly one report for one stalled grace period: {got:?}"
    );
    let rep = &got[0];
    assert_eq!(
        rep.threads.len(),
        1,
        "{flavor:?}: only the stuck reader holds it: {rep:?}"
    );
    assert!(
        rep.threads[0].contains("stuck-reader"),
        "{flavor:?}: the report names the thread: {rep:?}"
    );
    assert!(
        rep.waited >= TIMEOUT && rep.waited < HOLD,
        "{flavor:?}: reported after the timeout, before the reader left: {:?}",
        rep.waited
    );
    assert!(
        rep.to_string().contains("stuck-reader"),
        "{flavor:?}: Display names it: {rep}"
    );
    let s = d.stats();
    assert_eq!(s.stalls_reported, 1, "{flavor:?}: {s:?}");
    assert!(s.longest_grace_period >= TIMEOUT, "{flavor:?}: {s:?}");

    // A grace period with no stuck reader reports nothing more.
    d.synchronize_rcu();
    assert_eq!(reports.lock().unwrap().len(), 1, "{flavor:?}");
    assert_eq!(d.stats().stalls_reported, 1, "{flavor:?}");
}

#[test]
fn stall_report_names_the_stuck_reader_memb() {
    one_report_names_the_stuck_reader(Flavor::Memb, false);
}

#[test]
fn stall_report_names_the_stuck_reader_mb() {
    one_report_names_the_stuck_reader(Flavor::Mb, false);
}

#[test]
fn stall_report_names_the_stuck_reader_qsbr() {
    one_report_names_the_stuck_reader(Flavor::Qsbr, false);
}

#[test]
fn stall_report_names_a_qsbr_thread_without_quiescent_states() {
    one_report_names_the_stuck_reader(Flavor::Qsbr, true);
}

/// Readers that leave their sections in time are never reported.
#[test]
fn short_sections_are_not_reported() {
    let (d, reports) = domain_with_hook(Flavor::Mb);
    let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let reader = {
        let (d, stop) = (d.clone(), stop.clone());
        thread::spawn(move || {
            while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                let g = d.read_lock();
                thread::sleep(Duration::from_millis(1));
                drop(g);
            }
        })
    };
    for _ in 0..common::scaled(20) {
        d.synchronize_rcu();
    }
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    reader.join().unwrap();
    assert!(reports.lock().unwrap().is_empty());
    assert_eq!(d.stats().stalls_reported, 0);
}
