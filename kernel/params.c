/* Kernel command line: the boot loader's line plus, under QEMU, the fw_cfg
 * file opt/lego/cmdline (so a test can pass options without rebuilding the
 * ISO). Options are registered with LEGO_PARAM next to the code they
 * configure; unknown or malformed "lego." options are reported and
 * ignored. */
#include <lego/params.h>
#include <lego/printk.h>
#include <lego/string.h>
#include <lego/errno.h>

char boot_cmdline[BOOT_CMDLINE_LEN];
static char test_list[256];

static void strncat_bounded(char *d, const char *s, size_t n, size_t size)
{
	size_t dl = strlen(d);
	if (dl + n >= size)
		n = size - dl - 1;
	memcpy(d + dl, s, n);
	d[dl + n] = 0;
}

extern const struct cmdline_param __params_start[], __params_end[];

/* Every item lego.test understands; anything else is reported. */
static const char *const test_items[] = {
	"poweroff", "selftest", "fault", "fault:pf", "fault:ud", "fault:gp", "fault:de",
	"fault:df", "fault:panic", "fault:double-free", "fault:redzone",
};

static int test_param(const char *val, void *arg)
{
	if (!val || !*val)
		return -EINVAL;
	while (*val) {
		const char *end = strchr(val, ',');
		size_t n = end ? (size_t)(end - val) : strlen(val);
		bool known = false;
		for (size_t i = 0; i < ARRAY_SIZE(test_items); i++)
			if (strlen(test_items[i]) == n && !strncmp(test_items[i], val, n))
				known = true;
		if (known) {
			size_t used = strlen(test_list);
			if (used + 1 + n < sizeof(test_list)) {
				if (used)
					strlcat(test_list, ",", sizeof(test_list));
				strncat_bounded(test_list, val, n, sizeof(test_list));
			} else {
				pr_warn("cmdline: warning: too many lego.test items; '%.*s' ignored\n",
					(int)n, val);
			}
		} else if (n) {
			pr_warn("cmdline: warning: unknown lego.test item '%.*s' ignored\n", (int)n, val);
		}
		val += n + (end ? 1 : 0);
	}
	return 0;
}
LEGO_PARAM("lego.test", test_param, NULL);

bool test_requested(const char *item)
{
	size_t len;
	return cmdline_list_get(test_list, item, &len) != NULL;
}

const char *test_variant(const char *item)
{
	static char buf[32];
	size_t len;
	const char *p = cmdline_list_get(test_list, item, &len);
	size_t il = strlen(item);

	if (!p || len <= il + 1)
		return "";
	len -= il + 1;
	if (len >= sizeof(buf))
		len = sizeof(buf) - 1;
	memcpy(buf, p + il + 1, len);
	buf[len] = 0;
	return buf;
}

static void param_warn(void *ctx, const char *key, const char *val, int err)
{
	if (err == -ENOENT)
		pr_warn("cmdline: warning: unknown option '%s' ignored\n", key);
	else
		pr_warn("cmdline: warning: malformed option '%s%s%s' ignored (error %d)\n", key, val ? "=" : "",
			val ? val : "", err);
}

void params_parse(char *cmdline)
{
	/* The parser writes NULs into its buffer; keep boot_cmdline intact. */
	static char work[sizeof(boot_cmdline)];

	strlcpy(boot_cmdline, cmdline, sizeof(boot_cmdline));
	strlcpy(work, cmdline, sizeof(work));
	cmdline_apply(work, __params_start, __params_end - __params_start, param_warn, NULL);
}
