/* Host tests of the LegoOS RPC protocol logic (net/rpc_proto.c): header
 * validation, fragmentation and reassembly under loss, duplication and
 * reordering, the server call table / reply cache and its expiry. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include <lego/rpc_proto.h>
#include <lego/errno.h>

/* ---- helpers ---- */

static u8 *pattern(u32 len, u32 seed)
{
	u8 *p = malloc(len ? len : 1);
	for (u32 i = 0; i < len; i++)
		p[i] = (u8)(seed * 31 + i * 7 + (i >> 8));
	return p;
}

/* Build fragment idx of a message as a datagram; returns its length. */
static size_t make_frag(u8 *out, u8 type, const u8 *msg, u32 len, unsigned idx, u64 call_id)
{
	struct lego_rpc_hdr h;
	u32 off = idx * LEGO_RPC_FRAG_PAYLOAD;
	u16 flen = (u16)rpc_frag_len(len, idx);
	rpc_hdr_build(&h, type, 0x0001, 7, 0x1234, call_id, len, off, flen, 0, lego_rpc_csum(msg, len));
	memcpy(out, &h, sizeof(h));
	memcpy(out + sizeof(h), msg + off, flen);
	return sizeof(h) + flen;
}

static u32 rng_state = 1;
static u32 rng(void)
{
	rng_state = rng_state * 1103515245 + 12345;
	return rng_state >> 8;
}

/* ---- header checks ---- */

static void test_build_and_check(void **s)
{
	u8 dg[2048];
	u8 *msg = pattern(3000, 1);
	size_t n = make_frag(dg, LEGO_RPC_REQUEST, msg, 3000, 2, 99);
	struct lego_rpc_hdr h;
	assert_int_equal(rpc_hdr_check(dg, n, &h), 0);
	assert_int_equal(h.frag_off, 2 * LEGO_RPC_FRAG_PAYLOAD);
	assert_int_equal(h.frag_len, 3000 - 2 * LEGO_RPC_FRAG_PAYLOAD);
	assert_int_equal(h.call_id, 99);
	free(msg);
}

static void test_check_rejects(void **s)
{
	u8 dg[2048], bad[2048];
	u8 *msg = pattern(3000, 2);
	size_t n = make_frag(dg, LEGO_RPC_REQUEST, msg, 3000, 0, 5);
	struct lego_rpc_hdr h, *bh = (struct lego_rpc_hdr *)bad;

	assert_int_equal(rpc_hdr_check(dg, 10, &h), -RPC_DROP_SHORT);
	assert_int_equal(rpc_hdr_check(dg, n - 1, &h), -RPC_DROP_LENGTH);
	assert_int_equal(rpc_hdr_check(dg, n + 1, &h), -RPC_DROP_LENGTH);

	memcpy(bad, dg, n);
	bh->magic ^= 1;
	assert_int_equal(rpc_hdr_check(bad, n, &h), -RPC_DROP_MAGIC);
	memcpy(bad, dg, n);
	bh->version = 2;
	assert_int_equal(rpc_hdr_check(bad, n, &h), -RPC_DROP_VERSION);
	memcpy(bad, dg, n);
	bh->type = 9;
	assert_int_equal(rpc_hdr_check(bad, n, &h), -RPC_DROP_TYPE);
	memcpy(bad, dg, n);
	bh->opcode ^= 1;	/* any change without a new checksum */
	assert_int_equal(rpc_hdr_check(bad, n, &h), -RPC_DROP_HDR_CSUM);

	/* Correctly checksummed but inconsistent headers. */
	struct lego_rpc_hdr x;
	rpc_hdr_build(&x, LEGO_RPC_REQUEST, 1, 0, 1, 1, LEGO_RPC_MAX_MSG + 1, 0, 1400, 0, 0);
	memcpy(bad, &x, sizeof(x));
	assert_int_equal(rpc_hdr_check(bad, sizeof(x) + 1400, &h), -RPC_DROP_LENGTH);
	u8 buf[2048];
	rpc_hdr_build(&x, LEGO_RPC_REQUEST, 1, 0, 1, 1, 3000, 100, 1400, 0, 0);	/* misaligned */
	memcpy(buf, &x, sizeof(x));
	assert_int_equal(rpc_hdr_check(buf, sizeof(x), &h), -RPC_DROP_LENGTH);
	memcpy(buf, &x, sizeof(x));
	assert_int_equal(rpc_hdr_check(buf, sizeof(x) + 1400, &h), -RPC_DROP_FRAG);
	rpc_hdr_build(&x, LEGO_RPC_REQUEST, 1, 0, 1, 1, 3000, 4200, 0, 0, 0);	/* past the end */
	memcpy(buf, &x, sizeof(x));
	assert_int_equal(rpc_hdr_check(buf, sizeof(x), &h), -RPC_DROP_FRAG);
	rpc_hdr_build(&x, LEGO_RPC_REQUEST, 1, 0, 1, 1, 3000, 0, 1000, 0, 0);	/* short non-last */
	memcpy(buf, &x, sizeof(x));
	assert_int_equal(rpc_hdr_check(buf, sizeof(x) + 1000, &h), -RPC_DROP_FRAG);
	rpc_hdr_build(&x, LEGO_RPC_REQUEST, 1, 0, 1, 1, 10, 0, 10, -5, 0);	/* status on request */
	memcpy(buf, &x, sizeof(x));
	assert_int_equal(rpc_hdr_check(buf, sizeof(x) + 10, &h), -RPC_DROP_RESERVED);
	rpc_hdr_build(&x, LEGO_RPC_PROBE, 1, 0, 1, 1, 5, 0, 5, 0, 0);	/* probe size */
	memcpy(buf, &x, sizeof(x));
	assert_int_equal(rpc_hdr_check(buf, sizeof(x) + 5, &h), -RPC_DROP_PAYLOAD);
	struct lego_rpc_probe pr;
	memset(&pr, 0xa5, sizeof(pr));
	rpc_hdr_build(&x, LEGO_RPC_PROBE, 1, 0, 1, 1, sizeof(pr), 0, sizeof(pr), 0,
		      lego_rpc_csum(&pr, sizeof(pr)));
	memcpy(buf, &x, sizeof(x));
	memcpy(buf + sizeof(x), &pr, sizeof(pr));
	assert_int_equal(rpc_hdr_check(buf, sizeof(x) + sizeof(pr), &h), 0);
	buf[sizeof(x) + 3] ^= 1;	/* payload no longer matches msg_csum */
	assert_int_equal(rpc_hdr_check(buf, sizeof(x) + sizeof(pr), &h), -RPC_DROP_PAYLOAD);
	/* An empty message is one empty fragment. */
	rpc_hdr_build(&x, LEGO_RPC_REQUEST, 1, 0, 1, 1, 0, 0, 0, 0, lego_rpc_csum(NULL, 0));
	memcpy(buf, &x, sizeof(x));
	assert_int_equal(rpc_hdr_check(buf, sizeof(x), &h), 0);
	free(msg);
}

static void test_random_garbage(void **s)
{
	u8 buf[1600];
	struct lego_rpc_hdr h;
	rng_state = 42;
	for (int i = 0; i < 200000; i++) {
		size_t n = rng() % sizeof(buf);
		for (size_t j = 0; j < n; j++)
			buf[j] = (u8)rng();
		if (n >= 2 && (i & 1)) {	/* half with a valid magic and version */
			buf[0] = 0x4c;
			buf[1] = 0x47;
			if (n > 2)
				buf[2] = 1;
		}
		assert_true(rpc_hdr_check(buf, n, &h) < 0);
	}
}

/* ---- reassembly ---- */

static void reassemble(u32 len, int loss_pct, int dup_pct, bool shuffle)
{
	u8 *msg = pattern(len, len);
	u8 *out = malloc(len ? len : 1);
	unsigned n = rpc_nfrags(len);
	struct rpc_reasm r;
	bool inited = false;
	unsigned *order = malloc(n * sizeof(*order));
	u8 dg[2048];

	for (unsigned i = 0; i < n; i++)
		order[i] = i;
	for (int round = 0; round < 1000; round++) {
		if (shuffle)
			for (unsigned i = n; i > 1; i--) {
				unsigned j = rng() % i, t = order[i - 1];
				order[i - 1] = order[j];
				order[j] = t;
			}
		for (unsigned k = 0; k < n; k++) {
			unsigned i = order[k];
			if ((int)(rng() % 100) < loss_pct)
				continue;
			for (int copies = ((int)(rng() % 100) < dup_pct) ? 2 : 1; copies; copies--) {
				size_t dl = make_frag(dg, LEGO_RPC_REPLY, msg, len, i, 1);
				struct lego_rpc_hdr h;
				assert_int_equal(rpc_hdr_check(dg, dl, &h), 0);
				if (!inited) {
					assert_int_equal(rpc_reasm_init(&r, out, len, &h), 0);
					inited = true;
				}
				int got = rpc_reasm_add(&r, &h, dg + sizeof(h));
				assert_true(got == 0 || got == 1);
			}
		}
		if (inited && rpc_reasm_done(&r))
			break;
	}
	assert_true(rpc_reasm_done(&r));
	assert_true(rpc_reasm_verify(&r));
	assert_memory_equal(out, msg, len);
	free(order);
	free(msg);
	free(out);
}

static void test_reasm_sizes(void **s)
{
	u32 sizes[] = { 0, 1, 1399, 1400, 1401, 2800, 4096, 65536, 131072, LEGO_RPC_MAX_MSG };
	for (unsigned i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++)
		reassemble(sizes[i], 0, 0, false);
}

static void test_reasm_lossy(void **s)
{
	rng_state = 7;
	reassemble(131072, 20, 20, true);
	reassemble(65536, 5, 50, true);
	reassemble(4096, 50, 0, true);
}

static void test_reasm_inconsistent(void **s)
{
	u8 *msg = pattern(5000, 3), out[5000], dg[2048];
	struct rpc_reasm r;
	struct lego_rpc_hdr h, h2;
	size_t dl = make_frag(dg, LEGO_RPC_REPLY, msg, 5000, 0, 1);
	assert_int_equal(rpc_hdr_check(dg, dl, &h), 0);
	assert_int_equal(rpc_reasm_init(&r, out, sizeof(out), &h), 0);
	assert_int_equal(rpc_reasm_add(&r, &h, dg + sizeof(h)), 1);
	assert_int_equal(rpc_reasm_add(&r, &h, dg + sizeof(h)), 0);	/* duplicate */
	h2 = h;
	h2.msg_len = 6000;
	assert_int_equal(rpc_reasm_add(&r, &h2, dg + sizeof(h)), -EINVAL);
	h2 = h;
	h2.opcode = 2;
	assert_int_equal(rpc_reasm_add(&r, &h2, dg + sizeof(h)), -EINVAL);
	h2 = h;
	h2.msg_csum ^= 1;
	assert_int_equal(rpc_reasm_add(&r, &h2, dg + sizeof(h)), -EINVAL);
	/* Too big for the caller's buffer. */
	assert_int_equal(rpc_reasm_init(&r, out, 4999, &h), -EMSGSIZE);
	/* Right fragments, corrupted payload: verify fails. */
	assert_int_equal(rpc_reasm_init(&r, out, sizeof(out), &h), 0);
	for (unsigned i = 0; i < rpc_nfrags(5000); i++) {
		dl = make_frag(dg, LEGO_RPC_REPLY, msg, 5000, i, 1);
		rpc_hdr_check(dg, dl, &h);
		if (i == 1)
			dg[sizeof(h) + 10] ^= 0xff;
		rpc_reasm_add(&r, &h, dg + sizeof(h));
	}
	assert_true(rpc_reasm_done(&r));
	assert_false(rpc_reasm_verify(&r));
	free(msg);
}

/* ---- call table ---- */

static int live_allocs;
static void *t_alloc(size_t n) { live_allocs++; return malloc(n); }
static void t_free(void *p) { if (p) { live_allocs--; free(p); } }
static const struct rpc_table_ops ops = { t_alloc, t_free };

static struct lego_rpc_hdr first_hdr(u32 len)
{
	struct lego_rpc_hdr h;
	rpc_hdr_build(&h, LEGO_RPC_REQUEST, 1, 0, 1, 1, len, 0, (u16)rpc_frag_len(len, 0), 0, 0);
	return h;
}

static void test_table_lifecycle(void **s)
{
	struct rpc_table t;
	rpc_table_init(&t, 8, 1000, 500, &ops);
	struct rpc_call_key k = { 0x0100a8c0, 4701, 77, 1 };
	struct lego_rpc_hdr h = first_hdr(100);

	assert_null(rpc_table_find(&t, &k));
	struct rpc_entry *e = rpc_table_insert(&t, &k, &h, 0);
	assert_non_null(e);
	assert_ptr_equal(rpc_table_find(&t, &k), e);
	assert_int_equal(e->state, RPC_ENTRY_ASSEMBLING);
	/* Same call id from another client or epoch is another call. */
	struct rpc_call_key k2 = k;
	k2.epoch = 78;
	assert_null(rpc_table_find(&t, &k2));
	k2 = k;
	k2.port = 4702;
	assert_null(rpc_table_find(&t, &k2));

	e->state = RPC_ENTRY_RUNNING;
	rpc_table_complete(&t, e, t_alloc(10), 10, -5, 100);
	assert_int_equal(e->state, RPC_ENTRY_DONE);
	assert_int_equal(e->status, -5);
	/* Cached until retain_ns has passed since completion. */
	rpc_table_expire(&t, 1099);
	assert_ptr_equal(rpc_table_find(&t, &k), e);
	rpc_table_expire(&t, 1100);
	assert_null(rpc_table_find(&t, &k));
	assert_int_equal(t.nr, 0);
	assert_int_equal(live_allocs, 0);
}

static void test_table_partial_expiry(void **s)
{
	struct rpc_table t;
	rpc_table_init(&t, 8, 1000, 500, &ops);
	struct rpc_call_key k = { 1, 2, 3, 4 };
	struct lego_rpc_hdr h = first_hdr(5000);
	struct rpc_entry *e = rpc_table_insert(&t, &k, &h, 0);
	rpc_table_touch(&t, e, 300);	/* a fragment arrived */
	rpc_table_expire(&t, 799);
	assert_non_null(rpc_table_find(&t, &k));
	rpc_table_expire(&t, 800);
	assert_null(rpc_table_find(&t, &k));
	/* Running entries never expire. */
	e = rpc_table_insert(&t, &k, &h, 0);
	e->state = RPC_ENTRY_RUNNING;
	rpc_table_expire(&t, 1000000);
	assert_non_null(rpc_table_find(&t, &k));
	rpc_table_destroy(&t);
	assert_int_equal(live_allocs, 0);
}

static void test_table_full(void **s)
{
	struct rpc_table t;
	rpc_table_init(&t, 4, 1000, 500, &ops);
	struct lego_rpc_hdr h = first_hdr(10);
	struct rpc_entry *es[4];
	for (u64 i = 0; i < 4; i++) {
		struct rpc_call_key k = { 1, 1, 1, i };
		es[i] = rpc_table_insert(&t, &k, &h, i);
		es[i]->state = RPC_ENTRY_RUNNING;
	}
	/* Full of running calls: nothing may be evicted. */
	struct rpc_call_key k5 = { 1, 1, 1, 5 };
	assert_null(rpc_table_insert(&t, &k5, &h, 10));
	/* Completed entries may be evicted early (counted), oldest first. */
	rpc_table_complete(&t, es[2], NULL, 0, 0, 20);
	rpc_table_complete(&t, es[1], NULL, 0, 0, 30);
	assert_non_null(rpc_table_insert(&t, &k5, &h, 40));
	assert_int_equal(t.evicted_early, 1);
	struct rpc_call_key k2 = { 1, 1, 1, 2 };
	assert_null(rpc_table_find(&t, &k2));
	struct rpc_call_key k1 = { 1, 1, 1, 1 };
	assert_non_null(rpc_table_find(&t, &k1));
	rpc_table_destroy(&t);
	assert_int_equal(live_allocs, 0);
}

static void test_table_many(void **s)
{
	struct rpc_table t;
	rpc_table_init(&t, 2000, 1000, 500, &ops);
	struct lego_rpc_hdr h = first_hdr(1);
	for (u64 i = 0; i < 1500; i++) {
		struct rpc_call_key k = { (u32)i % 7, (u16)(i % 3), 9, i };
		assert_non_null(rpc_table_insert(&t, &k, &h, 0));
	}
	for (u64 i = 0; i < 1500; i++) {
		struct rpc_call_key k = { (u32)i % 7, (u16)(i % 3), 9, i };
		struct rpc_entry *e = rpc_table_find(&t, &k);
		assert_non_null(e);
		assert_int_equal(e->key.call_id, i);
	}
	rpc_table_destroy(&t);
	assert_int_equal(live_allocs, 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_build_and_check),
		cmocka_unit_test(test_check_rejects),
		cmocka_unit_test(test_random_garbage),
		cmocka_unit_test(test_reasm_sizes),
		cmocka_unit_test(test_reasm_lossy),
		cmocka_unit_test(test_reasm_inconsistent),
		cmocka_unit_test(test_table_lifecycle),
		cmocka_unit_test(test_table_partial_expiry),
		cmocka_unit_test(test_table_full),
		cmocka_unit_test(test_table_many),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
