/*
 * Fuzz target for nodeinit's relay links (nodeinit/relay.c): what a peer
 * on the relay port, with or without the cluster key, can make PID 1 do.
 * The input is
 *
 *	u8 setup, frames...
 *
 * setup bit 0: the link is one we serve (a child connected to us), else
 * one we fetch on (we connected to a parent for the blob FZ_HASH of
 * FZ_GPID); bits 1-2: the phase it starts in (0 the handshake's first
 * step, 1 the confirm (fetching side only), 2-3 sealed: the handshake is
 * skipped, as a peer holding the key would).  Each frame (cut by its
 * header, or the rest of the input when it has none) goes in through a
 * real socketpair and rl_input(); while the link is sealed the harness
 * seals it first under the link's own keys (the peer's side of
 * auth_relay_keys), so the handlers behind the AEAD see attacker-shaped
 * plaintext too.  After each frame relay_tick() runs, which serves what a
 * GET asked for from the blob file and frees dead links.
 *
 * The key and both nonces are fixed (auth_nonce is wrapped), so a seed
 * can carry a valid proof (mkcorpus -t relay).  push_source serves one
 * blob, FZ_HASH, from a small unlinked file, or none for another hash;
 * push_relay_feed takes blob bytes as blob_rx.c would (A_DATA pieces at
 * the offset), done at FZ_SIZE bytes; link_send_msg is where RELAY_DONE
 * reports go.
 *
 * Accepted means: no frame made the link fail, the fetching side sent no
 * RELAY_DONE with an error, and a serving side that ended had opened the
 * blob (an error end is a refusal).
 */
#include "nodeinit/relay.c"

#include <sys/stat.h>

#include <sodium.h>

#include "fuzz.h"

#define FZ_GPID		4242
#define FZ_SIZE		3000	/* the blob's bytes */
#define FZ_MAX_FRAMES	256

static const unsigned char	fz_key[32] = {
	0x5a, 0x5a, 0x5a, 0x5a, 0x5a, 0x5a, 0x5a, 0x5a,
	0x5a, 0x5a, 0x5a, 0x5a, 0x5a, 0x5a, 0x5a, 0x5a,
	0x5a, 0x5a, 0x5a, 0x5a, 0x5a, 0x5a, 0x5a, 0x5a,
	0x5a, 0x5a, 0x5a, 0x5a, 0x5a, 0x5a, 0x5a, 0x5a,
};
static unsigned char	fz_hash[32];	/* 0x33 .. (FZ_HASH) */
static char		fz_blob[64];	/* the blob's file (an unlinked one's fd) */
static int		fz_done_err;	/* a RELAY_DONE said an error */
static uint64_t		fz_fed;
static uint64_t		fz_clock;
static volatile uint64_t fz_sink;

void	__wrap_auth_nonce(unsigned char *);

/* Both nonces fixed: the seeds' proofs hold (mkcorpus computes them alike). */
void
__wrap_auth_nonce(unsigned char *n)
{
	memset(n, 0x4e, AUTH_NONCE_LEN);
}

const unsigned char *
uplink_key(void)
{
	return fz_key;
}

/* Time moves 1 ms a call: timeouts are not reached within one input. */
uint64_t
now_ms(void)
{
	return ++fz_clock;
}

int
link_send_msg(struct wire_msg *m)
{
	struct wire_iter	it;
	struct wire_attr	a;
	size_t			len = wire_msg_finish(m);

	if (len < WIRE_HDR_LEN)
		abort();	/* our own frame must fit its buffer */
	wire_iter_init(&it, m->buf + WIRE_HDR_LEN, len - WIRE_HDR_LEN);
	while (wire_iter_next(&it, &a) == 1)
		if (a.type == A_ERRNO && a.len == 4 && wire_get_u32(&a) != 0)
			fz_done_err = 1;
	return 0;
}

int
push_relay_want(pid_t gpid, const unsigned char *hash, uint64_t *off)
{
	if (gpid != FZ_GPID || memcmp(hash, fz_hash, 32) != 0 ||
	    fz_fed >= FZ_SIZE)
		return -1;
	*off = fz_fed;
	return 0;
}

/* As blob_rx.c's rx_feed takes them: pieces in order, never past the size. */
int
push_relay_feed(pid_t gpid, const unsigned char *hash, struct wire_attr *tb,
    const unsigned char *body, size_t blen, uint64_t *off)
{
	struct wire_iter	it;
	struct wire_attr	a;

	if (gpid != FZ_GPID || memcmp(hash, fz_hash, 32) != 0)
		abort();	/* relay.c checked the hash, the gpid is its own */
	wire_iter_init(&it, body, blen);
	while (wire_iter_next(&it, &a) == 1) {
		if (a.type != A_DATA)
			continue;
		if (fz_fed + a.len > FZ_SIZE) {
			fz_done_err = 1;	/* the exec fails; the master hears */
			return -1;
		}
		for (size_t i = 0; i < a.len; i++)
			fz_sink += ((const unsigned char *)a.data)[i];
		fz_fed += a.len;
	}
	*off = fz_fed;
	if (tb[A_EOF].data != NULL && wire_get_u8(&tb[A_EOF]))
		return fz_fed == FZ_SIZE ? 1 : (fz_done_err = 1, -1);
	return 0;
}

int
push_source(const unsigned char *hash, char *path, size_t len,
    uint64_t *avail, uint64_t *size, uint32_t *id)
{
	if (memcmp(hash, fz_hash, 32) != 0)
		return -1;
	snprintf(path, len, "%s", fz_blob);
	*avail = *size = FZ_SIZE;
	*id = 0;
	return 0;
}

static void
fz_init(void)
{
	static unsigned char	zero[4096];
	int			fd;

	if (sodium_init() < 0)
		abort();
	memset(fz_hash, 0x33, sizeof(fz_hash));
	snprintf(fz_blob, sizeof(fz_blob), "/tmp/fuzz-relay-blob.XXXXXX");
	if ((fd = mkstemp(fz_blob)) == -1)
		abort();
	for (size_t n = 0; n < FZ_SIZE; n += sizeof(zero))
		if (write(fd, zero, FZ_SIZE - n < sizeof(zero) ? FZ_SIZE - n :
		    sizeof(zero)) <= 0)
			abort();
	/* relay.c opens it by path: the open descriptor's, the name goes now */
	unlink(fz_blob);
	snprintf(fz_blob, sizeof(fz_blob), "/proc/self/fd/%d", fd);
}

/* What the link sent: read and dropped (its content is relay.c's own). */
static void
fz_drain(int fd)
{
	unsigned char	buf[65536];

	while (read(fd, buf, sizeof(buf)) > 0)
		;
}

/* The peer's half of a sealed link: a conn that seals what it is given. */
static void
fz_peer_seal(struct conn *peer, const struct rlink *l)
{
	unsigned char	ks[32], kc[32];

	auth_relay_keys(fz_key, l->ns, l->nc, ks, kc);
	conn_seal(peer, ks, kc, !l->serve ? 0 : 1);
}

/* Write n bytes into the link's socket, reading what it sends meanwhile. */
static int
fz_put(int fd, const unsigned char *p, size_t n)
{
	ssize_t	w;

	while (n > 0) {
		if ((w = write(fd, p, n)) <= 0)
			return -1;	/* socket full: the input is too big */
		p += w;
		n -= (size_t)w;
	}
	return 0;
}

int
fuzz_verdict(const uint8_t *data, size_t size)
{
	static int	 ready;
	struct conn	 peer;
	struct rlink	*l;
	struct wire_hdr	 h;
	const char	*why;
	size_t		 off = 1, rec;
	int		 sv[2], setup, phase, bad = 0, serve, frames = 0;
	int		 ended = 0, opened = 0;

	if (!ready) {
		fz_init();
		ready = 1;
	}
	if (size < 1)
		return 0;
	setup = data[0];
	serve = setup & 1;
	phase = (setup >> 1) & 3;
	fz_done_err = 0;
	fz_fed = 0;
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0,
	    sv) == -1)
		abort();
	if ((l = rl_new(sv[0], "fuzz", serve)) == NULL)
		abort();
	memset(l->ns, 0x4e, AUTH_NONCE_LEN);
	memset(l->nc, 0x4e, AUTH_NONCE_LEN);
	if (!serve) {
		l->gpid = FZ_GPID;
		memcpy(l->hash, fz_hash, 32);
	}
	conn_init(&peer, sv[1], "fuzz-peer", WIRE_MAX_FRAME, 8u << 20);
	if (phase >= 2) {
		rl_seal(l, fz_key, !serve);
		fz_peer_seal(&peer, l);
	} else
		l->phase = phase == 1 && !serve ? RL_CONFIRM : RL_AUTH;

	while (off < size && frames++ < FZ_MAX_FRAMES) {
		rec = size - off;
		why = NULL;
		if (wire_hdr_decode(data + off, rec, WIRE_MAX_FRAME, &h, &why) == 1 &&
		    h.len <= rec)
			rec = h.len;
		if (peer.sealed) {
			if (conn_send(&peer, data + off, rec) == -1 ||
			    conn_flush(&peer) == -1)
				break;
		} else if (fz_put(sv[1], data + off, rec) == -1)
			break;
		off += rec;
		rl_input(l);
		fz_drain(sv[1]);
		/* the link sealed on this frame: so does the peer */
		if (!peer.sealed && l->phase == RL_SEALED)
			fz_peer_seal(&peer, l);
		ended = l->ended;
		opened = l->fd >= 0;
		if (l->dead) {
			bad = !(serve ? ended && opened : fz_fed == FZ_SIZE &&
			    !fz_done_err);
			relay_tick();	/* frees it */
			l = NULL;
			break;
		}
		relay_tick();
		fz_drain(sv[1]);
		if (DLIST_EMPTY(&rlinks)) {	/* served to its end: it went */
			l = NULL;
			break;
		}
	}
	if (l != NULL)
		rl_free(l);
	/* rl_free closed sv[0]; the peer's conn owns sv[1] */
	conn_free(&peer);
	if (!DLIST_EMPTY(&rlinks) || nrlinks != 0)
		abort();	/* a link survived its own free */
	if (serve && ended && !opened)
		bad = 1;
	return !bad && !fz_done_err;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	fuzz_verdict(data, size);
	return 0;
}
