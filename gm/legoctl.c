/*
 * legoctl: the user's command-line tool for a LegoOS rack (paper §4.6).
 *
 * Talks to nodes with the built-in RPCs every node serves
 * (include/uapi/lego/rpc.h): ping, info, rpctest; to the global managers
 * (legoctl_gm.c): nodes, vnode, run, choose; to storage components
 * about a vNode's files (legoctl_fs.c): fs; lists the rack's node file
 * (nodes --local); serves PING/NODE_INFO/RPC_TEST as a Linux baseline
 * (serve-echo); and plays a monitor for tests (fake-monitor,
 * legoctl_fake.c).
 *
 * Exit status: 0 success, 1 a call or operation failed, 2 usage error,
 * 3 not available yet.
 */
#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <arpa/inet.h>

#include <uapi/lego/gm.h>
#include "gm/nodes.h"
#include "gm/rpc.h"
#include "legoctl.h"

const char *prog = "legoctl";

/* ------------------------------------------------------------------ */
/* Help                                                                */
/* ------------------------------------------------------------------ */

static const struct cmd_help helps[] = {
	{ "nodes", "nodes [--json] [--timeout MS] [--gm IP] | nodes --local [--check] [--timeout MS]",
	  "Lists the components the global managers know (LEGO_OP_GM_NODES of GPM,\n"
	  "GMM and GSM, merged by id): ID NAME PERSONALITY ADDRESS STATE SINCE LOAD.\n"
	  "STATE is alive, dead, or unknown (known from a restarted manager's state\n"
	  "file, not heard from since). SINCE is the UTC time of the last state change.\n"
	  "LOAD is the manager's view (last poll plus its own decisions since):\n"
	  "processor 'cpus/threads', memory 'free/total MiB, requests/s', storage\n"
	  "'free/total MiB'. A manager that does not answer within --timeout (default\n"
	  "1000 ms) is reported on stderr; the others are still listed, and the exit\n"
	  "status is 1. --json prints one JSON object instead.\n"
	  "--local lists the rack's node file $LEGO_NODES (written by scripts/rack)\n"
	  "instead; with --check it also asks every node for NODE_INFO (timeout\n"
	  "default 500 ms per node).\n" },
	{ "vnode", "vnode create NAME | vnode list | vnode rm NAME  [--json] [--timeout MS] [--gm IP]",
	  "Creates, lists or removes vNodes (paper section 4.1), kept by GPM. A name\n"
	  "is 1-15 characters of [a-z0-9_-]. A new vNode gets the next id, the next\n"
	  "virtual IP of 10.200.0.0/16 and the mount point /vnode/NAME on the storage\n"
	  "component GSM picks (the healthy one with the most free space), where GPM\n"
	  "creates its namespace (its files, a copy of the image's base root); rm frees\n"
	  "them there too (a dead storage component keeps them). Errors (name taken,\n"
	  "no such vNode, no healthy storage component alive, the storage component\n"
	  "refusing, a manager not answering) are printed on stderr with exit status 1.\n" },
	{ "fs", "fs COMMAND [--vnode NAME | --base] [--node NODE] [--cache NODE|vnode] [--timeout MS] [--gm IP] ARGS...",
	  "Reads and changes the files of a vNode directly on the storage component\n"
	  "that holds them (the storage protocol, include/uapi/lego/storage.h, to its\n"
	  "port 4700). --vnode NAME: the vNode, looked up in GPM; its storage component\n"
	  "is found in GSM's list (a storage node that restarted is found again by its\n"
	  "name). --base: vNode 0, the image's base root from which new vNodes are\n"
	  "initialised (for operators). --node NAME|ID|IP[:PORT]: the storage component,\n"
	  "overriding the vNode's; needed with --base, df and vnodes unless exactly one\n"
	  "storage component is alive. --cache NODE|vnode: send file requests through\n"
	  "the buffer cache of a memory component (NAME|ID|IP[:PORT], or 'vnode': the\n"
	  "one GPM chose for the vNode, which its processes use), as a processor does:\n"
	  "reads may be served from it, writes reach storage on eviction, within a few\n"
	  "seconds, or at once with 'sync'. --timeout: how long a silent node is waited for\n"
	  "(default 3000 ms). PATHs are absolute; 'a//b/' style input is normalised,\n"
	  "'..' refused.\n"
	  "  ls [-l] [--json] [PATH]         a directory's entries, sorted by name (all\n"
	  "                                  pages); -l: type, mode, size, mtime; ls of a\n"
	  "                                  file shows the file. PATH defaults to /\n"
	  "  stat [--json] PATH              one entry's attributes\n"
	  "  cat PATH                        a file to stdout\n"
	  "  get PATH [LOCAL|-]              a file to LOCAL (default: its name in the\n"
	  "                                  current directory; a directory: into it)\n"
	  "  put [--mode OCTAL] [--no-sync] LOCAL|- PATH\n"
	  "                                  LOCAL (or stdin) to PATH (created or\n"
	  "                                  truncated, into PATH if it is a directory),\n"
	  "                                  with LOCAL's permission bits unless --mode\n"
	  "                                  (stdin: 0644), then fsync\n"
	  "  write --offset N [--no-sync] PATH   stdin written at offset N (no truncation;\n"
	  "                                  PATH created if missing), then fsync\n"
	  "  append [--create] [--no-sync] PATH  stdin appended, each 128 KiB chunk\n"
	  "                                  atomically; prints the offset of the first\n"
	  "  touch [--excl] [--mode OCTAL] PATH  create (mode 0644) or set mtime to now\n"
	  "  truncate --size N PATH\n"
	  "  rm PATH | rmdir PATH | mkdir [-p] [--mode OCTAL] PATH\n"
	  "  mv FROM TO\n"
	  "  ln -s TARGET PATH | symlink TARGET PATH | readlink PATH\n"
	  "  chmod OCTAL PATH\n"
	  "  sync [PATH]                     make PATH (default: everything) durable\n"
	  "  df [--json]                     the store: state, label, sizes, inodes,\n"
	  "                                  vNodes, message\n"
	  "  vnodes [--json]                 the vNode namespaces the storage component\n"
	  "                                  holds, named from GPM's list\n"
	  "A failure prints 'legoctl: fs COMMAND: PATH: reason' with exit status 1; a\n"
	  "full store is reported with what was written. After an I/O error or\n"
	  "-EROFS the store's own explanation (STATFS) follows, e.g. 'storage s0: store\n"
	  "not mounted: superblock checksum mismatch'.\n" },
	{ "mem", "mem COMMAND [--home NAME|ID|IP[:PORT]] [--mm ID] [--vnode NAME] [--timeout MS] [--json] [--gm IP] ...",
	  "TEST TOOL: a Linux-side client of the memory monitor (include/uapi/lego/\n"
	  "memory.h), for testing it before the processor monitor exists. Layout\n"
	  "requests go to the address space's home memory component (--home NAME, ID\n"
	  "or IP[:PORT]; names and ids from GMM's list); page requests to the owner of\n"
	  "the address's vRegion, from the vRegion array the home's replies carry\n"
	  "(refreshed on -ENXIO). Address spaces are named by mm ids this tool makes\n"
	  "(0xffff<pid><random>). Numbers are decimal or 0x hex, with k/m/g suffixes.\n"
	  "--timeout: how long a silent node is waited for (default 5000 ms).\n"
	  "  create [--home H] [--vnode V] [--mm ID]   a new empty address space; home\n"
	  "                                  from GMM unless --home; prints 'MM IP:PORT'\n"
	  "  exec [--home H] [--vnode V] [--mm ID] [--env K=V ...] [--dump-stack] PATH\n"
	  "       [ARGS...] [-- ARGS...]     loads an ELF (argv = PATH ARGS); prints\n"
	  "                                  entry, sp, start_brk, stack_top, mmap_base\n"
	  "                                  and the vRegions; --dump-stack decodes\n"
	  "                                  argc, argv, envp and auxv from the pages\n"
	  "  mmap --len L [--addr A] [--prot rwx|none] [--flags F,...] [--file PATH\n"
	  "       [--pgoff N]]               prints the address. F: private, shared,\n"
	  "                                  anon, fixed, noreplace, growsdown, stack,\n"
	  "                                  ... or a number (default private,anon)\n"
	  "  munmap --addr A --len L | mprotect --addr A --len L --prot P\n"
	  "  mremap --addr A --len L --new-len N [--flags maymove,fixed] [--new-addr A]\n"
	  "  brk [--addr BREAK]              prints the break\n"
	  "  maps [--json]                   /proc/self/maps-style lines (MEM_MAPS)\n"
	  "  vregions [--json]               INDEX RANGE owner ID IP:PORT\n"
	  "  write --addr A [--text S | --fill BYTE --len N]   stdin (or S, or N\n"
	  "                                  bytes) written page by page: FETCH, FLUSH\n"
	  "  read --addr A --len L [--raw | --hex]   hexdump (or raw bytes, or hex)\n"
	  "  fork [--child ID]  prints the child's id | exit\n"
	  "  stats [--node N] [--json]       MEM_STATS of one or every alive memory\n"
	  "                                  component, one line each\n"
	  "  selftest [--seed S] [--ops N] [--areas N] [--pages N] [--addr BASE]\n"
	  "           [--keep]               random writes and reads of N areas (MAP_FIXED,\n"
	  "                                  one vRegion apart from BASE, default 64 GiB)\n"
	  "                                  checked against a model; a new address\n"
	  "                                  space unless --mm (exited unless --keep)\n"
	  "  script FILE|-                   one operation per line (as above, without\n"
	  "                                  the common options given to script); one\n"
	  "                                  result line each ('error: ...' on failure);\n"
	  "                                  '! OP' expects OP to fail; $N is the result\n"
	  "                                  (address, mm id) of the N-th operation\n"
	  "Errors: 'legoctl: mem COMMAND: reason' with exit status 1 (2 for usage).\n" },
	{ "run", "run --vnode NAME [--report] [--strace] [--env K=V] [--place-only] [--timeout MS] [--gm IP] -- PATH [ARGS...]",
	  "Runs the static Linux program PATH (absolute, in the vNode's files) in vNode\n"
	  "NAME. GPM places the new process: a processor component (the one with the\n"
	  "fewest threads), a home memory component (from GMM) and the vNode's buffer\n"
	  "cache. The processor loads the program through the home and runs it; its\n"
	  "stdout and stderr appear here as it writes them, stdin is forwarded, and\n"
	  "Ctrl-C (SIGINT, also SIGTERM and SIGHUP) kills it. The environment is\n"
	  "PATH=/bin:/sbin:/usr/bin:/usr/sbin, HOME=/, TERM as here, and --env K=V.\n"
	  "--report prints the process's ExCache counters on stderr at its end.\n"
	  "--place-only prints GPM's placement and exits 0 without running.\n"
	  "--strace prints every syscall of the program (and of the processes it\n"
	  "forks) on stderr as strace(1) does: name, decoded arguments, result.\n"
	  "Exit status: the program's, or 128+N when signal N ended it (139: SIGSEGV);\n"
	  "126 when PATH is no program (ENOEXEC, EACCES), 127 when it does not exist,\n"
	  "1 when placement or the start failed (with the reason).\n" },
	{ "excache", "excache [NODE] [--timeout MS] [--gm IP]",
	  "Prints the ExCache counters of processor NODE (every alive processor\n"
	  "without NODE): size and geometry, misses, p-local fills, evictions,\n"
	  "write-backs, piggybacked calls, the fetch latency histogram.\n" },
	{ "ping", "ping [NODE] [--size N] [--count N] [--timeout MS] [--interval MS] [--gm IP]",
	  "Calls LEGO_OP_PING on NODE COUNT times (default 4) with SIZE bytes\n"
	  "(default 64, at most 262144) of a pattern, checks every echoed byte and\n"
	  "prints each call's round-trip time and a min/median/p99/max summary.\n"
	  "--timeout is how long a silent node is waited for (default 3000 ms),\n"
	  "--interval the pause between calls (default 0). Exits 0 only if every\n"
	  "call succeeded with correct data. NODE may also be gpm, gmm or gsm (a\n"
	  "global manager). Without NODE, pings the three managers once each.\n" },
	{ "info", "info NODE [--timeout MS] [--gm IP]",
	  "Calls LEGO_OP_NODE_INFO on NODE (also gpm, gmm, gsm) and prints what it\n"
	  "reports.\n" },
	{ "rpctest", "rpctest NODE --target NODE2 [--min N] [--max N] [--count N] [--concurrency N] [--timeout MS]",
	  "Asks NODE to call LEGO_OP_PING at NODE2 with payload sizes from MIN to MAX\n"
	  "(doubling, MAX included; defaults 64 and 65536), COUNT calls per size per\n"
	  "thread (default 100) from CONCURRENCY threads (default 1, at most 64), and\n"
	  "prints its report. Exits nonzero on any error or bad data. --timeout\n"
	  "(default 10000 ms) bounds how long NODE may stay silent; a node that\n"
	  "answers probes with RUNNING is not silent.\n" },
	{ "choose", "choose home|vregion|storage [--bytes N] [--json] [--timeout MS] [--gm IP]",
	  "Debugging and test tool: asks GMM for the home of a new process\n"
	  "(LEGO_OP_GMM_HOME) or the owner of a new vRegion of N bytes (default\n"
	  "16 MiB; LEGO_OP_GMM_VREGION, as a home memory component would), or GSM for\n"
	  "the storage of a new vNode (LEGO_OP_GSM_PLACE), and prints the choice.\n"
	  "The manager counts it as a real decision until its next load poll.\n" },
	{ "serve-echo", "serve-echo [--port P] [--bind IP] [--name NAME] [--node-id N]",
	  "Serves LEGO_OP_PING, LEGO_OP_NODE_INFO and LEGO_OP_RPC_TEST from Linux\n"
	  "on UDP port P (default 4700; 0 picks a free one) until SIGINT/SIGTERM,\n"
	  "then prints the endpoint's counters. Prints the bound address first.\n" },
	{ "fake-monitor", "fake-monitor --personality P --name NAME [--gm IP] [--port P] [options]",
	  "TEST TOOL, not part of a real rack: a Linux process that behaves like a\n"
	  "monitor towards the global managers, for testing them without QEMU. It\n"
	  "registers with the manager of personality P (processor, memory, storage) at\n"
	  "--gm IP (default $LEGO_GM, else 198.18.0.1), port --port (default that\n"
	  "manager's standard port), heartbeats as told, registers again when the\n"
	  "manager answers -ENOENT, and serves LEGO_OP_LOAD, LEGO_OP_NODE_INFO,\n"
	  "LEGO_OP_PING and LEGO_OP_GM_NOTIFY on --bind IP (default: the address that\n"
	  "routes to the manager) port --rpc-port (default 0: any). One line per event\n"
	  "on stdout. Runs until SIGINT/SIGTERM.\n"
	  "options: --cpus N (default 2), --threads N (default 1), --mem-mib N (default\n"
	  "512), --free-mib N (default mem-mib), --storage-mib N and\n"
	  "--storage-free-mib N (default 1024 for storage, else 0), --req-rate N\n"
	  "(requests/s reported on top of those served), --incarnation N (default\n"
	  "random), --notify (ask for death notifications), --no-load (answer\n"
	  "LEGO_OP_LOAD with -ENOSYS), --unhealthy (register with\n"
	  "LEGO_GM_REG_UNHEALTHY: listed, never chosen).\n"
	  "A storage fake also serves the storage protocol (storage.h) from memory,\n"
	  "--storage-mib being its capacity, so that 'vnode create/rm' and 'legoctl fs'\n"
	  "work against it; with --unhealthy its file requests fail with -EIO and\n"
	  "STATFS says 'not mounted', like a storage node with a corrupt disk.\n"
	  "A memory fake serves a small part of the memory protocol (memory.h) from\n"
	  "memory: one node home and owner of everything; CREATE, MMAP, MUNMAP,\n"
	  "MPROTECT, FORK, EXIT, VREGIONS, MAPS, PAGE_FETCH/FLUSH, STATS (no loader,\n"
	  "no brk/mremap, no vma merging), so that 'legoctl mem' works against it.\n" },
};

static void usage_all(FILE *f)
{
	fprintf(f, "usage: %s COMMAND [ARGS]\n\ncommands:\n", prog);
	for (size_t i = 0; i < sizeof(helps) / sizeof(helps[0]); i++)
		fprintf(f, "  %s %s\n", prog, helps[i].usage);
	fprintf(f,
		"\nNODE is a node name from $LEGO_NODES (one line per node: NAME PERSONALITY\n"
		"IPV4 MAC NODE_ID PID), gpm/gmm/gsm (a global manager), or an IPv4 address,\n"
		"either optionally followed by :PORT (default %u).\n"
		"\nThe global managers are found at --gm IP, else $LEGO_GM, else 198.18.0.1,\n"
		"on ports %u (GPM), %u (GMM), %u (GSM); --gpm/--gmm/--gsm IP[:PORT] (or\n"
		"$LEGO_GPM/$LEGO_GMM/$LEGO_GSM) set one manager's address.\n"
		"\nexit status: 0 success; 1 a call or operation failed (including a manager\n"
		"not answering or refusing); 2 usage error; 3 not available yet (run).\n"
		"'%s help COMMAND' or '%s COMMAND --help' explains a command.\n",
		LEGO_RPC_PORT, LEGO_GPM_PORT, LEGO_GMM_PORT, LEGO_GSM_PORT, prog, prog);
}

const struct cmd_help *find_help(const char *name)
{
	for (size_t i = 0; i < sizeof(helps) / sizeof(helps[0]); i++)
		if (!strcmp(helps[i].name, name))
			return &helps[i];
	return NULL;
}

void usage_cmd(FILE *f, const char *name)
{
	const struct cmd_help *h = find_help(name);

	fprintf(f, "usage: %s %s\n\n%s", prog, h->usage, h->text);
}

int usage_error(const char *cmd, const char *fmt, const char *arg)
{
	fprintf(stderr, "%s: ", prog);
	fprintf(stderr, fmt, arg);
	fprintf(stderr, "\nusage: %s %s\n", prog, find_help(cmd)->usage);
	return EXIT_USAGE;
}

/* ------------------------------------------------------------------ */
/* Argument parsing                                                    */
/* ------------------------------------------------------------------ */

/*
 * Parses argv[1..] of a command into opts and up to max_pos positional
 * arguments. Returns -1 after printing a usage error, 1 if help was asked
 * for (and printed), 0 otherwise.
 */
int parse_args(const char *cmd, int argc, char **argv, struct opt *opts,
		      size_t nopts, const char **pos, size_t max_pos, size_t *npos)
{
	*npos = 0;
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i];

		if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
			usage_cmd(stdout, cmd);
			return 1;
		}
		if (strncmp(a, "--", 2) || !a[2]) {
			if (*npos == max_pos) {
				usage_error(cmd, "unexpected argument '%s'", a);
				return -1;
			}
			pos[(*npos)++] = a;
			continue;
		}
		const char *name = a + 2, *eq = strchr(name, '=');
		size_t nlen = eq ? (size_t)(eq - name) : strlen(name);
		size_t k;

		for (k = 0; k < nopts; k++)
			if (strlen(opts[k].name) == nlen && !strncmp(opts[k].name, name, nlen))
				break;
		if (k == nopts) {
			usage_error(cmd, "unknown option '%s'", a);
			return -1;
		}
		if (!opts[k].has_arg) {
			if (eq) {
				usage_error(cmd, "option '%s' takes no value", a);
				return -1;
			}
			opts[k].val = "";
		} else if (eq) {
			opts[k].val = eq + 1;
		} else if (i + 1 < argc) {
			opts[k].val = argv[++i];
		} else {
			usage_error(cmd, "option '%s' needs a value", a);
			return -1;
		}
	}
	return 0;
}

/* Parses a decimal option value in [min, max]; prints an error if bad. */
int opt_num(const char *cmd, const struct opt *o, unsigned long long min,
		   unsigned long long max, unsigned long long dflt,
		   unsigned long long *out)
{
	char *end;
	unsigned long long v;

	if (!o->val) {
		*out = dflt;
		return 0;
	}
	errno = 0;
	v = strtoull(o->val, &end, 10);
	if (o->val[0] < '0' || o->val[0] > '9' || errno || *end || v < min || v > max) {
		fprintf(stderr, "%s: --%s must be a number from %llu to %llu, not '%s'\n",
			prog, o->name, min, max, o->val);
		fprintf(stderr, "usage: %s %s\n", prog, find_help(cmd)->usage);
		return -1;
	}
	*out = v;
	return 0;
}

/* ------------------------------------------------------------------ */
/* Helpers                                                             */
/* ------------------------------------------------------------------ */

uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static void sleep_ms(unsigned ms)
{
	struct timespec ts = { ms / 1000, (long)(ms % 1000) * 1000000L };

	while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
		;
}

struct target {
	const char *spec;
	uint32_t ip;		/* network order */
	uint16_t port;
	struct gm_node node;
	char label[96];		/* "p0 (198.18.0.2:4700)" or "198.18.0.2:4700" */
};

/* gma: where the managers are, for NODE = gpm/gmm/gsm (NULL: from the
 * environment only). */
static int resolve(struct target *t, const char *spec, const struct gm_addrs *gma)
{
	char err[256];
	char ip[INET_ADDRSTRLEN], host[16];
	struct in_addr a;
	const char *colon = strchr(spec, ':');
	int mi;

	t->spec = spec;
	snprintf(host, sizeof(host), "%.*s", colon ? (int)(colon - spec) : (int)strlen(spec), spec);
	if ((mi = gm_mgr_index(host)) >= 0) {
		struct gm_addrs env;
		struct opt none[GM_ADDR_NOPTS] = { GM_ADDR_OPTS };
		unsigned long long port;
		struct opt po = { "port", true, colon ? colon + 1 : NULL };

		if (!gma) {
			if (gm_addrs_resolve(none, &env) < 0)
				return -1;
			gma = &env;
		}
		if (opt_num("ping", &po, 1, 65535, gma->port[mi], &port))
			return -1;
		memset(&t->node, 0, sizeof(t->node));
		snprintf(t->node.name, sizeof(t->node.name), "%s", gm_mgr_names[mi]);
		t->ip = gma->ip[mi];
		t->port = (uint16_t)port;
	} else if (gm_node_resolve(spec, &t->ip, &t->port, &t->node, err, sizeof(err)) < 0) {
		fprintf(stderr, "%s: %s\n", prog, err);
		return -1;
	}
	a.s_addr = t->ip;
	inet_ntop(AF_INET, &a, ip, sizeof(ip));
	if (t->node.name[0])
		snprintf(t->label, sizeof(t->label), "%s (%s:%u)", t->node.name, ip, t->port);
	else
		snprintf(t->label, sizeof(t->label), "%s:%u", ip, t->port);
	return 0;
}

struct gm_rpc_ep *open_client(void)
{
	struct gm_rpc_ep *ep;
	int r = gm_rpc_open(&ep, htonl(INADDR_ANY), 0);

	if (r < 0) {
		fprintf(stderr, "%s: cannot open an RPC endpoint: %s\n", prog, strerror(-r));
		return NULL;
	}
	return ep;
}

const char *errname(int err)
{
	return err == -ETIMEDOUT ? "timed out (node not answering)" : strerror(-err);
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

/* Nearest-rank percentile of a sorted array. */
static uint64_t percentile(const uint64_t *v, size_t n, unsigned pct)
{
	size_t rank;

	if (!n)
		return 0;
	rank = ((size_t)pct * n + 99) / 100;
	return v[rank ? rank - 1 : 0];
}

/* Payload byte i of ping call seq: depends on both, so a stale or shifted
 * reply never passes the check. */
static uint8_t pattern_byte(uint64_t seq, size_t i)
{
	return (uint8_t)((i * 131u) ^ (i >> 8) ^ (seq * 29u) ^ 0x5a);
}

static void pattern_fill(uint8_t *buf, size_t len, uint64_t seq)
{
	for (size_t i = 0; i < len; i++)
		buf[i] = pattern_byte(seq, i);
}

/* Returns the index of the first wrong byte, or len. */
static size_t pattern_check(const uint8_t *buf, size_t len, uint64_t seq)
{
	for (size_t i = 0; i < len; i++)
		if (buf[i] != pattern_byte(seq, i))
			return i;
	return len;
}

/* ------------------------------------------------------------------ */
/* ping                                                                */
/* ------------------------------------------------------------------ */

static int cmd_ping(int argc, char **argv)
{
	struct opt opts[] = { { "size", true, NULL }, { "count", true, NULL },
			      { "timeout", true, NULL }, { "interval", true, NULL },
			      GM_ADDR_OPTS };
	const char *pos[1];
	size_t npos;
	unsigned long long size, count, timeout, interval;
	struct target t;
	struct gm_addrs gma;
	int r = parse_args("ping", argc, argv, opts, 4 + GM_ADDR_NOPTS, pos, 1, &npos);

	if (r)
		return r > 0 ? 0 : EXIT_USAGE;
	if (opt_num("ping", &opts[0], 0, LEGO_RPC_MAX_MSG, 64, &size) ||
	    opt_num("ping", &opts[1], 1, 1000000, 4, &count) ||
	    opt_num("ping", &opts[2], 1, 3600000, GM_RPC_DEFAULT_TIMEOUT_MS, &timeout) ||
	    opt_num("ping", &opts[3], 0, 3600000, 0, &interval))
		return EXIT_USAGE;
	if (gm_addrs_resolve(&opts[4], &gma) < 0)
		return EXIT_USAGE;
	if (npos == 0)
		return gm_ping_managers(&gma, opts[2].val ? (unsigned)timeout : 1000, false);
	if (resolve(&t, pos[0], &gma) < 0)
		return EXIT_FAIL;

	struct gm_rpc_ep *ep = open_client();
	uint8_t *req = malloc(size ? size : 1), *rep = malloc(size ? size : 1);
	uint64_t *rtt = calloc(count, sizeof(*rtt));
	size_t nok = 0, nfail = 0, nbad = 0;

	if (!ep || !req || !rep || !rtt) {
		if (ep)
			fprintf(stderr, "%s: out of memory\n", prog);
		free(req);
		free(rep);
		free(rtt);
		gm_rpc_close(ep);
		return EXIT_FAIL;
	}
	printf("RPC PING %s: %llu bytes\n", t.label, size);
	fflush(stdout);
	for (uint64_t seq = 1; seq <= count; seq++) {
		size_t got = 0, bad;
		uint64_t t0, dt;

		pattern_fill(req, size, seq);
		memset(rep, 0, size);
		t0 = now_ns();
		r = gm_rpc_call(ep, t.ip, t.port, LEGO_OP_PING, req, size, rep, size,
				&got, (int)timeout);
		dt = now_ns() - t0;
		if (r == -EMSGSIZE) {
			printf("call=%" PRIu64 ": reply of %zu bytes, expected %llu\n", seq, got, size);
			nbad++;
		} else if (r < 0) {
			printf("call=%" PRIu64 ": error: %s\n", seq, errname(r));
			nfail++;
		} else if (got != size) {
			printf("call=%" PRIu64 ": reply of %zu bytes, expected %llu\n", seq, got, size);
			nbad++;
		} else if ((bad = pattern_check(rep, size, seq)) != size) {
			printf("call=%" PRIu64 ": wrong data at byte %zu (0x%02x, expected 0x%02x)\n",
			       seq, bad, rep[bad], pattern_byte(seq, bad));
			nbad++;
		} else {
			rtt[nok++] = dt;
			printf("%zu bytes from %s: call=%" PRIu64 " time=%.3f ms\n",
			       got, t.label, seq, dt / 1e6);
		}
		fflush(stdout);
		if (interval && seq < count)
			sleep_ms((unsigned)interval);
	}

	printf("--- %s rpc ping statistics ---\n", t.spec);
	printf("%llu calls, %zu ok, %zu failed, %zu bad data\n", count, nok, nfail, nbad);
	if (nok) {
		qsort(rtt, nok, sizeof(*rtt), cmp_u64);
		printf("rtt min/median/p99/max = %.3f/%.3f/%.3f/%.3f ms\n",
		       rtt[0] / 1e6, percentile(rtt, nok, 50) / 1e6,
		       percentile(rtt, nok, 99) / 1e6, rtt[nok - 1] / 1e6);
	}
	free(req);
	free(rep);
	free(rtt);
	gm_rpc_close(ep);
	return nok == count ? 0 : EXIT_FAIL;
}

/* ------------------------------------------------------------------ */
/* info                                                                */
/* ------------------------------------------------------------------ */

/* Copies a fixed-size wire string, which a faulty node may not terminate. */
void wire_str(char *out, const char *in, size_t n)
{
	memcpy(out, in, n);
	out[n - 1] = '\0';
}

static int cmd_info(int argc, char **argv)
{
	struct opt opts[] = { { "timeout", true, NULL }, GM_ADDR_OPTS };
	const char *pos[1];
	size_t npos, got = 0;
	unsigned long long timeout;
	struct target t;
	struct lego_node_info ni;
	char name[sizeof(ni.name)], pers[sizeof(ni.personality)], ip[INET_ADDRSTRLEN];
	struct in_addr a;
	struct gm_rpc_ep *ep;
	struct gm_addrs gma;
	int r = parse_args("info", argc, argv, opts, 1 + GM_ADDR_NOPTS, pos, 1, &npos);

	if (r)
		return r > 0 ? 0 : EXIT_USAGE;
	if (npos != 1)
		return usage_error("info", "%s", "missing NODE");
	if (opt_num("info", &opts[0], 1, 3600000, GM_RPC_DEFAULT_TIMEOUT_MS, &timeout))
		return EXIT_USAGE;
	if (gm_addrs_resolve(&opts[1], &gma) < 0)
		return EXIT_USAGE;
	if (resolve(&t, pos[0], &gma) < 0 || !(ep = open_client()))
		return EXIT_FAIL;
	r = gm_rpc_call(ep, t.ip, t.port, LEGO_OP_NODE_INFO, NULL, 0, &ni, sizeof(ni),
			&got, (int)timeout);
	gm_rpc_close(ep);
	if (r < 0) {
		fprintf(stderr, "%s: info %s: %s\n", prog, t.label,
			r == -EMSGSIZE ? "reply larger than struct lego_node_info" : errname(r));
		return EXIT_FAIL;
	}
	if (got != sizeof(ni)) {
		fprintf(stderr, "%s: info %s: reply of %zu bytes, expected %zu\n",
			prog, t.label, got, sizeof(ni));
		return EXIT_FAIL;
	}
	wire_str(name, ni.name, sizeof(name));
	wire_str(pers, ni.personality, sizeof(pers));
	a.s_addr = ni.ipv4;
	inet_ntop(AF_INET, &a, ip, sizeof(ip));
	printf("name:             %s\n", name);
	printf("personality:      %s\n", pers);
	printf("node_id:          %" PRIu32 "\n", ni.node_id);
	printf("ipv4:             %s\n", ip);
	printf("cpus_online:      %" PRIu32 "\n", ni.cpus_online);
	printf("mem_bytes:        %" PRIu64 " (%.1f MiB)\n", ni.mem_bytes,
	       ni.mem_bytes / (1024.0 * 1024.0));
	printf("uptime_ns:        %" PRIu64 " (%.3f s)\n", ni.uptime_ns, ni.uptime_ns / 1e9);
	printf("rpc_calls_served: %" PRIu64 "\n", ni.rpc_calls_served);
	printf("rpc_rx_dropped:   %" PRIu64 "\n", ni.rpc_rx_dropped);
	return 0;
}

/* ------------------------------------------------------------------ */
/* rpctest                                                             */
/* ------------------------------------------------------------------ */

static void print_test_reply(const struct lego_rpc_test_reply *tr)
{
	printf("calls:         %" PRIu64 "\n", tr->calls);
	printf("errors:        %" PRIu64 "\n", tr->errors);
	printf("bad_data:      %" PRIu64 "\n", tr->bad_data);
	printf("first_error:   %" PRId32 "%s%s%s\n", tr->first_error,
	       tr->first_error ? " (" : "",
	       tr->first_error ? strerror(-tr->first_error) : "",
	       tr->first_error ? ")" : "");
	printf("latency:       min %.3f  median %.3f  p99 %.3f  max %.3f ms\n",
	       tr->lat_min_ns / 1e6, tr->lat_median_ns / 1e6, tr->lat_p99_ns / 1e6,
	       tr->lat_max_ns / 1e6);
	printf("elapsed:       %.3f s\n", tr->elapsed_ns / 1e9);
	printf("bytes:         %" PRIu64 "%s", tr->bytes, tr->elapsed_ns ? "" : "\n");
	if (tr->elapsed_ns)
		printf(" (%.1f MB/s)\n", tr->bytes / (tr->elapsed_ns / 1e9) / 1e6);
	if (tr->elapsed_ns)
		printf("calls/s:       %.0f\n", tr->calls / (tr->elapsed_ns / 1e9));
}

static int cmd_rpctest(int argc, char **argv)
{
	struct opt opts[] = { { "target", true, NULL }, { "min", true, NULL },
			      { "max", true, NULL }, { "count", true, NULL },
			      { "concurrency", true, NULL }, { "timeout", true, NULL } };
	const char *pos[1];
	size_t npos, got = 0;
	unsigned long long min, max, count, conc, timeout;
	struct target t, tgt;
	struct lego_rpc_test_req req;
	struct lego_rpc_test_reply tr;
	struct gm_rpc_ep *ep;
	int r = parse_args("rpctest", argc, argv, opts, 6, pos, 1, &npos);

	if (r)
		return r > 0 ? 0 : EXIT_USAGE;
	if (npos != 1)
		return usage_error("rpctest", "%s", "missing NODE");
	if (!opts[0].val)
		return usage_error("rpctest", "%s", "missing --target NODE2");
	if (opt_num("rpctest", &opts[1], 0, LEGO_RPC_MAX_MSG, 64, &min) ||
	    opt_num("rpctest", &opts[2], 0, LEGO_RPC_MAX_MSG, 65536, &max) ||
	    opt_num("rpctest", &opts[3], 0, UINT32_MAX, 100, &count) ||
	    opt_num("rpctest", &opts[4], 1, 64, 1, &conc) ||
	    opt_num("rpctest", &opts[5], 1, 3600000, 10000, &timeout))
		return EXIT_USAGE;
	if (min > max) {
		fprintf(stderr, "%s: --min (%llu) is larger than --max (%llu)\n", prog, min, max);
		return EXIT_USAGE;
	}
	if (resolve(&t, pos[0], NULL) < 0 || resolve(&tgt, opts[0].val, NULL) < 0)
		return EXIT_FAIL;

	memset(&req, 0, sizeof(req));
	req.target_ipv4 = tgt.ip;
	req.target_port = tgt.port;
	req.concurrency = (uint16_t)conc;
	req.min_size = (uint32_t)min;
	req.max_size = (uint32_t)max;
	req.count = (uint32_t)count;
	if (!(ep = open_client()))
		return EXIT_FAIL;
	printf("RPC TEST %s -> %s: sizes %llu..%llu, %llu calls per size per thread, %llu thread%s\n",
	       t.label, tgt.label, min, max, count, conc, conc == 1 ? "" : "s");
	fflush(stdout);
	r = gm_rpc_call(ep, t.ip, t.port, LEGO_OP_RPC_TEST, &req, sizeof(req), &tr,
			sizeof(tr), &got, (int)timeout);
	gm_rpc_close(ep);
	if (r < 0) {
		fprintf(stderr, "%s: rpctest %s: %s\n", prog, t.label,
			r == -EMSGSIZE ? "reply larger than struct lego_rpc_test_reply" : errname(r));
		return EXIT_FAIL;
	}
	if (got != sizeof(tr)) {
		fprintf(stderr, "%s: rpctest %s: reply of %zu bytes, expected %zu\n",
			prog, t.label, got, sizeof(tr));
		return EXIT_FAIL;
	}
	print_test_reply(&tr);
	return tr.errors || tr.bad_data ? EXIT_FAIL : 0;
}

/* ------------------------------------------------------------------ */
/* nodes                                                               */
/* ------------------------------------------------------------------ */

int cmd_nodes_local(int argc, char **argv)
{
	struct opt opts[] = { { "check", false, NULL }, { "timeout", true, NULL },
			      { "local", false, NULL } };
	const char *pos[1];
	size_t npos, n;
	unsigned long long timeout;
	struct gm_node *nodes;
	struct gm_rpc_ep *ep = NULL;
	unsigned bad = 0;
	const char *path = getenv(GM_NODES_ENV);
	bool check;
	int r = parse_args("nodes", argc, argv, opts, 3, pos, 0, &npos), rc = 0;

	if (r)
		return r > 0 ? 0 : EXIT_USAGE;
	if (opt_num("nodes", &opts[1], 1, 3600000, 500, &timeout))
		return EXIT_USAGE;
	check = opts[0].val != NULL;
	if (!path || !*path) {
		fprintf(stderr, "%s: no rack: set %s or run inside 'scripts/rack exec'\n",
			prog, GM_NODES_ENV);
		return EXIT_FAIL;
	}
	r = gm_nodes_load(path, &nodes, &n, &bad);
	if (r == -EINVAL) {
		fprintf(stderr, "%s: %s:%u: malformed line (want NAME PERSONALITY IPV4 MAC NODE_ID PID)\n",
			prog, path, bad);
		return EXIT_FAIL;
	} else if (r < 0) {
		fprintf(stderr, "%s: cannot read %s: %s\n", prog, path, strerror(-r));
		return EXIT_FAIL;
	}
	if (check && !(ep = open_client())) {
		free(nodes);
		return EXIT_FAIL;
	}
	printf("%-10s %-10s %-15s %-17s %7s %7s%s\n", "NAME", "PERSONALITY", "IPV4", "MAC",
	       "NODE_ID", "PID", check ? "  STATUS" : "");
	for (size_t i = 0; i < n; i++) {
		char ip[INET_ADDRSTRLEN], pid[24];
		struct in_addr a = { nodes[i].ipv4 };

		inet_ntop(AF_INET, &a, ip, sizeof(ip));
		if (nodes[i].pid < 0)
			strcpy(pid, "-");
		else
			snprintf(pid, sizeof(pid), "%ld", nodes[i].pid);
		printf("%-10s %-10s %-15s %-17s %7" PRIu32 " %7s", nodes[i].name,
		       nodes[i].personality, ip, nodes[i].mac, nodes[i].node_id, pid);
		if (check) {
			struct lego_node_info ni;
			size_t got;
			uint64_t t0 = now_ns();

			r = gm_rpc_call(ep, nodes[i].ipv4, LEGO_RPC_PORT, LEGO_OP_NODE_INFO,
					NULL, 0, &ni, sizeof(ni), &got, (int)timeout);
			if (r == 0)
				printf("  up (%.3f ms)", (now_ns() - t0) / 1e6);
			else {
				printf("  DOWN (%s)", errname(r));
				rc = EXIT_FAIL;
			}
		}
		printf("\n");
	}
	free(nodes);
	gm_rpc_close(ep);
	return rc;
}

/* ------------------------------------------------------------------ */
/* serve-echo                                                          */
/* ------------------------------------------------------------------ */

static volatile sig_atomic_t stop_serving;

static void on_stop(int sig)
{
	stop_serving = sig;
}

struct echo_server {
	struct lego_node_info info;	/* static fields */
	uint64_t t_start;
};

static int echo_ping(struct gm_rpc_ep *ep, void *arg, const struct gm_rpc_req *req,
		     void *reply, size_t reply_max, size_t *reply_len)
{
	memcpy(reply, req->data, req->len);
	*reply_len = req->len;
	return 0;
}

static int echo_info(struct gm_rpc_ep *ep, void *arg, const struct gm_rpc_req *req,
		     void *reply, size_t reply_max, size_t *reply_len)
{
	struct echo_server *s = arg;
	struct lego_node_info ni = s->info;
	struct gm_rpc_stats st;

	gm_rpc_stats(ep, &st);
	ni.uptime_ns = now_ns() - s->t_start;
	ni.rpc_calls_served = st.req_executed;
	ni.rpc_rx_dropped = st.rx_dropped;
	memcpy(reply, &ni, sizeof(ni));
	*reply_len = sizeof(ni);
	return 0;
}

/* One RPC_TEST worker thread: its own endpoint (endpoints are per thread). */
struct test_worker {
	pthread_t tid;
	const struct lego_rpc_test_req *req;
	const uint32_t *sizes;
	unsigned nsizes;
	unsigned index;
	uint64_t *lat;		/* one slot per call */
	size_t nlat;
	uint64_t calls, errors, bad_data, bytes;
	int first_error;
	atomic_bool done;
};

static void *test_worker_main(void *p)
{
	struct test_worker *w = p;
	struct gm_rpc_ep *ep = NULL;
	uint8_t *out = malloc(w->req->max_size ? w->req->max_size : 1);
	uint8_t *in = malloc(w->req->max_size ? w->req->max_size : 1);
	int r = gm_rpc_open(&ep, htonl(INADDR_ANY), 0);
	uint64_t seq = (uint64_t)w->index << 40;

	if (r < 0 || !out || !in) {
		w->errors = 1;
		w->first_error = r < 0 ? r : -ENOMEM;
		goto out;
	}
	for (unsigned s = 0; s < w->nsizes; s++) {
		uint32_t size = w->sizes[s];

		for (uint32_t i = 0; i < w->req->count; i++) {
			size_t got = 0;
			uint64_t t0;

			pattern_fill(out, size, ++seq);
			t0 = now_ns();
			r = gm_rpc_call(ep, w->req->target_ipv4, w->req->target_port,
					LEGO_OP_PING, out, size, in, size, &got,
					GM_RPC_DEFAULT_TIMEOUT_MS);
			w->calls++;
			if (r < 0) {
				w->errors++;
				if (!w->first_error)
					w->first_error = r;
				continue;
			}
			w->lat[w->nlat++] = now_ns() - t0;
			if (got != size || pattern_check(in, size, seq) != size)
				w->bad_data++;
			else
				w->bytes += 2ull * size;
		}
	}
out:
	gm_rpc_close(ep);
	free(out);
	free(in);
	atomic_store(&w->done, true);
	return NULL;
}

static int echo_rpc_test(struct gm_rpc_ep *ep, void *arg, const struct gm_rpc_req *rq,
			 void *reply, size_t reply_max, size_t *reply_len)
{
	struct lego_rpc_test_req req;
	struct lego_rpc_test_reply tr;
	uint32_t sizes[64];
	unsigned nsizes = 0, nthreads = 0;
	struct test_worker *w;
	uint64_t *lat, t0, total;
	size_t nlat = 0;
	int status = 0;

	if (rq->len != sizeof(req))
		return -EINVAL;
	memcpy(&req, rq->data, sizeof(req));
	if (req.concurrency < 1 || req.concurrency > 64 || req.max_size > LEGO_RPC_MAX_MSG ||
	    req.min_size > req.max_size || req.reserved)
		return -EINVAL;
	/* min, 2*min, 4*min, ... below max, then max; 0 is followed by 1. */
	for (uint64_t s = req.min_size; s < req.max_size; s = s ? s * 2 : 1)
		sizes[nsizes++] = (uint32_t)s;
	sizes[nsizes++] = req.max_size;
	total = (uint64_t)nsizes * req.count;
	if (total > 10000000)
		return -E2BIG;

	w = calloc(req.concurrency, sizeof(*w));
	lat = malloc((total ? total : 1) * req.concurrency * sizeof(*lat));
	if (!w || !lat) {
		free(w);
		free(lat);
		return -ENOMEM;
	}
	t0 = now_ns();
	for (unsigned i = 0; i < req.concurrency; i++) {
		w[i].req = &req;
		w[i].sizes = sizes;
		w[i].nsizes = nsizes;
		w[i].index = i;
		w[i].lat = lat + i * total;
		atomic_init(&w[i].done, false);
		if (pthread_create(&w[i].tid, NULL, test_worker_main, &w[i])) {
			status = -EAGAIN;
			break;
		}
		nthreads++;
	}
	/* Keep serving meanwhile: probes for this call get "RUNNING", and the
	 * target may be this very endpoint. */
	for (;;) {
		bool all = true;

		for (unsigned i = 0; i < nthreads; i++)
			all = all && atomic_load(&w[i].done);
		if (all)
			break;
		gm_rpc_poll(ep, 5);
	}
	memset(&tr, 0, sizeof(tr));
	for (unsigned i = 0; i < nthreads; i++) {
		pthread_join(w[i].tid, NULL);
		tr.calls += w[i].calls;
		tr.errors += w[i].errors;
		tr.bad_data += w[i].bad_data;
		tr.bytes += w[i].bytes;
		if (!tr.first_error)
			tr.first_error = w[i].first_error;
		/* Compact the latencies to the front of lat. */
		memmove(lat + nlat, w[i].lat, w[i].nlat * sizeof(*lat));
		nlat += w[i].nlat;
	}
	tr.elapsed_ns = now_ns() - t0;
	qsort(lat, nlat, sizeof(*lat), cmp_u64);
	if (nlat) {
		tr.lat_min_ns = lat[0];
		tr.lat_median_ns = percentile(lat, nlat, 50);
		tr.lat_p99_ns = percentile(lat, nlat, 99);
		tr.lat_max_ns = lat[nlat - 1];
	}
	free(w);
	free(lat);
	if (status)
		return status;
	memcpy(reply, &tr, sizeof(tr));
	*reply_len = sizeof(tr);
	return 0;
}

static int cmd_serve_echo(int argc, char **argv)
{
	struct opt opts[] = { { "port", true, NULL }, { "bind", true, NULL },
			      { "name", true, NULL }, { "node-id", true, NULL } };
	const char *pos[1];
	size_t npos;
	unsigned long long port, node_id;
	struct in_addr bind_ip = { htonl(INADDR_ANY) };
	struct echo_server s;
	struct gm_rpc_ep *ep;
	struct gm_rpc_stats st;
	struct sigaction sa;
	char ip[INET_ADDRSTRLEN];
	long pages = sysconf(_SC_PHYS_PAGES), psz = sysconf(_SC_PAGESIZE);
	int r = parse_args("serve-echo", argc, argv, opts, 4, pos, 0, &npos);

	if (r)
		return r > 0 ? 0 : EXIT_USAGE;
	if (opt_num("serve-echo", &opts[0], 0, 65535, LEGO_RPC_PORT, &port) ||
	    opt_num("serve-echo", &opts[3], 0, UINT32_MAX, 0, &node_id))
		return EXIT_USAGE;
	if (opts[1].val && inet_pton(AF_INET, opts[1].val, &bind_ip) != 1)
		return usage_error("serve-echo", "invalid --bind address '%s'", opts[1].val);

	memset(&s, 0, sizeof(s));
	if (opts[2].val)
		snprintf(s.info.name, sizeof(s.info.name), "%s", opts[2].val);
	else if (gethostname(s.info.name, sizeof(s.info.name) - 1) < 0)
		strcpy(s.info.name, "linux");
	s.info.name[sizeof(s.info.name) - 1] = '\0';
	strcpy(s.info.personality, "linux");
	s.info.node_id = (uint32_t)node_id;
	s.info.ipv4 = bind_ip.s_addr;
	s.info.cpus_online = (uint32_t)sysconf(_SC_NPROCESSORS_ONLN);
	s.info.mem_bytes = pages > 0 && psz > 0 ? (uint64_t)pages * (uint64_t)psz : 0;
	s.t_start = now_ns();

	r = gm_rpc_open(&ep, bind_ip.s_addr, (uint16_t)port);
	if (r < 0) {
		inet_ntop(AF_INET, &bind_ip, ip, sizeof(ip));
		fprintf(stderr, "%s: cannot bind %s:%llu: %s\n", prog, ip, port, strerror(-r));
		return EXIT_FAIL;
	}
	gm_rpc_set_src_node(ep, (uint32_t)node_id);
	if (gm_rpc_serve_register(ep, LEGO_OP_PING, echo_ping, NULL, LEGO_RPC_MAX_MSG) ||
	    gm_rpc_serve_register(ep, LEGO_OP_NODE_INFO, echo_info, &s, sizeof(s.info)) ||
	    gm_rpc_serve_register(ep, LEGO_OP_RPC_TEST, echo_rpc_test, NULL,
				  sizeof(struct lego_rpc_test_reply))) {
		fprintf(stderr, "%s: cannot register handlers\n", prog);
		gm_rpc_close(ep);
		return EXIT_FAIL;
	}

	/* No SA_RESTART: the signal must interrupt poll(). */
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_stop;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);

	inet_ntop(AF_INET, &bind_ip, ip, sizeof(ip));
	printf("%s: serving PING, NODE_INFO, RPC_TEST on %s:%u\n", prog, ip, gm_rpc_port(ep));
	fflush(stdout);
	while (!stop_serving) {
		/* Bounded wait: a signal landing just before poll() still
		 * ends the loop soon. */
		r = gm_rpc_poll(ep, 200);
		if (r < 0 && r != -EINTR) {
			fprintf(stderr, "%s: %s\n", prog, strerror(-r));
			break;
		}
	}
	gm_rpc_stats(ep, &st);
	fprintf(stderr, "%s: stopped; executed %" PRIu64 " calls, rx %" PRIu64
		" datagrams (%" PRIu64 " dropped), tx %" PRIu64 " datagrams\n",
		prog, st.req_executed, st.rx_datagrams, st.rx_dropped, st.tx_datagrams);
	gm_rpc_close(ep);
	return r < 0 && r != -EINTR ? EXIT_FAIL : 0;
}

/* ------------------------------------------------------------------ */

int main(int argc, char **argv)
{
	static const struct {
		const char *name;
		int (*fn)(int, char **);
	} cmds[] = {
		{ "ping", cmd_ping }, { "info", cmd_info }, { "rpctest", cmd_rpctest },
		{ "nodes", cmd_gm_nodes }, { "serve-echo", cmd_serve_echo },
		{ "vnode", cmd_vnode }, { "run", cmd_run }, { "excache", cmd_excache }, { "choose", cmd_choose },
		{ "fake-monitor", cmd_fake_monitor }, { "fs", cmd_fs }, { "mem", cmd_mem },
	};

	if (argc < 2) {
		usage_all(stderr);
		return EXIT_USAGE;
	}
	if (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h")) {
		usage_all(stdout);
		return 0;
	}
	if (!strcmp(argv[1], "help")) {
		if (argc < 3) {
			usage_all(stdout);
			return 0;
		}
		if (!find_help(argv[2])) {
			fprintf(stderr, "%s: unknown command '%s'\n", prog, argv[2]);
			return EXIT_USAGE;
		}
		usage_cmd(stdout, argv[2]);
		return 0;
	}
	for (size_t i = 0; i < sizeof(cmds) / sizeof(cmds[0]); i++)
		if (!strcmp(argv[1], cmds[i].name))
			return cmds[i].fn(argc - 1, argv + 1);
	fprintf(stderr, "%s: unknown command '%s' (try '%s --help')\n", prog, argv[1], prog);
	return EXIT_USAGE;
}
