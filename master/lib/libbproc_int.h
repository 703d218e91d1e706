/*
 * libbproc's private interface between its parts: the control client
 * (libbproc_ctl.c) that the node calls (nodeinfo.c) and the process calls
 * (rexec.c) share.  Not installed; users include bproc.h only.
 * Every function returns -1 and sets errno on failure; the text for
 * bproc_strerror() is left in the shared buffer by libbproc_errmsg().
 */
#ifndef BPROC_LIBBPROC_INT_H
#define BPROC_LIBBPROC_INT_H

#include <stddef.h>
#include <stdint.h>

#include "proto.h"

/* Decode one record's attributes into the list element el. */
typedef void	libbproc_decode_fn(void *el, struct wire_attr tb[A_MAX]);

/* What a reader waits for: libbproc_recv refuses any other reply. */
enum libbproc_wait {
	LIBBPROC_WAIT_NODES,	/* CTL_NODE records, CTL_END */
	LIBBPROC_WAIT_PROCS,	/* CTL_PROC records, CTL_END */
	LIBBPROC_WAIT_RESULT,	/* CTL_RESULT */
	LIBBPROC_WAIT_WATCH,	/* CTL_CHANGED */
	LIBBPROC_WAIT_MASTER,	/* CTL_MASTER_INFO */
	LIBBPROC_WAIT_EXEC,	/* NEED, BLOB_ACK, EXEC_RESULT */
	LIBBPROC_WAIT_IMAGE	/* migrate.c: IMAGE_RESULT, IMAGE_ACK, IO, EXIT */
};

void	libbproc_errclear(void);
void	libbproc_errmsg(const char *, ...)
	    __attribute__((format(printf, 1, 2)));
int	libbproc_result(struct wire_attr[A_MAX]);
int	libbproc_connect(void);
int	libbproc_master_back(void);
int	libbproc_send(int, const void *, size_t);
int	libbproc_recv(int, unsigned char *, unsigned int, struct wire_hdr *,
	    struct wire_attr[A_MAX]);
int	libbproc_request(int, uint16_t);
int	libbproc_call(const void *, size_t, uint16_t, int *);
/* rexec.c, shared with migrate.c */
struct bproc_exec_opts;
int	libbproc_exec_answer(int, const struct bproc_exec_opts *);
void	libbproc_ghost_exec(int, int, char *const[],
	    const struct bproc_exec_opts *);
/* vmadump.c: bproc_dump through a function instead of a descriptor */
typedef int	libbproc_sink_fn(void *, const void *, size_t);
int	libbproc_dump_sink(libbproc_sink_fn *, void *, int);
int	libbproc_records(uint16_t, uint16_t, size_t, size_t,
	    libbproc_decode_fn *, void **);

#endif
