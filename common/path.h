/*
 * Path helpers shared by the tools and the master: both build manifests
 * whose paths the node takes only in clean, absolute form.
 */
#ifndef BPROC_PATH_H
#define BPROC_PATH_H

#include <stddef.h>
#include <stdint.h>

void	path_clean(char *);
void	path_dir(const char *, char *, size_t);
void	path_link_target(const char *, const char *, char *, size_t);
const char *path_base(const char *, char *, size_t);
uint32_t path_hash(const char *);

#endif
