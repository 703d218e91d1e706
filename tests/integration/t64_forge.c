/*
 * t64's lying client: included (gcc -include) into a copy of
 * master/lib/rexec.c whose mfile_encode call is renamed t64_encode, so
 * every manifest entry bpsh sends is forged as the environment says:
 *   T64_UID=n      owner uid and gid n
 *   T64_MODE=oct   mode
 *   T64_SIZE=n     size of each regular file
 *   T64_HASH=1     the hash, one bit flipped
 *   T64_AS=path    a regular file's path (its content stays the real one)
 *   T64_TARGET=t   a symlink's target
 * What bpsh then sends as blobs is the real files' content.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "proto.h"

static size_t
t64_encode(unsigned char *out, const unsigned char *hash, uint32_t mode,
    uint32_t uid, uint32_t gid, uint64_t size, const char *path,
    const char *target)
{
	unsigned char	 h[32];
	const char	*v;

	memcpy(h, hash, 32);
	if ((v = getenv("T64_UID")) != NULL)
		uid = gid = (uint32_t)strtoul(v, NULL, 10);
	if ((v = getenv("T64_MODE")) != NULL)
		mode = (uint32_t)strtoul(v, NULL, 8);
	if (target == NULL && (v = getenv("T64_SIZE")) != NULL)
		size = strtoull(v, NULL, 10);
	if (getenv("T64_HASH") != NULL)
		h[0] ^= 1;
	if (target == NULL && (v = getenv("T64_AS")) != NULL)
		path = v;
	if (target != NULL && (v = getenv("T64_TARGET")) != NULL)
		target = v;
	return mfile_encode(out, h, mode, uid, gid, size, path, target);
}
