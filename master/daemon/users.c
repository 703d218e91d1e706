/*
 * The front end's users and groups on every node: /etc/passwd and
 * /etc/group, each line without its password field, in one MSG_USERS
 * sent when a node connects (before its setup) and again to every
 * connected node whenever either file changes, so that `bpsh 0 id` or
 * `ls -l` on a node shows names.  Only the files are read: users an NSS
 * module (LDAP, sssd) serves are not enumerated.
 *
 * The same message carries the nodes' /etc/hosts: the lines of the file
 * bpmaster.conf's `hosts` names (the front end's /etc/hosts unless it
 * says otherwise), so that a node finds the front end and the other nodes
 * by name, as MPI launchers need (docs/mpi.md).
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "bpmaster.h"
#include "log.h"

#define USERS_CHECK_MS	2000		/* how often the files' state is checked */
#define USERS_LINE_MAX	4096		/* longer lines are skipped */

#define USERS_NFILES	3		/* passwd, group, hosts */

static const char	*users_files[USERS_NFILES] = { "/etc/passwd",
			    "/etc/group", NULL };
static const uint16_t	 users_attr[USERS_NFILES] = { A_PWENT, A_GRENT,
			    A_HOSTENT };
static const int	 users_fields[USERS_NFILES] = { 7, 4, 0 };

static unsigned char	 users_buf[WIRE_MAX_FRAME];
static struct wire_msg	 users_msg;
static int		 users_ready;
static struct stat	 users_st[USERS_NFILES];
static struct ev_timer	 users_timer;

/*
 * One line in node form: the password field becomes "x".  Comments,
 * blank lines and lines without the file's field count are left out; a
 * hosts line (fields 0) goes as it is.
 */
static int
users_clean(char *line, int fields, char *out, size_t outlen)
{
	char	*colon;
	int	 n = 1;

	line[strcspn(line, "\r\n")] = '\0';
	if (line[0] == '\0' || line[0] == '#')
		return -1;
	if (fields == 0)
		return (size_t)snprintf(out, outlen, "%s", line) >= outlen ?
		    -1 : 0;
	for (colon = line; (colon = strchr(colon, ':')) != NULL; colon++)
		n++;
	if (n != fields || (colon = strchr(line, ':')) == NULL)
		return -1;
	*colon = '\0';
	if (line[0] == '\0')
		return -1;
	/* name, then ":x", then everything after the password field */
	if ((size_t)snprintf(out, outlen, "%s:x%s", line,
	    strchr(colon + 1, ':')) >= outlen)
		return -1;
	return 0;
}

/* Build MSG_USERS from the files as they are now. */
static void
users_load(void)
{
	char	 line[USERS_LINE_MAX + 2], out[USERS_LINE_MAX + 2];
	FILE	*f;
	size_t	 need;
	int	 i, lines = 0, cut = 0;

	wire_msg_init(&users_msg, users_buf, sizeof(users_buf) - 4096,
	    MSG_USERS, 0, 0);
	users_files[2] = conf.hosts[0] ? conf.hosts : NULL;
	for (i = 0; i < USERS_NFILES; i++) {
		if (users_files[i] == NULL)
			continue;
		if (stat(users_files[i], &users_st[i]) == -1)
			memset(&users_st[i], 0, sizeof(users_st[i]));
		if ((f = fopen(users_files[i], "re")) == NULL) {
			log_warn("users: %s", users_files[i]);
			continue;
		}
		while (fgets(line, sizeof(line), f) != NULL) {
			if (strchr(line, '\n') == NULL && !feof(f)) {
				/* a line too long for us: skip the rest of it */
				int	c;

				while ((c = fgetc(f)) != EOF && c != '\n')
					;
				continue;
			}
			if (users_clean(line, users_fields[i], out,
			    sizeof(out)) == -1)
				continue;
			need = WIRE_ALIGN(WIRE_ATTR_HDR + strlen(out) + 1);
			if (users_msg.len + need > users_msg.cap) {
				cut++;
				continue;
			}
			wire_put_str(&users_msg, users_attr[i], out);
			lines++;
		}
		fclose(f);
	}
	if (cut)
		log_warnx("users: %d lines of /etc/passwd, /etc/group and "
		    "hosts do not fit one frame; nodes get the first %d", cut,
		    lines);
	users_ready = 1;
}

/* Tell node n who the users and groups are. */
int
users_send(struct node *n)
{
	if (!users_ready)
		users_load();
	return node_send(n, &users_msg);
}

/* What changed: 1 passwd or group, 2 the hosts file (both: 3). */
static int
users_changed(void)
{
	struct stat	st;
	int		i, what = 0;

	for (i = 0; i < USERS_NFILES; i++) {
		if (users_files[i] == NULL)
			continue;
		if (stat(users_files[i], &st) == -1)
			memset(&st, 0, sizeof(st));
		if (st.st_ino != users_st[i].st_ino ||
		    st.st_size != users_st[i].st_size ||
		    st.st_mtim.tv_sec != users_st[i].st_mtim.tv_sec ||
		    st.st_mtim.tv_nsec != users_st[i].st_mtim.tv_nsec)
			what |= i == 2 ? 2 : 1;
	}
	return what;
}

static void
users_tick(void *arg)
{
	int	i, sent = 0, what;

	(void)arg;
	if (users_ready && (what = users_changed()) != 0) {
		users_load();
		for (i = 0; i < numnodes; i++)
			if (nodes[i].link != NULL && users_send(&nodes[i]) == 0)
				sent++;
		log_info("users: %s changed; sent to %d nodes", what == 2 ?
		    conf.hosts : what == 1 ? "/etc/passwd or /etc/group" :
		    "/etc/passwd, /etc/group and hosts", sent);
	}
	ev_timer_set(&users_timer, USERS_CHECK_MS, users_tick, NULL);
}

void
users_init(void)
{
	users_load();
	ev_timer_set(&users_timer, USERS_CHECK_MS, users_tick, NULL);
}
