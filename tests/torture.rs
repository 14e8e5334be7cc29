//! The torture engine (`examples/common/torture/`, which the `torture`
//! example runs from the command line) for every flavor × structure, in
//! short cases: the pipe of aging objects, heap objects through a
//! quarantine allocator (a tiny ring behind a raw pointer, an `RcuBox`),
//! the map, the list, the config cell, the map with a stalling reader and a
//! misbehaving stall hook, and reader threads coming and going one at a
//! time. Each case must end with no error, and must have done what it is
//! there for: reads, writes, grace periods, reader and writer threads
//! replaced, fake grace periods, age checks. Then the harness itself: a
//! writer that skips the grace period is caught, and the quarantine
//! poisons what it frees.
//!
//! Each case lasts `URCU_STRESS` × 150 ms (map-stall: × 250 ms, so that
//! its reader stalls at least once), with thread lifetimes of 15–120 ms.

mod common;

#[path = "../examples/common/torture/mod.rs"]
mod torture;

use std::sync::{Mutex, MutexGuard};
use std::time::Duration;
use torture::{Bug, Case, Report, Structure, READERS};
use urcu::Flavor;

/// Torture cases take all the CPU of a small machine: one at a time.
fn serial() -> MutexGuard<'static, ()> {
    static SERIAL: Mutex<()> = Mutex::new(());
    SERIAL.lock().unwrap_or_else(|e| e.into_inner())
}

/// A short case: `URCU_STRESS` × 150 ms (250 ms for map-stall), threads
/// replaced every few tens of milliseconds, a ring of `capacity` words.
fn case(flavor: Flavor, structure: Structure, capacity: usize) -> Case {
    let ms = if structure == Structure::MapStall {
        250
    } else {
        150
    };
    Case {
        capacity,
        churn: Duration::from_millis(15),
        ..Case::new(
            flavor,
            structure,
            Duration::from_millis(ms * common::stress() as u64),
        )
    }
}

/// Runs `case` alone and checks that it passed and was not vacuous.
fn torture(case: Case) -> Report {
    let _serial = serial();
    let r = torture::run_case_with_watchdog(case);
    println!(
        "{}; {} reader and {} writer threads, {} fake grace periods, {} ticket checks",
        r.row(),
        r.reader_threads,
        r.writer_threads,
        r.fake_grace_periods,
        r.ticket_checks
    );
    assert_eq!(r.errors, 0, "{}: {:?}\n{r:?}", r.name(), r.first_errors);
    assert!(r.reads > 0 && r.writes > 0 && r.freed > 0, "{r:?}");
    assert!(r.grace_periods > 0, "{r:?}");
    match case.structure {
        Structure::ComeAndGo => {
            // Readers one at a time, replaced as each ends; the engine
            // checks that the writer found itself alone in both halves.
            assert!(r.reader_threads >= 2, "{r:?}");
            assert!(r.ticket_checks > 0, "the age check ran: {r:?}");
        }
        _ => {
            assert!(r.reader_threads > READERS as u64, "readers churned: {r:?}");
            assert!(
                r.writer_threads > r.writers_at_once,
                "writers churned: {r:?}"
            );
            assert!(r.fake_grace_periods > 0, "{r:?}");
        }
    }
    match case.structure {
        Structure::Core => {
            let ages = r.ages.as_ref().unwrap();
            assert!(ages[0] > 0, "{ages:?}");
            assert_eq!(ages[2..].iter().sum::<u64>(), 0, "{ages:?}");
        }
        Structure::Queue | Structure::RcuBox => {
            assert!(r.ticket_checks > 0, "the age check ran: {r:?}")
        }
        Structure::MapStall => {
            let f = r.stall.as_ref().unwrap();
            assert!(f.stalls > 0 && f.reported > 0 && f.hook_panics > 0, "{f:?}");
        }
        _ => {}
    }
    r
}

macro_rules! torture_tests {
    ($($name:ident: $flavor:ident, $structure:ident, $capacity:expr;)*) => {$(
        #[test]
        fn $name() {
            torture(case(Flavor::$flavor, Structure::$structure, $capacity));
        }
    )*};
}

torture_tests! {
    torture_memb_core: Memb, Core, 64;
    torture_mb_core: Mb, Core, 64;
    torture_qsbr_core: Qsbr, Core, 64;
    torture_memb_tiny_queue: Memb, Queue, 8;
    torture_mb_tiny_queue: Mb, Queue, 8;
    torture_qsbr_tiny_queue: Qsbr, Queue, 8;
    torture_memb_rcubox: Memb, RcuBox, 64;
    torture_mb_rcubox: Mb, RcuBox, 8;
    torture_qsbr_rcubox: Qsbr, RcuBox, 64;
    torture_memb_map: Memb, Map, 64;
    torture_mb_map: Mb, Map, 64;
    torture_qsbr_map: Qsbr, Map, 64;
    torture_memb_list: Memb, List, 64;
    torture_mb_list: Mb, List, 64;
    torture_qsbr_list: Qsbr, List, 64;
    torture_memb_config: Memb, Config, 64;
    torture_mb_config: Mb, Config, 64;
    torture_qsbr_config: Qsbr, Config, 64;
    torture_memb_map_stall: Memb, MapStall, 64;
    torture_mb_map_stall: Mb, MapStall, 64;
    torture_qsbr_map_stall: Qsbr, MapStall, 64;
    torture_memb_readers_coming_and_going: Memb, ComeAndGo, 64;
    torture_mb_readers_coming_and_going: Mb, ComeAndGo, 64;
    torture_qsbr_readers_coming_and_going: Qsbr, ComeAndGo, 64;
}

/// The torture can fail: a writer that frees the old object at once,
/// without a grace period, is caught by the readers' checks.
#[test]
#[cfg_attr(miri, ignore = "reads freed memory on purpose")]
fn torture_catches_a_writer_that_skips_the_grace_period() {
    let _serial = serial();
    let r = torture::run_case_with_watchdog(Case {
        bug: Some(Bug::FreeEarly),
        ..case(Flavor::Mb, Structure::Queue, 64)
    });
    println!("{}: {:?}", r.row(), r.first_errors);
    assert!(
        r.first_errors
            .iter()
            .any(|e| e.contains("reader saw a freed object")),
        "the checks missed a writer that frees at once: {r:?}"
    );
}

/// The harness itself: a freed object reads as poison, and the check
/// reports it.
#[test]
fn the_quarantine_poisons_and_the_check_detects_a_freed_object() {
    let _serial = serial();
    torture::check_the_quarantine().unwrap();
}
