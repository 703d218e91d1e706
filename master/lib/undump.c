/*
 * libbproc: bproc_undump(), the restart half of VMADump.  The process
 * becomes bprestore (same PID) with the image on a descriptor; the
 * restorer does the rest (nodeinit/restore/, docs/vmadump.md).
 */
#include <sys/auxv.h>
#include <sys/stat.h>
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "bproc_dump.h"
#include "vmadump.h"

#ifndef BPROC_RESTORE_PATH
#define BPROC_RESTORE_PATH "/usr/libexec/bproc/bprestore"
#endif
#define NODE_RESTORE_PATH "/sbin/bprestore"	/* in the node's initramfs */

int
bproc_undump(int fd)
{
	struct vmad_header	 h;
	struct stat		 st;
	char			 num[16];
	const char		*path = BPROC_RESTORE_PATH, *env;
	char			*argv[5];
	int			 nfd;
	extern char		**environ;

	if (fstat(fd, &st) == -1)
		return -1;
	/* A file can be checked without consuming it; a stream cannot. */
	if (S_ISREG(st.st_mode)) {
		if (pread(fd, &h, sizeof(h), lseek(fd, 0, SEEK_CUR)) !=
		    (ssize_t)sizeof(h) || h.magic != VMAD_MAGIC ||
		    h.version != VMAD_VERSION || h.arch != VMAD_ARCH_X86_64 ||
		    h.page_size != (uint32_t)sysconf(_SC_PAGESIZE)) {
			errno = ENOEXEC;
			return -1;
		}
	}
	/*
	 * On a node (nodeinit sets BPROC_NODE) the restorer is the node's
	 * own; a BPROC_RESTORE the process brought along names a front-end
	 * path.
	 */
	if ((env = getenv("BPROC_NODE")) != NULL && *env != '\0')
		path = NODE_RESTORE_PATH;
	else if (getauxval(AT_SECURE) == 0 &&
	    (env = getenv("BPROC_RESTORE")) != NULL)
		path = env;
	if (access(path, X_OK) == -1)
		return -1;
	/* The restorer reads the image from a descriptor that survives exec. */
	if ((nfd = fcntl(fd, F_DUPFD, 3)) == -1)
		return -1;
	snprintf(num, sizeof(num), "%d", nfd);
	argv[0] = "bprestore";
	argv[1] = "-f";
	argv[2] = num;
	argv[3] = NULL;
	execve(path, argv, environ);
	close(nfd);
	return -1;
}
