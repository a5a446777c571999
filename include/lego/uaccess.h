/* Kernel access to user memory.
 *
 * Each function checks up front that the whole user range lies below
 * USER_TOP (a kernel address is never touched), opens the SMAP window
 * (stac/clac) around the access, and relies on the exception table: a
 * fault inside the copy first gives the thread's access_fault hook a
 * chance to map the page (see include/lego/user.h), and otherwise ends
 * the copy, which returns -EFAULT instead of faulting the kernel. */
#ifndef LEGO_UACCESS_H
#define LEGO_UACCESS_H

#include <lego/user_check.h>

/* 0 or -EFAULT (nothing is said about how much was copied). */
int copy_from_user(void *dst, const void *usrc, size_t n);
int copy_to_user(void *udst, const void *src, size_t n);
/* Copies a NUL-terminated string of at most n bytes including the NUL.
 * Returns its length without the NUL, n if no NUL came within n bytes
 * (dst is then not terminated), or -EFAULT. */
long strncpy_from_user(char *dst, const char *usrc, long n);
/* Zeroes n user bytes: 0 or -EFAULT. */
int clear_user(void *udst, size_t n);

/* The fixup of the kernel's exception table for a faulting rip, or 0. */
unsigned long extable_fixup(unsigned long rip);

#endif
