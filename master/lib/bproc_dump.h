/*
 * bproc_dump.h: VMADump's calls in userspace (docs/vmadump.md).  Kept
 * apart from bproc.h until migration is wired in; then these lines move
 * there unchanged.
 */
#ifndef BPROC_DUMP_H
#define BPROC_DUMP_H

/*
 * Which file mappings travel as pages instead of as references (path,
 * offset) that the restorer maps again.  0 references every clean file
 * mapping; BPROC_DUMP_ALL makes an image that needs no file at all.
 */
#define BPROC_DUMP_EXEC		0x1	/* the executable (/proc/self/exe) */
#define BPROC_DUMP_LIBS		0x2	/* files in the list bproc_libadd() keeps */
#define BPROC_DUMP_OTHER	0x4	/* every other file */
#define BPROC_DUMP_ALL		0x7

#define BPROC_DUMP_RESUMED	1	/* bproc_dump()'s value in the restored image */

/*
 * bproc_dump: write the calling process's image to fd (a file, a pipe or a
 * socket).  Returns 0 after the image is written, BPROC_DUMP_RESUMED when
 * the image is later resumed by bproc_undump() or bprestore, -1 with errno
 * on failure (ENOTSUP: more than one thread; the process is unchanged).
 */
int	bproc_dump(int, int);

/*
 * bproc_undump: replace the calling process (same PID) with the image read
 * from fd, through the restorer.  Does not return on success; -1 with
 * errno when the restorer cannot be started or, for a regular file, the
 * header is not an image for this machine (the caller is then intact).
 */
int	bproc_undump(int);

/*
 * The list of files BPROC_DUMP_LIBS is about (BProc's library list, kept
 * per process here).  bproc_liblist() returns 0 and a malloc'd buffer of
 * NUL-terminated names ending with an empty one, as BProc's did.
 */
int	bproc_libadd(const char *);
int	bproc_libdel(const char *);
int	bproc_libclear(void);
int	bproc_liblist(char **);

#endif /* BPROC_DUMP_H */
