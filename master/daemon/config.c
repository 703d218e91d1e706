/*
 * bpmaster's configuration file: one directive per line, '#' comments.
 * See docs/bpmaster.conf.md for the directives.
 */
#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bpmaster.h"
#include "log.h"

/* The daemon's configuration and the cluster key, read once at start. */
struct master_conf	conf;
unsigned char		cluster_key[AUTH_KEY_LEN];

static int	conf_boot(struct master_conf *, char **, int);
static int	conf_bmc(struct master_conf *, char **, int);

int
mac_parse(const char *s, unsigned char *mac)
{
	unsigned int	b[6];
	char		tail;

	if (strlen(s) != 17 || sscanf(s, "%2x:%2x:%2x:%2x:%2x:%2x%c", &b[0],
	    &b[1], &b[2], &b[3], &b[4], &b[5], &tail) != 6)
		return -1;
	for (int i = 0; i < 6; i++)
		mac[i] = (unsigned char)b[i];
	return 0;
}

void
mac_format(const unsigned char *mac, char *buf, size_t len)
{
	snprintf(buf, len, "%02x:%02x:%02x:%02x:%02x:%02x", mac[0], mac[1],
	    mac[2], mac[3], mac[4], mac[5]);
}

static int
conf_number(const char *s, long lo, long hi, long *out)
{
	char	*end;
	long	 v;

	if (s == NULL || !isdigit((unsigned char)*s))
		return -1;
	errno = 0;
	v = strtol(s, &end, 10);
	if (errno || *end != '\0' || v < lo || v > hi)
		return -1;
	*out = v;
	return 0;
}

static int
conf_copy(char *dst, size_t len, const char *src)
{
	if (src == NULL || strlen(src) >= len)
		return -1;
	strcpy(dst, src);
	return 0;
}

/*
 * The node RAM cache's directives (docs/push.md): "cache_budget SIZE" with
 * SIZE N% of a node's RAM or N bytes with an optional K, M or G (powers of
 * 1024), and "push PATH" (repeatable), files and trees every node gets at
 * setup.  Returns 1 for a line of ours, 0 for another's, -1 when it is bad.
 */
static int
conf_cache(struct master_conf *c, char **w, int nw)
{
	unsigned long long	 v;
	char			*end, **np;

	if (strcmp(w[0], "cache_budget") == 0 && nw == 2) {
		if (!isdigit((unsigned char)w[1][0]))
			return -1;
		errno = 0;
		v = strtoull(w[1], &end, 10);
		if (errno)
			return -1;
		c->cache_budget = 0;
		c->cache_share = 0;
		if (strcmp(end, "%") == 0) {
			if (v < 1 || v > 100)
				return -1;
			c->cache_share = (unsigned int)v;
			return 1;
		}
		if (strcmp(end, "K") == 0 || strcmp(end, "k") == 0)
			v = v > (~0ULL >> 10) ? 0 : v << 10;
		else if (strcmp(end, "M") == 0 || strcmp(end, "m") == 0)
			v = v > (~0ULL >> 20) ? 0 : v << 20;
		else if (strcmp(end, "G") == 0 || strcmp(end, "g") == 0)
			v = v > (~0ULL >> 30) ? 0 : v << 30;
		else if (*end != '\0')
			return -1;
		if (v == 0)
			return -1;
		c->cache_budget = v;
		return 1;
	}
	if (strcmp(w[0], "push") == 0 && nw == 2) {
		/* the node takes absolute paths only */
		if (w[1][0] != '/' || strlen(w[1]) >= 4096)
			return -1;
		if ((np = reallocarray(c->push, c->npush + 1,
		    sizeof(*np))) == NULL || (np[c->npush] = strdup(w[1])) == NULL)
			fatal("config");
		c->push = np;
		c->npush++;
		return 1;
	}
	return 0;
}

static void
conf_defaults(struct master_conf *c)
{
	memset(c, 0, sizeof(*c));
	strcpy(c->listen_addr, "0.0.0.0");
	c->listen_port = BPROC_PORT;
	strcpy(c->control, BPROC_CTL_PATH);
	strcpy(c->keyfile, MASTER_KEYFILE);
	strcpy(c->statefile, MASTER_STATEFILE);
	strcpy(c->hosts, "/etc/hosts");
	c->heartbeat_ms = 1000;
	c->timeout_ms = 3000;
	c->grace_ms = MASTER_GRACE_MS;
	c->fanout = MASTER_FANOUT;
	c->bmc_cipher = -1;
	c->bmc_timeout_s = BMC_TIMEOUT_S;
	c->bmc_poll_s = BMC_POLL_S;
	strcpy(c->bmc_ipmitool, "ipmitool");
}

/*
 * Where the master listens and keeps its files: 1 when the line was one
 * of them, 0 when it was not, -1 on a bad value (as conf_boot).
 */
static int
conf_paths(struct master_conf *c, char **w, int nw)
{
	long	v;

	if (strcmp(w[0], "listen") == 0 && (nw == 2 || nw == 3)) {
		if (conf_copy(c->listen_addr, sizeof(c->listen_addr),
		    w[1]) == -1)
			return -1;
		if (nw == 3) {
			if (conf_number(w[2], 1, 65535, &v) == -1)
				return -1;
			c->listen_port = (int)v;
		}
	} else if (strcmp(w[0], "interface") == 0 && nw == 2) {
		if (conf_copy(c->interface, sizeof(c->interface),
		    w[1]) == -1)
			return -1;
	} else if (strcmp(w[0], "control") == 0 && nw == 2) {
		if (conf_copy(c->control, sizeof(c->control), w[1]) == -1)
			return -1;
	} else if (strcmp(w[0], "keyfile") == 0 && nw == 2) {
		if (conf_copy(c->keyfile, sizeof(c->keyfile), w[1]) == -1)
			return -1;
	} else if (strcmp(w[0], "statefile") == 0 && nw == 2) {
		if (conf_copy(c->statefile, sizeof(c->statefile),
		    w[1]) == -1)
			return -1;
	} else
		return 0;
	return 1;
}

/* The node table: its size, fixed MACs, discovery (1, 0, -1 as above). */
static int
conf_nodes(struct master_conf *c, char **w, int nw)
{
	long	v;

	if (strcmp(w[0], "nodes") == 0 && nw == 2) {
		if (conf_number(w[1], 0, MASTER_MAXNODES, &v) == -1)
			return -1;
		c->nodes = (int)v;
	} else if (strcmp(w[0], "node") == 0 && nw == 3) {
		struct mac_entry	*nm;

		if (conf_number(w[1], 0, MASTER_MAXNODES - 1, &v) == -1)
			return -1;
		if ((nm = reallocarray(c->macs, c->nmacs + 1,
		    sizeof(*nm))) == NULL)
			fatal("config");
		c->macs = nm;
		if (mac_parse(w[2], nm[c->nmacs].mac) == -1)
			return -1;
		nm[c->nmacs++].node = (int)v;
		if (v >= c->nodes)
			c->nodes = (int)v + 1;
	} else if (strcmp(w[0], "discovery") == 0 && nw == 2) {
		if (strcmp(w[1], "on") == 0)
			c->discovery = 1;
		else if (strcmp(w[1], "off") == 0)
			c->discovery = 0;
		else
			return -1;
	} else
		return 0;
	return 1;
}

/* Heartbeat, timeouts, grace and the relay fan-out (1, 0, -1 as above). */
static int
conf_timing(struct master_conf *c, char **w, int nw)
{
	long	v;

	if (strcmp(w[0], "heartbeat") == 0 && nw == 2) {
		if (conf_number(w[1], 50, 600000, &v) == -1)
			return -1;
		c->heartbeat_ms = (unsigned int)v;
	} else if (strcmp(w[0], "master_grace") == 0 && nw == 2) {
		/* seconds; 0: a master restart ends every process */
		if (conf_number(w[1], 0, 86400, &v) == -1)
			return -1;
		c->grace_ms = (unsigned int)v * 1000;
	} else if (strcmp(w[0], "node_alone_reboot") == 0 && nw == 2) {
		if (conf_number(w[1], 0, 86400, &v) == -1)
			return -1;
		c->alone_reboot_ms = (unsigned int)v * 1000;
	} else if (strcmp(w[0], "fanout") == 0 && nw == 2) {
		/* 0: every node's blobs from its tool, no relay tree */
		if (conf_number(w[1], 0, MASTER_FANOUT_MAX, &v) == -1)
			return -1;
		c->fanout = (unsigned int)v;
	} else if (strcmp(w[0], "timeout") == 0 && nw == 2) {
		if (conf_number(w[1], 100, 3600000, &v) == -1)
			return -1;
		c->timeout_ms = (unsigned int)v;
	} else
		return 0;
	return 1;
}

/* One line's words: 0 when they are a directive we know, else -1. */
static int
conf_line(struct master_conf *c, char **w, int nw)
{
	int	r;

	if ((r = conf_paths(c, w, nw)) != 0 ||
	    (r = conf_nodes(c, w, nw)) != 0 ||
	    (r = conf_boot(c, w, nw)) != 0 ||
	    (r = conf_bmc(c, w, nw)) != 0 ||
	    (r = conf_timing(c, w, nw)) != 0)
		return r == -1 ? -1 : 0;
	return conf_cache(c, w, nw) == 1 ? 0 : -1;
}

/* What no single line can say is wrong: the file as a whole. */
static int
conf_check(const char *path, const struct master_conf *c)
{
	if (c->timeout_ms <= c->heartbeat_ms) {
		log_warnx("%s: timeout must be longer than heartbeat", path);
		return -1;
	}
	for (size_t i = 0; i < c->nbmcs; i++)
		if (c->bmcs[i].passfile[0] == '\0' && c->bmc_passfile[0] == '\0') {
			log_warnx("%s: node %d has a bmc line but no password "
			    "file (bmc_passfile PATH)", path, c->bmcs[i].node);
			return -1;
		}
	return 0;
}

int
conf_load(const char *path, struct master_conf *c)
{
	char	 line[512], *w[4], *p, *save;
	FILE	*f;
	int	 lineno = 0, nw;

	conf_defaults(c);
	if ((f = fopen(path, "re")) == NULL) {
		log_warn("%s", path);
		return -1;
	}
	while (fgets(line, sizeof(line), f) != NULL) {
		lineno++;
		if (strchr(line, '\n') == NULL && !feof(f)) {
			log_warnx("%s:%d: line too long", path, lineno);
			fclose(f);
			return -1;
		}
		if ((p = strchr(line, '#')) != NULL)
			*p = '\0';
		nw = 0;
		for (p = strtok_r(line, " \t\r\n", &save); p != NULL && nw < 4;
		    p = strtok_r(NULL, " \t\r\n", &save))
			w[nw++] = p;
		if (nw == 0)
			continue;
		if (p != NULL || conf_line(c, w, nw) == -1) {
			log_warnx("%s:%d: syntax error near '%s'", path, lineno,
			    w[0]);
			fclose(f);
			return -1;
		}
	}
	fclose(f);
	return conf_check(path, c);
}

/*
 * Network boot directives (docs/netboot.md): where dnsmasq's hosts file
 * is, whom to SIGHUP after rewriting it, and each node's address and boot
 * loader.  Returns 1 when the line was one of them, 0 when it was not, -1
 * on a bad value.
 */
static struct boot_host *
conf_boot_host(struct master_conf *c, int node)
{
	struct boot_host	*bh;
	size_t			 i;

	for (i = 0; i < c->nboot_hosts; i++)
		if (c->boot_hosts[i].node == node)
			return &c->boot_hosts[i];
	if ((bh = reallocarray(c->boot_hosts, c->nboot_hosts + 1,
	    sizeof(*bh))) == NULL)
		fatal("config");
	c->boot_hosts = bh;
	bh += c->nboot_hosts++;
	memset(bh, 0, sizeof(*bh));
	bh->node = node;
	return bh;
}

static int
conf_ipv4(const char *s, uint32_t *out)
{
	struct in_addr	a;

	if (inet_pton(AF_INET, s, &a) != 1 || a.s_addr == 0)
		return -1;
	*out = ntohl(a.s_addr);
	return 0;
}

static int
conf_boot(struct master_conf *c, char **w, int nw)
{
	long	v;

	if (strcmp(w[0], "hosts") == 0 && nw == 2)
		return conf_copy(c->hosts, sizeof(c->hosts),
		    strcmp(w[1], "none") == 0 ? "" : w[1]) == -1 ? -1 : 1;
	if (strcmp(w[0], "dhcp_hosts") == 0 && nw == 2)
		return conf_copy(c->dhcp_hosts, sizeof(c->dhcp_hosts), w[1]) ==
		    -1 ? -1 : 1;
	if (strcmp(w[0], "dnsmasq_pidfile") == 0 && nw == 2)
		return conf_copy(c->dnsmasq_pidfile,
		    sizeof(c->dnsmasq_pidfile), w[1]) == -1 ? -1 : 1;
	if (strcmp(w[0], "boot_addr") == 0 && nw == 2)
		return conf_ipv4(w[1], &c->boot_base) == -1 ? -1 : 1;
	if (strcmp(w[0], "boot_addr") == 0 && nw == 3) {
		uint32_t	a;

		if (conf_number(w[1], 0, MASTER_MAXNODES - 1, &v) == -1 ||
		    conf_ipv4(w[2], &a) == -1)
			return -1;
		conf_boot_host(c, (int)v)->addr = a;
		return 1;
	}
	if (strcmp(w[0], "boot_pxelinux") == 0 && nw == 2) {
		if (conf_number(w[1], 0, MASTER_MAXNODES - 1, &v) == -1)
			return -1;
		conf_boot_host(c, (int)v)->pxelinux = 1;
		return 1;
	}
	return 0;
}

/*
 * Out-of-band power directives (docs/bpmaster.md, docs/netboot.md):
 * "bmc N HOST[:PORT] USER" for node N's BMC, "bmc_passfile [N] PATH" for
 * the file holding the password (never the password itself: the
 * configuration is world-readable, the file root-only), and the tunables
 * bmc_cipher, bmc_timeout, bmc_poll, bmc_hung and bmc_ipmitool.  Returns
 * 1 for a line of ours, 0 for another's, -1 when it is bad.
 */
static struct bmc_host *
conf_bmc_host(struct master_conf *c, int node)
{
	struct bmc_host	*bh;
	size_t		 i;

	for (i = 0; i < c->nbmcs; i++)
		if (c->bmcs[i].node == node)
			return &c->bmcs[i];
	if ((bh = reallocarray(c->bmcs, c->nbmcs + 1, sizeof(*bh))) == NULL)
		fatal("config");
	c->bmcs = bh;
	bh += c->nbmcs++;
	memset(bh, 0, sizeof(*bh));
	bh->node = node;
	return bh;
}

static int
conf_bmc(struct master_conf *c, char **w, int nw)
{
	struct bmc_host	*bh;
	char		 host[64], *colon;
	long		 v;

	if (strcmp(w[0], "bmc") == 0 && nw == 4) {
		if (conf_number(w[1], 0, MASTER_MAXNODES - 1, &v) == -1 ||
		    conf_copy(host, sizeof(host), w[2]) == -1 || host[0] == '-' ||
		    w[3][0] == '-')
			return -1;
		bh = conf_bmc_host(c, (int)v);
		if ((colon = strchr(host, ':')) != NULL) {
			long	port;

			*colon = '\0';
			if (conf_number(colon + 1, 1, 65535, &port) == -1)
				return -1;
			snprintf(bh->port, sizeof(bh->port), "%ld", port);
		}
		if (host[0] == '\0' || conf_copy(bh->host, sizeof(bh->host),
		    host) == -1 || conf_copy(bh->user, sizeof(bh->user),
		    w[3]) == -1)
			return -1;
		if (v >= c->nodes)
			c->nodes = (int)v + 1;
		return 1;
	}
	if (strcmp(w[0], "bmc_passfile") == 0 && nw == 2)
		return w[1][0] != '/' || conf_copy(c->bmc_passfile,
		    sizeof(c->bmc_passfile), w[1]) == -1 ? -1 : 1;
	if (strcmp(w[0], "bmc_passfile") == 0 && nw == 3) {
		if (conf_number(w[1], 0, MASTER_MAXNODES - 1, &v) == -1 ||
		    w[2][0] != '/')
			return -1;
		return conf_copy(conf_bmc_host(c, (int)v)->passfile,
		    sizeof(bh->passfile), w[2]) == -1 ? -1 : 1;
	}
	if (strcmp(w[0], "bmc_cipher") == 0 && nw == 2) {
		if (conf_number(w[1], 0, 17, &v) == -1)
			return -1;
		c->bmc_cipher = (int)v;
		return 1;
	}
	if (strcmp(w[0], "bmc_timeout") == 0 && nw == 2) {
		/* a tool waits for the answer on a socket idle-closed at 10 s */
		if (conf_number(w[1], 1, MASTER_CTL_IDLE_MS / 1000 - 1, &v) == -1)
			return -1;
		c->bmc_timeout_s = (unsigned int)v;
		return 1;
	}
	if (strcmp(w[0], "bmc_poll") == 0 && nw == 2) {
		if (conf_number(w[1], 0, 86400, &v) == -1)
			return -1;
		c->bmc_poll_s = (unsigned int)v;
		return 1;
	}
	if (strcmp(w[0], "bmc_hung") == 0 && nw == 2) {
		if (conf_number(w[1], 0, 86400, &v) == -1)
			return -1;
		c->bmc_hung_s = (unsigned int)v;
		return 1;
	}
	if (strcmp(w[0], "bmc_ipmitool") == 0 && nw == 2)
		return conf_copy(c->bmc_ipmitool, sizeof(c->bmc_ipmitool),
		    w[1]) == -1 ? -1 : 1;
	return 0;
}
