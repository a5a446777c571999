obj-y += net/netdev.o net/net.o net/arp.o net/ipv4.o net/udp.o \
	net/rpc_proto.o net/rpc.o net/rpc_builtin.o
obj-$(CONFIG_SELFTEST) += net/rpc_selftest.o
