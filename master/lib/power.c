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
	unsigned char		 req[64];
	struct wire_msg		 m;
	int			 power = BPROC_PWR_UNKNOWN;

	libbproc_errclear();
	if (node < 0) {
		errno = ENODEV;
		return -1;
	}
	wire_msg_init(&m, req, sizeof(req), MSG_CTL_POWER, 0, 1);
	wire_put_u32(&m, A_NODE, (uint32_t)node);
	wire_put_u8(&m, A_BMC_OP, (uint8_t)op);
	if (libbproc_call(req, wire_msg_finish(&m), A_POWER, &power) == -1)
		return -1;
	return power;
}
