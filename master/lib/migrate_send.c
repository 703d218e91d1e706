/*
 * libbproc's migration, the image's way out: the EXEC that asks for the
 * node, the image as MSG_IMAGE frames on the same connection (the sink
 * vmadump writes into), the node's verdict, and libmig_go, which sends
 * the caller to a node (migrate.c says how a migration goes).
 */
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/uio.h>

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "bproc.h"
#include "bproc_dump.h"
#include "libbproc_int.h"
#include "migrate_int.h"

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
int
libmig_read_frame(int fd, unsigned char *f, size_t cap, struct wire_hdr *h,
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
		if (libmig_read_frame(o->fd, f, sizeof(f), &h, tb) == -1)
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

int
libmig_sink(void *ctx, const void *buf, size_t len)
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

int
libmig_send_eof(int fd)
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
int
libmig_verdict(int fd, int until_exit)
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
int
libmig_go(int node, const struct mig_req *r, unsigned int rank)
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
	d = libbproc_dump_sink(libmig_sink, &out, 0);
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
	if (libmig_send_eof(fd) == -1 || libmig_verdict(fd, 1) == -1)
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
