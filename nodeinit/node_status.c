/*
 * What the node reports in each MSG_STATUS: its boot stage, load, memory,
 * uptime, CPUs, processes and the bytes its RAM cache holds (cache.c).
 * uplink.c sends it every heartbeat.
 */
#include <dirent.h>
#include <sys/sysinfo.h>
#include <unistd.h>

#include "nodeinit_int.h"

static unsigned int
status_count_procs(void)
{
	struct dirent	*de;
	DIR		*d;
	unsigned int	 n = 0;

	if ((d = opendir("/proc")) == NULL)
		return 0;
	while ((de = readdir(d)) != NULL)
		if (de->d_name[0] >= '1' && de->d_name[0] <= '9')
			n++;
	closedir(d);
	return n;
}

/* node_status_fill: the status attributes into m; began_ms is when nodeinit began. */
void
node_status_fill(struct wire_msg *m, uint64_t began_ms)
{
	struct sysinfo	si;

	wire_put_u8(m, A_STAGE, (uint8_t)node_stage);
	if (sysinfo(&si) == 0) {
		/* sysinfo loads are fixed point with 16 fractional bits */
		wire_put_u32(m, A_LOAD1, (uint32_t)(si.loads[0] * 100 >> 16));
		wire_put_u32(m, A_LOAD5, (uint32_t)(si.loads[1] * 100 >> 16));
		wire_put_u32(m, A_LOAD15, (uint32_t)(si.loads[2] * 100 >> 16));
		wire_put_u64(m, A_MEM_TOTAL, (uint64_t)si.totalram * si.mem_unit);
		wire_put_u64(m, A_MEM_FREE, (uint64_t)(si.freeram +
		    si.bufferram) * si.mem_unit);
		/* a virtual node's machine booted long before it did */
		wire_put_u64(m, A_UPTIME, ncf.virt ?
		    (now_ms() - began_ms) / 1000 : (uint64_t)si.uptime);
	}
	wire_put_u32(m, A_CPUS, (uint32_t)sysconf(_SC_NPROCESSORS_ONLN));
	wire_put_u32(m, A_NPROCS, status_count_procs());
	wire_put_u64(m, A_CACHE_BYTES, cache_bytes);
}
