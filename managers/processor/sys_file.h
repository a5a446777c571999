/* File syscalls (sys_file.c): what other syscall files need of them. */
#ifndef PROCESSOR_SYS_FILE_H
#define PROCESSOR_SYS_FILE_H

#include <lego/types.h>

struct proc;

/* mmap of fd: the file's storage path into path_out (LEGO_ST_PATH_MAX
 * bytes, NUL-terminated); returns its length, or -EBADF (not open, not a
 * regular file: -EACCES for a pipe/console/dir as Linux's -ENODEV/EACCES),
 * -EACCES (shared_write on a description not opened for writing). */
long sys_file_mmap_path(struct proc *p, int fd, bool shared_write, char *path_out);

#endif
