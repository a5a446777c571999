#ifndef LEGO_FW_CFG_H
#define LEGO_FW_CFG_H

#include <lego/types.h>

/* Read the QEMU fw_cfg file name into buf (NUL-terminated). Returns its
 * length, -ENODEV when not running under QEMU, -ENOENT when absent. */
int fw_cfg_read_file(const char *name, char *buf, size_t size);

#endif
