/* The host kernel's side of test_fdtable.c: thin wrappers around the real
 * fd system calls, returning the result or a negative errno. Kept in its
 * own translation unit because libc's <fcntl.h> defines the same names as
 * include/uapi/lego/linux_abi.h. Flags and commands are passed through
 * unchanged: on x86-64 glibc's values are the kernel's, which hfd_abi()
 * lets the test verify against linux_abi.h. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>

#include "fdtable_hostfd.h"

static long hfd_ret(long r)
{
	return r < 0 ? -errno : r;
}

long hfd_open(const char *path, int flags, int mode)
{
	return hfd_ret(open(path, flags, mode));
}

long hfd_close(int fd)
{
	return hfd_ret(close(fd));
}

long hfd_dup(int fd)
{
	return hfd_ret(dup(fd));
}

long hfd_dup2(int oldfd, int newfd)
{
	return hfd_ret(dup2(oldfd, newfd));
}

long hfd_dup3(int oldfd, int newfd, int flags)
{
	return hfd_ret(dup3(oldfd, newfd, flags));
}

long hfd_fcntl(int fd, int cmd, unsigned long arg)
{
	return hfd_ret(fcntl(fd, cmd, arg));
}

long hfd_lseek(int fd, long off, int whence)
{
	return hfd_ret(lseek(fd, off, whence));
}

long hfd_read(int fd, unsigned long n)
{
	char *buf = malloc(n ? n : 1);
	long r = hfd_ret(read(fd, buf, n));

	free(buf);
	return r;
}

long hfd_write(int fd, unsigned long n)
{
	char *buf = calloc(1, n ? n : 1);
	long r = hfd_ret(write(fd, buf, n));

	free(buf);
	return r;
}

long hfd_pread(int fd, unsigned long n, long off)
{
	char *buf = malloc(n ? n : 1);
	long r = hfd_ret(pread(fd, buf, n, off));

	free(buf);
	return r;
}

long hfd_pwrite(int fd, unsigned long n, long off)
{
	char *buf = calloc(1, n ? n : 1);
	long r = hfd_ret(pwrite(fd, buf, n, off));

	free(buf);
	return r;
}

long hfd_size(int fd)
{
	struct stat st;

	if (fstat(fd, &st) < 0)
		return -errno;
	return (long)st.st_size;
}

int hfd_is_open(int fd)
{
	return fcntl(fd, F_GETFD) >= 0;
}

long hfd_get_nofile(unsigned long *soft, unsigned long *hard)
{
	struct rlimit rl;

	if (getrlimit(RLIMIT_NOFILE, &rl) < 0)
		return -errno;
	*soft = rl.rlim_cur;
	*hard = rl.rlim_max;
	return 0;
}

long hfd_set_nofile(unsigned long soft)
{
	struct rlimit rl;

	if (getrlimit(RLIMIT_NOFILE, &rl) < 0)
		return -errno;
	rl.rlim_cur = soft;
	return hfd_ret(setrlimit(RLIMIT_NOFILE, &rl));
}

long hfd_mktemp(char *path, unsigned long cap)
{
	const char *dir = getenv("TMPDIR");
	int fd;

	if (!dir || !*dir)
		dir = "/tmp";
	if (strlen(dir) + 32 > cap)
		return -ENAMETOOLONG;
	strcpy(path, dir);
	strcat(path, "/lego-fdtable-XXXXXX");
	fd = mkstemp(path);
	return fd < 0 ? -errno : fd;
}

long hfd_unlink(const char *path)
{
	return hfd_ret(unlink(path));
}

long hfd_fork_lseek(int fd, long off, int whence)
{
	pid_t pid = fork();
	int st;

	if (pid < 0)
		return -errno;
	if (pid == 0)
		_exit(lseek(fd, off, whence) < 0 ? 1 : 0);
	if (waitpid(pid, &st, 0) < 0)
		return -errno;
	return WIFEXITED(st) && WEXITSTATUS(st) == 0 ? 0 : -ECHILD;
}

long hfd_abi(const char *name)
{
	static const struct {
		const char *name;
		long value;
	} tab[] = {
		{ "O_ACCMODE", O_ACCMODE }, { "O_RDONLY", O_RDONLY }, { "O_WRONLY", O_WRONLY },
		{ "O_RDWR", O_RDWR }, { "O_CREAT", O_CREAT }, { "O_EXCL", O_EXCL },
		{ "O_NOCTTY", O_NOCTTY }, { "O_TRUNC", O_TRUNC }, { "O_APPEND", O_APPEND },
		{ "O_NONBLOCK", O_NONBLOCK }, { "O_DSYNC", O_DSYNC }, { "O_ASYNC", O_ASYNC },
		{ "O_DIRECT", O_DIRECT }, { "O_DIRECTORY", O_DIRECTORY },
		{ "O_NOFOLLOW", O_NOFOLLOW }, { "O_NOATIME", O_NOATIME },
		{ "O_CLOEXEC", O_CLOEXEC }, { "O_SYNC", O_SYNC }, { "O_PATH", O_PATH },
		{ "O_TMPFILE", O_TMPFILE },
		{ "F_DUPFD", F_DUPFD }, { "F_GETFD", F_GETFD }, { "F_SETFD", F_SETFD },
		{ "F_GETFL", F_GETFL }, { "F_SETFL", F_SETFL }, { "F_GETLK", F_GETLK },
		{ "F_SETLK", F_SETLK }, { "F_SETLKW", F_SETLKW }, { "F_SETOWN", F_SETOWN },
		{ "F_GETOWN", F_GETOWN }, { "F_DUPFD_CLOEXEC", F_DUPFD_CLOEXEC },
		{ "FD_CLOEXEC", FD_CLOEXEC },
		{ "SEEK_SET", SEEK_SET }, { "SEEK_CUR", SEEK_CUR }, { "SEEK_END", SEEK_END },
		{ "SEEK_DATA", SEEK_DATA }, { "SEEK_HOLE", SEEK_HOLE },
		{ "AT_FDCWD", AT_FDCWD }, { "AT_SYMLINK_NOFOLLOW", AT_SYMLINK_NOFOLLOW },
		{ "AT_REMOVEDIR", AT_REMOVEDIR }, { "AT_SYMLINK_FOLLOW", AT_SYMLINK_FOLLOW },
		{ "AT_NO_AUTOMOUNT", AT_NO_AUTOMOUNT }, { "AT_EMPTY_PATH", AT_EMPTY_PATH },
		{ "S_IFMT", S_IFMT }, { "S_IFSOCK", S_IFSOCK }, { "S_IFLNK", S_IFLNK },
		{ "S_IFREG", S_IFREG }, { "S_IFBLK", S_IFBLK }, { "S_IFDIR", S_IFDIR },
		{ "S_IFCHR", S_IFCHR }, { "S_IFIFO", S_IFIFO },
		{ "RLIMIT_NOFILE", RLIMIT_NOFILE },
		{ "ENOTTY", ENOTTY }, { "ESPIPE", ESPIPE }, { "EOVERFLOW", EOVERFLOW },
		{ "EBADF", EBADF }, { "EMFILE", EMFILE }, { "ELOOP", ELOOP },
		{ "ENAMETOOLONG", ENAMETOOLONG }, { "ENXIO", ENXIO },
	};

	for (size_t i = 0; i < sizeof(tab) / sizeof(tab[0]); i++)
		if (strcmp(tab[i].name, name) == 0)
			return tab[i].value;
	return -1000000;
}
