/*
 * The liburcu side-by-side shim: the thread harness, and the loops that use
 * the default (memb) flavor: defer_rcu and call_rcu reclamation throughput
 * and cds_lfht lookups. The per-flavor read-side and grace-period loops are
 * in flavor_*.c. Built by the package's build.rs only with the `liburcu`
 * feature; see benches/scaling.rs for what each workload measures.
 */
#define _LGPL_SOURCE
#define URCU_API_MAP
#include <urcu/urcu-memb.h>
#include <urcu/rculfhash.h>

#include <errno.h>
#include <stdlib.h>
#include <time.h>
#include "shim.h"

/* ---- harness ---------------------------------------------------------- */

void shim_sleep_ns(long ns)
{
	struct timespec ts = { ns / 1000000000L, ns % 1000000000L };
	while (nanosleep(&ts, &ts) == -1 && errno == EINTR)
		;
}

uint64_t shim_now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

void shim_free(void *p)
{
	free(p);
}

struct shim_thread {
	pthread_t id;
	struct shim_ctl *ctl;
	unsigned index;
	shim_worker worker;
	void *arg;
	uint64_t ops;
};

static void *shim_thread_main(void *p)
{
	struct shim_thread *t = p;
	t->ops = t->worker(t->ctl, t->index, t->arg);
	return NULL;
}

uint64_t shim_run(unsigned threads, double secs, shim_worker worker, void *arg,
		  double *elapsed)
{
	struct shim_ctl ctl;
	struct shim_thread *ts = calloc(threads, sizeof(*ts));
	if (!ts || pthread_barrier_init(&ctl.start, NULL, threads + 1))
		abort();
	atomic_init(&ctl.stop, 0);
	for (unsigned i = 0; i < threads; i++) {
		ts[i] = (struct shim_thread){ .ctl = &ctl, .index = i, .worker = worker, .arg = arg };
		if (pthread_create(&ts[i].id, NULL, shim_thread_main, &ts[i]))
			abort();
	}
	shim_go(&ctl);
	uint64_t t0 = shim_now_ns();
	shim_sleep_ns((long)(secs * 1e9));
	atomic_store_explicit(&ctl.stop, 1, memory_order_relaxed);
	*elapsed = (double)(shim_now_ns() - t0) / 1e9;
	uint64_t ops = 0;
	for (unsigned i = 0; i < threads; i++) {
		pthread_join(ts[i].id, NULL);
		ops += ts[i].ops;
	}
	pthread_barrier_destroy(&ctl.start);
	free(ts);
	return ops;
}

/* ---- reclamation: defer_rcu and call_rcu ------------------------------- */

/* Retirements between two checks of the stop flag. */
#define SHIM_RECLAIM_BATCH 256

/* call_rcu needs its head in the object: 64 bytes of payload plus 16. */
struct shim_node64 {
	uint64_t v[8];
	struct rcu_head head;
};

static void shim_node64_free(struct rcu_head *head)
{
	free(caa_container_of(head, struct shim_node64, head));
}

static uint64_t shim_defer_worker(struct shim_ctl *ctl, unsigned index, void *arg)
{
	(void)index;
	(void)arg;
	/* This thread's own slot: we measure reclamation, not contention. */
	uint64_t *slot = calloc(8, sizeof(uint64_t));
	uint64_t ops = 0;
	rcu_register_thread();
	rcu_defer_register_thread();
	shim_go(ctl);
	while (shim_running(ctl)) {
		for (int i = 0; i < SHIM_RECLAIM_BATCH; i++) {
			uint64_t *obj = malloc(8 * sizeof(uint64_t));
			if (!obj)
				abort();
			obj[0] = ops + i;
			uint64_t *old = rcu_xchg_pointer(&slot, obj);
			defer_rcu(free, old);
		}
		ops += SHIM_RECLAIM_BATCH;
	}
	rcu_defer_unregister_thread();
	rcu_unregister_thread();
	return ops;
}

static uint64_t shim_call_rcu_worker(struct shim_ctl *ctl, unsigned index, void *arg)
{
	(void)index;
	(void)arg;
	struct shim_node64 *slot = calloc(1, sizeof(*slot));
	uint64_t ops = 0;
	rcu_register_thread();
	shim_go(ctl);
	while (shim_running(ctl)) {
		for (int i = 0; i < SHIM_RECLAIM_BATCH; i++) {
			struct shim_node64 *obj = malloc(sizeof(*obj));
			if (!obj)
				abort();
			obj->v[0] = ops + i;
			struct shim_node64 *old = rcu_xchg_pointer(&slot, obj);
			call_rcu(&old->head, shim_node64_free);
		}
		ops += SHIM_RECLAIM_BATCH;
	}
	rcu_unregister_thread();
	return ops;
}

/* `threads` producers, each allocating a 64-byte object, publishing it in
 * its own slot and retiring the old one with defer_rcu(free, old). */
uint64_t shim_defer_rcu(unsigned threads, double secs, double *elapsed)
{
	return shim_run(threads, secs, shim_defer_worker, NULL, elapsed);
}

/* The same with call_rcu (objects of 64 + 16 bytes: the rcu_head). */
uint64_t shim_call_rcu(unsigned threads, double secs, double *elapsed)
{
	return shim_run(threads, secs, shim_call_rcu_worker, NULL, elapsed);
}

/* ---- cds_lfht: 98% lookup / 1% insert / 1% remove ---------------------- */

struct shim_entry {
	uint64_t key;
	uint64_t value;
	struct cds_lfht_node node;
	struct rcu_head head;
};

static void shim_entry_free(struct rcu_head *head)
{
	free(caa_container_of(head, struct shim_entry, head));
}

/* A 64-bit finalizer-style mixer: every key bit reaches the low bits the
 * table indexes with. */
static inline unsigned long shim_hash(uint64_t k)
{
	k ^= k >> 32;
	k *= 0xd6e8feb86659fd93ULL;
	k ^= k >> 32;
	k *= 0xd6e8feb86659fd93ULL;
	k ^= k >> 32;
	return (unsigned long)k;
}

static int shim_match(struct cds_lfht_node *node, const void *key)
{
	return caa_container_of(node, struct shim_entry, node)->key == *(const uint64_t *)key;
}

static struct shim_entry *shim_entry_new(uint64_t key, uint64_t value)
{
	struct shim_entry *e = malloc(sizeof(*e));
	if (!e)
		abort();
	e->key = key;
	e->value = value;
	cds_lfht_node_init(&e->node);
	return e;
}

/* Inserts or replaces; whether the key was new. Inside a read-side section. */
static int shim_lfht_insert(struct cds_lfht *ht, uint64_t key, uint64_t value)
{
	struct shim_entry *e = shim_entry_new(key, value);
	struct cds_lfht_node *old = cds_lfht_add_replace(ht, shim_hash(key), shim_match, &key, &e->node);
	if (!old)
		return 1;
	call_rcu(&caa_container_of(old, struct shim_entry, node)->head, shim_entry_free);
	return 0;
}

struct shim_lfht_arg {
	struct cds_lfht *ht;
	uint64_t keys;
	unsigned batch;
};

static uint64_t shim_lfht_worker(struct shim_ctl *ctl, unsigned index, void *p)
{
	struct shim_lfht_arg *a = p;
	struct cds_lfht *ht = a->ht;
	/* xorshift64*, seeded per thread as benches/map.rs seeds its own. */
	uint64_t x = ((uint64_t)index + 1) * 0x9E3779B97F4A7C15ULL | 1;
	uint64_t ops = 0, found = 0;
	rcu_register_thread();
	shim_go(ctl);
	while (shim_running(ctl)) {
		/* One read-side section per batch, as urcu's re-pinned handle. */
		rcu_read_lock();
		for (unsigned i = 0; i < a->batch; i++) {
			x ^= x >> 12;
			x ^= x << 25;
			x ^= x >> 27;
			uint64_t r = x * 0x2545F4914F6CDD1DULL;
			uint64_t key = (r >> 32) & (a->keys - 1);
			uint64_t op = ((r & 0xFFFFFFFFULL) * 100) >> 32;
			if (op == 0) {
				found += shim_lfht_insert(ht, key, r);
			} else {
				struct cds_lfht_iter iter;
				cds_lfht_lookup(ht, shim_hash(key), shim_match, &key, &iter);
				struct cds_lfht_node *node = cds_lfht_iter_get_node(&iter);
				if (op == 1) {
					if (node && cds_lfht_del(ht, node) == 0) {
						call_rcu(&caa_container_of(node, struct shim_entry, node)->head,
							 shim_entry_free);
						found++;
					}
				} else if (node) {
					found += CMM_LOAD_SHARED(caa_container_of(node, struct shim_entry, node)->value) != ~0ULL;
				}
			}
		}
		rcu_read_unlock();
		ops += a->batch;
	}
	SHIM_SINK(found);
	rcu_unregister_thread();
	return ops;
}

/* `keys` (a power of two) is the key space; its even keys are inserted
 * first into a table created with `keys` buckets and automatic resizing.
 * Then `threads` threads do 98% lookup / 1% insert-or-replace / 1% remove
 * of random keys, `batch` operations per read-side section. */
uint64_t shim_lfht(unsigned threads, double secs, uint64_t keys, unsigned batch, double *elapsed)
{
	struct cds_lfht *ht = cds_lfht_new(keys, 1, 0, CDS_LFHT_AUTO_RESIZE | CDS_LFHT_ACCOUNTING, NULL);
	if (!ht || keys == 0 || (keys & (keys - 1)) || batch == 0)
		abort();
	rcu_register_thread();
	rcu_read_lock();
	for (uint64_t k = 0; k < keys; k += 2)
		shim_lfht_insert(ht, k, k);
	rcu_read_unlock();
	rcu_unregister_thread();
	struct shim_lfht_arg a = { .ht = ht, .keys = keys, .batch = batch };
	/* The table is left to the process's exit: destroying it would need
	 * every entry removed and a grace period first. */
	return shim_run(threads, secs, shim_lfht_worker, &a, elapsed);
}
