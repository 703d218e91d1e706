/*
 * A process's argument and environment strings on the wire (MSG_EXEC),
 * up to Linux's own limits.  An attribute's length is 16 bits, so a
 * string longer than one attribute travels as A_ARG_PART pieces followed
 * by its A_ARG or A_ENV, which carries the last piece and the NUL; the
 * receiver joins them.  Every hop checks the same limits (args_scan):
 * Linux's MAX_ARG_STRLEN per string and, for argv and envp together,
 * the 2 MiB that execve(2) allows with the usual 8 MiB stack, counted as
 * the kernel counts it (each string with its NUL, plus a pointer).
 */
#ifndef BPROC_ARGS_H
#define BPROC_ARGS_H

#include <stddef.h>
#include <stdint.h>

#include "wire.h"

#define ARGS_STRLEN_MAX	(128 * 1024)	/* bytes of one string, NUL included (MAX_ARG_STRLEN) */
#define ARGS_TOTAL_MAX	(2 * 1024 * 1024)	/* argv + envp: strings, NULs, a pointer each */
#define ARGS_PTR	8		/* what the kernel counts per string for its pointer */
#define ARGS_PART_MAX	65528		/* bytes of one A_ARG_PART: the largest 4-aligned attribute */

/* What a frame's argument and environment lists hold. */
struct args_sum {
	size_t	nargs, nenv;	/* strings of each list */
	size_t	total;		/* as the kernel counts them: len + 1 + ARGS_PTR each */
	size_t	joined;		/* bytes of the strings sent in pieces, NULs included */
	size_t	longest;	/* the longest string, NUL included */
};

/* Put s as type (A_ARG or A_ENV), in pieces when it needs them: 0 or -1. */
int	args_put(struct wire_msg *, uint16_t, const char *);
/*
 * Check the lists of a frame's body (its attributes already checked by
 * proto_parse): pieces only right before their string, no NUL inside a
 * piece, each string and the whole within the limits.  0 with *s filled,
 * or -1 with why (why_len bytes) saying what is wrong.
 */
int	args_scan(const void *, size_t, struct args_sum *, char *, size_t);
/*
 * After a good args_scan: argv[0 .. nargs-1] and envp[0 .. nenv-1] (no
 * NULL written after them), a string in one attribute pointing into the
 * body, a joined one copied into buf (s->joined bytes).
 */
void	args_fill(const void *, size_t, char **, char **, char *);

#endif
