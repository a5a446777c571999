/* Opcodes every node serves: ping (echo), node information, and the RPC
 * self-test that makes this node call another one (used by rack tests and
 * the RPC benchmark, so latency is measured inside the kernels). */
#include <lego/rpc.h>
#include <lego/net.h>
#include <lego/mm.h>
#include <lego/sched.h>
#include <lego/smp.h>
#include <lego/time.h>
#include <lego/string.h>
#include <lego/errno.h>
#include <lego/printk.h>
#include <lego/monitor.h>

static int op_ping(struct rpc_req *r)
{
	void *out = rpc_reply_alloc(r, r->len);
	if (!out)
		return -ENOMEM;
	memcpy(out, r->data, r->len);
	return 0;
}

static int op_node_info(struct rpc_req *r)
{
	struct lego_node_info *ni = rpc_reply_alloc(r, sizeof(*ni));
	if (!ni)
		return -ENOMEM;
	memset(ni, 0, sizeof(*ni));
	strlcpy(ni->name, net_config.name, sizeof(ni->name));
	strlcpy(ni->personality, monitor_name, sizeof(ni->personality));
	ni->node_id = net_config.node_id;
	ni->ipv4 = net_config.ip;
	ni->cpus_online = (u32)atomic_read(&nr_cpus_online);
	ni->mem_bytes = mem_usable_bytes;
	ni->uptime_ns = ktime_ns();
	ni->rpc_calls_served = rpc_stats.served;
	u64 dropped = 0;
	for (unsigned i = 0; i < ARRAY_SIZE(rpc_stats.rx_dropped); i++)
		dropped += rpc_stats.rx_dropped[i];
	ni->rpc_rx_dropped = dropped;
	return 0;
}

/* What the managers poll (paper section 4.6): cores and threads, free
 * memory, request load; the personality adds its own figures (storage
 * space of an sComponent's store). */
static int op_load(struct rpc_req *r)
{
	struct lego_load *l = rpc_reply_alloc(r, sizeof(*l));
	if (!l)
		return -ENOMEM;
	memset(l, 0, sizeof(*l));
	l->personality = (u32)monitor_personality;
	l->cpus = (u32)atomic_read(&nr_cpus_online);
	for (int c = 0; c < nr_cpus_possible; c++)
		if (cpu_local_of(c))
			l->threads += (u32)sched_nr_threads(c);
	l->mem_total_bytes = mem_usable_bytes;
	l->mem_free_bytes = page_alloc_free_bytes();
	l->rpc_requests = rpc_stats.served;
	l->uptime_ns = ktime_ns();
	monitor_load(l);
	return 0;
}

/* ---- LEGO_OP_RPC_TEST ---- */

struct test_run {
	const struct lego_rpc_test_req *req;
	struct rpc_endpoint target;
	u64 *lat;		/* one slot per call of this thread */
	unsigned nlat;
	u64 calls, errors, bad_data, bytes;
	int first_error;
	unsigned seed;
};

static int test_thread(void *arg)
{
	struct test_run *t = arg;
	const struct lego_rpc_test_req *q = t->req;
	u8 *out = kmalloc(q->max_size ? q->max_size : 1);
	u8 *in = kmalloc(q->max_size ? q->max_size : 1);

	if (!out || !in) {
		t->errors++;
		t->first_error = -ENOMEM;
		goto done;
	}
	for (u32 size = q->min_size;;) {
		for (u32 i = 0; i < q->count; i++) {
			/* A different pattern every call, so a stale or
			 * misrouted reply cannot pass the check. */
			t->seed = t->seed * 1103515245 + 12345;
			for (u32 b = 0; b < size; b++)
				out[b] = (u8)(t->seed >> 16) + (u8)b * 7;
			u32 got = 0;
			u64 t0 = ktime_ns();
			int r = rpc_call(&t->target, LEGO_OP_PING, out, size, in, size, &got, 0);
			u64 dt = ktime_ns() - t0;
			t->calls++;
			if (r < 0) {
				t->errors++;
				if (!t->first_error)
					t->first_error = r;
				continue;
			}
			if (got != size || memcmp(in, out, size))
				t->bad_data++;
			else
				t->bytes += 2ull * size;
			t->lat[t->nlat++] = dt;
		}
		if (size >= q->max_size)
			break;
		size = size ? size * 2 : 1;
		if (size > q->max_size)
			size = q->max_size;
	}
done:
	kfree(out);
	kfree(in);
	return 0;
}

static void sort_u64(u64 *a, unsigned n)
{
	/* Shell sort: no recursion, fine for the few thousand samples here. */
	for (unsigned gap = n / 2; gap; gap /= 2)
		for (unsigned i = gap; i < n; i++)
			for (unsigned j = i; j >= gap && a[j - gap] > a[j]; j -= gap) {
				u64 x = a[j];
				a[j] = a[j - gap];
				a[j - gap] = x;
			}
}

static int op_rpc_test(struct rpc_req *r)
{
	if (r->len != sizeof(struct lego_rpc_test_req))
		return -EINVAL;
	const struct lego_rpc_test_req *q = r->data;
	if (!q->concurrency || q->concurrency > 64 || q->max_size > LEGO_RPC_MAX_MSG ||
	    q->min_size > q->max_size || !q->count || q->count > 100000)
		return -EINVAL;
	unsigned nsizes = 1;
	for (u32 s = q->min_size; s < q->max_size; nsizes++)
		s = s ? (s * 2 > q->max_size ? q->max_size : s * 2) : 1;
	u64 per_thread = (u64)nsizes * q->count;
	/* The latency samples must fit one kmalloc (at most 4 MiB). */
	if (per_thread * q->concurrency > 400000)
		return -E2BIG;

	struct test_run *runs = kzalloc(q->concurrency * sizeof(*runs));
	struct thread **th = kzalloc(q->concurrency * sizeof(*th));
	u64 *all = kmalloc(per_thread * q->concurrency * sizeof(u64));
	int ret = 0;
	if (!runs || !th || !all) {
		ret = -ENOMEM;
		goto out;
	}
	u64 t0 = ktime_ns();
	for (unsigned i = 0; i < q->concurrency; i++) {
		runs[i].req = q;
		runs[i].target.ip = q->target_ipv4;
		runs[i].target.port = q->target_port;
		runs[i].lat = all + i * per_thread;
		runs[i].seed = i * 7919 + 1;
		th[i] = thread_create(test_thread, &runs[i], THREAD_CPU_ANY, "rpctest/%u", i);
		if (!th[i]) {
			ret = -ENOMEM;
			break;
		}
	}
	for (unsigned i = 0; i < q->concurrency && th[i]; i++)
		thread_join(th[i]);
	if (ret)
		goto out;

	struct lego_rpc_test_reply *rep = rpc_reply_alloc(r, sizeof(*rep));
	if (!rep) {
		ret = -ENOMEM;
		goto out;
	}
	memset(rep, 0, sizeof(*rep));
	rep->elapsed_ns = ktime_ns() - t0;
	unsigned n = 0;
	for (unsigned i = 0; i < q->concurrency; i++) {
		rep->calls += runs[i].calls;
		rep->errors += runs[i].errors;
		rep->bad_data += runs[i].bad_data;
		rep->bytes += runs[i].bytes;
		if (!rep->first_error)
			rep->first_error = runs[i].first_error;
		/* Compact the samples to the front of `all`. */
		memmove(all + n, runs[i].lat, runs[i].nlat * sizeof(u64));
		n += runs[i].nlat;
	}
	if (n) {
		sort_u64(all, n);
		rep->lat_min_ns = all[0];
		rep->lat_median_ns = all[n / 2];
		rep->lat_p99_ns = all[(u64)n * 99 / 100 < n ? (u64)n * 99 / 100 : n - 1];
		rep->lat_max_ns = all[n - 1];
	}
out:
	kfree(runs);
	kfree(th);
	kfree(all);
	return ret;
}

void rpc_builtin_init(void);
void rpc_builtin_init(void)
{
	rpc_register(LEGO_OP_PING, op_ping, "ping");
	rpc_register(LEGO_OP_NODE_INFO, op_node_info, "node-info");
	rpc_register(LEGO_OP_RPC_TEST, op_rpc_test, "rpc-test");
	rpc_register(LEGO_OP_LOAD, op_load, "load");
}
