/* args: prints its argument vector and its environment, one entry per line,
 * so that a test can check what `legoctl run` passed to the program:
 *
 *   argc=3
 *   argv[0]=/tests/musl/args
 *   argv[1]=a b
 *   argv[2]=
 *   envc=2
 *   envp[0]=HOME=/
 *   envp[1]=PATH=/bin
 *
 * Each string is printed as is, except that a newline, a backslash and other
 * control bytes are escaped (\n, \\, \xHH) so that every entry stays on one
 * line. Exits 0, or 1 if the output could not be written. */
#include <stdio.h>

extern char **environ;

static void put_escaped(const char *s)
{
	const unsigned char *p;

	for (p = (const unsigned char *)s; *p; p++) {
		if (*p == '\n')
			fputs("\\n", stdout);
		else if (*p == '\\')
			fputs("\\\\", stdout);
		else if (*p < 0x20 || *p == 0x7f)
			printf("\\x%02x", *p);
		else
			putchar(*p);
	}
	putchar('\n');
}

int main(int argc, char **argv)
{
	int i, n;

	printf("argc=%d\n", argc);
	for (i = 0; i < argc; i++) {
		printf("argv[%d]=", i);
		put_escaped(argv[i]);
	}
	for (n = 0; environ && environ[n]; n++)
		;
	printf("envc=%d\n", n);
	for (i = 0; i < n; i++) {
		printf("envp[%d]=", i);
		put_escaped(environ[i]);
	}
	if (fflush(stdout) != 0 || ferror(stdout))
		return 1;
	return 0;
}
