/*
 * Mutual authentication of node links with the cluster key (libsodium).
 *
 *   master -> node   AUTH_CHALLENGE  Nm (32 random bytes)
 *   node -> master   AUTH_RESPONSE   Nn, HMAC-SHA256(K, "bproc-node" Nm Nn)
 *   master -> node   AUTH_CONFIRM    HMAC-SHA256(K, "bproc-master" Nm Nn)
 *
 * Both nonces are fresh per connection, so a recorded exchange proves
 * nothing the next time.  Session keys for each direction are then
 * BLAKE2b(K, label || Nm || Nn) and every later frame is sealed (conn.h).
 */
#ifndef BPROC_AUTH_H
#define BPROC_AUTH_H

#include <stddef.h>

#define AUTH_KEY_LEN	32
#define AUTH_NONCE_LEN	32
#define AUTH_PROOF_LEN	32

int	auth_init(void);
int	auth_key_load(const char *, unsigned char *, char *, size_t);
int	auth_key_create(const char *, char *, size_t);
void	auth_nonce(unsigned char *);
void	auth_proof(unsigned char *, const unsigned char *, int,
	    const unsigned char *, const unsigned char *);
int	auth_proof_check(const unsigned char *, const unsigned char *, int,
	    const unsigned char *, const unsigned char *);
void	auth_session_keys(const unsigned char *, const unsigned char *,
	    const unsigned char *, unsigned char *, unsigned char *);

#define AUTH_ROLE_NODE		0
#define AUTH_ROLE_MASTER	1
/*
 * A relay link between two nodes (nodeinit/relay.c) runs the same three
 * steps with the serving node in the master's place, but under labels of
 * its own: no proof or session key of a relay link is ever one of a
 * master link, so a node that serves blobs cannot pass for the master.
 */
#define AUTH_ROLE_RELAY_CLIENT	2
#define AUTH_ROLE_RELAY_SERVER	3

void	auth_relay_keys(const unsigned char *, const unsigned char *,
	    const unsigned char *, unsigned char *, unsigned char *);

#endif
