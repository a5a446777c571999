/*
 * Constants of the Linux x86-64 user ABI that the processor monitor's Linux
 * state layer interprets: open flags, fcntl commands, fd flags, lseek
 * whences, *at() flags, file types and the RLIMIT_NOFILE defaults. The
 * values are the ones unmodified Linux binaries pass, so they are fixed by
 * that ABI, not by us. Error numbers live in include/lego/errno.h.
 *
 * Kernel-side only: the names clash with libc's <fcntl.h>, so host programs
 * (gm/, unit-test helpers that call the host's libc) use libc's headers and
 * never include this one in the same translation unit.
 */
#ifndef UAPI_LEGO_LINUX_ABI_H
#define UAPI_LEGO_LINUX_ABI_H

/* open(2) flags (octal, as the x86-64 ABI spells them). */
#define O_ACCMODE	00000003
#define O_RDONLY	00000000
#define O_WRONLY	00000001
#define O_RDWR		00000002
#define O_CREAT		00000100
#define O_EXCL		00000200
#define O_NOCTTY	00000400
#define O_TRUNC		00001000
#define O_APPEND	00002000
#define O_NONBLOCK	00004000
#define O_DSYNC		00010000
#define O_ASYNC		00020000
#define O_DIRECT	00040000
#define O_LARGEFILE	00100000
#define O_DIRECTORY	00200000
#define O_NOFOLLOW	00400000
#define O_NOATIME	01000000
#define O_CLOEXEC	02000000
#define O_SYNC		(04000000 | O_DSYNC)
#define O_PATH		010000000
#define O_TMPFILE	(020000000 | O_DIRECTORY)

/* fcntl(2) commands. */
#define F_DUPFD		0
#define F_GETFD		1
#define F_SETFD		2
#define F_GETFL		3
#define F_SETFL		4
#define F_GETLK		5
#define F_SETLK		6
#define F_SETLKW	7
#define F_SETOWN	8
#define F_GETOWN	9
#define F_DUPFD_CLOEXEC	1030		/* Linux-specific base 1024 + 6 */

/* The one fd flag. */
#define FD_CLOEXEC	1

/* lseek(2) whences. */
#define SEEK_SET	0
#define SEEK_CUR	1
#define SEEK_END	2
#define SEEK_DATA	3
#define SEEK_HOLE	4

/* *at(2) directory fd and flags. */
#define AT_FDCWD		(-100)
#define AT_SYMLINK_NOFOLLOW	0x100
#define AT_REMOVEDIR		0x200
#define AT_SYMLINK_FOLLOW	0x400
#define AT_NO_AUTOMOUNT		0x800
#define AT_EMPTY_PATH		0x1000

/* File types in st_mode (the storage protocol uses the same values). */
#define S_IFMT		0170000
#define S_IFSOCK	0140000
#define S_IFLNK		0120000
#define S_IFREG		0100000
#define S_IFBLK		0060000
#define S_IFDIR		0040000
#define S_IFCHR		0020000
#define S_IFIFO		0010000

/* getdents64 d_type values. */
#define DT_UNKNOWN	0
#define DT_FIFO		1
#define DT_CHR		2
#define DT_DIR		4
#define DT_BLK		6
#define DT_REG		8
#define DT_LNK		10
#define DT_SOCK		12

/* getrlimit(2) resource and Linux's defaults for it. */
#define RLIMIT_NOFILE		7
#define LINUX_NOFILE_CUR	1024	/* default soft limit */
#define LINUX_NOFILE_MAX	4096	/* default hard limit */
#define LINUX_NR_OPEN		(1024 * 1024)	/* no limit may exceed this */

/* Longest path a user may pass, with its NUL (Linux PATH_MAX). */
#define LINUX_PATH_MAX		4096
/* Symbolic links followed in one lookup before ELOOP (Linux MAXSYMLINKS). */
#define LINUX_MAXSYMLINKS	40

#endif
