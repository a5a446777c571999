obj-y += drivers/serial.o drivers/acpi.o drivers/fw_cfg.o
