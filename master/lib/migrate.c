/*
 * libbproc: process migration (BProc's rfork, vrfork, move, execmove).
 * The process that goes sends bpmaster an EXEC with EXEC_F_IMAGE: its
 * file mappings (program, libraries) as the push manifest, so the node's
 * RAM cache has them at the same paths, pushed only when missing; once the
 * node has started bprestore under the ghost's PID, the image itself
 * (bproc_dump, vmadump.c) follows in MSG_IMAGE frames on the same
 * connection, and the node says whether the restorer took it.  Then the
 * sender execs bpghost: it is the ghost of the process it was, with the
 * same PID.  In the image bproc_dump returns BPROC_DUMP_RESUMED, which is
 * where the process continues on the node (docs/design-notes.md,
 * "Migration").
 */
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <sys/un.h>
#include <sys/wait.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <stddef.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <sodium.h>

#include "bproc.h"
#include "bproc_dump.h"
#include "libbproc_int.h"

#define MIG_HASHES	512		/* file hashes remembered per process */
#define MIG_FILES	4096		/* mapped files one image may name */
#define MIG_ARGMAX	(64 * 1024)	/* bytes of our command line sent for ps */
#define MIG_MSGLEN	256		/* error text a failed child hands its parent */
#define MIG_VR_AHEAD	8		/* vrfork's children on their way at once */

/* A mapped file's content hash, valid while its inode state is the same. */
struct mig_hash {
	dev_t		 dev;
	ino_t		 ino;
	off_t		 size;
	struct timespec	 mtime;
	unsigned char	 hash[32];
};

/* What one migration sends before the image. */
struct mig_req {
	struct bproc_file	*files;
	size_t			 nfiles;
	char			*args;		/* /proc/self/cmdline */
	char			**argv;
	char			 exe[PATH_MAX];
};

/* What a failed rfork child tells its parent. */
struct mig_fail {
	int	e;
	char	msg[MIG_MSGLEN];
};

static pid_t	mig_rfork_wait(pid_t, int);

static struct mig_hash	mig_hashes[MIG_HASHES];
static size_t		mig_nhash, mig_next;

static int
mig_nthreads(void)
{
	DIR		*d;
	struct dirent	*e;
	int		 n = 0;

	if ((d = opendir("/proc/self/task")) == NULL)
		return -1;
	while ((e = readdir(d)) != NULL)
		if (e->d_name[0] != '.')
			n++;
	closedir(d);
	return n;
}

/* The file's BLAKE2b-256, from the cache while its inode state holds. */
static int
mig_hash_fd(int fd, const struct stat *st, unsigned char *out)
{
	crypto_generichash_state	 s;
	unsigned char			 buf[65536];
	struct mig_hash			*h;
	ssize_t				 n;
	size_t				 i;

	for (i = 0; i < mig_nhash; i++) {
		h = &mig_hashes[i];
		if (h->dev == st->st_dev && h->ino == st->st_ino &&
		    h->size == st->st_size &&
		    h->mtime.tv_sec == st->st_mtim.tv_sec &&
		    h->mtime.tv_nsec == st->st_mtim.tv_nsec) {
			memcpy(out, h->hash, 32);
			return 0;
		}
	}
	if (sodium_init() < 0)
		return -1;
	crypto_generichash_init(&s, NULL, 0, 32);
	while ((n = read(fd, buf, sizeof(buf))) > 0)
		crypto_generichash_update(&s, buf, (unsigned long long)n);
	if (n < 0)
		return -1;
	crypto_generichash_final(&s, out, 32);
	h = &mig_hashes[mig_nhash < MIG_HASHES ? mig_nhash++ :
	    mig_next++ % MIG_HASHES];
	h->dev = st->st_dev;
	h->ino = st->st_ino;
	h->size = st->st_size;
	h->mtime = st->st_mtim;
	memcpy(h->hash, out, 32);
	return 0;
}

static void
mig_release(struct mig_req *r)
{
	for (size_t i = 0; i < r->nfiles; i++)
		free(r->files[i].path);
	free(r->files);
	free(r->args);
	free(r->argv);
	memset(r, 0, sizeof(*r));
}

/*
 * One mapped file for the manifest, if it is the regular file the mapping
 * came from (a file replaced since travels as pages; vmadump decides the
 * same way) and we can read it.
 */
static void
mig_add_file(struct mig_req *r, const char *path, unsigned long long ino)
{
	struct bproc_file	*f;
	struct stat		 st;
	size_t			 i;
	int			 fd;

	for (i = 0; i < r->nfiles; i++)
		if (strcmp(r->files[i].path, path) == 0)
			return;
	if (r->nfiles == MIG_FILES ||
	    (fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY)) == -1)
		return;
	if (fstat(fd, &st) == -1 || !S_ISREG(st.st_mode) ||
	    (unsigned long long)st.st_ino != ino)
		goto out;
	if ((f = reallocarray(r->files, r->nfiles + 1, sizeof(*f))) == NULL)
		goto out;
	r->files = f;
	f = &r->files[r->nfiles];
	memset(f, 0, sizeof(*f));
	if (mig_hash_fd(fd, &st, f->hash) == -1 ||
	    (f->path = strdup(path)) == NULL)
		goto out;
	f->mode = st.st_mode & 07777;
	f->uid = st.st_uid;
	f->gid = st.st_gid;
	f->size = (uint64_t)st.st_size;
	r->nfiles++;
out:
	close(fd);
}

/* The file mappings of /proc/self/maps, our command line, our program. */
static int
mig_prepare(struct mig_req *r)
{
	char		 line[PATH_MAX + 256], *p;
	unsigned long long ino;
	FILE		*f;
	ssize_t		 n;
	size_t		 len = 0, argc = 0, i;
	int		 fd;

	memset(r, 0, sizeof(*r));
	if ((n = readlink("/proc/self/exe", r->exe, sizeof(r->exe) - 1)) <= 0)
		return -1;
	r->exe[n] = '\0';
	if ((f = fopen("/proc/self/maps", "re")) == NULL)
		return -1;
	while (fgets(line, sizeof(line), f) != NULL) {
		line[strcspn(line, "\n")] = '\0';
		/* start-end perms offset dev inode path */
		if (sscanf(line, "%*s %*s %*s %*s %llu", &ino) != 1 || ino == 0 ||
		    (p = strchr(line, '/')) == NULL)
			continue;
		if (strstr(p, " (deleted)") != NULL)
			continue;
		mig_add_file(r, p, ino);
	}
	fclose(f);
	if ((r->args = malloc(MIG_ARGMAX + 1)) == NULL)
		goto fail;
	if ((fd = open("/proc/self/cmdline", O_RDONLY | O_CLOEXEC)) != -1) {
		while (len < MIG_ARGMAX &&
		    (n = read(fd, r->args + len, MIG_ARGMAX - len)) > 0)
			len += (size_t)n;
		close(fd);
	}
	if (len == 0) {
		len = strlen(r->exe) + 1;
		memcpy(r->args, r->exe, len);
	}
	r->args[len] = '\0';
	if (r->args[len - 1] != '\0')
		r->args[len++] = '\0';
	for (i = 0; i < len; i++)
		if (r->args[i] == '\0')
			argc++;
	if ((r->argv = calloc(argc + 1, sizeof(*r->argv))) == NULL)
		goto fail;
	for (i = 0, argc = 0; i < len; i += strlen(r->args + i) + 1)
		r->argv[argc++] = r->args + i;
	return 0;
fail:
	mig_release(r);
	errno = ENOMEM;
	return -1;
}

static int
mig_request(int fd, int node, const struct mig_req *r, unsigned int rank)
{
	struct wire_msg	 m;
	unsigned char	*buf, e[MFILE_MAX];
	char		 cwd[4096];
	size_t		 len, el, i;
	int		 ret;

	if ((buf = malloc(WIRE_MAX_FRAME)) == NULL)
		return -1;
	wire_msg_init(&m, buf, WIRE_MAX_FRAME, MSG_EXEC, 0, 1);
	wire_put_u32(&m, A_NODE, (uint32_t)node);
	wire_put_str(&m, A_PATH, r->exe);
	for (i = 0; r->argv[i] != NULL; i++)
		wire_put_str(&m, A_ARG, r->argv[i]);
	if (getcwd(cwd, sizeof(cwd)) != NULL)
		wire_put_str(&m, A_CWD, cwd);
	wire_put_u32(&m, A_FLAGS, EXEC_F_IMAGE);
	wire_put_u32(&m, A_RANK, rank);
	for (i = 0; i < r->nfiles; i++)
		if ((el = mfile_encode(e, r->files[i].hash, r->files[i].mode,
		    r->files[i].uid, r->files[i].gid, r->files[i].size,
		    r->files[i].path, NULL)) > 0)
			wire_put(&m, A_MFILE, e, el);
	if ((len = wire_msg_finish(&m)) == 0) {
		free(buf);
		libbproc_errmsg("too many mapped files for one request");
		errno = E2BIG;
		return -1;
	}
	ret = libbproc_send(fd, buf, len);
	free(buf);
	return ret;
}

/* sendmsg until every byte of iov went (a signal may cut a stream send). */
static int
mig_sendv(int fd, struct iovec *iov, int n)
{
	struct msghdr	mh;
	ssize_t		w;

	while (n > 0) {
		memset(&mh, 0, sizeof(mh));
		mh.msg_iov = iov;
		mh.msg_iovlen = (size_t)n;
		if ((w = sendmsg(fd, &mh, MSG_NOSIGNAL)) == -1) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		while (n > 0 && (size_t)w >= iov->iov_len) {
			w -= (ssize_t)iov->iov_len;
			iov++;
			n--;
		}
		if (n > 0) {
			iov->iov_base = (char *)iov->iov_base + w;
			iov->iov_len -= (size_t)w;
		}
	}
	return 0;
}

static void
put16(unsigned char *p, unsigned int v)
{
	p[0] = (unsigned char)(v >> 8);
	p[1] = (unsigned char)v;
}

static void
put32(unsigned char *p, uint32_t v)
{
	put16(p, v >> 16);
	put16(p + 2, v & 0xffff);
}

/*
 * vmadump's writer: the image bytes as MSG_IMAGE frames of up to
 * BLOB_CHUNK, written straight from where they are (no copy: the dump
 * runs in a signal handler and may not touch memory it is dumping).
 * Back-pressure is the socket's: bpmaster stops reading us while the
 * node's link is full.
 */
/* Where the image goes: the descriptor, its frame size, its window. */
struct mig_out {
	int	 fd;
	size_t	 chunk;		/* data bytes per frame */
	size_t	 window;	/* unacknowledged bytes at most; 0: no acks */
	size_t	 unacked;
};

/*
 * Wait for MSG_IMAGE_ACK until the window has room (a move home: the
 * ghost acknowledges what its restorer took).  Read into the stack, which
 * the dump copies before it writes: memory it dumps must not change.
 */
static int
mig_read_full(int fd, unsigned char *p, size_t len)
{
	ssize_t	n;

	while (len > 0) {
		if ((n = read(fd, p, len)) == -1 && errno == EINTR)
			continue;
		if (n <= 0) {
			errno = n == 0 ? ECONNRESET : errno;
			return -1;
		}
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

/* One small frame (an acknowledgement, a verdict) into f, on the stack. */
static int
mig_read_frame(int fd, unsigned char *f, size_t cap, struct wire_hdr *h,
    struct wire_attr *tb)
{
	const char	*why;

	if (mig_read_full(fd, f, WIRE_HDR_LEN) == -1)
		return -1;
	if (wire_hdr_decode(f, WIRE_HDR_LEN, cap, h, &why) != 1 ||
	    mig_read_full(fd, f + WIRE_HDR_LEN, h->len - WIRE_HDR_LEN) == -1 ||
	    proto_parse(h, f + WIRE_HDR_LEN, h->len - WIRE_HDR_LEN, tb,
	    &why) == -1) {
		errno = EPROTO;
		return -1;
	}
	return 0;
}

static int
mig_wait_ack(struct mig_out *o)
{
	unsigned char		 f[256];
	struct wire_attr	 tb[A_MAX];
	struct wire_hdr		 h;
	size_t			 b;

	while (o->window > 0 && o->unacked >= o->window) {
		if (mig_read_frame(o->fd, f, sizeof(f), &h, tb) == -1)
			return -1;
		if (h.type == MSG_IMAGE_RESULT) {
			/* the ghost refused early: stop here */
			errno = wire_get_u32(&tb[A_ERRNO]) ?
			    (int)wire_get_u32(&tb[A_ERRNO]) : EPROTO;
			return -1;
		}
		if (h.type == MSG_IMAGE_ACK) {
			b = wire_get_u32(&tb[A_BYTES]);
			o->unacked = b > o->unacked ? 0 : o->unacked - b;
		}
	}
	return 0;
}

static int
mig_sink(void *ctx, const void *buf, size_t len)
{
	static const unsigned char zero[4];
	struct mig_out		*o = ctx;
	const unsigned char	*p = buf;
	unsigned char		 hdr[WIRE_HDR_LEN + 8];
	unsigned char		 ahdr[BLOB_PIECES][WIRE_ATTR_HDR];
	struct iovec		 iov[1 + 3 * BLOB_PIECES];
	size_t			 chunk, piece, off, total;
	int			 fd = o->fd, n, k;

	while (len > 0) {
		if (mig_wait_ack(o) == -1)
			return -1;
		chunk = len > o->chunk ? o->chunk : len;
		n = 0;
		iov[n].iov_base = hdr;
		iov[n++].iov_len = sizeof(hdr);
		total = sizeof(hdr);
		for (off = 0, k = 0; off < chunk; off += piece, k++) {
			piece = chunk - off > BLOB_PIECE ? BLOB_PIECE : chunk - off;
			put16(ahdr[k], (unsigned int)(WIRE_ATTR_HDR + piece));
			put16(ahdr[k] + 2, A_DATA);
			iov[n].iov_base = ahdr[k];
			iov[n++].iov_len = WIRE_ATTR_HDR;
			iov[n].iov_base = (void *)(p + off);
			iov[n++].iov_len = piece;
			total += WIRE_ATTR_HDR + piece;
			if (piece % 4) {
				iov[n].iov_base = (void *)zero;
				iov[n++].iov_len = 4 - piece % 4;
				total += 4 - piece % 4;
			}
		}
		put32(hdr, (uint32_t)total);
		put16(hdr + 4, MSG_IMAGE);
		put16(hdr + 6, 0);
		put32(hdr + 8, 0);
		put16(hdr + 12, WIRE_ATTR_HDR + 4);
		put16(hdr + 14, A_PID);
		put32(hdr + 16, 0);	/* the master names us */
		if (mig_sendv(fd, iov, n) == -1)
			return -1;
		o->unacked += chunk;
		p += chunk;
		len -= chunk;
	}
	return 0;
}

static int
mig_send_eof(int fd)
{
	unsigned char	buf[64];
	struct wire_msg	m;

	wire_msg_init(&m, buf, sizeof(buf), MSG_IMAGE, 0, 0);
	wire_put_u32(&m, A_PID, 0);
	wire_put_u8(&m, A_EOF, 1);
	return libbproc_send(fd, buf, wire_msg_finish(&m));
}

/*
 * After the image: the verdict.  Going out (until_exit) it is the node's
 * second EXEC_RESULT (the first said the restorer runs); a refusal is
 * followed by the restorer's own words on its stderr and its exit: they
 * become bproc_strerror()'s text (the restorer says why: another
 * kernel's vDSO, a missing file), nothing is printed.  Coming home, the
 * verdict is all nodeinit relays.
 */
static int
mig_verdict(int fd, int until_exit)
{
	struct wire_attr	 tb[A_MAX];
	struct wire_hdr		 h;
	struct wire_msg		 m;
	unsigned char		*buf, ack[64];
	char			 why[200] = "";
	size_t			 wl = 0, l;
	uint8_t			 s;
	int			 ret = -1, e = 0;

	if ((buf = malloc(WIRE_MAX_FRAME)) == NULL)
		return -1;
	for (;;) {
		if (libbproc_recv(fd, buf, LIBBPROC_WAIT_IMAGE, &h, tb) == -1)
			break;
		/* out: the node's second EXEC_RESULT; home: the ghost's IMAGE_RESULT */
		if (h.type == (until_exit ? MSG_EXEC_RESULT : MSG_IMAGE_RESULT)) {
			if ((ret = libbproc_result(tb)) == 0 || !until_exit)
				break;
			e = errno;
			continue;
		}
		if (h.type == MSG_EXIT) {
			if (e == 0)
				libbproc_errmsg("the restorer on the node ended "
				    "(status 0x%x)", wire_get_u32(&tb[A_STATUS]));
			ret = -1;
			e = e ? e : ENOEXEC;
			break;
		}
		if (h.type != MSG_IO || !tb[A_DATA].data ||
		    ((s = wire_get_u8(&tb[A_STREAM])) != 1 && s != 2))
			continue;
		/* output before the verdict: the process's, ours to pass on */
		if (e == 0) {
			(void)write(s, tb[A_DATA].data, tb[A_DATA].len);
			wire_msg_init(&m, ack, sizeof(ack), MSG_IO_ACK, 0, 0);
			wire_put_u32(&m, A_PID, 0);
			wire_put_u8(&m, A_STREAM, s);
			wire_put_u32(&m, A_BYTES, tb[A_DATA].len);
			if (libbproc_send(fd, ack, wire_msg_finish(&m)) == -1)
				break;
		}
		/* the restorer's stderr: its words say why, after a refusal */
		if (s == 2) {
			l = tb[A_DATA].len;
			if (l > sizeof(why) - 1 - wl)
				l = sizeof(why) - 1 - wl;
			memcpy(why + wl, tb[A_DATA].data, l);
			wl += l;
			why[wl] = '\0';
		}
	}
	free(buf);
	if (ret == -1 && until_exit && e != 0) {
		why[strcspn(why, "\n")] = '\0';
		if (why[0] != '\0')
			libbproc_errmsg("%s", why);
		errno = e;
	}
	return ret;
}

/*
 * The caller goes to node: 1 in the image once it runs there (the
 * caller's signal mask back, BPROC_NODE and its name right), no return
 * when the image was taken (the caller is now the ghost), -1 and errno
 * with the caller unchanged otherwise.
 */
static int
mig_go(int node, const struct mig_req *r, unsigned int rank)
{
	static const struct bproc_exec_opts	 none;
	struct bproc_exec_opts			 o = { 0 };
	struct mig_out				 out = { 0 };
	char					 comm[16] = "", num[16];
	sigset_t				 all, old;
	int					 fd, d, saved;

	prctl(PR_GET_NAME, comm, 0, 0, 0);
	/*
	 * Signals wait, pending, for the ghost, as in bproc_rexec; the image
	 * records this mask and gets the caller's back when it resumes.
	 */
	sigfillset(&all);
	sigprocmask(SIG_BLOCK, &all, &old);
	if ((fd = libbproc_connect()) == -1)
		goto fail_mask;
	/* the node asks for the files it lacks; push.c's loop serves them */
	o.files = r->files;
	o.nfiles = r->nfiles;
	if (mig_request(fd, node, r, rank) == -1 ||
	    libbproc_exec_answer(fd, &o) == -1)
		goto fail;
	out.fd = fd;
	out.chunk = BLOB_CHUNK;
	d = libbproc_dump_sink(mig_sink, &out, 0);
	if (d == BPROC_DUMP_RESUMED) {
		/* on the node; the restorer closed every descriptor above 2 */
		snprintf(num, sizeof(num), "%d", node);
		setenv("BPROC_NODE", num, 1);
		if (comm[0] != '\0')
			prctl(PR_SET_NAME, comm, 0, 0, 0);
		sigprocmask(SIG_SETMASK, &old, NULL);
		return 1;
	}
	if (d == -1) {
		libbproc_errmsg("dumping the process: %s", strerror(errno));
		goto fail;
	}
	if (mig_send_eof(fd) == -1 || mig_verdict(fd, 1) == -1)
		goto fail;
	/* the ghost keeps only stdio and this connection */
	syscall(SYS_close_range, 3, ~0u, 4 /* CLOSE_RANGE_CLOEXEC */);
	libbproc_ghost_exec(fd, node, r->argv, &none);
fail:
	saved = errno;
	close(fd);	/* the master ends what the node started */
	errno = saved;
fail_mask:
	saved = errno;
	sigprocmask(SIG_SETMASK, &old, NULL);
	errno = saved;
	return -1;
}

#define MIG_NODE_SOCK	"bproc-node"	/* nodeinit's abstract socket (nodeinit/migrate.c) */
#define MIG_HOME_WINDOW	(1u << 20)	/* image bytes unacknowledged on the way home */
#define MIG_HOME_TRIES	100		/* asks while the ghost is not ready */
#define MIG_HOME_PAUSE_US 20000		/* between them */

static int
mig_node_connect(void)
{
	struct sockaddr_un	sun;
	socklen_t		len;
	int			fd;

	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	memcpy(sun.sun_path + 1, MIG_NODE_SOCK, sizeof(MIG_NODE_SOCK) - 1);
	len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + 1 +
	    sizeof(MIG_NODE_SOCK) - 1);
	if ((fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0)) == -1)
		return -1;
	if (connect(fd, (struct sockaddr *)&sun, len) == -1) {
		libbproc_errmsg("cannot reach this node's nodeinit: %s",
		    strerror(errno));
		close(fd);
		return -1;
	}
	return fd;
}

/*
 * What we wrote to our stdout and stderr pipes before a move home must
 * reach the ghost first: wait (a moment at most) until nodeinit has read
 * them; it sends what it reads on the link ahead of our MSG_MOVE.
 */
static void
mig_output_sent(void)
{
	int	fd, n, i;

	for (fd = 1; fd <= 2; fd++)
		for (i = 0; i < MIG_HOME_TRIES && ioctl(fd, FIONREAD, &n) == 0 &&
		    n > 0; i++)
			usleep(MIG_HOME_PAUSE_US / 10);
}

static void	mig_standin(int, int) __attribute__((noreturn));

/*
 * On a node: the process goes home, where its ghost becomes it (bpghost
 * runs bprestore on the image; nodeinit and bpmaster relay it).  1 at
 * home, in the image; -1 and errno here, unchanged, when the ghost did
 * not take it.  When it did, this copy has nothing left to do, unless it
 * is an rfork's child on its way to standin_to (pfd >= 0): then it stays
 * as the stand-in, pfd its caller's pipe.
 */
static int
mig_home(int standin_to, int pfd)
{
	struct mig_out	 out = { 0 };
	struct wire_attr tb[A_MAX];
	struct wire_hdr	 h;
	struct wire_msg	 m;
	unsigned char	 buf[64], f[256];
	char		 comm[16] = "";
	sigset_t	 all, old;
	int		 fd, d, e, saved, tries;

	prctl(PR_GET_NAME, comm, 0, 0, 0);
	mig_output_sent();
	sigfillset(&all);
	sigprocmask(SIG_BLOCK, &all, &old);
	/*
	 * The ghost says when it is ready (an acknowledgement of nothing);
	 * one that is not checked yet (we arrived a moment ago) says EBUSY:
	 * ask again a little later.
	 */
	for (tries = 0;; tries++) {
		if ((fd = mig_node_connect()) == -1)
			goto fail_mask;
		wire_msg_init(&m, buf, sizeof(buf), MSG_MOVE, 0, 0);
		wire_put_u32(&m, A_PID, 0);
		wire_put_u32(&m, A_NODE, (uint32_t)(pfd >= 0 ? standin_to :
		    BPROC_NODE_MASTER));
		if (pfd >= 0)
			wire_put_u32(&m, A_FLAGS, MOVE_F_STANDIN);
		if (libbproc_send(fd, buf, wire_msg_finish(&m)) == -1 ||
		    mig_read_frame(fd, f, sizeof(f), &h, tb) == -1)
			goto fail;
		if (h.type == MSG_IMAGE_ACK)
			break;
		e = h.type == MSG_IMAGE_RESULT && wire_get_u32(&tb[A_ERRNO]) ?
		    (int)wire_get_u32(&tb[A_ERRNO]) : EPROTO;
		if (h.type == MSG_IMAGE_RESULT)
			libbproc_result(tb);
		close(fd);
		if (e != EBUSY || tries == MIG_HOME_TRIES) {
			errno = e;
			goto fail_mask;
		}
		usleep(MIG_HOME_PAUSE_US);
	}
	out.fd = fd;
	out.chunk = IO_CHUNK;	/* the ghost reads frames of this size */
	out.window = MIG_HOME_WINDOW;
	d = libbproc_dump_sink(mig_sink, &out, 0);
	if (d == BPROC_DUMP_RESUMED) {
		unsetenv("BPROC_NODE");
		if (comm[0] != '\0')
			prctl(PR_SET_NAME, comm, 0, 0, 0);
		sigprocmask(SIG_SETMASK, &old, NULL);
		return 1;
	}
	if (d == -1) {
		libbproc_errmsg("moving home: %s", strerror(errno));
		goto fail;
	}
	if (mig_send_eof(fd) == -1 || mig_verdict(fd, 0) == -1)
		goto fail;
	if (pfd >= 0)
		mig_standin(fd, pfd);
	/* the process runs on at home, under this PID; this copy ends */
	_exit(0);
fail:
	saved = errno;
	close(fd);
	errno = saved;
fail_mask:
	saved = errno;
	sigprocmask(SIG_SETMASK, &old, NULL);
	errno = saved;
	return -1;
}

/*
 * Ends the stand-in as its child ended (a signal's death by that signal,
 * without a core: the core, if any, was the child's).
 */
static void __attribute__((noreturn))
mig_standin_exit(uint32_t st)
{
	struct rlimit	 no = { 0, 0 };
	sigset_t	 one;
	int		 status = (int)st, sig;

	if (WIFSIGNALED(status)) {
		sig = WTERMSIG(status);
		setrlimit(RLIMIT_CORE, &no);
		signal(sig, SIG_DFL);
		sigemptyset(&one);
		sigaddset(&one, sig);
		sigprocmask(SIG_UNBLOCK, &one, NULL);
		raise(sig);
		_exit(128 + sig);
	}
	_exit(WIFEXITED(status) ? WEXITSTATUS(status) : 255);
}

/*
 * The rfork's child moved on; this copy, the caller's real child on its
 * node, stands in for it (docs/design-notes.md, "Migration"): it says so
 * to nodeinit on the mover's connection, which it keeps, forwards every
 * signal it can catch (all are blocked: they wait in a signalfd), and
 * hears from bpmaster whether the child runs at its target (the caller's
 * rfork returns: pfd closes), did not get there (the caller's rfork
 * fails: errno and text on pfd), or ended (so does this copy, the same
 * way), or stopped (so does this copy, with SIGSTOP; the caller's
 * SIGCONT comes back here and goes on to the child).  SIGKILL of this
 * copy makes bpmaster kill the child; SIGSTOP stops it too (nodeinit
 * reports the stop).
 */
static void
mig_standin(int fd, int pfd)
{
	struct signalfd_siginfo	 si;
	struct wire_attr	 tb[A_MAX];
	struct wire_hdr		 h;
	struct wire_msg		 m;
	struct mig_fail		 f;
	struct pollfd		 p[2];
	unsigned char		 buf[64], fr[1024];
	sigset_t		 all;
	uint32_t		 what;
	int			 sfd, nfd;

	/*
	 * The child's output goes through its ghost; this copy writes
	 * nothing and must not hold the session's pipes open (a bpsh, a
	 * $(...) would wait for it).
	 */
	if ((nfd = open("/dev/null", O_RDWR | O_CLOEXEC)) != -1) {
		dup2(nfd, 0);
		dup2(nfd, 1);
		dup2(nfd, 2);
		close(nfd);
	}
	sigfillset(&all);
	if ((sfd = signalfd(-1, &all, SFD_CLOEXEC)) == -1)
		_exit(255);
	wire_msg_init(&m, buf, sizeof(buf), MSG_STANDIN, 0, 0);
	wire_put_u32(&m, A_PID, 0);	/* nodeinit names us */
	if (libbproc_send(fd, buf, wire_msg_finish(&m)) == -1)
		goto lost;
	p[0].fd = fd;
	p[0].events = POLLIN;
	p[1].fd = sfd;
	p[1].events = POLLIN;
	for (;;) {
		if (poll(p, 2, -1) == -1) {
			if (errno == EINTR)
				continue;
			goto lost;
		}
		if (p[1].revents & POLLIN) {
			if (read(sfd, &si, sizeof(si)) != (ssize_t)sizeof(si) ||
			    si.ssi_signo == SIGCHLD)
				continue;
			wire_msg_init(&m, buf, sizeof(buf), MSG_STANDIN, 0, 0);
			wire_put_u32(&m, A_PID, 0);
			wire_put_u32(&m, A_SIG, si.ssi_signo);
			if (libbproc_send(fd, buf, wire_msg_finish(&m)) == -1)
				goto lost;
		}
		if (!p[0].revents)
			continue;
		if (mig_read_frame(fd, fr, sizeof(fr), &h, tb) == -1)
			goto lost;
		if (h.type != MSG_STANDIN || !tb[A_FLAGS].data)
			continue;
		what = wire_get_u32(&tb[A_FLAGS]);
		/* the child stopped: so do we, for the caller's waitpid */
		if (what & STANDIN_F_STOP) {
			raise(SIGSTOP);
			continue;
		}
		if (what & STANDIN_F_FAILED) {
			memset(&f, 0, sizeof(f));
			f.e = tb[A_ERRNO].data && wire_get_u32(&tb[A_ERRNO]) ?
			    (int)wire_get_u32(&tb[A_ERRNO]) : EIO;
			snprintf(f.msg, sizeof(f.msg), "%s", tb[A_MSG].data ?
			    wire_get_str(&tb[A_MSG]) : strerror(f.e));
			if (pfd >= 0)
				(void)write(pfd, &f, sizeof(f));
			_exit(255);
		}
		/* it runs (an end first means it ran): the caller's rfork returns */
		if (pfd >= 0) {
			close(pfd);
			pfd = -1;
		}
		if ((what & STANDIN_F_EXIT) && tb[A_STATUS].data)
			mig_standin_exit(wire_get_u32(&tb[A_STATUS]));
	}
lost:
	if (pfd >= 0) {
		memset(&f, 0, sizeof(f));
		f.e = EIO;
		snprintf(f.msg, sizeof(f.msg), "rfork: lost this node's "
		    "nodeinit while the child moved");
		(void)write(pfd, &f, sizeof(f));
		_exit(255);
	}
	/* no word of the child will come: BProc's rule for a lost node */
	mig_standin_exit(SIGKILL);
}

/*
 * At home, an rfork's child whose stand-in waits on the node: the second
 * hop failed; bpmaster tells the stand-in (and answers before we exit, so
 * our end, which our parent's ghost reports, is not taken for the news).
 */
static void __attribute__((noreturn))
mig_onward_failed(int e)
{
	struct wire_attr	 tb[A_MAX];
	struct wire_hdr		 h;
	struct wire_msg		 m;
	unsigned char		 buf[MIG_MSGLEN + 64], f[256];
	int			 fd;

	if ((fd = libbproc_connect()) != -1) {
		wire_msg_init(&m, buf, sizeof(buf), MSG_STANDIN, 0, 0);
		wire_put_u32(&m, A_PID, (uint32_t)getpid());
		wire_put_u32(&m, A_ERRNO, (uint32_t)(e ? e : EIO));
		wire_put_str(&m, A_MSG, bproc_strerror());
		if (libbproc_send(fd, buf, wire_msg_finish(&m)) == 0)
			(void)mig_read_frame(fd, f, sizeof(f), &h, tb);
	}
	_exit(255);
}

/*
 * rfork from a node: fork here (the child is the caller's real child on
 * this node, its ghost the caller's ghost's child); the child goes home
 * and on to node, and its copy here stays as its stand-in.  The parent
 * gets the PID once the child runs at node, or -1 and its errno.
 */
static pid_t
mig_rfork_node(int node, unsigned int rank, int *resumed)
{
	struct mig_req	 r;
	struct mig_fail	 f;
	pid_t		 pid;
	int		 p[2], ret;

	*resumed = 0;
	if (pipe2(p, O_CLOEXEC) == -1)
		return -1;
	if ((pid = fork()) == -1) {
		close(p[0]);
		close(p[1]);
		return -1;
	}
	if (pid == 0) {
		close(p[0]);
		if (mig_home(node, p[1]) == 1) {
			/* at home; the stand-in waits on the node */
			if (node != BPROC_NODE_MASTER) {
				if (mig_prepare(&r) == -1)
					mig_onward_failed(errno);
				ret = mig_go(node, &r, rank);
				mig_release(&r);
				if (ret != 1)
					mig_onward_failed(errno);
			}
			*resumed = 1;
			return 0;
		}
		/* still here, unchanged: the move home failed */
		memset(&f, 0, sizeof(f));
		f.e = errno;
		snprintf(f.msg, sizeof(f.msg), "%s", bproc_strerror());
		(void)write(p[1], &f, sizeof(f));
		_exit(255);
	}
	close(p[1]);
	return mig_rfork_wait(pid, p[0]);
}

/* What every call checks first: a node that is not this one, one thread. */
static int
mig_check(int node)
{
	int	n;

	libbproc_errclear();
	if (node < 0 && node != BPROC_NODE_MASTER) {
		errno = EINVAL;
		return -1;
	}
	if ((n = mig_nthreads()) != 1) {
		if (n > 1) {
			libbproc_errmsg("a multi-threaded process cannot "
			    "migrate");
			errno = ENOTSUP;
		}
		return -1;
	}
	return 0;
}

/*
 * Fork, and send the child to node; the parent gets its PID and the read
 * end of a pipe on which a failed child writes its errno and text (none:
 * it runs there).  In the child, that runs on the node: 0, *resumed set.
 */
static pid_t
mig_rfork_start(int node, const struct mig_req *r, unsigned int rank,
    int *rfd, int *resumed)
{
	struct mig_fail	 f;
	pid_t		 pid;
	int		 p[2];

	*resumed = 0;
	if (pipe2(p, O_CLOEXEC) == -1)
		return -1;
	if ((pid = fork()) == -1) {
		close(p[0]);
		close(p[1]);
		return -1;
	}
	if (pid == 0) {
		close(p[0]);
		if (mig_go(node, r, rank) == 1) {
			*resumed = 1;
			return 0;
		}
		memset(&f, 0, sizeof(f));
		f.e = errno;
		snprintf(f.msg, sizeof(f.msg), "%s", bproc_strerror());
		(void)write(p[1], &f, sizeof(f));
		_exit(255);
	}
	close(p[1]);
	*rfd = p[0];
	return pid;
}

/* Until the child runs on its node (its PID) or failed (-1, its errno). */
static pid_t
mig_rfork_wait(pid_t pid, int rfd)
{
	struct mig_fail	 f;
	ssize_t		 n;

	do
		n = read(rfd, &f, sizeof(f));
	while (n == -1 && errno == EINTR);
	close(rfd);
	if (n == (ssize_t)sizeof(f)) {
		waitpid(pid, NULL, 0);
		libbproc_errmsg("%s", f.msg);
		errno = f.e;
		return -1;
	}
	return pid;
}

pid_t
bproc_rfork(int node)
{
	struct mig_req	r;
	pid_t		pid;
	int		resumed, rfd = -1;

	if (node == bproc_currnode())
		return fork();
	if (mig_check(node) == -1)
		return -1;
	if (bproc_currnode() != BPROC_NODE_MASTER) {
		/* from a node: a stand-in stays here (docs/design-notes.md) */
		pid = mig_rfork_node(node, 0, &resumed);
		return resumed ? 0 : pid;
	}
	if (mig_prepare(&r) == -1)
		return -1;
	pid = mig_rfork_start(node, &r, 0, &rfd, &resumed);
	mig_release(&r);
	if (pid <= 0 || resumed)
		return pid;
	return mig_rfork_wait(pid, rfd);
}

/*
 * The children go out MIG_VR_AHEAD at a time, each dumping itself and
 * streaming its image to its node while the others do; the parent waits
 * for the oldest before it starts one more.
 */
int
bproc_vrfork(int n, const int *nodes, pid_t *pids)
{
	struct mig_req	r;
	pid_t		pid;
	int		i, k, started = 0, resumed, rfd[MIG_VR_AHEAD];

	if (n <= 0 || nodes == NULL || pids == NULL) {
		errno = EINVAL;
		return -1;
	}
	/* the front end goes out to nodes only (BPROC_NODE_MASTER: EINVAL) */
	for (i = 0; i < n; i++) {
		if (nodes[i] < 0 && bproc_currnode() == BPROC_NODE_MASTER) {
			errno = EINVAL;
			return -1;
		}
		if (mig_check(nodes[i]) == -1)
			return -1;
	}
	/* from a node: one child after the other, each with its stand-in */
	if (bproc_currnode() != BPROC_NODE_MASTER) {
		for (i = 0; i < n; i++) {
			if (nodes[i] == bproc_currnode())
				pid = fork();
			else
				pid = mig_rfork_node(nodes[i], (unsigned int)i,
				    &resumed);
			if (pid == 0)
				return i;
			pids[i] = pid == -1 ? -errno : pid;
			if (pid > 0)
				started++;
		}
		return started;
	}
	/* one manifest (its files hashed once) for every child */
	if (mig_prepare(&r) == -1)
		return -1;
	for (i = 0; i < n + MIG_VR_AHEAD; i++) {
		/* the one started MIG_VR_AHEAD ago: running there, or not */
		if ((k = i - MIG_VR_AHEAD) >= 0 && k < n && pids[k] > 0) {
			pids[k] = mig_rfork_wait(pids[k], rfd[k % MIG_VR_AHEAD]);
			if (pids[k] == -1)
				pids[k] = -errno;
			else
				started++;
		}
		if (i >= n)
			continue;
		pid = mig_rfork_start(nodes[i], &r, (unsigned int)i,
		    &rfd[i % MIG_VR_AHEAD], &resumed);
		if (resumed) {
			/* the child i, on its node (the restorer closed the rest) */
			mig_release(&r);
			return i;
		}
		pids[i] = pid == -1 ? -errno : pid;
	}
	mig_release(&r);
	return started;
}

int
bproc_move(int node)
{
	struct mig_req	r;
	int		ret;

	if (node == bproc_currnode())
		return 0;
	if (mig_check(node) == -1)
		return -1;
	/* node to node goes through the front end: home first */
	if (bproc_currnode() != BPROC_NODE_MASTER && mig_home(0, -1) == -1)
		return -1;
	if (node == BPROC_NODE_MASTER)
		return 0;
	if (mig_prepare(&r) == -1)
		return -1;
	ret = mig_go(node, &r, 0);
	mig_release(&r);
	return ret == 1 ? 0 : -1;
}

/* BProc's execmove: the caller becomes file on node; rexec does exactly that. */
int
bproc_execmove(int node, const char *file, char *const argv[],
    char *const envp[])
{
	return bproc_rexec(node, file, argv, envp);
}

int
bproc_vexecmove(int n, const int *nodes, pid_t *pids, const char *file,
    char *const argv[], char *const envp[])
{
	return bproc_vrexec(n, nodes, file, argv, envp, pids);
}
