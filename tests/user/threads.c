/* threads: four pthreads exercising what a processor monitor must provide to
 * glibc's and musl's thread libraries: clone with TLS and tid addresses,
 * futex wait/wake (mutexes, condition variables, a timed wait) and
 * CLONE_CHILD_CLEARTID wake-ups for pthread_join.
 *
 *   phase 1: two producers push NITEMS items each through a bounded queue
 *            (mutex + two condition variables) to two consumers;
 *   phase 2: ROUNDS rounds of a barrier built from a mutex and a condition
 *            variable, where every thread publishes a value derived from
 *            its thread-local accumulator and folds in its neighbour's;
 *   then each thread returns its accumulator through pthread_join, and the
 *   main thread checks it against a serial simulation.
 *
 * The work split between the two consumers varies from run to run, so only
 * order-independent sums are printed: the output is the same on every run
 * and with either libc. Exits 0 when every check passed, 1 otherwise. */
#define _GNU_SOURCE
#include <errno.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#define NTHREADS	4
#define NPRODUCERS	2
#define NITEMS		5000		/* per producer */
#define QUEUE_SLOTS	8
#define ROUNDS		100
#define TLS_INIT	0x1234u

/* Initialised TLS (.tdata) and zeroed TLS (.tbss): a new thread must get the
 * initial image, not the creating thread's current values. */
static __thread uint64_t tls_acc = TLS_INIT;
static __thread uint64_t tls_zero;

static uint64_t mix64(uint64_t x)
{
	x ^= x >> 30;
	x *= 0xbf58476d1ce4e5b9ull;
	x ^= x >> 27;
	x *= 0x94d049bb133111ebull;
	x ^= x >> 31;
	return x;
}

/* Bounded FIFO. lock protects every field. */
struct queue {
	pthread_mutex_t lock;
	pthread_cond_t not_full;
	pthread_cond_t not_empty;
	uint64_t slot[QUEUE_SLOTS];
	unsigned int head;
	unsigned int count;
	int producers_left;
	/* totals of what the consumers took out */
	uint64_t consumed_sum;
	unsigned long consumed;
};

/* Reusable barrier. lock protects waiting and generation. */
struct barrier {
	pthread_mutex_t lock;
	pthread_cond_t cond;
	unsigned int n;
	unsigned int waiting;
	unsigned long generation;
};

static struct queue q = {
	.lock = PTHREAD_MUTEX_INITIALIZER,
	.not_full = PTHREAD_COND_INITIALIZER,
	.not_empty = PTHREAD_COND_INITIALIZER,
	.producers_left = NPRODUCERS,
};

static struct barrier bar = {
	.lock = PTHREAD_MUTEX_INITIALIZER,
	.cond = PTHREAD_COND_INITIALIZER,
	.n = NTHREADS,
};

/* Written by thread i between barriers, read by thread i-1 after the next
 * barrier: the barrier's mutex orders the accesses. */
static uint64_t published[NTHREADS];

/* Each worker records what it saw at start; read by main after join. */
static struct {
	uint64_t acc_at_start;
	uint64_t zero_at_start;
	const void *acc_addr;
} seen[NTHREADS];

static void barrier_wait(struct barrier *b)
{
	unsigned long gen;

	pthread_mutex_lock(&b->lock);
	gen = b->generation;
	if (++b->waiting == b->n) {
		b->waiting = 0;
		b->generation++;
		pthread_cond_broadcast(&b->cond);
	} else {
		/* the generation guards against spurious wake-ups */
		while (gen == b->generation)
			pthread_cond_wait(&b->cond, &b->lock);
	}
	pthread_mutex_unlock(&b->lock);
}

static uint64_t item_value(int producer, unsigned int i)
{
	return ((uint64_t)(producer + 1) << 32) | i;
}

static void produce(int id)
{
	unsigned int i;

	for (i = 0; i < NITEMS; i++) {
		pthread_mutex_lock(&q.lock);
		while (q.count == QUEUE_SLOTS)
			pthread_cond_wait(&q.not_full, &q.lock);
		q.slot[(q.head + q.count) % QUEUE_SLOTS] = item_value(id, i);
		q.count++;
		pthread_cond_signal(&q.not_empty);
		pthread_mutex_unlock(&q.lock);
	}
	pthread_mutex_lock(&q.lock);
	if (--q.producers_left == 0)
		pthread_cond_broadcast(&q.not_empty);
	pthread_mutex_unlock(&q.lock);
}

static void consume(void)
{
	uint64_t sum = 0, v;
	unsigned long n = 0;

	for (;;) {
		pthread_mutex_lock(&q.lock);
		while (q.count == 0 && q.producers_left > 0)
			pthread_cond_wait(&q.not_empty, &q.lock);
		if (q.count == 0) {
			pthread_mutex_unlock(&q.lock);
			break;
		}
		v = q.slot[q.head];
		q.head = (q.head + 1) % QUEUE_SLOTS;
		q.count--;
		pthread_cond_signal(&q.not_full);
		pthread_mutex_unlock(&q.lock);
		/* the sum of mixed values is independent of who took what */
		sum += mix64(v);
		n++;
	}
	pthread_mutex_lock(&q.lock);
	q.consumed_sum += sum;
	q.consumed += n;
	pthread_mutex_unlock(&q.lock);
}

static void *worker(void *arg)
{
	int id = (int)(intptr_t)arg;
	int r;

	seen[id].acc_at_start = tls_acc;
	seen[id].zero_at_start = tls_zero;
	seen[id].acc_addr = &tls_acc;
	tls_zero = (uint64_t)id + 1;

	if (id < NPRODUCERS)
		produce(id);
	else
		consume();

	tls_acc ^= (uint64_t)id << 40;
	barrier_wait(&bar);
	for (r = 0; r < ROUNDS; r++) {
		published[id] = tls_acc + (uint64_t)r;
		barrier_wait(&bar);
		tls_acc = mix64(tls_acc ^ published[(id + 1) % NTHREADS]);
		barrier_wait(&bar);
	}
	/* another thread's TLS writes must not have leaked into ours */
	if (tls_zero != (uint64_t)id + 1)
		return NULL;
	return (void *)(uintptr_t)tls_acc;
}

/* What phase 2 must produce, computed without threads. */
static void simulate(uint64_t expect[NTHREADS])
{
	uint64_t acc[NTHREADS], pub[NTHREADS];
	int i, r;

	for (i = 0; i < NTHREADS; i++)
		acc[i] = TLS_INIT ^ ((uint64_t)i << 40);
	for (r = 0; r < ROUNDS; r++) {
		for (i = 0; i < NTHREADS; i++)
			pub[i] = acc[i] + (uint64_t)r;
		for (i = 0; i < NTHREADS; i++)
			acc[i] = mix64(acc[i] ^ pub[(i + 1) % NTHREADS]);
	}
	for (i = 0; i < NTHREADS; i++)
		expect[i] = acc[i];
}

/* A timed wait nobody signals must time out (futex wait with a timeout). */
static int check_timedwait(void)
{
	pthread_mutex_t m = PTHREAD_MUTEX_INITIALIZER;
	pthread_cond_t c = PTHREAD_COND_INITIALIZER;
	struct timespec deadline;
	int err = 0;

	if (clock_gettime(CLOCK_REALTIME, &deadline) != 0)
		return -1;
	deadline.tv_nsec += 20 * 1000 * 1000;
	if (deadline.tv_nsec >= 1000000000) {
		deadline.tv_nsec -= 1000000000;
		deadline.tv_sec++;
	}
	pthread_mutex_lock(&m);
	while (err == 0)
		err = pthread_cond_timedwait(&c, &m, &deadline);
	pthread_mutex_unlock(&m);
	return err == ETIMEDOUT ? 0 : -1;
}

int main(void)
{
	pthread_t tid[NTHREADS];
	uint64_t expect[NTHREADS], expect_sum = 0, checksum;
	void *ret[NTHREADS];
	int i, j, err, failed = 0;
	unsigned int k;

	/* children must not inherit this */
	tls_acc = 999;

	for (i = 0; i < NTHREADS; i++) {
		err = pthread_create(&tid[i], NULL, worker, (void *)(intptr_t)i);
		if (err) {
			fprintf(stderr, "threads: pthread_create: %s\n", strerror(err));
			return 1;
		}
	}
	for (i = 0; i < NTHREADS; i++) {
		err = pthread_join(tid[i], &ret[i]);
		if (err) {
			fprintf(stderr, "threads: pthread_join: %s\n", strerror(err));
			return 1;
		}
	}

	for (i = 0; i < NPRODUCERS; i++)
		for (k = 0; k < NITEMS; k++)
			expect_sum += mix64(item_value(i, k));
	if (q.consumed != (unsigned long)NPRODUCERS * NITEMS || q.consumed_sum != expect_sum) {
		fprintf(stderr, "threads: queue: consumed %lu items sum %016llx, expected %lu sum %016llx\n",
			q.consumed, (unsigned long long)q.consumed_sum,
			(unsigned long)NPRODUCERS * NITEMS, (unsigned long long)expect_sum);
		failed = 1;
	}
	printf("threads: queue %d producers x %d items via %d slots: %s\n",
	       NPRODUCERS, NITEMS, QUEUE_SLOTS, failed ? "FAIL" : "ok");

	err = 0;
	for (i = 0; i < NTHREADS; i++) {
		if (seen[i].acc_at_start != TLS_INIT || seen[i].zero_at_start != 0) {
			fprintf(stderr, "threads: tls: thread %d started with acc=%llx zero=%llx\n", i,
				(unsigned long long)seen[i].acc_at_start,
				(unsigned long long)seen[i].zero_at_start);
			err = 1;
		}
		for (j = 0; j < i; j++)
			if (seen[i].acc_addr == seen[j].acc_addr) {
				fprintf(stderr, "threads: tls: threads %d and %d share a TLS block\n", i, j);
				err = 1;
			}
	}
	if (tls_acc != 999 || tls_zero != 0) {
		fprintf(stderr, "threads: tls: main thread's TLS was changed\n");
		err = 1;
	}
	printf("threads: tls: %s\n", err ? "FAIL" : "ok");
	failed |= err;

	simulate(expect);
	err = 0;
	checksum = q.consumed_sum;
	for (i = 0; i < NTHREADS; i++) {
		if ((uint64_t)(uintptr_t)ret[i] != expect[i]) {
			fprintf(stderr, "threads: join: thread %d returned %016llx, expected %016llx\n", i,
				(unsigned long long)(uintptr_t)ret[i], (unsigned long long)expect[i]);
			err = 1;
		}
		checksum = mix64(checksum ^ (uint64_t)(uintptr_t)ret[i]);
	}
	printf("threads: barrier %d rounds, join values: %s\n", ROUNDS, err ? "FAIL" : "ok");
	failed |= err;

	err = check_timedwait();
	if (err)
		fprintf(stderr, "threads: pthread_cond_timedwait did not time out\n");
	printf("threads: timedwait: %s\n", err ? "FAIL" : "ok");
	failed |= err != 0;

	printf("threads: checksum=%016llx\n", (unsigned long long)checksum);
	printf("threads: %s\n", failed ? "FAIL" : "ok");
	if (fflush(stdout) != 0)
		return 1;
	return failed;
}
