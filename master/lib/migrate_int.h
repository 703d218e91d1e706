/*
 * libbproc's migration, between its parts: migrate.c (the calls: rfork,
 * vrfork, move, execmove), migrate_home.c (from a node: home, the
 * stand-in), migrate_send.c (the image's way to the node),
 * migrate_files.c (what goes with it).  Not installed.
 */
#ifndef BPROC_MIGRATE_INT_H
#define BPROC_MIGRATE_INT_H

#include <limits.h>
#include <stddef.h>

#include "bproc.h"
#include "proto.h"

#define MIG_MSGLEN	256		/* error text a failed child hands its parent */

/* What one migration sends before the image. */
struct mig_req {
	struct bproc_file	*files;
	size_t			 nfiles;
	char			*args;		/* /proc/self/cmdline */
	char			**argv;
	char			 exe[PATH_MAX];
};

/* What a failed rfork child tells its parent. */
struct mig_fail {
	int	e;
	char	msg[MIG_MSGLEN];
};

/* Where the image goes: the descriptor, its frame size, its window. */
struct mig_out {
	int	 fd;
	size_t	 chunk;		/* data bytes per frame */
	size_t	 window;	/* unacknowledged bytes at most; 0: no acks */
	size_t	 unacked;
};

/* migrate_files.c */
int	libmig_nthreads(void);
int	libmig_prepare(struct mig_req *);
void	libmig_release(struct mig_req *);

/* migrate_send.c */
int	libmig_read_frame(int, unsigned char *, size_t, struct wire_hdr *,
	    struct wire_attr *);
int	libmig_sink(void *, const void *, size_t);
int	libmig_send_eof(int);
int	libmig_verdict(int, int);
int	libmig_go(int, const struct mig_req *, unsigned int);

/* migrate_home.c */
int	libmig_home(int, int);
void	libmig_onward_failed(int) __attribute__((noreturn));

#endif
