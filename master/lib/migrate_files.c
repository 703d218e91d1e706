/*
 * libbproc's migration, what goes with the image: the process's file
 * mappings (program, libraries) as the push manifest, each with its
 * content hash, kept while the file's inode state holds; its command
 * line and program for the ghost (migrate.c says how a migration goes).
 */
#include <sys/stat.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <sodium.h>

#include "bproc.h"
#include "bproc_dump.h"
#include "libbproc_int.h"
#include "migrate_int.h"

#define MIG_HASHES	512		/* file hashes remembered per process */
#define MIG_FILES	4096		/* mapped files one image may name */
#define MIG_ARGMAX	(64 * 1024)	/* bytes of our command line sent for ps */

/* A mapped file's content hash, valid while its inode state is the same. */
struct mig_hash {
	dev_t		 dev;
	ino_t		 ino;
	off_t		 size;
	struct timespec	 mtime;
	unsigned char	 hash[32];
};

static struct mig_hash	mig_hashes[MIG_HASHES];
static size_t		mig_nhash, mig_next;

int
libmig_nthreads(void)
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

void
libmig_release(struct mig_req *r)
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
int
libmig_prepare(struct mig_req *r)
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
	libmig_release(r);
	errno = ENOMEM;
	return -1;
}
