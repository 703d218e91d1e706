/*
 * libbproc: client side of bpmaster's control socket.  Requests are
 * synchronous: one frame out, records back until CTL_END or CTL_RESULT.
 * The master identifies us by SO_PEERCRED; no request carries our uid.
 */
#include <errno.h>
#include <signal.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include "bproc.h"
#include "proto.h"

/* bproc.h's exec flags go on the wire as they are */
_Static_assert(BPROC_EXEC_STDIN_NULL == EXEC_F_STDIN_NULL &&
    BPROC_EXEC_NOIO == EXEC_F_NOIO && BPROC_EXEC_TTY == EXEC_F_TTY,
    "BPROC_EXEC_* and EXEC_F_* differ");

static char	bproc_errmsg[256];

const char *
bproc_strerror(void)
{
	return bproc_errmsg[0] ? bproc_errmsg : strerror(errno);
}

const char *
bproc_node_strerror(void)
{
	if (errno == EACCES || errno == EPERM)
		return "Permission denied";
	if (errno == ENODEV)
		return "No such node";
	if (errno == EHOSTDOWN)
		return "Node is down";
	return bproc_strerror();
}

static const char *
ctl_path(void)
{
	const char	*p = getenv("BPROC_MASTER");

	return (p != NULL && *p != '\0') ? p : BPROC_CTL_PATH;
}

static int
ctl_connect(void)
{
	struct sockaddr_un	sun;
	const char		*path = ctl_path();
	int			fd;

	if (strlen(path) >= sizeof(sun.sun_path)) {
		errno = ENAMETOOLONG;
		return -1;
	}
	if ((fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0)) == -1)
		return -1;
	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	strcpy(sun.sun_path, path);
	if (connect(fd, (struct sockaddr *)&sun, sizeof(sun)) == -1) {
		int	saved = errno;

		snprintf(bproc_errmsg, sizeof(bproc_errmsg),
		    "cannot reach bpmaster at %s: %s", path, strerror(saved));
		close(fd);
		errno = saved;
		return -1;
	}
	return fd;
}

/*
 * The master may close our connection at any time (it refuses one when a
 * user holds too many, and it may be restarting); that must be an error
 * the tool can print, never a SIGPIPE that kills it without a word.
 */
static void
ctl_closed(void)
{
	snprintf(bproc_errmsg, sizeof(bproc_errmsg),
	    "bpmaster closed the connection (%s)", ctl_path());
}

/* Sockets only: send(2) with MSG_NOSIGNAL, so a closed peer is EPIPE. */
static int
write_all(int fd, const void *buf, size_t len)
{
	const unsigned char	*p = buf;
	ssize_t			 n;

	while (len > 0) {
		n = send(fd, p, len, MSG_NOSIGNAL);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			if (errno == EPIPE || errno == ECONNRESET)
				ctl_closed();
			return -1;
		}
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

static int
read_all(int fd, void *buf, size_t len)
{
	unsigned char	*p = buf;
	ssize_t		 n;

	while (len > 0) {
		n = read(fd, p, len);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			if (errno == ECONNRESET)
				ctl_closed();
			return -1;
		}
		if (n == 0) {
			ctl_closed();
			errno = ECONNRESET;
			return -1;
		}
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

/* Read one control frame into buf (WIRE_MAX_FRAME bytes) and validate it. */
static int
ctl_recv(int fd, unsigned char *buf, struct wire_hdr *h,
    struct wire_attr tb[A_MAX])
{
	const char	*why = NULL;

	if (read_all(fd, buf, WIRE_HDR_LEN) == -1)
		return -1;
	if (wire_hdr_decode(buf, WIRE_HDR_LEN, WIRE_MAX_FRAME, h, &why) != 1)
		goto bad;
	if (read_all(fd, buf + WIRE_HDR_LEN, h->len - WIRE_HDR_LEN) == -1)
		return -1;
	if (proto_parse(h, buf + WIRE_HDR_LEN, h->len - WIRE_HDR_LEN, tb,
	    &why) == -1)
		goto bad;
	return 0;
bad:
	snprintf(bproc_errmsg, sizeof(bproc_errmsg),
	    "bad reply from bpmaster: %s", why ? why : "?");
	errno = EPROTO;
	return -1;
}

static void
info_from(struct bproc_node_info *ni, struct wire_attr tb[A_MAX])
{
	memset(ni, 0, sizeof(*ni));
	ni->node = (int)wire_get_u32(&tb[A_NODE]);
	ni->state = wire_get_u8(&tb[A_STATE]);
	ni->last_seen_ms = UINT64_MAX;
	if (tb[A_UID].data)
		ni->uid = wire_get_u32(&tb[A_UID]);
	if (tb[A_GID].data)
		ni->gid = wire_get_u32(&tb[A_GID]);
	if (tb[A_MODE].data)
		ni->mode = wire_get_u32(&tb[A_MODE]);
	if (tb[A_ADDR].data)
		snprintf(ni->addr, sizeof(ni->addr), "%s",
		    wire_get_str(&tb[A_ADDR]));
	if (tb[A_MAC].data) {
		memcpy(ni->mac, tb[A_MAC].data, 6);
		ni->has_mac = 1;
	}
	if (tb[A_LAST_SEEN].data)
		ni->last_seen_ms = wire_get_u64(&tb[A_LAST_SEEN]);
	if (tb[A_LOAD1].data)
		ni->load[0] = wire_get_u32(&tb[A_LOAD1]);
	if (tb[A_LOAD5].data)
		ni->load[1] = wire_get_u32(&tb[A_LOAD5]);
	if (tb[A_LOAD15].data)
		ni->load[2] = wire_get_u32(&tb[A_LOAD15]);
	if (tb[A_CPUS].data)
		ni->cpus = wire_get_u32(&tb[A_CPUS]);
	if (tb[A_MEM_TOTAL].data)
		ni->mem_total = wire_get_u64(&tb[A_MEM_TOTAL]);
	if (tb[A_MEM_FREE].data)
		ni->mem_free = wire_get_u64(&tb[A_MEM_FREE]);
	if (tb[A_UPTIME].data)
		ni->uptime = wire_get_u64(&tb[A_UPTIME]);
	if (tb[A_NPROCS].data)
		ni->nprocs = wire_get_u32(&tb[A_NPROCS]);
	if (tb[A_STAGE].data)
		ni->stage = wire_get_u8(&tb[A_STAGE]);
	if (tb[A_CACHE_BYTES].data)
		ni->cache_bytes = wire_get_u64(&tb[A_CACHE_BYTES]);
	if (tb[A_PUSH_BYTES].data)
		ni->push_bytes = wire_get_u64(&tb[A_PUSH_BYTES]);
}

int
bproc_nodelist(struct bproc_node_info **listp)
{
	unsigned char		 req[64], *buf;
	struct wire_msg		 m;
	struct wire_hdr		 h;
	struct wire_attr	 tb[A_MAX];
	struct bproc_node_info	*list = NULL, *nl;
	size_t			 n = 0, cap = 0, len;
	int			 fd, ret = -1;

	bproc_errmsg[0] = '\0';
	if ((fd = ctl_connect()) == -1)
		return -1;
	if ((buf = malloc(WIRE_MAX_FRAME)) == NULL)
		goto out;
	wire_msg_init(&m, req, sizeof(req), MSG_CTL_NODES, 0, 1);
	len = wire_msg_finish(&m);
	if (write_all(fd, req, len) == -1)
		goto out;
	for (;;) {
		if (ctl_recv(fd, buf, &h, tb) == -1)
			goto out;
		if (h.type == MSG_CTL_END) {
			if (tb[A_ERRNO].data && wire_get_u32(&tb[A_ERRNO])) {
				errno = (int)wire_get_u32(&tb[A_ERRNO]);
				goto out;
			}
			if (wire_get_u32(&tb[A_COUNT]) != n) {
				errno = EPROTO;
				goto out;
			}
			break;
		}
		if (h.type != MSG_CTL_NODE) {
			errno = EPROTO;
			goto out;
		}
		if (n == cap) {
			cap = cap ? cap * 2 : 64;
			if (cap > 1u << 20 ||
			    (nl = realloc(list, cap * sizeof(*list))) == NULL) {
				errno = ENOMEM;
				goto out;
			}
			list = nl;
		}
		info_from(&list[n++], tb);
	}
	*listp = list;
	list = NULL;
	ret = (int)n;
out:
	free(list);
	free(buf);
	close(fd);
	return ret;
}

int
bproc_numnodes(void)
{
	struct bproc_node_info	*l;
	int			 n;

	if ((n = bproc_nodelist(&l)) >= 0)
		free(l);
	return n;
}

int
bproc_currnode(void)
{
	const char	*s = getenv("BPROC_NODE");
	char		*end;
	long		 v;

	/* nodeinit sets BPROC_NODE in every process it starts on a node */
	if (s == NULL || *s == '\0')
		return BPROC_NODE_MASTER;
	errno = 0;
	v = strtol(s, &end, 10);
	if (errno || *end != '\0' || v < 0 || v > INT_MAX)
		return BPROC_NODE_MASTER;
	return (int)v;
}

int
bproc_nodeinfo(int node, struct bproc_node_info *ni)
{
	struct bproc_node_info	*l;
	int			 n;

	if ((n = bproc_nodelist(&l)) < 0)
		return -1;
	if (node < 0 || node >= n) {
		free(l);
		errno = ENODEV;
		return -1;
	}
	*ni = l[node];
	free(l);
	return 0;
}

int
bproc_nodestatus(int node)
{
	struct bproc_node_info	ni;

	if (bproc_nodeinfo(node, &ni) == -1)
		return -1;
	return ni.state;
}

/* One CTL_SET with a single attribute; the reply is a CTL_RESULT. */
static int
ctl_set(int node, uint16_t attr, uint32_t val, int is_u8)
{
	unsigned char		 req[128], *buf;
	struct wire_msg		 m;
	struct wire_hdr		 h;
	struct wire_attr	 tb[A_MAX];
	size_t			 len;
	int			 fd, ret = -1, e;

	bproc_errmsg[0] = '\0';
	if (node < 0) {
		errno = ENODEV;
		return -1;
	}
	if ((fd = ctl_connect()) == -1)
		return -1;
	if ((buf = malloc(WIRE_MAX_FRAME)) == NULL)
		goto out;
	wire_msg_init(&m, req, sizeof(req), MSG_CTL_SET, 0, 1);
	wire_put_u32(&m, A_NODE, (uint32_t)node);
	if (is_u8)
		wire_put_u8(&m, attr, (uint8_t)val);
	else
		wire_put_u32(&m, attr, val);
	len = wire_msg_finish(&m);
	if (write_all(fd, req, len) == -1 || ctl_recv(fd, buf, &h, tb) == -1)
		goto out;
	if (h.type != MSG_CTL_RESULT) {
		errno = EPROTO;
		goto out;
	}
	if (tb[A_MSG].data)
		snprintf(bproc_errmsg, sizeof(bproc_errmsg), "%s",
		    wire_get_str(&tb[A_MSG]));
	if ((e = (int)wire_get_u32(&tb[A_ERRNO])) != 0) {
		errno = e;
		goto out;
	}
	ret = 0;
out:
	free(buf);
	close(fd);
	return ret;
}

int
bproc_chown(int node, uid_t uid, gid_t gid)
{
	if (uid != (uid_t)-1 && ctl_set(node, A_UID, uid, 0) == -1)
		return -1;
	if (gid != (gid_t)-1 && ctl_set(node, A_GID, gid, 0) == -1)
		return -1;
	return 0;
}

int
bproc_chmod(int node, unsigned int mode)
{
	return ctl_set(node, A_MODE, mode & 07777, 0);
}

int
bproc_setnodestate(int node, int state)
{
	return ctl_set(node, A_STATE, (uint32_t)state, 1);
}

int
bproc_power(int node, int how)
{
	return ctl_set(node, A_HOW, (uint32_t)how, 1);
}

/*
 * BProc's access rule: root always; otherwise the owner's, group's or
 * other's x bit, the group matching the primary or a supplementary gid.
 */
int
bproc_access(int node, int mode)
{
	struct bproc_node_info	 ni;
	gid_t			 groups[NGROUPS_MAX];
	uid_t			 uid = geteuid();
	int			 ng, i, ok;

	(void)mode;
	if (bproc_nodeinfo(node, &ni) == -1)
		return -1;
	if (uid == 0)
		return 0;
	if (ni.uid == uid)
		ok = ni.mode & 0100;
	else {
		int	ingroup = (ni.gid == getegid());

		ng = getgroups(NGROUPS_MAX, groups);
		for (i = 0; i < ng && !ingroup; i++)
			ingroup = groups[i] == ni.gid;
		ok = ingroup ? (ni.mode & 0010) : (ni.mode & 0001);
	}
	if (!ok) {
		errno = EACCES;
		return -1;
	}
	return 0;
}

const char *
bproc_state_name(int s)
{
	return node_state_name(s);
}

int
bproc_state_parse(const char *s)
{
	return node_state_parse(s);
}

const char *
bproc_stage_name(int s)
{
	return stage_name(s);
}

int
bproc_watch(void)
{
	unsigned char	req[64];
	struct wire_msg	m;
	size_t		len;
	int		fd;

	bproc_errmsg[0] = '\0';
	if ((fd = ctl_connect()) == -1)
		return -1;
	wire_msg_init(&m, req, sizeof(req), MSG_CTL_WATCH, 0, 1);
	len = wire_msg_finish(&m);
	if (write_all(fd, req, len) == -1) {
		close(fd);
		return -1;
	}
	return fd;
}

int
bproc_watch_ack(int fd)
{
	unsigned char		*buf;
	struct wire_hdr		 h;
	struct wire_attr	 tb[A_MAX];
	int			 r;

	if ((buf = malloc(WIRE_MAX_FRAME)) == NULL)
		return -1;
	r = ctl_recv(fd, buf, &h, tb);
	free(buf);
	if (r == 0 && h.type != MSG_CTL_CHANGED) {
		errno = EPROTO;
		r = -1;
	}
	return r;
}

/*
 * Process space: the EXEC request and the turn into a ghost.  The ghost
 * program (bpghost) gets the open control connection, so the master sees
 * the same PID on it before and after the exec.
 */
#ifndef BPROC_GHOST_PATH
#define BPROC_GHOST_PATH "/usr/libexec/bproc/bpghost"
#endif

/* NEED frames that arrive while an earlier one is being served. */
struct needq {
	unsigned char	*body;
	size_t		 len;
	struct needq	*next;
};

static int
needq_add(struct needq **q, const unsigned char *body, size_t len)
{
	struct needq	*n, **pp;

	if ((n = calloc(1, sizeof(*n))) == NULL ||
	    (n->body = malloc(len + 1)) == NULL) {
		free(n);
		return -1;
	}
	memcpy(n->body, body, len);
	n->len = len;
	for (pp = q; *pp != NULL; pp = &(*pp)->next)
		;
	*pp = n;
	return 0;
}

/*
 * Send the blobs the node asked for, read as the caller, within the
 * acknowledgement window.  Returns 0, or -1 with errno and bproc_errmsg.
 */
static int
rexec_push(int fd, const struct bproc_exec_opts *o, const unsigned char *body,
    size_t blen, unsigned char *buf, struct needq **q)
{
	struct wire_iter	 it;
	struct wire_attr	 a, tb[A_MAX];
	struct wire_hdr		 h;
	struct wire_msg		 m;
	unsigned char		*out, *data;
	size_t			 unacked = 0, k, len, off, piece;
	ssize_t			 n;
	int			 ffd;

	if ((out = malloc(BLOB_FRAME + BLOB_CHUNK)) == NULL)
		return -1;
	data = out + BLOB_FRAME;
	wire_iter_init(&it, body, blen);
	while (wire_iter_next(&it, &a) == 1) {
		if (a.type != A_HASH || a.len != 32)
			continue;
		for (k = 0; k < o->nfiles; k++)
			if (o->files[k].target == NULL &&
			    memcmp(o->files[k].hash, a.data, 32) == 0)
				break;
		if (k == o->nfiles) {
			snprintf(bproc_errmsg, sizeof(bproc_errmsg),
			    "node asked for a file we did not offer");
			errno = EPROTO;
			goto fail;
		}
		if ((ffd = open(o->files[k].path, O_RDONLY | O_CLOEXEC)) == -1) {
			snprintf(bproc_errmsg, sizeof(bproc_errmsg), "%s: %s",
			    o->files[k].path, strerror(errno));
			goto fail;
		}
		for (;;) {
			n = read(ffd, data, BLOB_CHUNK);
			if (n < 0) {
				close(ffd);
				goto fail;
			}
			wire_msg_init(&m, out, BLOB_FRAME, MSG_BLOB, 0, 0);
			wire_put_u32(&m, A_PID, 0);
			wire_put(&m, A_HASH, a.data, 32);
			for (off = 0; off < (size_t)n; off += piece) {
				piece = (size_t)n - off;
				if (piece > BLOB_PIECE)
					piece = BLOB_PIECE;
				wire_put(&m, A_DATA, data + off, piece);
			}
			if (n == 0)
				wire_put_u8(&m, A_EOF, 1);
			/* a frame that did not fit must not count as sent */
			if ((len = wire_msg_finish(&m)) == 0) {
				close(ffd);
				snprintf(bproc_errmsg, sizeof(bproc_errmsg),
				    "blob frame too large");
				errno = EMSGSIZE;
				goto fail;
			}
			if (write_all(fd, out, len) == -1) {
				close(ffd);
				goto fail;
			}
			unacked += (size_t)n;
			/* the node acknowledges what it stored: wait for room */
			while (unacked >= BLOB_WINDOW) {
				if (ctl_recv(fd, buf, &h, tb) == -1) {
					close(ffd);
					goto fail;
				}
				if (h.type == MSG_BLOB_ACK) {
					size_t b = wire_get_u32(&tb[A_BYTES]);

					unacked = b > unacked ? 0 : unacked - b;
				} else if (h.type == MSG_NEED) {
					if (needq_add(q, buf + WIRE_HDR_LEN,
					    h.len - WIRE_HDR_LEN) == -1) {
						close(ffd);
						goto fail;
					}
				} else if (h.type == MSG_EXEC_RESULT) {
					/* the node gave up: report its error */
					close(ffd);
					if (tb[A_MSG].data)
						snprintf(bproc_errmsg,
						    sizeof(bproc_errmsg), "%s",
						    wire_get_str(&tb[A_MSG]));
					errno = (int)wire_get_u32(&tb[A_ERRNO]);
					if (errno == 0)
						errno = EPROTO;
					goto fail;
				}
			}
			if (n == 0)
				break;
		}
		close(ffd);
	}
	free(out);
	return 0;
fail:
	free(out);
	return -1;
}

static int
rexec_request(int fd, int node, const char *file, char *const argv[],
    char *const envp[], const struct bproc_exec_opts *o)
{
	struct wire_msg	 m;
	unsigned char	*buf;
	char		 cwd[4096];
	size_t		 len;
	int		 i, r;

	if ((buf = malloc(WIRE_MAX_FRAME)) == NULL)
		return -1;
	wire_msg_init(&m, buf, WIRE_MAX_FRAME, MSG_EXEC, 0, 1);
	wire_put_u32(&m, A_NODE, (uint32_t)node);
	wire_put_str(&m, A_PATH, file);
	for (i = 0; argv[i] != NULL; i++)
		wire_put_str(&m, A_ARG, argv[i]);
	for (i = 0; envp != NULL && envp[i] != NULL; i++)
		wire_put_str(&m, A_ENV, envp[i]);
	if (getcwd(cwd, sizeof(cwd)) != NULL)
		wire_put_str(&m, A_CWD, cwd);
	wire_put_u32(&m, A_FLAGS, o->flags);
	wire_put_u32(&m, A_RANK, o->rank);
	/* the pty starts at the size of the caller's terminal, if it has one */
	if (o->flags & BPROC_EXEC_TTY) {
		struct winsize	ws;

		if ((ioctl(STDIN_FILENO, TIOCGWINSZ, &ws) == 0 ||
		    ioctl(STDOUT_FILENO, TIOCGWINSZ, &ws) == 0) &&
		    ws.ws_row && ws.ws_col) {
			wire_put_u16(&m, A_ROWS, ws.ws_row);
			wire_put_u16(&m, A_COLS, ws.ws_col);
		}
	}
	if (o->file_in)
		wire_put_str(&m, A_FILE_IN, o->file_in);
	if (o->file_out)
		wire_put_str(&m, A_FILE_OUT, o->file_out);
	if (o->file_err)
		wire_put_str(&m, A_FILE_ERR, o->file_err);
	for (size_t k = 0; k < o->nfiles; k++) {
		const struct bproc_file	*f = &o->files[k];
		unsigned char		 e[MFILE_MAX];
		size_t			 el;

		if ((el = mfile_encode(e, f->hash, f->mode, f->uid, f->gid,
		    f->size, f->path, f->target)) > 0)
			wire_put(&m, A_MFILE, e, el);
	}
	if ((len = wire_msg_finish(&m)) == 0) {
		free(buf);
		errno = E2BIG;
		return -1;
	}
	r = write_all(fd, buf, len);
	free(buf);
	return r;
}

int
bproc_rexec_opts(int node, const char *file, char *const argv[],
    char *const envp[], const struct bproc_exec_opts *opts)
{
	static const struct bproc_exec_opts	 none;
	const struct bproc_exec_opts		*o = opts ? opts : &none;
	struct wire_hdr				 h;
	struct wire_attr			 tb[A_MAX];
	unsigned char				*buf = NULL;
	char					 fdenv[32], nodeenv[32];
	char					 flagenv[32], errenv[32];
	char					*genv[6];
	sigset_t				 all, old;
	const char				*ghost;
	int					 fd, e, saved;

	bproc_errmsg[0] = '\0';
	if (node < 0 || argv == NULL || argv[0] == NULL || file == NULL) {
		errno = EINVAL;
		return -1;
	}
	/*
	 * From the request on, signals wait (blocked, pending) for the
	 * ghost, which inherits them across the exec and forwards them: a
	 * Ctrl-C or SIGCONT in this window is not lost.
	 */
	sigfillset(&all);
	sigprocmask(SIG_BLOCK, &all, &old);
	if ((fd = ctl_connect()) == -1) {
		sigprocmask(SIG_SETMASK, &old, NULL);
		return -1;
	}
	if (rexec_request(fd, node, file, argv, envp, o) == -1)
		goto fail;
	if ((buf = malloc(WIRE_MAX_FRAME)) == NULL)
		goto fail;
	/* the node may first ask for files it lacks, then answers */
	for (;;) {
		if (ctl_recv(fd, buf, &h, tb) == -1)
			goto fail;
		if (h.type == MSG_EXEC_RESULT)
			break;
		if (h.type == MSG_NEED) {
			struct needq	*q = NULL, *n;

			e = needq_add(&q, buf + WIRE_HDR_LEN,
			    h.len - WIRE_HDR_LEN);
			while (e == 0 && (n = q) != NULL) {
				e = rexec_push(fd, o, n->body, n->len, buf, &q);
				q = n->next;
				free(n->body);
				free(n);
			}
			while ((n = q) != NULL) {
				q = n->next;
				free(n->body);
				free(n);
			}
			if (e == -1)
				goto fail;
			continue;
		}
		if (h.type == MSG_BLOB_ACK)
			continue;
		errno = EPROTO;
		goto fail;
	}
	if (tb[A_MSG].data)
		snprintf(bproc_errmsg, sizeof(bproc_errmsg), "%s",
		    wire_get_str(&tb[A_MSG]));
	if ((e = (int)wire_get_u32(&tb[A_ERRNO])) != 0) {
		errno = e;
		goto fail;
	}
	free(buf);
	buf = NULL;
	/* the remote runs: become its ghost, showing its argv in ps */
	if ((ghost = getenv("BPROC_GHOST")) == NULL || *ghost == '\0')
		ghost = BPROC_GHOST_PATH;
	snprintf(fdenv, sizeof(fdenv), "BPROC_GHOST_FD=%d", fd);
	snprintf(nodeenv, sizeof(nodeenv), "BPROC_GHOST_NODE=%d", node);
	snprintf(flagenv, sizeof(flagenv), "BPROC_GHOST_FLAGS=%u", o->flags);
	genv[0] = fdenv;
	genv[1] = nodeenv;
	genv[2] = flagenv;
	genv[3] = NULL;
	if (o->err_fd > 0) {
		snprintf(errenv, sizeof(errenv), "BPROC_GHOST_ERRFD=%d",
		    o->err_fd);
		genv[3] = errenv;
		genv[4] = NULL;
	}
	if (fcntl(fd, F_SETFD, 0) == -1)
		goto fail;
	execve(ghost, argv, genv);
	snprintf(bproc_errmsg, sizeof(bproc_errmsg), "cannot run ghost %s: %s",
	    ghost, strerror(errno));
	/* closing the connection ends the remote process */
fail:
	saved = errno;
	free(buf);
	close(fd);
	sigprocmask(SIG_SETMASK, &old, NULL);
	errno = saved;
	return -1;
}

int
bproc_rexec(int node, const char *file, char *const argv[], char *const envp[])
{
	return bproc_rexec_opts(node, file, argv, envp, NULL);
}

int
bproc_vrexec(int n, const int *nodelist, const char *file, char *const argv[],
    char *const envp[], pid_t *pids)
{
	struct bproc_exec_opts	o;
	int			i, started = 0, st, p[2];
	pid_t			pid;

	for (i = 0; i < n; i++) {
		/* the child reports a failed rexec through a pipe */
		if (pipe2(p, O_CLOEXEC) == -1) {
			pids[i] = -errno;
			continue;
		}
		if ((pid = fork()) == -1) {
			pids[i] = -errno;
			close(p[0]);
			close(p[1]);
			continue;
		}
		if (pid == 0) {
			memset(&o, 0, sizeof(o));
			o.rank = (unsigned int)i;
			close(p[0]);
			bproc_rexec_opts(nodelist[i], file, argv, envp, &o);
			st = errno;
			write(p[1], &st, sizeof(st));
			_exit(255);
		}
		close(p[1]);
		if (read(p[0], &st, sizeof(st)) == (ssize_t)sizeof(st)) {
			waitpid(pid, NULL, 0);
			pids[i] = -st;
		} else {
			pids[i] = pid;
			started++;
		}
		close(p[0]);
	}
	return started;
}

int
bproc_proclist(struct bproc_proc_info **listp)
{
	unsigned char		 req[64], *buf;
	struct wire_msg		 m;
	struct wire_hdr		 h;
	struct wire_attr	 tb[A_MAX];
	struct bproc_proc_info	*list = NULL, *nl;
	size_t			 n = 0, cap = 0, len;
	int			 fd, ret = -1;

	bproc_errmsg[0] = '\0';
	if ((fd = ctl_connect()) == -1)
		return -1;
	if ((buf = malloc(WIRE_MAX_FRAME)) == NULL)
		goto out;
	wire_msg_init(&m, req, sizeof(req), MSG_CTL_PROCS, 0, 1);
	len = wire_msg_finish(&m);
	if (write_all(fd, req, len) == -1)
		goto out;
	for (;;) {
		if (ctl_recv(fd, buf, &h, tb) == -1)
			goto out;
		if (h.type == MSG_CTL_END)
			break;
		if (h.type != MSG_CTL_PROC) {
			errno = EPROTO;
			goto out;
		}
		if (n == cap) {
			cap = cap ? cap * 2 : 64;
			if (cap > 1u << 22 ||
			    (nl = realloc(list, cap * sizeof(*list))) == NULL) {
				errno = ENOMEM;
				goto out;
			}
			list = nl;
		}
		memset(&list[n], 0, sizeof(list[n]));
		list[n].pid = (pid_t)wire_get_u32(&tb[A_PID]);
		list[n].node = (int)wire_get_u32(&tb[A_NODE]);
		list[n].rpid = tb[A_RPID].data ?
		    (pid_t)wire_get_u32(&tb[A_RPID]) : list[n].pid;
		list[n].uid = tb[A_UID].data ? wire_get_u32(&tb[A_UID]) : 0;
		list[n].ppid = tb[A_PPID].data ?
		    (pid_t)wire_get_u32(&tb[A_PPID]) : 0;
		if (tb[A_ARG].data)
			snprintf(list[n].cmd, sizeof(list[n].cmd), "%s",
			    wire_get_str(&tb[A_ARG]));
		n++;
	}
	*listp = list;
	list = NULL;
	ret = (int)n;
out:
	free(list);
	free(buf);
	close(fd);
	return ret;
}
