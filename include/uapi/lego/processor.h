/*
 * Processor monitor protocol (paper §4.3): opcodes 0x0400-0x04ff of
 * lego_rpc_opcode, carried by LegoOS RPC (rpc.h). A client (legoctl run)
 * asks a pComponent to start a program; the pComponent then calls the
 * client back at the address the RUN request came from (its source IP and
 * the client_port it names) with the program's output and, at the end,
 * its exit status. Every request and call-back names the process by the
 * pComponent's pid and the client's token. Design: docs/processor.md.
 *
 * Numbers are little-endian. Errors are negative Linux errno values with
 * an optional NUL-terminated message as the reply (RUN: why the program
 * could not start, e.g. the home's ENOEXEC reason).
 */
#ifndef UAPI_LEGO_PROCESSOR_H
#define UAPI_LEGO_PROCESSOR_H

#include <stdint.h>
#include <uapi/lego/rpc.h>

enum lego_proc_opcode {
	/* Client -> pComponent. */
	LEGO_OP_PROC_RUN = 0x0401,	/* lego_proc_run_req + strings; reply
					 * lego_proc_run_reply once the program's
					 * image is loaded and its first thread
					 * is about to start */
	LEGO_OP_PROC_STDIN = 0x0402,	/* lego_proc_stdin_req + data; reply empty.
					 * -EAGAIN: the process's stdin buffer is
					 * full, send again later; -ESRCH: gone */
	LEGO_OP_PROC_KILL = 0x0403,	/* lego_proc_kill_req; reply empty */
	LEGO_OP_PROC_STATS = 0x0404,	/* empty; reply: text (ExCache counters of
					 * the node), NUL-terminated */

	/* pComponent -> client. */
	LEGO_OP_PROC_OUTPUT = 0x0480,	/* lego_proc_output + data; reply empty.
					 * The writing thread waits for the reply,
					 * so output is ordered and paced */
	LEGO_OP_PROC_EXIT = 0x0481,	/* lego_proc_exit + report text; reply empty */
	LEGO_OP_PROC_TRACE = 0x0482,	/* lego_proc_trace + its strings; reply empty.
					 * One per syscall of a process run with
					 * LEGO_PROC_RUN_STRACE, after it returned
					 * (before, for exit and exit_group) */
};

#define LEGO_PROC_RUN_REPORT 0x1	/* EXIT carries the process's ExCache counters */
#define LEGO_PROC_RUN_STRACE 0x2	/* every syscall is reported with TRACE */

/* RUN: then path_len bytes of the program's path (absolute, in the vNode),
 * argc NUL-terminated argument strings, envc NUL-terminated environment
 * strings (strings_len bytes for both). */
struct lego_proc_run_req {
	uint64_t token;			/* the client's, echoed in every call-back */
	uint32_t vnode;			/* vNode id */
	uint32_t flags;			/* LEGO_PROC_RUN_* */
	char vnode_name[16];		/* for uname's nodename, NUL padded */
	uint32_t storage_ipv4;		/* the vNode's sComponent (network byte order) */
	uint32_t home_ipv4;		/* the home mComponent GPM chose */
	uint32_t cache_ipv4;		/* the vNode's buffer-cache mComponent */
	uint16_t storage_port;		/* 0: LEGO_RPC_PORT (same for the next two) */
	uint16_t home_port;
	uint16_t cache_port;
	uint16_t client_port;		/* where call-backs go (the source IP of RUN) */
	uint16_t path_len;
	uint16_t reserved;
	uint32_t argc, envc;
	uint32_t strings_len;
	uint32_t reserved2;
};

struct lego_proc_run_reply {
	uint32_t pid;			/* the process on this pComponent */
	uint32_t reserved;
	uint64_t mm;			/* its address-space id at the memory nodes */
};

struct lego_proc_stdin_req {
	uint64_t token;
	uint32_t pid;
	uint32_t flags;			/* LEGO_PROC_STDIN_EOF: no more after this data */
	/* data: the rest of the message */
};
#define LEGO_PROC_STDIN_EOF 0x1

struct lego_proc_kill_req {
	uint64_t token;
	uint32_t pid;
	uint32_t signal;		/* Linux signal number; the process ends with it */
};

struct lego_proc_output {
	uint64_t token;
	uint32_t pid;
	uint32_t fd;			/* 1 stdout, 2 stderr */
	/* data: the rest of the message */
};

/* status: as Linux's wait status: (code << 8) for an exit, the signal
 * number for a kill (WIFSIGNALED), with 0x80 for a core dump. */
struct lego_proc_exit {
	uint64_t token;
	uint32_t pid;
	uint32_t status;
	/* report: the rest of the message (text, may be empty) */
};

/* TRACE: a syscall and its result. For the arguments that are strings or
 * buffers the processor knows of (paths, write's data, read's result),
 * str_len[i] bytes of their contents follow in argument order, for
 * arguments str_arg[i] (0xff: none), cut at LEGO_PROC_TRACE_STR bytes. */
struct lego_proc_trace {
	uint64_t token;
	uint32_t pid, tid;
	uint64_t nr;
	int64_t ret;			/* the value returned (negative errno) */
	uint64_t args[6];
	uint16_t str_len[2];
	uint8_t str_arg[2];
	uint8_t flags;			/* LEGO_PROC_TRACE_* */
	uint8_t reserved;
};
#define LEGO_PROC_TRACE_NORETURN 0x1	/* exit, exit_group, a successful execve */
#define LEGO_PROC_TRACE_STR 96u

#define LEGO_PROC_MSG_MAX 256u		/* RUN error messages, NUL included */

_Static_assert(sizeof(struct lego_proc_run_req) == 72, "wire size");
_Static_assert(sizeof(struct lego_proc_run_reply) == 16, "wire size");
_Static_assert(sizeof(struct lego_proc_stdin_req) == 16, "wire size");
_Static_assert(sizeof(struct lego_proc_kill_req) == 16, "wire size");
_Static_assert(sizeof(struct lego_proc_output) == 16, "wire size");
_Static_assert(sizeof(struct lego_proc_exit) == 16, "wire size");
_Static_assert(sizeof(struct lego_proc_trace) == 88, "wire size");

#endif
