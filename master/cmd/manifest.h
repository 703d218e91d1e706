/* bpsh's push manifest: see push.c. */
#ifndef BPROC_PUSH_H
#define BPROC_PUSH_H

#include <stddef.h>

struct bproc_file;

struct manifest {
	struct bproc_file	*files;
	size_t			 n;
	size_t			 cap;
	int			 errors;	/* files that could not be read */
};

/* Find cmd on the front end's PATH; 0 and the absolute path, or -1. */
int	push_resolve(const char *, char *, size_t);
/* Add a file or directory tree and everything it needs. */
void	push_add(struct manifest *, const char *);
void	push_save_cache(void);
/* The command itself: like push_add, through the closure cache. */
void	push_command(struct manifest *, const char *);

/* closure.c: the walk's dependencies, and its cache */
struct stat;
void	closure_record(const char *, const struct stat *);
void	closure_spoil(void);
void	closure_begin(void);
void	closure_end(const char *, const struct manifest *);
int	closure_load(const char *, struct manifest *);

#endif
