/*
 * A file's content hash, read from a descriptor's offset to its end: the
 * hash the manifest, the setup push list, the master's verification and
 * the image's files name blobs by.
 */
#include <sys/types.h>
#include <unistd.h>

#include <sodium.h>

#include "hash.h"

/* 0, or -1 with errno from read(2); the caller has run sodium_init. */
int
hash_fd(int fd, unsigned char out[HASH_LEN])
{
	static unsigned char			buf[65536];
	crypto_generichash_state		s;
	ssize_t					n;

	crypto_generichash_init(&s, NULL, 0, HASH_LEN);
	while ((n = read(fd, buf, sizeof(buf))) > 0)
		crypto_generichash_update(&s, buf, (unsigned long long)n);
	if (n < 0)
		return -1;
	crypto_generichash_final(&s, out, HASH_LEN);
	return 0;
}
