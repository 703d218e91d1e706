/*
 * libbproc: BProc's library list, the files BPROC_DUMP_LIBS is about.
 * BProc kept it in the kernel for the whole machine; here it is the
 * calling process's, since the process dumps itself.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "bproc_dump.h"
#include "vmadump_int.h"

static char	**liblist;
static size_t	  nlibs;

int
vmad_liblist_has(const char *path)
{
	size_t	 i;

	for (i = 0; i < nlibs; i++)
		if (strcmp(liblist[i], path) == 0)
			return 1;
	return 0;
}

int
bproc_libadd(const char *path)
{
	char	**nl, *p;

	if (path == NULL || path[0] != '/') {
		errno = EINVAL;
		return -1;
	}
	if (vmad_liblist_has(path))
		return 0;
	if ((p = strdup(path)) == NULL)
		return -1;
	if ((nl = realloc(liblist, (nlibs + 1) * sizeof(*nl))) == NULL) {
		free(p);
		return -1;
	}
	liblist = nl;
	liblist[nlibs++] = p;
	return 0;
}

int
bproc_libdel(const char *path)
{
	size_t	 i;

	for (i = 0; i < nlibs; i++) {
		if (strcmp(liblist[i], path) == 0) {
			free(liblist[i]);
			liblist[i] = liblist[--nlibs];
			return 0;
		}
	}
	errno = ENOENT;
	return -1;
}

int
bproc_libclear(void)
{
	while (nlibs > 0)
		free(liblist[--nlibs]);
	free(liblist);
	liblist = NULL;
	return 0;
}

/*
 * bproc_liblist: *list gets one malloc'd buffer, the names one after
 * another, each ending in NUL, and an empty name last; 0, as BProc's.
 */
int
bproc_liblist(char **list)
{
	size_t	 i, len = 1;
	char	*p;

	for (i = 0; i < nlibs; i++)
		len += strlen(liblist[i]) + 1;
	if ((*list = p = malloc(len)) == NULL)
		return -1;
	for (i = 0; i < nlibs; i++) {
		strcpy(p, liblist[i]);
		p += strlen(p) + 1;
	}
	*p = '\0';
	return 0;
}
