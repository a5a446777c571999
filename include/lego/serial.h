#ifndef LEGO_SERIAL_H
#define LEGO_SERIAL_H

#include <lego/types.h>

void serial_init(void);
void serial_putc(char c);
void serial_write(const char *s, size_t len);

#endif
