obj-$(CONFIG_PERSONALITY_PROCESSOR) += managers/processor/monitor.o
obj-$(CONFIG_PERSONALITY_MEMORY) += managers/memory/monitor.o
obj-$(CONFIG_PERSONALITY_STORAGE) += managers/storage/monitor.o
obj-y += managers/common/gm_client.o
