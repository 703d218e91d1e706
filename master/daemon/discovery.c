/*
 * Discovery: a node is known by its MAC.  The config file names some;
 * with discovery on, an unknown MAC gets the first free node number, and
 * the table of discovered MACs persists in conf.statefile ("MAC NODE" per
 * line) and feeds dnsmasq's hosts file, so its next boot gets the node's
 * fixed address.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "bpmaster.h"
#include "log.h"

/* Discovered MACs persist in conf.statefile: "MAC NODE" per line. */
static void
discovery_load(void)
{
	char		 line[128], macs[32];
	unsigned char	 mac[6];
	FILE		*f;
	int		 num;

	if ((f = fopen(conf.statefile, "re")) == NULL) {
		if (errno != ENOENT)
			log_warn("%s", conf.statefile);
		return;
	}
	while (fgets(line, sizeof(line), f) != NULL) {
		if (sscanf(line, "%31s %d", macs, &num) != 2 ||
		    mac_parse(macs, mac) == -1 || num < 0 ||
		    num >= MASTER_MAXNODES) {
			log_warnx("%s: ignoring bad line", conf.statefile);
			continue;
		}
		if (node_grow(num + 1) == -1)
			continue;
		memcpy(nodes[num].mac, mac, 6);
		nodes[num].has_mac = 1;
	}
	fclose(f);
}

static void
discovery_save(void)
{
	char	 tmp[300], macs[32];
	FILE	*f;
	int	 i;

	snprintf(tmp, sizeof(tmp), "%s.tmp", conf.statefile);
	if ((f = fopen(tmp, "we")) == NULL) {
		log_warn("%s", tmp);
		return;
	}
	for (i = 0; i < numnodes; i++)
		if (nodes[i].has_mac) {
			mac_format(nodes[i].mac, macs, sizeof(macs));
			fprintf(f, "%s %d\n", macs, i);
		}
	if (fflush(f) == EOF || fsync(fileno(f)) == -1) {
		log_warn("%s", tmp);
		fclose(f);
		return;
	}
	fclose(f);
	if (rename(tmp, conf.statefile) == -1)
		log_warn("rename %s", conf.statefile);
}

/* The node of this MAC: known, or the next free one when discovery is on. */
struct node *
discovery_node(const unsigned char *mac)
{
	int	i;

	for (i = 0; i < numnodes; i++)
		if (nodes[i].has_mac && memcmp(nodes[i].mac, mac, 6) == 0)
			return &nodes[i];
	if (!conf.discovery)
		return NULL;
	for (i = 0; i < numnodes; i++)
		if (!nodes[i].has_mac)
			break;
	if (i == numnodes && node_grow(numnodes + 1) == -1)
		return NULL;
	memcpy(nodes[i].mac, mac, 6);
	nodes[i].has_mac = 1;
	log_info("node %d: discovered", i);
	discovery_save();
	/* its next boot gets the node's fixed address */
	dnsmasq_update();
	node_changed();
	return &nodes[i];
}

/* The table at start: the configured nodes, what discovery remembered. */
int
discovery_init(void)
{
	size_t	i;

	if (node_grow(conf.nodes) == -1)
		return -1;
	discovery_load();
	persist_load();
	/* the config file wins over what discovery remembered */
	for (i = 0; i < conf.nmacs; i++) {
		struct node *n = &nodes[conf.macs[i].node];

		memcpy(n->mac, conf.macs[i].mac, 6);
		n->has_mac = 1;
	}
	/* dnsmasq learns the table as it is now, discoveries included */
	dnsmasq_update();
	return 0;
}
