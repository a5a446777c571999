/* Kernel command-line options ("lego.*"), registered where they are used. */
#ifndef LEGO_PARAMS_H
#define LEGO_PARAMS_H

#include <lego/cmdline.h>

#define LEGO_PARAM(pname, setfn, argp)                                            \
	static const struct cmdline_param __param_##setfn                        \
		__attribute__((used, section(".lego_params"), aligned(8))) = {   \
			.name = pname, .set = setfn, .arg = argp }

void params_parse(char *cmdline);
/* lego.test=<list>: true if item (or item:variant) is requested. */
bool test_requested(const char *item);
const char *test_variant(const char *item);	/* "df" for fault:df, "" for fault */
#define BOOT_CMDLINE_LEN 2048
extern char boot_cmdline[BOOT_CMDLINE_LEN];

#endif
