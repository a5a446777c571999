/* Freestanding string and memory functions (kernel/string.c). */
#ifndef LEGO_STRING_H
#define LEGO_STRING_H

#include <lego/types.h>

void *memset(void *d, int c, size_t n);
void *memcpy(void *d, const void *s, size_t n);
void *memmove(void *d, const void *s, size_t n);
int memcmp(const void *a, const void *b, size_t n);
size_t strlen(const char *s);
size_t strnlen(const char *s, size_t max);
int strcmp(const char *a, const char *b);
int strncmp(const char *a, const char *b, size_t n);
char *strchr(const char *s, int c);
size_t strlcpy(char *d, const char *s, size_t size);
size_t strlcat(char *d, const char *s, size_t size);
void *memmem_simple(const void *hay, size_t hlen, const void *needle, size_t nlen);

#endif
