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
