/* Content hashes of files (common/hash.c): BLAKE2b-256, libsodium's. */
#ifndef BPROC_HASH_H
#define BPROC_HASH_H

#define HASH_LEN	32	/* bytes of a content hash, as A_HASH carries it */

int	hash_fd(int, unsigned char[HASH_LEN]);

#endif
