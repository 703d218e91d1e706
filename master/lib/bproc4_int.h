/*
 * The BProc 4 layer's private interface (master/lib/bproc4_*.c).  Those
 * files include <sys/bproc.h>, whose names shadow bproc-ng's; they reach
 * bproc-ng's own calls through the declarations below, each bound to the
 * native symbol by an asm label, and the table calls whose structures
 * only <bproc.h> knows through bproc4_bridge.c.  Not installed.
 */
#ifndef BPROC4_INT_H
#define BPROC4_INT_H

#include <stdint.h>
#include <sys/types.h>

/* bproc-ng's calls (bproc.h, bproc_dump.h) under names of our own */
int	 ng_rexec(int, const char *, char *const[], char *const[])
	    __asm__("bproc_rexec");
int	 ng_vrexec(int, const int *, const char *, char *const[],
	    char *const[], pid_t *) __asm__("bproc_vrexec");
pid_t	 ng_rfork(int) __asm__("bproc_rfork");
int	 ng_vrfork(int, const int *, pid_t *) __asm__("bproc_vrfork");
int	 ng_move(int) __asm__("bproc_move");
int	 ng_dump(int, int) __asm__("bproc_dump");
int	 ng_chmod(int, unsigned int) __asm__("bproc_chmod");
int	 ng_chown(int, uid_t, gid_t) __asm__("bproc_chown");
int	 ng_access(int, int) __asm__("bproc_access");
int	 ng_setnodestate(int, int) __asm__("bproc_setnodestate");
int	 ng_power(int, int) __asm__("bproc_power");
int	 ng_watch(void) __asm__("bproc_watch");
int	 ng_watch_ack(int) __asm__("bproc_watch_ack");
int	 ng_state_parse(const char *) __asm__("bproc_state_parse");
const char *ng_state_name(int) __asm__("bproc_state_name");
const char *ng_strerror(void) __asm__("bproc_strerror");

/* bproc4_bridge.c: the tables, in plain types */
struct bproc4_node {
	int		node;
	int		state;		/* BPROC_STATE_* of bproc.h */
	unsigned int	uid, gid, mode;
	char		addr[64];
	uint64_t	last_seen_ms;	/* UINT64_MAX: never */
	uint64_t	status_age_ms;	/* UINT64_MAX: none */
};
struct bproc4_proc {
	int	pid;
	int	node;
};
#define BPROC4_STATE_UP	2	/* bproc.h's BPROC_STATE_UP (checked there) */
#define BPROC4_POWER_REBOOT	1	/* bproc.h's BPROC_POWER_* (checked there) */
#define BPROC4_POWER_HALT	2
#define BPROC4_POWER_OFF	3

int	bproc4_bridge_nodes(struct bproc4_node **);
int	bproc4_bridge_procs(struct bproc4_proc **);
int	bproc4_bridge_master_alive(void);
/* rexec with -I/-O/-E files opened on the node, and BPROC_EXEC_* flags */
int	bproc4_bridge_rexec(int, const char *, char *const[], char *const[],
	    const char *const[3], unsigned int, unsigned int);
#define BPROC4_EXEC_NOIO	0x02	/* bproc.h's BPROC_EXEC_NOIO (checked) */

/* bproc4_err.c: BProc's errno values and the text bproc_strerror gives */
int	bproc4_fail(int, const char *, ...)
	    __attribute__((format(printf, 2, 3)));
int	bproc4_native_fail(void);
int	bproc4_node_arg(int);

#endif
