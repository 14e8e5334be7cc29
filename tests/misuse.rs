//! Misuse: what would deadlock panics with a message that names the mistake;
//! panics in destructors and readers do not stop grace periods or
//! reclamation; per-thread handles enforce their rules.
//!
//! Every call that could hang runs under a watchdog (`common::within`), so
//! a regression fails instead of hanging the suite.

mod common;

use common::{expect_panic, within, DropCount};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{mpsc, Arc, Mutex, OnceLock};
use std::thread;
use std::time::Duration;
use urcu::{Domain, Flavor, RcuBox};

const FLAVORS: [Flavor; 3] = [Flavor::Memb, Flavor::Mb, Flavor::Qsbr];
const LIMIT: Duration = Duration::from_secs(10);

fn assert_names_the_mistake(msg: &str, what: &str) {
    assert!(
        msg.contains(&format!("{what} called inside a read-side section")) && msg.contains("deadlock"),
        "the panic message should name `{what}`, the read-side section and the deadlock; got: {msg}"
    );
}

#[test]
fn synchronize_rcu_inside_a_section_panics() {
    let msg = within(LIMIT, "synchronize_rcu in a section", || {
        let msg = expect_panic("synchronize_rcu", || {
            let _g = urcu::read_lock();
            urcu::synchronize_rcu();
        });
        // The guard unwound: the thread can wait for grace periods again.
        urcu::synchronize_rcu();
        msg
    });
    assert_names_the_mistake(&msg, "synchronize_rcu");
}

#[test]
fn rcu_barrier_inside_a_section_panics() {
    let msg = within(LIMIT, "rcu_barrier in a section", || {
        let msg = expect_panic("rcu_barrier", || {
            let _outer = urcu::read_lock();
            let _inner = urcu::read_lock();
            urcu::rcu_barrier();
        });
        urcu::rcu_barrier();
        msg
    });
    assert_names_the_mistake(&msg, "rcu_barrier");
}

#[test]
#[should_panic(expected = "synchronize_rcu called inside a read-side section")]
fn synchronize_rcu_inside_a_nested_section_panics_should_panic_form() {
    let d = Domain::builder().flavor(Flavor::Mb).build();
    let _a = d.read_lock();
    let _b = d.read_lock();
    drop(_b);
    // Still inside `_a`.
    d.synchronize_rcu();
}

#[test]
fn domain_waits_inside_a_section_panic_for_every_flavor() {
    for flavor in FLAVORS {
        within(LIMIT, "domain waits in a section", move || {
            let d = Domain::builder().flavor(flavor).build();
            let msg = expect_panic("synchronize_rcu", || {
                let _g = d.read_lock();
                d.synchronize_rcu();
            });
            assert_names_the_mistake(&msg, "synchronize_rcu");
            let msg = expect_panic("rcu_barrier", || {
                let _g = d.read_lock();
                d.rcu_barrier();
            });
            assert_names_the_mistake(&msg, "rcu_barrier");
            // Through a handle's guard too.
            let h = d.register_thread();
            let msg = expect_panic("synchronize_rcu via handle", || {
                let _g = h.read_lock();
                d.synchronize_rcu();
            });
            assert_names_the_mistake(&msg, "synchronize_rcu");
            // A ticket that has not elapsed cannot be waited for either.
            let t = d.start_poll();
            let msg = expect_panic("cond_synchronize", || {
                let _g = h.read_lock();
                d.cond_synchronize(&t);
            });
            assert_names_the_mistake(&msg, "cond_synchronize");
            // After all that, the handle's thread is in no section.
            drop(h);
            d.synchronize_rcu();
            d.cond_synchronize(&t);
            assert!(d.poll(&t));
        });
    }
}

/// The thread's record cache points at another domain when the wait is
/// called: the check must still find this domain's section.
#[test]
fn the_section_check_survives_switching_between_domains() {
    within(LIMIT, "two domains", || {
        let d1 = Domain::builder().flavor(Flavor::Mb).build();
        let d2 = Domain::builder().flavor(Flavor::Mb).build();
        let msg = expect_panic("d1.synchronize_rcu", || {
            let _g1 = d1.read_lock();
            // Use d2 in between (it becomes the thread's cached domain).
            drop(d2.read_lock());
            d2.rcu_reclaim_queue(Box::new(1u8));
            // A section of d1 does not hold up d2: this is no misuse.
            d2.synchronize_rcu();
            d2.rcu_barrier();
            d1.synchronize_rcu();
        });
        assert_names_the_mistake(&msg, "synchronize_rcu");
        let msg = expect_panic("d1.rcu_barrier", || {
            let _g1 = d1.read_lock();
            drop(d2.read_lock());
            d1.rcu_barrier();
        });
        assert_names_the_mistake(&msg, "rcu_barrier");
    });
}

#[derive(Debug)]
struct PanicOnDrop;
impl Drop for PanicOnDrop {
    fn drop(&mut self) {
        panic!("PanicOnDrop: a destructor that panics (expected by the test)");
    }
}

#[test]
fn a_panicking_destructor_does_not_stop_reclamation() {
    for flavor in FLAVORS {
        // Through the reclaimer and rcu_barrier, with a roomy ring.
        let d = Domain::builder().flavor(flavor).build();
        let drops = DropCount::new();
        d.rcu_reclaim_queue(Box::new(PanicOnDrop));
        for _ in 0..50 {
            d.rcu_reclaim_queue(Box::new(drops.obj()));
        }
        let ran = Arc::new(AtomicUsize::new(0));
        d.defer(|| panic!("a deferred closure that panics (expected by the test)"));
        let r = ran.clone();
        d.defer(move || {
            r.fetch_add(1, Ordering::SeqCst);
        });
        let dd = d.clone();
        within(LIMIT, "rcu_barrier after panics", move || dd.rcu_barrier());
        let s = d.stats();
        assert_eq!(
            drops.get(),
            50,
            "{flavor:?}: the objects after the panicking one are dropped"
        );
        assert_eq!(ran.load(Ordering::SeqCst), 1, "{flavor:?}");
        assert_eq!(s.destructor_panics, 2, "{flavor:?}: {s:?}");
        assert_eq!(
            s.reclaimed, s.queued,
            "{flavor:?}: a panicking entry still counts as reclaimed"
        );

        // Through the queueing thread's own draining (8-word ring: it falls
        // back to waiting and draining often), from another thread.
        let d = Domain::builder().flavor(flavor).queue_capacity(8).build();
        let drops = DropCount::new();
        let (d2, drops2) = (d.clone(), drops.clone());
        within(LIMIT, "queueing panicking objects", move || {
            for i in 0..200 {
                if i % 40 == 0 {
                    d2.rcu_reclaim_queue(Box::new(PanicOnDrop));
                } else {
                    d2.rcu_reclaim_queue(Box::new(drops2.obj()));
                }
            }
        });
        d.rcu_barrier();
        let s = d.stats();
        assert_eq!(drops.get(), 195, "{flavor:?}");
        assert_eq!(s.destructor_panics, 5, "{flavor:?}: {s:?}");
        assert_eq!(s.pending(), 0);
        // And the domain still works afterwards.
        d.rcu_reclaim_queue(Box::new(drops.obj()));
        d.rcu_barrier();
        assert_eq!(drops.get(), 196);
    }
}

static BARRIER_DOMAIN: OnceLock<Domain> = OnceLock::new();
static BARRIER_MSG: Mutex<Option<String>> = Mutex::new(None);

struct BarrierInDrop;
impl Drop for BarrierInDrop {
    fn drop(&mut self) {
        let r = std::panic::catch_unwind(|| BARRIER_DOMAIN.get().unwrap().rcu_barrier());
        let msg = match r {
            Ok(()) => "rcu_barrier returned".to_string(),
            Err(p) => common::panic_message(&*p),
        };
        *BARRIER_MSG.lock().unwrap() = Some(msg);
    }
}

#[test]
fn rcu_barrier_from_a_destructor_panics_instead_of_waiting_for_itself() {
    let d = BARRIER_DOMAIN.get_or_init(Domain::new).clone();
    d.rcu_reclaim_queue(Box::new(BarrierInDrop));
    within(LIMIT, "rcu_barrier", move || d.rcu_barrier());
    let msg = BARRIER_MSG
        .lock()
        .unwrap()
        .clone()
        .expect("the destructor ran");
    assert!(
        msg.contains("rcu_barrier called from a destructor"),
        "rcu_barrier inside a destructor should panic with a message naming it; got: {msg}"
    );
}

static SYNC_DOMAIN: OnceLock<Domain> = OnceLock::new();
static SYNCED_IN_DROP: AtomicUsize = AtomicUsize::new(0);

struct SyncInDrop;
impl Drop for SyncInDrop {
    fn drop(&mut self) {
        SYNC_DOMAIN.get().unwrap().synchronize_rcu();
        SYNCED_IN_DROP.fetch_add(1, Ordering::SeqCst);
    }
}

/// Not a misuse: a destructor may wait for a grace period (it holds no
/// section). It must not deadlock with the drain that runs it, wherever it
/// runs: the reclaimer, rcu_barrier, or the queueing thread's fallback.
#[test]
fn synchronize_rcu_inside_a_destructor_does_not_deadlock() {
    let d = SYNC_DOMAIN
        .get_or_init(|| Domain::builder().queue_capacity(8).build())
        .clone();
    let d2 = d.clone();
    within(
        LIMIT,
        "queueing objects whose drop synchronizes",
        move || {
            for _ in 0..40 {
                d2.rcu_reclaim_queue(Box::new(SyncInDrop));
            }
            d2.rcu_barrier();
        },
    );
    assert_eq!(SYNCED_IN_DROP.load(Ordering::SeqCst), 40);
    assert_eq!(d.stats().destructor_panics, 0);
}

#[test]
fn a_reader_that_panics_inside_a_section_does_not_block_grace_periods() {
    for flavor in FLAVORS {
        let d = Domain::builder().flavor(flavor).build();
        // The thread dies inside its section.
        let r = {
            let d = d.clone();
            thread::spawn(move || {
                let h = d.register_thread();
                let _outer = h.read_lock();
                let _inner = d.read_lock();
                panic!("reader panics inside a section (expected by the test)");
            })
            .join()
        };
        assert!(r.is_err());
        let dd = d.clone();
        within(
            LIMIT,
            "synchronize after a reader died in its section",
            move || {
                dd.synchronize_rcu();
            },
        );

        // The thread catches the panic and lives on, out of its section.
        let (caught_tx, caught_rx) = mpsc::channel();
        let (exit_tx, exit_rx) = mpsc::channel::<()>();
        let survivor = {
            let d = d.clone();
            thread::spawn(move || {
                let mut h = d.register_thread();
                let r = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                    let _g = h.read_lock();
                    let _g2 = d.read_lock();
                    panic!("reader panics inside a section (expected by the test)");
                }));
                assert!(r.is_err());
                h.quiescent_state();
                caught_tx.send(()).unwrap();
                // Stay alive (offline for QSBR, as a blocking thread should).
                h.offline();
                let _ = exit_rx.recv();
            })
        };
        caught_rx.recv().unwrap();
        let dd = d.clone();
        within(
            LIMIT,
            "synchronize after a reader caught its panic",
            move || {
                dd.synchronize_rcu();
                dd.rcu_reclaim_queue(Box::new(5u32));
                dd.rcu_barrier();
            },
        );
        exit_tx.send(()).unwrap();
        survivor.join().unwrap();
    }
}

#[test]
fn qsbr_read_lock_on_an_offline_handle_panics() {
    let d = Domain::builder().flavor(Flavor::Qsbr).build();
    let mut h = d.register_thread();
    assert!(h.is_online());
    h.offline();
    assert!(!h.is_online());
    let msg = expect_panic("read_lock while offline", || drop(h.read_lock()));
    assert!(msg.contains("offline"), "got: {msg}");
    h.online();
    drop(h.read_lock());
}

#[test]
fn handle_rules_are_enforced_with_a_guard_from_the_domain() {
    let d = Domain::builder().flavor(Flavor::Qsbr).build();
    let mut h = d.register_thread();
    let g = d.read_lock();
    let msg = expect_panic("quiescent_state with a guard", || h.quiescent_state());
    assert!(
        msg.contains("quiescent_state") && msg.contains("ReadGuard"),
        "got: {msg}"
    );
    let msg = expect_panic("offline with a guard", || h.offline());
    assert!(
        msg.contains("offline") && msg.contains("ReadGuard"),
        "got: {msg}"
    );
    drop(g);
    h.quiescent_state();
    h.offline();
}

#[test]
fn register_thread_twice_on_one_thread_panics() {
    for flavor in FLAVORS {
        let d = Domain::builder().flavor(flavor).build();
        let h = d.register_thread();
        let msg = expect_panic("second register_thread", || drop(d.register_thread()));
        assert!(
            msg.contains("already holds a ThreadHandle"),
            "{flavor:?}: got: {msg}"
        );
        // The first handle is unharmed.
        drop(h.read_lock());
        drop(h);
        // Once it is gone, the thread may register again; another domain
        // may be joined at any time.
        let h = d.register_thread();
        let other = Domain::builder().flavor(flavor).build();
        let h2 = other.register_thread();
        drop((h, h2));
    }
}

/// A failed `register_thread` (a QSBR thread inside a section) must not
/// leave the thread unable to register later.
#[test]
fn a_failed_register_thread_does_not_poison_later_registration() {
    let d = Domain::builder().flavor(Flavor::Qsbr).build();
    let g = d.read_lock();
    let msg = expect_panic("register_thread in a QSBR section", || {
        drop(d.register_thread())
    });
    assert!(msg.contains("inside a read-side section"), "got: {msg}");
    drop(g);
    let r = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| drop(d.register_thread())));
    assert!(
        r.is_ok(),
        "register_thread after the section ended panicked: {}",
        r.err()
            .map(|p| common::panic_message(&*p))
            .unwrap_or_default()
    );
}

#[test]
fn a_ticket_from_another_domain_panics() {
    let a = Domain::new();
    let b = Domain::new();
    let t = a.start_poll();
    let msg = expect_panic("poll with a foreign ticket", || {
        b.poll(&t);
    });
    assert!(
        msg.contains("ticket") && msg.contains("other"),
        "got: {msg}"
    );
    let msg = expect_panic("cond_synchronize with a foreign ticket", || {
        b.cond_synchronize(&t)
    });
    assert!(msg.contains("ticket"), "got: {msg}");
    // Its own domain accepts it.
    a.synchronize_rcu();
    assert!(a.poll(&t));
}

#[test]
fn rcubox_load_with_a_guard_of_another_domain_panics() {
    let a = Domain::new();
    let b = Domain::new();
    let bx = RcuBox::new_in(7u32, &a);
    let msg = expect_panic("load with a foreign guard", || {
        let g = b.read_lock();
        let _ = *bx.load(&g);
    });
    assert!(msg.contains("another domain"), "got: {msg}");
    assert_eq!(*bx.load(&a.read_lock()), 7);
}

/// A QSBR handle that is offline and calls `quiescent_state` (a harmless
/// call in a loop that also runs while offline) must stay offline: grace
/// periods must not start waiting for a thread that then blocks, nor for
/// one that has exited. (Found by this suite; fixed in 0c1ad73.)
#[test]
fn qsbr_quiescent_state_while_offline_does_not_bring_the_thread_online() {
    let d = Domain::builder().flavor(Flavor::Qsbr).build();
    let (ready_tx, ready_rx) = mpsc::channel();
    let (exit_tx, exit_rx) = mpsc::channel::<()>();
    let t = {
        let d = d.clone();
        thread::spawn(move || {
            let mut h = d.register_thread();
            h.offline();
            h.quiescent_state();
            let online = h.is_online();
            ready_tx.send(online).unwrap();
            // Block "offline".
            let _ = exit_rx.recv();
        })
    };
    assert!(
        !ready_rx.recv().unwrap(),
        "the handle reports itself offline"
    );
    let done = Arc::new(AtomicBool::new(false));
    {
        // Not joined: with the bug it never returns.
        let (d, done) = (d.clone(), done.clone());
        thread::spawn(move || {
            d.synchronize_rcu();
            done.store(true, Ordering::SeqCst);
        });
    }
    let while_blocked = common::wait_until(Duration::from_secs(2), || done.load(Ordering::SeqCst));
    exit_tx.send(()).unwrap();
    t.join().unwrap();
    let after_exit = common::wait_until(Duration::from_secs(2), || done.load(Ordering::SeqCst));
    assert!(
        while_blocked,
        "synchronize_rcu waited for a thread whose handle is offline (it finished after the thread \
         exited: {after_exit})"
    );
}

/// `ThreadHandle::online` while a guard from `Domain::read_lock` is alive
/// (the thread came online for that guard): the guard's section must go on
/// protecting what it loaded, and after it drops the handle must really be
/// online. Panicking in `online` (like `offline` and `quiescent_state` do)
/// would also be a correct answer.
#[test]
fn qsbr_online_inside_a_domain_guard_keeps_the_thread_protected() {
    let d = Domain::builder().flavor(Flavor::Qsbr).build();
    let drops = DropCount::new();
    let bx = Arc::new(RcuBox::new_in(drops.obj(), &d));
    let (step_tx, step_rx) = mpsc::channel::<&'static str>();
    let (go_tx, go_rx) = mpsc::channel::<()>();
    let reader = {
        let (d, bx) = (d.clone(), bx.clone());
        thread::spawn(move || {
            let mut h = d.register_thread();
            h.offline();
            let g = d.read_lock();
            let online = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| h.online()));
            if online.is_err() {
                // Refusing is fine.
                drop(g);
                step_tx.send("refused").unwrap();
                return;
            }
            drop(g);
            assert!(h.is_online());
            // A section through the handle: what it loads must stay alive.
            let g = h.read_lock();
            let v: *const common::Counted = bx.load(&g);
            step_tx.send("in section").unwrap();
            let _ = go_rx.recv();
            let _ = v;
            drop(g);
            h.offline();
        })
    };
    match step_rx.recv().unwrap() {
        "refused" => {
            reader.join().unwrap();
            return;
        }
        step => assert_eq!(step, "in section"),
    }
    // Unpublish the value the reader holds, and wait for a grace period.
    bx.replace(drops.obj());
    let done = Arc::new(AtomicBool::new(false));
    let waiter = {
        let (d, done) = (d.clone(), done.clone());
        thread::spawn(move || {
            d.synchronize_rcu();
            d.rcu_barrier();
            done.store(true, Ordering::SeqCst);
        })
    };
    thread::sleep(Duration::from_millis(200));
    let early = done.load(Ordering::SeqCst);
    let dropped_early = drops.get();
    go_tx.send(()).unwrap();
    reader.join().unwrap();
    waiter.join().unwrap();
    assert!(
        !early,
        "a grace period ended while a reader's section was open"
    );
    assert_eq!(
        dropped_early, 0,
        "the value a reader held was dropped under it"
    );
}

static ORPHAN_DOMAIN: OnceLock<Domain> = OnceLock::new();
static ORPHAN_MSGS: Mutex<Vec<String>> = Mutex::new(Vec::new());

/// Its destructor waits for grace periods (and fills its queue) while a
/// guard kept in another thread-local, destroyed later, still holds a
/// section whose registration is already gone.
struct WaitsInTlsDrop;
impl Drop for WaitsInTlsDrop {
    fn drop(&mut self) {
        let d = ORPHAN_DOMAIN.get().unwrap();
        let calls: [(&str, &dyn Fn()); 3] = [
            ("synchronize_rcu", &|| d.synchronize_rcu()),
            ("rcu_barrier", &|| d.rcu_barrier()),
            ("a full queue", &|| {
                for i in 0..100u64 {
                    d.rcu_reclaim_queue(Box::new(i));
                }
            }),
        ];
        for (what, f) in calls {
            let msg = match std::panic::catch_unwind(std::panic::AssertUnwindSafe(f)) {
                Ok(()) => format!("{what}: returned"),
                Err(p) => format!("{what}: {}", common::panic_message(&*p)),
            };
            ORPHAN_MSGS.lock().unwrap().push(msg);
        }
    }
}

thread_local! {
    static HELD_GUARD: std::cell::RefCell<Option<urcu::ReadGuard<'static>>> =
        const { std::cell::RefCell::new(None) };
    static WAITER: std::cell::RefCell<Option<WaitsInTlsDrop>> = const { std::cell::RefCell::new(None) };
}

/// A thread-local destructor that waits while an orphaned section of the
/// same thread lives would wait for itself: it gets the documented panic
/// (a queue that fills spills instead of waiting), not a hang.
#[test]
fn waiting_from_a_thread_local_destructor_while_an_orphaned_guard_lives_panics() {
    ORPHAN_MSGS.lock().unwrap().clear();
    let _ = ORPHAN_DOMAIN.set(Domain::builder().queue_capacity(16).build());
    let d = ORPHAN_DOMAIN.get().unwrap();
    within(LIMIT, "thread exit", move || {
        thread::spawn(move || {
            // Destroyed in reverse order of first use: the
            // registrations (first used by read_lock) go first, then
            // WAITER, then the guard.
            HELD_GUARD.with(|_| ());
            WAITER.with(|w| *w.borrow_mut() = Some(WaitsInTlsDrop));
            HELD_GUARD.with(|h| *h.borrow_mut() = Some(d.read_lock()));
        })
        .join()
        .unwrap();
    });
    let msgs = ORPHAN_MSGS.lock().unwrap().clone();
    assert_eq!(msgs.len(), 3, "{msgs:?}");
    assert_names_the_mistake(&msgs[0], "synchronize_rcu");
    assert_names_the_mistake(&msgs[1], "rcu_barrier");
    assert_eq!(msgs[2], "a full queue: returned", "spilled, did not wait");
    within(LIMIT, "rcu_barrier after the thread", move || {
        d.rcu_barrier()
    });
    assert_eq!(d.stats().pending(), 0, "{:?}", d.stats());
}

const LOUD_ENV: &str = "URCU_TEST_LOUD_BARRIER_CHILD";
const LOUD_MARK: &str = "loud-barrier-child: checked";

/// Runs only as the child of `rcu_barrier_in_a_deferred_closure_is_loud`,
/// with a panic hook that prints nothing (as a service that routes panics
/// elsewhere might): the library's own line must still reach stderr.
#[test]
fn rcu_barrier_in_a_deferred_closure_child() {
    if std::env::var_os(LOUD_ENV).is_none() {
        return;
    }
    std::panic::set_hook(Box::new(|_| {}));
    let d = Domain::new();
    let rest_ran = Arc::new(AtomicBool::new(false));
    let (d2, rest) = (d.clone(), rest_ran.clone());
    d.defer(move || {
        d2.rcu_barrier(); // panics: it would wait for itself
        rest.store(true, Ordering::SeqCst);
    });
    within(LIMIT, "rcu_barrier", move || d.rcu_barrier());
    assert!(
        !rest_ran.load(Ordering::SeqCst),
        "the rest of the closure did not run"
    );
    println!("{LOUD_MARK}");
}

/// `rcu_barrier` inside a deferred closure panics, and reclamation catches
/// and counts the panic, so the rest of the closure silently never ran:
/// the library now says so on stderr, whatever the panic hook.
#[test]
fn rcu_barrier_in_a_deferred_closure_is_loud() {
    if std::env::var_os(LOUD_ENV).is_some() {
        return;
    }
    let stderr = common::run_test_in_child(
        "rcu_barrier_in_a_deferred_closure_child",
        LOUD_ENV,
        LOUD_MARK,
    );
    assert!(
        stderr.contains("urcu: rcu_barrier was called from a destructor or deferred closure"),
        "a line naming the misuse: {stderr}"
    );
    assert!(
        stderr.contains("urcu: a destructor or deferred closure panicked")
            && stderr.contains("the rest of that destructor or closure did not run"),
        "the caught panic is reported once: {stderr}"
    );
}
