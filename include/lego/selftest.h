/* In-kernel self-tests, run when booted with lego.test=selftest. */
#ifndef LEGO_SELFTEST_H
#define LEGO_SELFTEST_H

#include <lego/compiler.h>

struct selftest {
	const char *name;
	/* 0 on success; SELFTEST_SKIP (with the reason in why) when the
	 * machine lacks what the test needs; on failure a negative value and
	 * a message in why. */
	int (*fn)(char *why, size_t len);
};

#define SELFTEST_SKIP 1

#define SELFTEST(tname, tfn)                                                      \
	static const struct selftest __selftest_##tfn                            \
		__attribute__((used, section(".lego_selftests"), aligned(8))) = { \
			.name = tname, .fn = tfn }

void selftests_run(void);

#endif
