/*
 * Shared declarations of the liburcu side-by-side shim (the `liburcu`
 * cargo feature of the `urcu` package). Every entry point runs a whole
 * measured loop in C on threads it starts itself, so no FFI call sits in
 * a measured loop; it returns the operations counted and writes the
 * measured wall time to *elapsed.
 */
#ifndef URCU_RS_LIBURCU_SHIM_H
#define URCU_RS_LIBURCU_SHIM_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>

/* Start line and stop flag shared by the threads of one run. */
struct shim_ctl {
	pthread_barrier_t start;
	atomic_int stop;
};

/* What each thread runs: its index, the run's control block, the caller's
 * argument; returns the operations it counted. */
typedef uint64_t (*shim_worker)(struct shim_ctl *ctl, unsigned index, void *arg);

/* Runs `worker` on `threads` threads for `secs` seconds (from the moment
 * all of them have called shim_go), returns the sum of what they return. */
uint64_t shim_run(unsigned threads, double secs, shim_worker worker, void *arg,
		  double *elapsed);

/* Each worker calls this exactly once, when its setup is done. */
static inline void shim_go(struct shim_ctl *ctl)
{
	pthread_barrier_wait(&ctl->start);
}

static inline int shim_running(struct shim_ctl *ctl)
{
	return !atomic_load_explicit(&ctl->stop, memory_order_relaxed);
}

/* Keeps the compiler from dropping a computed value. */
#define SHIM_SINK(v) __asm__ volatile("" : : "r"(v) : "memory")

/* Sleeps `ns` nanoseconds. */
void shim_sleep_ns(long ns);

/* Monotonic time in nanoseconds. */
uint64_t shim_now_ns(void);

/* Per-flavor entry points (flavor_*.c). `readers` reader threads plus one
 * writer thread that replaces the published object every millisecond. */
uint64_t shim_memb_read(unsigned readers, double secs, double *elapsed);
uint64_t shim_mb_read(unsigned readers, double secs, double *elapsed);
uint64_t shim_qsbr_read(unsigned readers, double secs, double *elapsed);

/* Thread 0 calls synchronize_rcu in a loop, threads 1..threads-1 are busy
 * readers. Returns the number of grace periods; *samples (free it with
 * shim_free) receives each one's latency in nanoseconds. */
uint64_t shim_memb_gp(unsigned threads, double secs, double *elapsed, uint64_t **samples);
uint64_t shim_mb_gp(unsigned threads, double secs, double *elapsed, uint64_t **samples);
uint64_t shim_qsbr_gp(unsigned threads, double secs, double *elapsed, uint64_t **samples);

/* `n` reads on the calling thread, nobody writing (for instruction counts
 * of the read side; see flavor_body.h). */
void shim_memb_read_loop(uint64_t n);
void shim_mb_read_loop(uint64_t n);
void shim_qsbr_read_loop(uint64_t n);

void shim_free(void *p);

/* shim.c, memb flavor: reclamation throughput with defer_rcu / call_rcu,
 * and cds_lfht 98/1/1 lookups. */
uint64_t shim_defer_rcu(unsigned threads, double secs, double *elapsed);
uint64_t shim_call_rcu(unsigned threads, double secs, double *elapsed);
uint64_t shim_lfht(unsigned threads, double secs, uint64_t keys, unsigned batch, double *elapsed);

#endif
