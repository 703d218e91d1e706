/*
 * libbproc, BProc 4 layer: BProc's errno values and bproc_strerror(int).
 * bproc-ng's calls fail with ENODEV and EHOSTDOWN where BProc said
 * BE_INVALIDNODE and BE_NODEDOWN; the layer hands BProc programs BProc's
 * codes.  When the last failure here left words (the master's, or why a
 * call has no meaning in bproc-ng), bproc_strerror() of that same code
 * gives them; other codes get strerror(3)'s text.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include <sys/bproc.h>
#include "bproc4_int.h"

static char	bproc4_msg[256];
static int	bproc4_msg_code;

const char *
bproc_strerror(int err)
{
	if (err < 0)
		err = -err;
	switch (err) {
	case BE_INVALIDNODE:
		return "Invalid node number";
	case BE_NODEDOWN:
		return "Node is down";
	case BE_SAMENODE:
		return "Move to same node";
	case BE_SLAVEDIED:
		return "Slave node died";
	case BE_INVALIDPROC:
		return "Invalid process ID";
	}
	if (err != 0 && err == bproc4_msg_code && bproc4_msg[0] != '\0')
		return bproc4_msg;
	return strerror(err);
}

int
bproc4_fail(int e, const char *fmt, ...)
{
	va_list	ap;

	va_start(ap, fmt);
	vsnprintf(bproc4_msg, sizeof(bproc4_msg), fmt, ap);
	va_end(ap);
	bproc4_msg_code = e;
	errno = e;
	return -1;
}

/* After a bproc-ng call failed: BProc's code for its errno, its words kept. */
int
bproc4_native_fail(void)
{
	int	e = errno;

	if (e == ENODEV)
		e = BE_INVALIDNODE;
	else if (e == EHOSTDOWN)
		e = BE_NODEDOWN;
	return bproc4_fail(e, "%s", ng_strerror());
}

/* BPROC_NODE_SELF is wherever the caller runs. */
int
bproc4_node_arg(int node)
{
	return node == BPROC_NODE_SELF ? bproc_currnode() : node;
}
