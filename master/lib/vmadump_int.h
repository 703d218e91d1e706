/*
 * vmadump_int.h: what libbproc's dump, undump and library-list files
 * share, and nothing else sees.
 */
#ifndef VMADUMP_INT_H
#define VMADUMP_INT_H

/* vmad_liblist_has: is path in the list bproc_libadd() keeps (liblist.c)? */
int	vmad_liblist_has(const char *);

#endif /* VMADUMP_INT_H */
