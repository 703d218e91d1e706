/*
 * A small rtnetlink client in libmnl's style: build a request in a
 * buffer with checked attribute putters, send it, read the ACK.  libmnl
 * itself is only shipped for glibc, and this is static musl PID 1.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <net/if.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <linux/netlink.h>
#include <linux/rtnetlink.h>

#include "log.h"
#include "nodeinit_int.h"

#define NL_BUF	1024	/* one request or ACK */

struct nl_req {
	unsigned char	buf[NL_BUF] __attribute__((aligned(NLMSG_ALIGNTO)));
	struct nlmsghdr	*nlh;
	int		 overflow;
};

static void *
nl_put_header(struct nl_req *r, uint16_t type, uint16_t flags, size_t extra)
{
	memset(r->buf, 0, sizeof(r->buf));
	r->overflow = 0;
	r->nlh = (struct nlmsghdr *)r->buf;
	r->nlh->nlmsg_len = NLMSG_LENGTH(extra);
	r->nlh->nlmsg_type = type;
	r->nlh->nlmsg_flags = NLM_F_REQUEST | NLM_F_ACK | flags;
	r->nlh->nlmsg_seq = 1;
	return NLMSG_DATA(r->nlh);
}

static void
nl_attr_put(struct nl_req *r, uint16_t type, const void *data, size_t len)
{
	struct rtattr	*rta;
	size_t		 at = NLMSG_ALIGN(r->nlh->nlmsg_len);

	if (r->overflow || at + RTA_SPACE(len) > sizeof(r->buf)) {
		r->overflow = 1;
		return;
	}
	rta = (struct rtattr *)(r->buf + at);
	rta->rta_type = type;
	rta->rta_len = (unsigned short)RTA_LENGTH(len);
	memcpy(RTA_DATA(rta), data, len);
	r->nlh->nlmsg_len = (uint32_t)(at + RTA_SPACE(len));
}

/* Send the request and wait for its ACK; returns 0 or -1 with errno. */
static int
nl_talk(struct nl_req *r)
{
	unsigned char		 ack[NL_BUF] __attribute__((aligned(NLMSG_ALIGNTO)));
	struct sockaddr_nl	 sa;
	struct nlmsghdr		*h;
	struct nlmsgerr		*e;
	ssize_t			 n;
	int			 fd, ret = -1;

	if (r->overflow) {
		errno = EMSGSIZE;
		return -1;
	}
	if ((fd = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC,
	    NETLINK_ROUTE)) == -1)
		return -1;
	memset(&sa, 0, sizeof(sa));
	sa.nl_family = AF_NETLINK;
	if (sendto(fd, r->buf, r->nlh->nlmsg_len, 0, (struct sockaddr *)&sa,
	    sizeof(sa)) == -1)
		goto out;
	if ((n = recv(fd, ack, sizeof(ack), 0)) == -1)
		goto out;
	h = (struct nlmsghdr *)ack;
	if (!NLMSG_OK(h, (size_t)n) || h->nlmsg_type != NLMSG_ERROR ||
	    h->nlmsg_len < NLMSG_LENGTH(sizeof(*e))) {
		errno = EPROTO;
		goto out;
	}
	e = NLMSG_DATA(h);
	if (e->error != 0) {
		errno = -e->error;
		goto out;
	}
	ret = 0;
out:
	{
		int saved = errno;

		close(fd);
		errno = saved;
	}
	return ret;
}

int
nl_link_up(const char *ifname)
{
	struct nl_req		 r;
	struct ifinfomsg	*ifi;
	unsigned int		 idx;

	if ((idx = if_nametoindex(ifname)) == 0)
		return -1;
	ifi = nl_put_header(&r, RTM_NEWLINK, 0, sizeof(*ifi));
	ifi->ifi_family = AF_UNSPEC;
	ifi->ifi_index = (int)idx;
	ifi->ifi_flags = IFF_UP;
	ifi->ifi_change = IFF_UP;
	return nl_talk(&r);
}

/* Prefix length of a dotted netmask; -1 if it is not contiguous. */
int
nl_mask_len(const char *mask)
{
	struct in_addr	a;
	uint32_t	m;
	int		n = 0;

	if (mask == NULL || *mask == '\0')
		return 24;
	if (inet_pton(AF_INET, mask, &a) != 1)
		return -1;
	for (m = ntohl(a.s_addr); m & 0x80000000u; m <<= 1)
		n++;
	return m == 0 ? n : -1;		/* contiguous masks only */
}

int
nl_addr_add(const char *ifname, const char *addr, int plen)
{
	struct nl_req		 r;
	struct ifaddrmsg	*ifa;
	struct in_addr		 a;
	unsigned int		 idx;

	if ((idx = if_nametoindex(ifname)) == 0)
		return -1;
	if (inet_pton(AF_INET, addr, &a) != 1 || plen < 0 || plen > 32) {
		errno = EINVAL;
		return -1;
	}
	ifa = nl_put_header(&r, RTM_NEWADDR, NLM_F_CREATE | NLM_F_REPLACE,
	    sizeof(*ifa));
	ifa->ifa_family = AF_INET;
	ifa->ifa_prefixlen = (unsigned char)plen;
	ifa->ifa_index = idx;
	nl_attr_put(&r, IFA_LOCAL, &a, sizeof(a));
	nl_attr_put(&r, IFA_ADDRESS, &a, sizeof(a));
	return nl_talk(&r);
}

int
nl_route_default(const char *gw)
{
	struct nl_req	 r;
	struct rtmsg	*rtm;
	struct in_addr	 a;

	if (inet_pton(AF_INET, gw, &a) != 1) {
		errno = EINVAL;
		return -1;
	}
	rtm = nl_put_header(&r, RTM_NEWROUTE, NLM_F_CREATE | NLM_F_REPLACE,
	    sizeof(*rtm));
	rtm->rtm_family = AF_INET;
	rtm->rtm_table = RT_TABLE_MAIN;
	rtm->rtm_protocol = RTPROT_BOOT;
	rtm->rtm_scope = RT_SCOPE_UNIVERSE;
	rtm->rtm_type = RTN_UNICAST;
	nl_attr_put(&r, RTA_GATEWAY, &a, sizeof(a));
	return nl_talk(&r);
}
