/*
 * The entry points shared by the libFuzzer builds and the corpus replayer.
 *
 * Every target also says what it made of an input: fuzz_verdict() returns
 * 1 when the code under test accepted it and 0 when it refused it, so the
 * replayer can hold the seed corpus to its names (good-* accepted, bad-*
 * refused) and a regression either way fails the suite.
 * LLVMFuzzerTestOneInput is fuzz_verdict with the answer dropped.
 */
#ifndef BPROC_FUZZ_H
#define BPROC_FUZZ_H

#include <stddef.h>
#include <stdint.h>

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);
int	fuzz_verdict(const uint8_t *, size_t);

/* fuzz_log.c: the daemons' log.h, quiet unless FUZZ_VERBOSE is set */
extern int	fuzz_verbose;

/*
 * sandbox.c: while fuzz_sandbox_on, the file calls of the code under test
 * (linked with -Wl,--wrap=open,...; see the Makefile) see absolute paths
 * under fuzz_sandbox_root, so an input that names /etc/passwd writes a
 * file in the sandbox and nothing on the host.
 */
extern int	 fuzz_sandbox_on;
extern char	 fuzz_sandbox_root[];
extern int	 fuzz_sandbox_dirty;	/* something was written in it */
extern int	 fuzz_sandbox_host_proc;	/* /proc is the host's (default 1) */
void	fuzz_sandbox_init(const char *);
void	fuzz_sandbox_wipe(void);
/* a path as the code under test sees it: written under the root */
void	fuzz_sandbox_put(const char *, const void *, size_t, int);

#endif
