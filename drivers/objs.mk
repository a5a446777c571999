obj-y += drivers/serial.o drivers/acpi.o drivers/fw_cfg.o
obj-y += drivers/pci.o drivers/e1000.o drivers/virtio_pci.o drivers/virtio_net.o
obj-y += drivers/blkdev.o drivers/virtio_blk.o drivers/cmos_rtc.o
obj-$(CONFIG_SELFTEST) += drivers/netdev_selftest.o drivers/blkdev_selftest.o
