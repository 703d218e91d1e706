/*
 * bpsh's cache of content hashes, in ~/.cache/bproc/hashes: a file is
 * hashed (BLAKE2b-256, libsodium) once per (device, inode, size, mtime),
 * so pushing an unchanged program again reads no file.  The cache is
 * only an optimisation: any failure just means hashing again.
 */
#include <sys/stat.h>

#include <err.h>
#include <fcntl.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <sodium.h>

#include "hash.h"
#include "htab.h"
#include "manifest.h"

#define HCACHE_MAX	100000	/* hash cache entries kept on disk */

struct hcache {
	dev_t		 dev;
	ino_t		 ino;
	off_t		 size;
	long long	 mtime;
	unsigned char	 hash[32];
};

static struct hcache	*hc;
static size_t		 nhc, hc_loaded, hc_dirty;
static struct htab	 hc_index = HTAB_INIT;	/* inode state -> index into hc */
static int		 sodium_ready;

static void
hcache_path(char *buf, size_t len)
{
	const char	*home = getenv("HOME");

	snprintf(buf, len, "%s/.cache/bproc/hashes",
	    home && *home ? home : "/tmp");
}

static uint64_t
hcache_hash(dev_t dev, ino_t ino, off_t size, long long mtime)
{
	return htab_mix(htab_mix(htab_mix(htab_mix(0, (uint64_t)ino),
	    (uint64_t)dev), (uint64_t)size), (uint64_t)mtime);
}

/* What hcache_eq looks for: one inode state. */
struct hcache_key {
	const struct stat	*st;
	long long		 mtime;
};

static int
hcache_eq(uintptr_t v, const void *key)
{
	const struct hcache_key	*k = key;
	const struct hcache	*e = &hc[v];

	return e->dev == k->st->st_dev && e->ino == k->st->st_ino &&
	    e->size == k->st->st_size && e->mtime == k->mtime;
}

/* Index hc[i]; without memory the cache just finds less. */
static void
hcache_index_put(size_t i)
{
	const struct hcache	*e = &hc[i];

	(void)htab_put(&hc_index, hcache_hash(e->dev, e->ino, e->size,
	    e->mtime), i);
}

static struct hcache *
hcache_find(const struct stat *st, long long mt)
{
	struct hcache_key	key = { st, mt };
	uintptr_t		v;

	if (!htab_get(&hc_index, hcache_hash(st->st_dev, st->st_ino,
	    st->st_size, mt), hcache_eq, &key, &v))
		return NULL;
	return &hc[v];
}

static void
hcache_load(void)
{
	char		 path[PATH_MAX];
	struct hcache	 e;
	FILE		*f;
	struct stat	 st;
	size_t		 n;

	hc_loaded = 1;
	hcache_path(path, sizeof(path));
	if ((f = fopen(path, "re")) != NULL) {
		/*
		 * Whole records only, at most what hashcache_save keeps,
		 * from a file that only we could have written.
		 */
		if (fstat(fileno(f), &st) == 0 && st.st_size > 0 &&
		    st.st_uid == geteuid() && !(st.st_mode & 022)) {
			n = (size_t)st.st_size / sizeof(e);
			if (n > HCACHE_MAX)
				n = HCACHE_MAX;
			if ((hc = reallocarray(NULL, n, sizeof(*hc))) != NULL)
				nhc = fread(hc, sizeof(*hc), n, f);
		}
		fclose(f);
	}
	if (htab_reserve(&hc_index, nhc) == 0)
		for (size_t i = 0; i < nhc; i++)
			hcache_index_put(i);
}

void
hashcache_save(void)
{
	char	 path[PATH_MAX], tmp[PATH_MAX + 16], *slash;
	FILE	*f;
	int	 fd;

	if (!hc_dirty)
		return;
	hcache_path(path, sizeof(path));
	for (slash = path + 1; (slash = strchr(slash, '/')) != NULL; slash++) {
		*slash = '\0';
		mkdir(path, 0700);
		*slash = '/';
	}
	snprintf(tmp, sizeof(tmp), "%s.%d", path, (int)getpid());
	/* ours alone, whatever the umask: hcache_load trusts no other */
	if ((fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC,
	    0600)) == -1)
		return;
	if ((f = fdopen(fd, "w")) == NULL) {
		close(fd);
		unlink(tmp);
		return;
	}
	/* keep the newest entries; the cache is only an optimisation */
	size_t first = nhc > HCACHE_MAX ? nhc - HCACHE_MAX : 0;
	if (fwrite(hc + first, sizeof(*hc), nhc - first, f) != nhc - first) {
		fclose(f);
		unlink(tmp);
		return;
	}
	fclose(f);
	rename(tmp, path);
}

/* Hash an open file, or take the hash cached for the same inode state. */
int
hashcache_file(int fd, const struct stat *st, unsigned char *out)
{
	struct hcache			*e;
	long long			 mt;

	mt = (long long)st->st_mtim.tv_sec * 1000000000LL + st->st_mtim.tv_nsec;
	if (!hc_loaded)
		hcache_load();
	if ((e = hcache_find(st, mt)) != NULL) {
		memcpy(out, e->hash, 32);
		return 0;
	}
	if (!sodium_ready) {
		if (sodium_init() < 0)
			errx(255, "libsodium initialisation failed");
		sodium_ready = 1;
	}
	if (hash_fd(fd, out) == -1)
		return -1;
	if ((e = reallocarray(hc, nhc + 1, sizeof(*hc))) != NULL) {
		hc = e;
		hc[nhc].dev = st->st_dev;
		hc[nhc].ino = st->st_ino;
		hc[nhc].size = st->st_size;
		hc[nhc].mtime = mt;
		memcpy(hc[nhc].hash, out, 32);
		nhc++;
		hc_dirty = 1;
		hcache_index_put(nhc - 1);
	}
	return 0;
}
