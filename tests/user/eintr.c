/* eintr: signals interrupting blocking system calls. A SIGALRM handler
 * installed without SA_RESTART makes a blocked pipe read and a nanosleep
 * fail with EINTR (the handler having run once each); with SA_RESTART the
 * read goes on and returns the byte a child writes later. Output, the same
 * on every correct system:
 *
 *   read without SA_RESTART: EINTR, handler ran
 *   nanosleep: EINTR, handler ran, time left
 *   read with SA_RESTART: restarted, got x, handler ran
 *   eintr: ok
 *
 * Exits 0 when all three behaved, 1 otherwise (details on stderr). */
#define _GNU_SOURCE
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static volatile sig_atomic_t alarms;

static void on_alarm(int sig)
{
	(void)sig;
	alarms++;
}

static int set_handler(int flags)
{
	struct sigaction sa;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_alarm;
	sa.sa_flags = flags;
	sigemptyset(&sa.sa_mask);
	return sigaction(SIGALRM, &sa, NULL);
}

/* One SIGALRM after MS milliseconds. */
static int arm(long ms)
{
	struct itimerval it;

	memset(&it, 0, sizeof(it));
	it.it_value.tv_sec = ms / 1000;
	it.it_value.tv_usec = (ms % 1000) * 1000;
	return setitimer(ITIMER_REAL, &it, NULL);
}

static int read_interrupted(void)
{
	int p[2], e;
	char c;
	ssize_t n;

	if (pipe(p) || set_handler(0) || arm(200)) {
		perror("eintr: setup");
		return 0;
	}
	alarms = 0;
	n = read(p[0], &c, 1);	/* nobody writes: only the signal ends it */
	e = errno;
	close(p[0]);
	close(p[1]);
	if (n != -1 || e != EINTR || alarms != 1) {
		fprintf(stderr, "eintr: read returned %zd (%s), %d alarms\n", n,
			n < 0 ? strerror(e) : "-", (int)alarms);
		printf("read without SA_RESTART: FAIL\n");
		return 0;
	}
	printf("read without SA_RESTART: EINTR, handler ran\n");
	return 1;
}

static int sleep_interrupted(void)
{
	struct timespec req = { 5, 0 }, rem = { 0, 0 };
	int r, e;

	if (set_handler(0) || arm(200)) {
		perror("eintr: setup");
		return 0;
	}
	alarms = 0;
	r = nanosleep(&req, &rem);
	e = errno;
	/* 200 ms of 5 s passed: well over 4 s must be left. */
	if (r != -1 || e != EINTR || alarms != 1 || rem.tv_sec < 4 || rem.tv_sec > 5) {
		fprintf(stderr, "eintr: nanosleep returned %d (%s), %d alarms, %ld s left\n", r,
			r < 0 ? strerror(e) : "-", (int)alarms, (long)rem.tv_sec);
		printf("nanosleep: FAIL\n");
		return 0;
	}
	printf("nanosleep: EINTR, handler ran, time left\n");
	return 1;
}

static int read_restarted(void)
{
	int p[2], st;
	char c = 0;
	ssize_t n;
	pid_t pid;

	if (pipe(p) || set_handler(SA_RESTART)) {
		perror("eintr: setup");
		return 0;
	}
	pid = fork();
	if (pid < 0) {
		perror("eintr: fork");
		return 0;
	}
	if (pid == 0) {
		/* The child writes well after the parent's alarm went off. */
		struct timespec d = { 1, 0 };

		close(p[0]);
		nanosleep(&d, NULL);
		if (write(p[1], "x", 1) != 1)
			_exit(1);
		_exit(0);
	}
	close(p[1]);
	alarms = 0;
	if (arm(200)) {
		perror("eintr: setitimer");
		return 0;
	}
	n = read(p[0], &c, 1);
	close(p[0]);
	if (waitpid(pid, &st, 0) != pid || !WIFEXITED(st) || WEXITSTATUS(st)) {
		fprintf(stderr, "eintr: the writer child failed (status %#x)\n", st);
		printf("read with SA_RESTART: FAIL\n");
		return 0;
	}
	if (n != 1 || c != 'x' || alarms != 1) {
		fprintf(stderr, "eintr: restarted read returned %zd ('%c'), %d alarms\n", n,
			c ? c : '-', (int)alarms);
		printf("read with SA_RESTART: FAIL\n");
		return 0;
	}
	printf("read with SA_RESTART: restarted, got x, handler ran\n");
	return 1;
}

int main(void)
{
	int ok = 1;

	setvbuf(stdout, NULL, _IONBF, 0);
	ok &= read_interrupted();
	ok &= sleep_interrupted();
	ok &= read_restarted();
	printf("eintr: %s\n", ok ? "ok" : "FAIL");
	return !ok;
}
