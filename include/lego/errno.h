/* Error numbers. Values match Linux x86-64 so that they can be handed to
 * user programs and across the wire unchanged. Kernel functions return the
 * negated value. */
#ifndef LEGO_ERRNO_H
#define LEGO_ERRNO_H

#define EPERM 1
#define ENOENT 2
#define ESRCH 3
#define EINTR 4
#define EIO 5
#define ENXIO 6
#define E2BIG 7
#define ENOEXEC 8
#define EBADF 9
#define ECHILD 10
#define EAGAIN 11
#define ENOMEM 12
#define EACCES 13
#define EFAULT 14
#define EBUSY 16
#define EEXIST 17
#define EXDEV 18
#define ENODEV 19
#define ENOTDIR 20
#define EISDIR 21
#define EINVAL 22
#define ENFILE 23
#define EMFILE 24
#define ENOTTY 25
#define EFBIG 27
#define ENOSPC 28
#define ESPIPE 29
#define EROFS 30
#define EPIPE 32
#define ERANGE 34
#define EDEADLK 35
#define ENAMETOOLONG 36
#define ENOSYS 38
#define ENOTEMPTY 39
#define ELOOP 40
#define ENODATA 61
#define EOVERFLOW 75
#define EMSGSIZE 90
#define EPROTO 71
#define EBADMSG 74
#define ENETUNREACH 101
#define ECONNREFUSED 111
#define EHOSTUNREACH 113
#define EOPNOTSUPP 95
#define ETIMEDOUT 110
#define EALREADY 114
#define ESTALE 116
#define EUCLEAN 117

#endif
