/*
 * The node's network, brought up before the master link dials: the
 * loopback, the NIC once its driver is in (modules.c), its MAC, its
 * address from the command line or DHCP (boot.c), the default route.
 */
#include <fcntl.h>
#include <stdio.h>
#include <unistd.h>

#include "log.h"
#include "nodeinit_int.h"

static int
uplink_read_mac(const char *ifname, unsigned char *hw)
{
	char	path[96], buf[32];
	ssize_t	n;
	int	fd;

	snprintf(path, sizeof(path), "/sys/class/net/%s/address", ifname);
	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) == -1)
		return -1;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n < 17)
		return -1;
	buf[17] = '\0';
	/* "xx:xx:xx:xx:xx:xx" by hand: sscanf would link musl's float scanner */
	for (int i = 0; i < 6; i++) {
		unsigned int	v = 0;

		for (int k = 0; k < 2; k++) {
			char	c = buf[3 * i + k];

			if (c >= '0' && c <= '9')
				v = v * 16 + (unsigned int)(c - '0');
			else if ((c | 0x20) >= 'a' && (c | 0x20) <= 'f')
				v = v * 16 + (unsigned int)((c | 0x20) - 'a' + 10);
			else
				return -1;
		}
		if (i < 5 && buf[3 * i + 2] != ':')
			return -1;
		hw[i] = (unsigned char)v;
	}
	return 0;
}

/*
 * uplink_net_up: lo, then the NIC: its MAC into hw (HELLO names the node
 * by it), its address from the command line or DHCP, the default route.
 * Returns 0 once the NIC has its address, -1 (logged) if not.
 */
int
uplink_net_up(unsigned char *hw)
{
	int	plen;

	if (nl_link_up("lo") == -1)
		log_warn("lo up");
	if (nl_addr_add("lo", "127.0.0.1", 8) == -1)
		log_warn("lo address");
	if (!ncf.virt)
		modules_wait_iface(ncf.iface);
	if (uplink_read_mac(ncf.iface, hw) == -1)
		log_warnx("%s: no MAC address (is the NIC driver loaded?)",
		    ncf.iface);
	if (nl_link_up(ncf.iface) == -1) {
		log_warn("%s up", ncf.iface);
		return -1;
	}
	if (ncf.ip[0] == '\0') {
		/* a virtual node's address comes on its command line */
		if (ncf.virt) {
			log_warnx("no ip= on the command line");
			return -1;
		}
		if (boot_dhcp() == -1)
			return -1;
	}
	if ((plen = nl_mask_len(ncf.netmask)) == -1) {
		log_warnx("bad netmask %s", ncf.netmask);
		return -1;
	}
	if (nl_addr_add(ncf.iface, ncf.ip, plen) == -1) {
		log_warn("%s address %s/%d", ncf.iface, ncf.ip, plen);
		return -1;
	}
	if (ncf.gw[0] != '\0' && nl_route_default(ncf.gw) == -1)
		log_warn("default route via %s", ncf.gw);
	log_info("%s %s/%d up", ncf.iface, ncf.ip, plen);
	return 0;
}
