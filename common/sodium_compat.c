/*
 * Debian's libsodium.a is built against glibc with _FORTIFY_SOURCE, so it
 * calls glibc's checked entry points, which musl lacks.  These supply them
 * for the static musl nodeinit: each checks the destination size as glibc
 * does and aborts on overflow; none skips the check.
 */
#include <stdlib.h>
#include <string.h>

void	*__memcpy_chk(void *, const void *, size_t, size_t);
void	*__memmove_chk(void *, const void *, size_t, size_t);
void	*__memset_chk(void *, int, size_t, size_t);
void	 __explicit_bzero_chk(void *, size_t, size_t);

void *
__memcpy_chk(void *dst, const void *src, size_t len, size_t dstlen)
{
	if (len > dstlen)
		abort();
	return memcpy(dst, src, len);
}

void *
__memmove_chk(void *dst, const void *src, size_t len, size_t dstlen)
{
	if (len > dstlen)
		abort();
	return memmove(dst, src, len);
}

void *
__memset_chk(void *dst, int c, size_t len, size_t dstlen)
{
	if (len > dstlen)
		abort();
	return memset(dst, c, len);
}

void
__explicit_bzero_chk(void *dst, size_t len, size_t dstlen)
{
	if (len > dstlen)
		abort();
	explicit_bzero(dst, len);
}

/*
 * libsodium's core.o holds sodium_init(), which picks an implementation
 * for every primitive the library has (curve25519, argon2, salsa20...),
 * and linking it drags all of them into a binary that must stay under
 * 200 KB.  nodeinit is single-threaded and uses three primitives, so this
 * file stands in for core.o: the same initialisation, restricted to the
 * implementations nodeinit uses, and sodium_misuse() aborting as the
 * library's own does.  It is linked only into the static nodeinit.
 */
int	_sodium_runtime_get_cpu_features(void);
int	_crypto_generichash_blake2b_pick_best_implementation(void);
int	_crypto_onetimeauth_poly1305_pick_best_implementation(void);
int	_crypto_stream_chacha20_pick_best_implementation(void);
void	randombytes_stir(void);
int	sodium_init(void);
int	sodium_crit_enter(void);
int	sodium_crit_leave(void);
void	sodium_misuse(void) __attribute__((noreturn));

static int	sodium_ready;

int
sodium_init(void)
{
	if (sodium_ready)
		return 1;
	_sodium_runtime_get_cpu_features();
	randombytes_stir();
	_crypto_generichash_blake2b_pick_best_implementation();
	_crypto_onetimeauth_poly1305_pick_best_implementation();
	_crypto_stream_chacha20_pick_best_implementation();
	sodium_ready = 1;
	return 0;
}

int
sodium_crit_enter(void)
{
	return 0;	/* one thread: nothing to lock */
}

int
sodium_crit_leave(void)
{
	return 0;
}

void
sodium_misuse(void)
{
	abort();
}
