/* Basic fixed-width types shared by the kernel and host-side unit tests. */
#ifndef LEGO_TYPES_H
#define LEGO_TYPES_H

#include <stdint.h>
#include <stddef.h>
#include <stdbool.h>
#include <stdarg.h>

typedef uint8_t u8;
typedef uint16_t u16;
typedef uint32_t u32;
typedef uint64_t u64;
typedef int8_t s8;
typedef int16_t s16;
typedef int32_t s32;
typedef int64_t s64;

typedef u64 phys_addr_t;
typedef u64 pfn_t;

#ifndef __KERNEL_HOSTTEST__
typedef long ssize_t;
#endif

#endif
