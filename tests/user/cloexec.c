/* cloexec: close-on-exec across execve. The parent opens descriptors in
 * each way that can set or clear FD_CLOEXEC, checks F_GETFD, then execs
 * itself (argv[0], so run it by a path that opens) with the descriptor
 * numbers as arguments; the child reports which of them survived the exec
 * and reads through one that must have, to show it is still the same open
 * file (offset kept). Output, the same on every correct system:
 *
 *   parent: flags ok
 *   open O_CLOEXEC: closed
 *   open: open
 *   pipe2 O_CLOEXEC read end: closed
 *   pipe2 O_CLOEXEC write end: closed
 *   pipe read end: open
 *   dup3 O_CLOEXEC: closed
 *   F_DUPFD_CLOEXEC: closed
 *   dup of a close-on-exec fd: open
 *   F_SETFD FD_CLOEXEC: closed
 *   F_SETFD 0 after O_CLOEXEC: open
 *   offset kept: ok
 *   cloexec: ok
 *
 * Exits 0 when every descriptor behaved, 1 otherwise (details on stderr),
 * 2 on bad usage. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

struct probe {
	const char *name;
	int want_open;
};

static const struct probe probes[] = {
	{ "open O_CLOEXEC", 0 },
	{ "open", 1 },
	{ "pipe2 O_CLOEXEC read end", 0 },
	{ "pipe2 O_CLOEXEC write end", 0 },
	{ "pipe read end", 1 },
	{ "dup3 O_CLOEXEC", 0 },
	{ "F_DUPFD_CLOEXEC", 0 },
	{ "dup of a close-on-exec fd", 1 },
	{ "F_SETFD FD_CLOEXEC", 0 },
	{ "F_SETFD 0 after O_CLOEXEC", 1 },
};

#define NPROBES (sizeof(probes) / sizeof(probes[0]))
/* probes[] index of the plain open, read by the child at offset 1. */
#define PLAIN 1

static int child(int argc, char **argv)
{
	int bad = 0;
	unsigned int i;
	char c;

	if ((unsigned int)argc != NPROBES + 2)
		return 2;
	for (i = 0; i < NPROBES; i++) {
		int fd = atoi(argv[i + 2]);
		int f = fcntl(fd, F_GETFD);
		int is_open = f >= 0;

		if (f < 0 && errno != EBADF) {
			fprintf(stderr, "%s: F_GETFD: %s\n", probes[i].name, strerror(errno));
			bad = 1;
		}
		if (is_open != probes[i].want_open) {
			fprintf(stderr, "%s (fd %d): %s after exec\n", probes[i].name, fd,
				is_open ? "open" : "closed");
			bad = 1;
		}
		printf("%s: %s\n", probes[i].name, is_open ? "open" : "closed");
	}
	/* The parent read 1 byte of "\177ELF": the shared offset is now 1. */
	if (read(atoi(argv[PLAIN + 2]), &c, 1) == 1 && c == 'E') {
		printf("offset kept: ok\n");
	} else {
		printf("offset kept: FAIL\n");
		bad = 1;
	}
	printf("cloexec: %s\n", bad ? "FAIL" : "ok");
	return bad;
}

static int flag_is(int fd, int want, const char *what)
{
	int f = fcntl(fd, F_GETFD);

	if (f < 0 || !!(f & FD_CLOEXEC) != want) {
		fprintf(stderr, "%s (fd %d): F_GETFD %d, expected cloexec=%d\n", what, fd, f, want);
		return 0;
	}
	return 1;
}

int main(int argc, char **argv)
{
	int fds[NPROBES], p[2], q[2], ok = 1;
	char num[NPROBES][16], *args[NPROBES + 3], c;
	unsigned int i;

	if (argc >= 2 && !strcmp(argv[1], "child"))
		return child(argc, argv);
	if (argc != 1)
		return 2;

	fds[0] = open(argv[0], O_RDONLY | O_CLOEXEC);
	fds[1] = open(argv[0], O_RDONLY);
	if (fds[0] < 0 || fds[1] < 0 || pipe2(p, O_CLOEXEC) || pipe(q)) {
		perror("cloexec: open/pipe");
		return 1;
	}
	if (read(fds[1], &c, 1) != 1 || c != 0x7f) {
		fprintf(stderr, "cloexec: %s does not start with 0x7f\n", argv[0]);
		return 1;
	}
	fds[2] = p[0];
	fds[3] = p[1];
	fds[4] = q[0];
	fds[5] = dup3(fds[1], 20, O_CLOEXEC);
	fds[6] = fcntl(fds[1], F_DUPFD_CLOEXEC, 30);
	fds[7] = dup(fds[0]);
	fds[8] = open(argv[0], O_RDONLY);
	fds[9] = open(argv[0], O_RDONLY | O_CLOEXEC);
	if (fds[5] != 20 || fds[6] < 30 || fds[7] < 0 || fds[8] < 0 || fds[9] < 0 ||
	    fcntl(fds[8], F_SETFD, FD_CLOEXEC) || fcntl(fds[9], F_SETFD, 0)) {
		perror("cloexec: dup3/fcntl");
		return 1;
	}
	for (i = 0; i < NPROBES; i++)
		ok &= flag_is(fds[i], !probes[i].want_open, probes[i].name);
	printf("parent: flags %s\n", ok ? "ok" : "FAIL");
	fflush(stdout);

	args[0] = argv[0];
	args[1] = "child";
	for (i = 0; i < NPROBES; i++) {
		snprintf(num[i], sizeof(num[i]), "%d", fds[i]);
		args[i + 2] = num[i];
	}
	args[NPROBES + 2] = NULL;
	execv(argv[0], args);
	perror("cloexec: execv");
	return 1;
}
