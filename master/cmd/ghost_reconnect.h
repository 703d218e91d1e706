/* bpghost's half of a master restart (ghost_reconnect.c). */
#ifndef GHOST_RECONNECT_H
#define GHOST_RECONNECT_H

#include <stddef.h>
#include <stdint.h>

#define GHOST_RETRY_MS		200	/* between connects while bpmaster is away */
#define GHOST_GRACE_MS		60000	/* master_grace when bproc_rexec passed none */
#define GHOST_SIGQ		64	/* signals kept while bpmaster is away */

void		 reconnect_init(int);
void		 reconnect_lost(void);
int		 reconnect_timeout(void);
int		 reconnect_try(const char **);
int		 reconnect_queue_sig(int);
int		 reconnect_next_sig(void);
void		 stdin_keep(const unsigned char *, size_t);
size_t		 stdin_kept(uint64_t, uint64_t, const unsigned char **);

#endif
