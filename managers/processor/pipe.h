/* Pipes (pipe.c). */
#ifndef PROCESSOR_PIPE_H
#define PROCESSOR_PIPE_H

#include <lego/types.h>
#include <lego/fdtable.h>

struct proc;

/* pipe2: two new descriptions installed at the lowest free fds of p
 * (flags: O_CLOEXEC, O_NONBLOCK, O_DIRECT accepted). 0 or -errno. */
long pipe_create(struct proc *p, const struct fd_ops *ops, u32 flags, int fds[2]);
long pipe_read(struct proc *p, struct fd_file *f, u8 *ubuf, u64 count);
long pipe_write(struct proc *p, struct fd_file *f, const u8 *ubuf, u64 count);
/* The last reference of a pipe end went (fd_ops.release). */
void pipe_release(struct fd_file *f);
void pipe_init(void);
void pipe_state(struct fd_file *f, u32 *len, bool *reader, bool *writer);

#endif
