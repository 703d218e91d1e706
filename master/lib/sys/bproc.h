/*
 * <sys/bproc.h>: BProc 4's C API on bproc-ng, for programs written for
 * Clustermatic / Scyld BProc (libbproc(3), "BProc 4 compatibility").
 * Written for bproc-ng from BProc 4's documented interface.
 *
 * The same libbproc holds bproc-ng's own API (<bproc.h>).  Where a BProc 4
 * name has another signature or meaning there, this header maps it onto
 * a symbol of its own (bproc_nodestatus is bproc4_nodestatus, ...), so
 * both headers work from one library; a file includes one of them.
 * Calls return -1 and set errno on failure unless said otherwise; node
 * errors are BProc's codes (BE_INVALIDNODE, BE_NODEDOWN), which
 * bproc_strerror() names.
 */
#ifndef _SYS_BPROC_H
#define _SYS_BPROC_H

#ifdef BPROC_H
#error "<sys/bproc.h> (BProc 4) and <bproc.h> (bproc-ng) do not mix in one file"
#endif

#include <stdint.h>
#include <time.h>
#include <sys/types.h>
#include <sys/socket.h>

#define BPROC_API_VERSION	4

/* Special node numbers */
#define BPROC_NODE_MASTER	(-1)	/* the front end */
#define BPROC_NODE_SELF		(-2)	/* wherever the caller runs */
#define BPROC_NODE_NONE		(-3)
#define BPROC_NODE_ANY		(-4)	/* bproc_proclist: every node */

#define BPROC_STATUS_NONE	(-2)
#define BPROC_X_OK		1	/* bproc_access: may run processes */

/* BProc's own errno values */
#define BE_BASE			300
#define BE_INVALIDNODE		(BE_BASE + 0)	/* no such node */
#define BE_NODEDOWN		(BE_BASE + 1)	/* the node is not up */
#define BE_SAMENODE		(BE_BASE + 2)	/* a move to where it is */
#define BE_SLAVEDIED		(BE_BASE + 3)	/* the node went away */
#define BE_INVALIDPROC		(BE_BASE + 4)	/* no such process */

/* bproc_dump flags, BProc's values: which file mappings travel as pages */
#define BPROC_DUMP_LIBS		1
#define BPROC_DUMP_EXEC		2
#define BPROC_DUMP_OTHER	4
#define BPROC_DUMP_ALL		7

#define BPROC_STATE_LEN		15	/* longest status string */

struct bproc_node_info_t {
	int		node;
	char		status[BPROC_STATE_LEN + 1];	/* "up", "down", ... */
	unsigned int	mode;		/* x bits: who may run here */
	unsigned int	user;		/* owner uid */
	unsigned int	group;		/* gid */
	struct sockaddr	addr;		/* AF_INET, or AF_UNSPEC when unknown */
	time_t		atime;		/* last frame heard from the node */
	time_t		mtime;		/* its last status report */
};

struct bproc_node_set_t {
	int				 size, alloc;
	struct bproc_node_info_t	*node;
};
#define BPROC_EMPTY_NODESET	{ 0, 0, 0 }
#define bproc_node_set_node(ns, nn)	(&(ns)->node[(nn)])

struct bproc_proc_info_t {
	int	pid;		/* the ghost's PID on the front end */
	int	node;
};

/* I/O setup for the _io calls */
#define BPROC_IO_MAX_LEN	16	/* entries one call takes */
#define BPROC_IO_FILE		0x000	/* open d.file on the node */
#define BPROC_IO_SOCKET		0x001	/* connect to d.addr (AF_INET) */
#define BPROC_IO_MEMFILE	0x002	/* BProc-internal: refused */
#define BPROC_IO_SEND_INFO	0x001	/* flags: not supported (ENOTSUP) */
#define BPROC_IO_DELAY		0x002	/* flags: not supported (ENOTSUP) */

struct bproc_io_t {
	int	fd;
	short	type;
	short	flags;
	union {
		struct sockaddr	addr;
		struct {
			int	flags;
			int	mode;
			long	offset;
			char	name[256];
		} file;
		struct {
			void	*base;
			long	 size;
		} mem;
	} d;
};

struct bproc_version_t {
	char		bproc_magic[3];	/* 'B', 'P', 'r' */
	uint8_t		arch;		/* BPROC_ARCH_* */
	uint32_t	magic;
	char		version_string[24];
};
#define BPROC_ARCH_X86		1
#define BPROC_ARCH_ALPHA	2
#define BPROC_ARCH_PPC		3
#define BPROC_ARCH_X86_64	4
#define BPROC_ARCH_PPC64	5

/* The BProc 4 names that bproc-ng's <bproc.h> uses otherwise. */
#define bproc_nodestatus	bproc4_nodestatus
#define bproc_nodeinfo		bproc4_nodeinfo
#define bproc_nodelist		bproc4_nodelist
#define bproc_chmod		bproc4_chmod
#define bproc_chown		bproc4_chown
#define bproc_access		bproc4_access
#define bproc_proclist		bproc4_proclist
#define bproc_strerror		bproc4_strerror
#define bproc_rexec		bproc4_rexec
#define bproc_move		bproc4_move
#define bproc_rfork		bproc4_rfork
#define bproc_vrfork		bproc4_vrfork
#define bproc_execmove		bproc4_execmove
#define bproc_vexecmove		bproc4_vexecmove
#define bproc_dump		bproc4_dump

#ifdef __cplusplus
extern "C" {
#endif

/* Node information */
int	bproc_numnodes(void);
int	bproc_currnode(void);
int	bproc_nodestatus(int node, char *status, int len);
int	bproc_nodeaddr(int node, struct sockaddr *s, int *size);
int	bproc_nodeinfo(int node, struct bproc_node_info_t *info);
int	bproc_nodelist(struct bproc_node_set_t *ns);
int	bproc_nodelist_(struct bproc_node_set_t *ns, int fd);

/* Node permissions */
int	bproc_chmod(int node, int mode);
int	bproc_chown(int node, int user);
int	bproc_chgrp(int node, int group);
int	bproc_access(int node, int mode);

/* Processes (the master's process table) */
int	bproc_proclist(int node, struct bproc_proc_info_t **list);
int	bproc_pidnode(int pid);

/* Node sets */
int	bproc_nodeset_init(struct bproc_node_set_t *ns, int size);
int	bproc_nodeset_grow(struct bproc_node_set_t *ns, int size);
void	bproc_nodeset_free(struct bproc_node_set_t *ns);
int	bproc_nodeset_add(struct bproc_node_set_t *ns,
	    struct bproc_node_info_t *n);
int	bproc_nodeset_append(struct bproc_node_set_t *a,
	    struct bproc_node_set_t *b);
int	bproc_nodefilter(struct bproc_node_set_t *out,
	    struct bproc_node_set_t *in, const char *str);
int	bproc_nodespec(struct bproc_node_set_t *ns, const char *str);

/* Process creation and migration */
int	bproc_rexec_io(int node, struct bproc_io_t *io, int iolen,
	    const char *cmd, char *const argv[], char *const envp[]);
int	bproc_rexec(int node, const char *cmd, char *const argv[],
	    char *const envp[]);
int	_bproc_move_io(int node, struct bproc_io_t *io, int iolen, int flags);
int	bproc_move_io(int node, struct bproc_io_t *io, int iolen);
int	_bproc_move(int node, int flags);
int	bproc_move(int node);
int	_bproc_rfork_io(int node, struct bproc_io_t *io, int iolen, int flags);
int	bproc_rfork_io(int node, struct bproc_io_t *io, int iolen);
int	_bproc_rfork(int node, int flags);
int	bproc_rfork(int node);
int	_bproc_vrfork_io(int nnodes, int *nodes, int *pids,
	    struct bproc_io_t *io, int iolen, int flags);
int	bproc_vrfork_io(int nnodes, int *nodes, int *pids,
	    struct bproc_io_t *io, int iolen);
int	_bproc_vrfork(int nnodes, int *nodes, int *pids, int flags);
int	bproc_vrfork(int nnodes, int *nodes, int *pids);
int	bproc_execmove_io(int node, struct bproc_io_t *io, int iolen,
	    const char *cmd, char *const argv[], char *const envp[]);
int	bproc_execmove(int node, const char *cmd, char *const argv[],
	    char *const envp[]);
int	bproc_vexecmove_io(int nnodes, int *nodes, int *pids,
	    struct bproc_io_t *io, int iolen, const char *cmd,
	    char *const argv[], char *const envp[]);
int	bproc_vexecmove(int nnodes, int *nodes, int *pids, const char *cmd,
	    char *const argv[], char *const envp[]);
int	bproc_execve(const char *cmd, char *const argv[], char *const envp[]);

/* Administration */
int	bproc_nodereboot(int node);
int	bproc_nodehalt(int node);
int	bproc_nodepwroff(int node);
int	bproc_nodereboot_async(int node);
int	bproc_nodehalt_async(int node);
int	bproc_nodepwroff_async(int node);
int	bproc_nodesetstatus(int node, char *status);
int	bproc_version(struct bproc_version_t *vers);
int	bproc_notifier(void);
/* No meaning here: -1 and ENOTSUP, bproc_strerror says why. */
int	bproc_nodechroot(int node, char *path);
int	bproc_nodereconnect(int node, struct sockaddr *rem, int remsize,
	    struct sockaddr *loc, int locsize);

const char *bproc_strerror(int err);

/* VMADump: checkpoint and restart */
int	bproc_dump(int fd, int flags);
int	bproc_undump(int fd);
/* bproc-ng's: restart the image on fd on node (no return on success). */
int	bproc_execdump(int fd, int node);
int	bproc_libadd(const char *libname);
int	bproc_libdel(const char *libname);
int	bproc_libclear(void);
int	bproc_liblist(char **list);

#ifdef __cplusplus
}
#endif
#endif /* _SYS_BPROC_H */
