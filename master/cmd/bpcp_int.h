/*
 * bpcp's parts: bpcp.c (options, a copy's steps), bpcp_parse.c (operands
 * and the source's header), bpcp_helper.c (the scripts as processes, what
 * they say), bpcp_relay.c (bytes from source to sink).  The scripts are
 * bpcp_source.sh, bpcp_sink.sh and bpcp_isdir.sh, embedded at build time.
 */
#ifndef BPROC_BPCP_INT_H
#define BPROC_BPCP_INT_H

#include <stdint.h>
#include <stddef.h>
#include <sys/types.h>

#include "path.h"

#ifndef nitems
#define nitems(a)	(sizeof(a) / sizeof((a)[0]))
#endif

#define BPCP_FAIL	1		/* some copy failed */
#define BPCP_USAGE	2
#define NODE_LOCAL	(-1)		/* a front-end path */
#define RELAY_BUF	(256 * 1024)	/* bytes moved per read */
#define HDR_MAX		256		/* longest source header line */
#define ERRBUF_MAX	8192		/* error text kept per stream */
#define NODE_BUSYBOX	"/bin/busybox"	/* where the node image has it */

/* One end of a copy: a node and a path on it. */
struct loc {
	int		 node;		/* NODE_LOCAL for the front end */
	const char	*path;
};

/* A helper process: a local shell or a remote one behind its ghost. */
struct helper {
	pid_t		 pid;
	int		 in;		/* our end of its stdin, -1 if none */
	int		 out;		/* its stdout */
	int		 err;		/* its stderr */
	int		 node;
	int		 file;		/* out is a front-end file, no process */
	int		 waited;	/* its status below is known */
	int		 ok;		/* it exited 0 */
	int		 sig;		/* the signal that ended it, or 0 */
	char		 startmsg[640];	/* why it did not start */
};

/* What the source says it is sending. */
struct hdr {
	char		 kind;		/* 'F' file, 'D' tar of a tree */
	uint64_t	 size;
	unsigned int	 mode;
	long long	 mtime;
	unsigned long	 uid, gid;
};

/* Text gathered from a helper's stderr or status output. */
struct text {
	char		 d[ERRBUF_MAX];
	size_t		 n;
};

/* bpcp_parse.c */
void		 loc_parse(const char *, struct loc *);
int		 hdr_parse(const char *, struct hdr *);

/* bpcp_helper.c */
void		 loc_error(int, const char *);
int		 helper_start(struct helper *, int, const char *, char **, int);
void		 helper_close(struct helper *);
int		 helper_wait(struct helper *);
void		 text_add(struct text *, const char *, size_t);
int		 text_read(int *, struct text *);
void		 helper_report(struct helper *, const struct text *,
		    const char *, int);

/* bpcp_relay.c */
int64_t		 relay(struct helper *, struct helper *, char *, size_t,
		    const struct hdr *, const struct loc *, struct text *,
		    struct text *, struct text *);

#endif
