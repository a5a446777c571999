/* Host fd system calls for test_fdtable.c (see fdtable_hostfd.c). Every
 * call returns its result or a negative errno. */
#ifndef TESTS_UNIT_FDTABLE_HOSTFD_H
#define TESTS_UNIT_FDTABLE_HOSTFD_H

long hfd_open(const char *path, int flags, int mode);
long hfd_close(int fd);
long hfd_dup(int fd);
long hfd_dup2(int oldfd, int newfd);
long hfd_dup3(int oldfd, int newfd, int flags);
long hfd_fcntl(int fd, int cmd, unsigned long arg);
long hfd_lseek(int fd, long off, int whence);
long hfd_read(int fd, unsigned long n);
long hfd_write(int fd, unsigned long n);
long hfd_pread(int fd, unsigned long n, long off);
long hfd_pwrite(int fd, unsigned long n, long off);
long hfd_size(int fd);
int hfd_is_open(int fd);
long hfd_get_nofile(unsigned long *soft, unsigned long *hard);
long hfd_set_nofile(unsigned long soft);
/* Create and open (O_RDWR) a temporary file; path gets its name. */
long hfd_mktemp(char *path, unsigned long cap);
long hfd_unlink(const char *path);
/* lseek(fd, off, whence) in a forked child; 0 when it succeeded. */
long hfd_fork_lseek(int fd, long off, int whence);
/* The host libc's value of a named constant (-1000000: unknown name). */
long hfd_abi(const char *name);

#endif
