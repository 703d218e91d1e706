/*
 * The node's user database: /etc/passwd, /etc/group and /etc/hosts as
 * the master sends them (MSG_USERS, through uplink.c).
 */
#include <fcntl.h>
#include <stdio.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <unistd.h>

#include "log.h"
#include "nodeinit_int.h"

/*
 * The master's users and groups (MSG_USERS): /etc/passwd, /etc/group and
 * /etc/hosts replaced whole, atomically, so names resolve on the node.
 * The lines carry no password hashes; the master made them from its own
 * files (the hosts lines from bpmaster.conf's `hosts`).
 */
void
userdb_replace(const struct proto_frame *f)
{
	static const char *const path[3] = { "/etc/passwd", "/etc/group",
	    "/etc/hosts" };
	static const char *const tmp[3] = { "/etc/passwd.bproc-tmp",
	    "/etc/group.bproc-tmp", "/etc/hosts.bproc-tmp" };
	struct wire_iter	 it;
	struct wire_attr	 a;
	struct iovec		 iov[2];
	int			 fd[3], i, k, ok = 1;

	for (i = 0; i < 3; i++)
		if ((fd[i] = open(tmp[i], O_WRONLY | O_CREAT | O_TRUNC |
		    O_CLOEXEC | O_NOFOLLOW, 0644)) == -1)
			ok = 0;
	wire_iter_init(&it, f->body, f->len);
	while (ok && wire_iter_next(&it, &a) == 1) {
		k = a.type == A_HOSTENT ? 2 : a.type - A_PWENT;
		if (k < 0 || k > 1 + (a.type == A_HOSTENT))
			continue;
		/* proto_parse checked: one NUL, at the end */
		iov[0].iov_base = (void *)a.data;
		iov[0].iov_len = a.len - 1;
		iov[1].iov_base = (void *)"\n";
		iov[1].iov_len = 1;
		ok = writev(fd[k], iov, 2) == (ssize_t)a.len;
	}
	for (i = 0; i < 3; i++) {
		if (fd[i] == -1 || fchmod(fd[i], 0644) == -1 ||
		    close(fd[i]) == -1)
			ok = 0;
		fd[i] = -1;
	}
	for (i = 0; i < 3; i++)
		if (!ok || rename(tmp[i], path[i]) == -1) {
			ok = 0;
			unlink(tmp[i]);
		}
	if (!ok)
		log_warn("users from the master: /etc/passwd, /etc/group, "
		    "/etc/hosts");
}
