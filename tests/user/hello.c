/* hello: the smallest test program run inside a vNode. Prints one line and
 * exits 0. Built statically with glibc and with musl (see the top Makefile,
 * target `user`) into build/user/{glibc,musl}/hello and installed in the vNode
 * base root as /tests/{glibc,musl}/hello. */
#include <stdio.h>

int main(void)
{
	printf("hello from LegoOS\n");
	return 0;
}
