/*
 * What each byte of a relayed blob costs on this machine, step by step
 * (bench/relay_bench.sh prints it next to the measured push): the same
 * libsodium calls and syscalls nodeinit makes per frame, in 256 KiB
 * frames (BLOB_CHUNK), over a 64 MiB buffer, best of 5.  Prints one
 * "name ns_per_MiB" line per step: CPU time (CLOCK_PROCESS_CPUTIME_ID),
 * which a busy machine disturbs less than wall time.
 *
 *   open    ChaCha20-Poly1305 IETF decrypt (conn.c, each sealed frame in)
 *   hash    BLAKE2b-256 (blob_rx.c, every byte received)
 *   write   writev to a file on tmpfs (/dev/shm: the node's cache is tmpfs)
 *   pread   read it back (relay.c, each child's copy)
 *   seal    ChaCha20-Poly1305 IETF encrypt (conn.c, each sealed frame out)
 *   copy    memcpy (building a frame: the A_DATA pieces)
 *   socket  a unix stream pair, write + read (the kernel's copy per hop)
 */
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <sodium.h>

#define TOTAL	(64u << 20)	/* bytes per run */
#define FRAME	(256u * 1024)	/* bytes per step, as BLOB_CHUNK */
#define RUNS	5		/* best of */

static unsigned char	*src, *dst;
static unsigned char	 key[32], nonce[12];

static uint64_t
now_ns(void)
{
	struct timespec	ts;

	clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static void
step_open(size_t off)
{
	unsigned long long	n;

	/* a forged tag fails fast; decrypt a real sealed frame */
	if (crypto_aead_chacha20poly1305_ietf_decrypt(dst + off, &n, NULL,
	    src + off, FRAME + 16, NULL, 0, nonce, key) != 0)
		abort();
}

static void
step_seal(size_t off)
{
	crypto_aead_chacha20poly1305_ietf_encrypt(dst + off, NULL, src + off,
	    FRAME, NULL, 0, NULL, nonce, key);
}

static crypto_generichash_state	hs;

static void
step_hash(size_t off)
{
	crypto_generichash_update(&hs, src + off, FRAME);
}

static void
step_copy(size_t off)
{
	memcpy(dst + off, src + off, FRAME);
}

static int	tmpfd = -1, sp[2] = { -1, -1 };

static void
step_write(size_t off)
{
	if (pwrite(tmpfd, src + off, FRAME, (off_t)off) != (ssize_t)FRAME)
		abort();
}

static void
step_pread(size_t off)
{
	if (pread(tmpfd, dst + off, FRAME, (off_t)off) != (ssize_t)FRAME)
		abort();
}

static void
step_socket(size_t off)
{
	size_t	got = 0;
	ssize_t	n;

	if (write(sp[0], src + off, FRAME) != (ssize_t)FRAME)
		abort();
	while (got < FRAME) {
		if ((n = read(sp[1], dst + off + got, FRAME - got)) <= 0)
			abort();
		got += (size_t)n;
	}
}

static double
run(void (*fn)(size_t))
{
	uint64_t	best = UINT64_MAX, t;
	size_t		off;
	int		r;

	for (r = 0; r < RUNS; r++) {
		crypto_generichash_init(&hs, NULL, 0, 32);
		t = now_ns();
		for (off = 0; off + FRAME + 16 <= TOTAL; off += FRAME + 16)
			fn(off);
		t = now_ns() - t;
		if (t < best)
			best = t;
	}
	/* per MiB of blob data: each step handled FRAME bytes */
	return (double)best / ((double)(TOTAL / (FRAME + 16)) * FRAME /
	    (1 << 20));
}

int
main(void)
{
	char	path[] = "/dev/shm/relay_cost.XXXXXX";
	int	sz = 4 << 20;
	size_t	off;

	if (sodium_init() < 0 || (src = malloc(TOTAL + 64)) == NULL ||
	    (dst = malloc(TOTAL + 64)) == NULL)
		return 1;
	randombytes_buf(key, sizeof(key));
	randombytes_buf(src, TOTAL);
	memset(dst, 0, TOTAL);
	if ((tmpfd = mkstemp(path)) == -1)
		return 1;
	unlink(path);
	if (socketpair(AF_UNIX, SOCK_STREAM, 0, sp) == -1)
		return 1;
	setsockopt(sp[0], SOL_SOCKET, SO_SNDBUF, &sz, sizeof(sz));
	setsockopt(sp[1], SOL_SOCKET, SO_RCVBUF, &sz, sizeof(sz));
	printf("seal %.0f\n", run(step_seal));
	/* sealed frames to open: what step_seal left in dst, copied back */
	for (off = 0; off + FRAME + 16 <= TOTAL; off += FRAME + 16)
		step_seal(off);
	memcpy(src, dst, TOTAL);
	printf("open %.0f\n", run(step_open));
	randombytes_buf(src, TOTAL);
	printf("hash %.0f\n", run(step_hash));
	printf("copy %.0f\n", run(step_copy));
	printf("write %.0f\n", run(step_write));
	printf("pread %.0f\n", run(step_pread));
	printf("socket %.0f\n", run(step_socket));
	return 0;
}
