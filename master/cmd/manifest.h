/* bpsh's push manifest: manifest.c walks, hashcache.c hashes, closure.c caches. */
#ifndef BPROC_MANIFEST_H
#define BPROC_MANIFEST_H

#include <stddef.h>

#include "htab.h"

struct bproc_file;

/* All zero is an empty manifest. */
struct manifest {
	struct bproc_file	*files;
	size_t			 n;
	size_t			 cap;
	int			 errors;	/* files that could not be read */
	struct htab		 index;		/* path -> files[], for the walk */
	size_t			 indexed;	/* files[0..indexed) are in it */
};

/* Find cmd on the front end's PATH; 0 and the absolute path, or -1. */
int	manifest_resolve(const char *, char *, size_t);
/* Add a file or directory tree and everything it needs. */
void	manifest_add(struct manifest *, const char *);
/* The command itself: like manifest_add, through the closure cache. */
void	manifest_command(struct manifest *, const char *);

/* hashcache.c: content hashes, cached by inode state */
struct stat;
int	hashcache_file(int, const struct stat *, unsigned char *);
void	hashcache_save(void);

/* closure.c: the walk's dependencies, and its cache */
void	closure_record(const char *, const struct stat *);
void	closure_spoil(void);
void	closure_begin(void);
void	closure_end(const char *, const struct manifest *);
int	closure_load(const char *, struct manifest *);

#endif
