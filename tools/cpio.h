/*
 * A newc ("070701") cpio reader that unpacks an initramfs image into the
 * current directory as the kernel would (init/initramfs.c).
 */
#ifndef BPROC_CPIO_H
#define BPROC_CPIO_H

#include <stddef.h>

/*
 * Unpack the archive(s) read from fd into ".": 0, or -1 with the reason
 * in err (name is the image's name for the messages).
 */
int	cpio_unpack(int fd, const char *name, char *err, size_t errlen);

#endif
