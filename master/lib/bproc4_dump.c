/*
 * libbproc, BProc 4 layer: VMADump's calls with BProc's conventions.
 * bproc_dump takes BProc's flag values (LIBS 1, EXEC 2, OTHER 4) and
 * returns as BProc's did: a positive number where the image was written
 * (the bytes written, for a file; 1 for a pipe or socket, whose count
 * the dumper does not keep) and 0 in the image when it is restarted.
 * bproc_undump is bproc-ng's own.  bproc_execdump(fd, node) restarts an
 * image on a node: the caller reads the image, moves there (its memory,
 * the image with it) and undumps it from a memory file.
 */
#include <sys/mman.h>
#include <sys/stat.h>
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <sys/bproc.h>
#include "bproc4_int.h"
#include "vmadump.h"

#define NG_DUMP_EXEC	0x1	/* bproc_dump.h's BPROC_DUMP_EXEC */
#define NG_DUMP_LIBS	0x2	/* bproc_dump.h's BPROC_DUMP_LIBS */
#define NG_DUMP_OTHER	0x4	/* bproc_dump.h's BPROC_DUMP_OTHER */
#define NG_DUMP_RESUMED	1	/* bproc_dump.h's BPROC_DUMP_RESUMED */
#define IMAGE_MAX	((size_t)1 << 34)	/* largest image execdump reads */
#define IMAGE_CHUNK	((size_t)1 << 20)	/* its read size */

int
bproc_dump(int fd, int flags)
{
	off_t	start, end;
	int	ng = 0, r;

	if (flags & ~BPROC_DUMP_ALL)
		return bproc4_fail(EINVAL, "dump flags 0x%x", (unsigned)flags);
	if (flags & BPROC_DUMP_LIBS)
		ng |= NG_DUMP_LIBS;
	if (flags & BPROC_DUMP_EXEC)
		ng |= NG_DUMP_EXEC;
	if (flags & BPROC_DUMP_OTHER)
		ng |= NG_DUMP_OTHER;
	start = lseek(fd, 0, SEEK_CUR);
	if ((r = ng_dump(fd, ng)) == -1)
		return bproc4_native_fail();
	if (r == NG_DUMP_RESUMED)
		return 0;
	if (start == -1 || (end = lseek(fd, 0, SEEK_CUR)) == -1 ||
	    end <= start)
		return 1;
	return end - start > INT32_MAX ? INT32_MAX : (int)(end - start);
}

/* The whole image on fd, checked to be one for this machine. */
static unsigned char *
image_read(int fd, size_t *lenp)
{
	const struct vmad_header	*h;
	unsigned char			*buf = NULL, *nb;
	size_t				 len = 0, cap = 0;
	ssize_t				 n;

	for (;;) {
		if (cap - len < IMAGE_CHUNK) {
			if (cap >= IMAGE_MAX) {
				bproc4_fail(EFBIG, "image larger than %zu bytes",
				    IMAGE_MAX);
				goto fail;
			}
			cap = cap ? cap * 2 : 4 * IMAGE_CHUNK;
			if ((nb = realloc(buf, cap)) == NULL)
				goto fail;
			buf = nb;
		}
		if ((n = read(fd, buf + len, cap - len)) == -1) {
			if (errno == EINTR)
				continue;
			bproc4_fail(errno, "reading the image: %s",
			    strerror(errno));
			goto fail;
		}
		if (n == 0)
			break;
		len += (size_t)n;
	}
	h = (const struct vmad_header *)buf;
	if (len < sizeof(*h) || h->magic != VMAD_MAGIC ||
	    h->version != VMAD_VERSION || h->arch != VMAD_ARCH_X86_64 ||
	    h->page_size != (uint32_t)sysconf(_SC_PAGESIZE)) {
		bproc4_fail(ENOEXEC, "not a process image for this machine");
		goto fail;
	}
	*lenp = len;
	return buf;
fail:
	free(buf);
	return NULL;
}

int
bproc_execdump(int fd, int node)
{
	unsigned char	*img;
	size_t		 len, off;
	ssize_t		 n;
	int		 mfd;

	node = bproc4_node_arg(node);
	if (node < BPROC_NODE_MASTER)
		return bproc4_fail(BE_INVALIDNODE, "No such node %d", node);
	if (node == bproc_currnode())
		return bproc_undump(fd) == -1 ? bproc4_native_fail() : -1;
	if ((img = image_read(fd, &len)) == NULL)
		return -1;
	if (bproc_move(node) == -1) {
		free(img);
		return -1;
	}
	/* on the node now: descriptors above 2 stayed behind */
	if ((mfd = memfd_create("bproc-image", MFD_CLOEXEC)) == -1) {
		free(img);
		return bproc4_fail(errno, "memfd: %s", strerror(errno));
	}
	for (off = 0; off < len; off += (size_t)n)
		if ((n = write(mfd, img + off, len - off)) <= 0) {
			free(img);
			close(mfd);
			return bproc4_fail(errno, "memfd: %s", strerror(errno));
		}
	free(img);
	if (lseek(mfd, 0, SEEK_SET) == -1 || bproc_undump(mfd) == -1) {
		bproc4_native_fail();
		close(mfd);
		return -1;
	}
	return -1;
}
