/*
 * The flavor-generic half of the shim: included once per flavor by
 * flavor_memb.c, flavor_mb.c and flavor_qsbr.c, after that flavor's header
 * (with URCU_API_MAP defined, so the unprefixed rcu_* names map to the
 * flavor's own symbols) and after defining SHIM_READ, SHIM_GP,
 * SHIM_READ_LOOP, SHIM_READ_LOOP_BODY and SHIM_QSBR (1 for the QSBR
 * flavor).
 */
#include <stdlib.h>
#include <string.h>
#include "shim.h"

/* The published object: 64 bytes of payload, plus call_rcu's head. */
struct shim_obj {
	uint64_t v[8];
	struct rcu_head head;
};

static struct shim_obj *shim_published;

static struct shim_obj *shim_obj_new(void)
{
	struct shim_obj *o = malloc(sizeof(*o));
	if (!o)
		abort();
	for (int i = 0; i < 8; i++)
		o->v[i] = 1;
	return o;
}

static void shim_obj_free(struct rcu_head *head)
{
	free(caa_container_of(head, struct shim_obj, head));
}

/* Reads between two checks of the stop flag (and, under QSBR, between two
 * quiescent states), as in benches/scaling.rs. */
#define SHIM_READ_BATCH 1024
/* Read-side sections between two checks of the stop flag (gp readers). */
#define SHIM_GP_READER_BATCH 64

static uint64_t shim_read_worker(struct shim_ctl *ctl, unsigned index, void *arg)
{
	unsigned writer = *(unsigned *)arg;
	uint64_t ops = 0;

	rcu_register_thread();
	if (index == writer) {
		/* Replace the object every millisecond, freeing the old one
		 * through call_rcu. Offline while asleep (QSBR; a no-op for
		 * the other flavors). */
		rcu_thread_offline();
		shim_go(ctl);
		while (shim_running(ctl)) {
			shim_sleep_ns(1000000);
			rcu_thread_online();
			struct shim_obj *old = rcu_xchg_pointer(&shim_published, shim_obj_new());
			call_rcu(&old->head, shim_obj_free);
			rcu_thread_offline();
		}
		rcu_thread_online();
	} else {
		shim_go(ctl);
		while (shim_running(ctl)) {
			for (int i = 0; i < SHIM_READ_BATCH; i++) {
				rcu_read_lock();
				struct shim_obj *p = rcu_dereference(shim_published);
				SHIM_SINK(p);
				rcu_read_unlock();
			}
			if (SHIM_QSBR)
				rcu_quiescent_state();
			ops += SHIM_READ_BATCH;
		}
	}
	rcu_unregister_thread();
	return ops;
}

uint64_t SHIM_READ(unsigned readers, double secs, double *elapsed)
{
	unsigned writer = readers;
	if (!shim_published)
		shim_published = shim_obj_new();
	return shim_run(readers + 1, secs, shim_read_worker, &writer, elapsed);
}

struct shim_gp_arg {
	uint64_t *samples;
	size_t len;
};

static uint64_t shim_gp_worker(struct shim_ctl *ctl, unsigned index, void *arg)
{
	if (index == 0) {
		struct shim_gp_arg *out = arg;
		size_t cap = 1 << 16, len = 0;
		uint64_t *lat = malloc(cap * sizeof(*lat));
		if (!lat)
			abort();
		shim_go(ctl);
		while (shim_running(ctl)) {
			uint64_t t = shim_now_ns();
			synchronize_rcu();
			if (len == cap) {
				cap *= 2;
				lat = realloc(lat, cap * sizeof(*lat));
				if (!lat)
					abort();
			}
			lat[len++] = shim_now_ns() - t;
		}
		out->samples = lat;
		out->len = len;
		return len;
	}
	rcu_register_thread();
	shim_go(ctl);
	while (shim_running(ctl)) {
		for (int i = 0; i < SHIM_GP_READER_BATCH; i++) {
			rcu_read_lock();
			rcu_read_unlock();
			if (SHIM_QSBR)
				rcu_quiescent_state();
		}
	}
	rcu_unregister_thread();
	return 0;
}

uint64_t SHIM_GP(unsigned threads, double secs, double *elapsed, uint64_t **samples)
{
	struct shim_gp_arg out = { 0 };
	uint64_t n = shim_run(threads, secs, shim_gp_worker, &out, elapsed);
	*samples = out.samples;
	return n;
}

/* `n` reads (rcu_read_lock, rcu_dereference, rcu_read_unlock) on the
 * calling thread, nobody writing: the loop of `read`, alone in a function
 * of its own so that `valgrind --tool=callgrind --toggle-collect=` can
 * count its instructions (bench/examples/hot_loops.rs). */
__attribute__((noinline)) void SHIM_READ_LOOP_BODY(uint64_t n)
{
	for (uint64_t i = 0; i < n; i++) {
		rcu_read_lock();
		struct shim_obj *p = rcu_dereference(shim_published);
		SHIM_SINK(p);
		rcu_read_unlock();
	}
}

void SHIM_READ_LOOP(uint64_t n)
{
	if (!shim_published)
		shim_published = shim_obj_new();
	rcu_register_thread();
	SHIM_READ_LOOP_BODY(n);
	rcu_unregister_thread();
}
