obj-$(CONFIG_PERSONALITY_PROCESSOR) += managers/processor/monitor.o
obj-$(CONFIG_PERSONALITY_MEMORY) += managers/memory/monitor.o
obj-$(CONFIG_PERSONALITY_STORAGE) += managers/storage/monitor.o
obj-y += managers/common/gm_client.o
obj-$(CONFIG_PERSONALITY_STORAGE) += managers/storage/legofs.o managers/storage/legofs_core.o \
	managers/storage/legofs_extent.o managers/storage/legofs_ht.o \
	managers/storage/legofs_check.o managers/storage/legofs_util.o
obj-$(CONFIG_PERSONALITY_STORAGE) += managers/storage/store.o managers/storage/service.o \
	managers/storage/st_proto.o
