#ifndef LEGO_KALLSYMS_H
#define LEGO_KALLSYMS_H

#include <lego/types.h>

/* Name of the function containing addr, its offset and size; NULL if addr
 * is outside the kernel text. */
const char *kallsyms_lookup(unsigned long addr, unsigned long *offset, unsigned long *size);
unsigned long kallsyms_find(const char *name);

#endif
