/*
 * libbproc: out-of-band power.  bproc_nodepower() asks bpmaster to drive
 * the node's BMC (CTL_POWER); the master answers with a CTL_RESULT once
 * ipmitool has, carrying the chassis power state it reported.
 */
#include <errno.h>
#include <stdlib.h>
#include <unistd.h>

#include "bproc.h"
#include "libbproc_int.h"

/* bproc.h's values go on the wire as they are */
_Static_assert(BPROC_BMC_STATUS == BMC_OP_STATUS &&
    BPROC_BMC_ON == BMC_OP_ON && BPROC_BMC_OFF == BMC_OP_OFF &&
    BPROC_BMC_CYCLE == BMC_OP_CYCLE && BPROC_BMC_RESET == BMC_OP_RESET &&
    BPROC_PWR_NONE == BMC_POWER_NONE && BPROC_PWR_UNKNOWN == BMC_POWER_UNKNOWN &&
    BPROC_PWR_ON == BMC_POWER_ON && BPROC_PWR_OFF == BMC_POWER_OFF,
    "BPROC_BMC_*/BPROC_PWR_* and BMC_* differ");

int
bproc_nodepower(int node, int op)
{
	unsigned char		 req[64], *buf;
	struct wire_msg		 m;
	struct wire_hdr		 h;
	struct wire_attr	 tb[A_MAX];
	size_t			 len;
	int			 fd, ret = -1;

	libbproc_errclear();
	if (node < 0) {
		errno = ENODEV;
		return -1;
	}
	if ((fd = libbproc_connect()) == -1)
		return -1;
	if ((buf = malloc(WIRE_MAX_FRAME)) == NULL)
		goto out;
	wire_msg_init(&m, req, sizeof(req), MSG_CTL_POWER, 0, 1);
	wire_put_u32(&m, A_NODE, (uint32_t)node);
	wire_put_u8(&m, A_BMC_OP, (uint8_t)op);
	len = wire_msg_finish(&m);
	if (libbproc_send(fd, req, len) == -1 ||
	    libbproc_recv(fd, buf, LIBBPROC_WAIT_RESULT, &h, tb) == -1)
		goto out;
	if (libbproc_result(tb) == -1)
		goto out;
	ret = tb[A_POWER].data ? wire_get_u8(&tb[A_POWER]) : BPROC_PWR_UNKNOWN;
out:
	free(buf);
	close(fd);
	return ret;
}
