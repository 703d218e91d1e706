/* Cluster-key handling and the challenge/response proofs; see auth.h. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <sodium.h>

#include "auth.h"

int
auth_init(void)
{
	return sodium_init() < 0 ? -1 : 0;
}

int
auth_key_load(const char *path, unsigned char *key, char *err, size_t errlen)
{
	struct stat	st;
	ssize_t		n;
	int		fd;

	if ((fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW)) == -1) {
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		return -1;
	}
	if (fstat(fd, &st) == -1 || !S_ISREG(st.st_mode) ||
	    st.st_size != AUTH_KEY_LEN) {
		snprintf(err, errlen, "%s: not a %d-byte key file", path,
		    AUTH_KEY_LEN);
		close(fd);
		return -1;
	}
	if ((st.st_mode & 077) != 0 || st.st_uid != 0) {
		snprintf(err, errlen, "%s: must be owned by root, mode 0600 or "
		    "stricter", path);
		close(fd);
		return -1;
	}
	n = read(fd, key, AUTH_KEY_LEN);
	close(fd);
	if (n != AUTH_KEY_LEN) {
		snprintf(err, errlen, "%s: short read", path);
		return -1;
	}
	return 0;
}

int
auth_key_create(const char *path, char *err, size_t errlen)
{
	unsigned char	key[AUTH_KEY_LEN];
	int		fd;

	fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW,
	    0600);
	if (fd == -1) {
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		return -1;
	}
	randombytes_buf(key, sizeof(key));
	if (write(fd, key, sizeof(key)) != (ssize_t)sizeof(key) ||
	    fsync(fd) == -1) {
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		close(fd);
		unlink(path);
		return -1;
	}
	sodium_memzero(key, sizeof(key));
	close(fd);
	return 0;
}

void
auth_nonce(unsigned char *n)
{
	randombytes_buf(n, AUTH_NONCE_LEN);
}

void
auth_proof(unsigned char *out, const unsigned char *key, int role,
    const unsigned char *nm, const unsigned char *nn)
{
	crypto_auth_hmacsha256_state	st;
	const char			*label;

	switch (role) {
	case AUTH_ROLE_MASTER:
		label = "bproc-master";
		break;
	case AUTH_ROLE_RELAY_CLIENT:
		label = "bproc-relay-client";
		break;
	case AUTH_ROLE_RELAY_SERVER:
		label = "bproc-relay-server";
		break;
	default:
		label = "bproc-node";
	}
	crypto_auth_hmacsha256_init(&st, key, AUTH_KEY_LEN);
	crypto_auth_hmacsha256_update(&st, (const unsigned char *)label,
	    strlen(label) + 1);
	crypto_auth_hmacsha256_update(&st, nm, AUTH_NONCE_LEN);
	crypto_auth_hmacsha256_update(&st, nn, AUTH_NONCE_LEN);
	crypto_auth_hmacsha256_final(&st, out);
}

int
auth_proof_check(const unsigned char *proof, const unsigned char *key,
    int role, const unsigned char *nm, const unsigned char *nn)
{
	unsigned char	want[AUTH_PROOF_LEN];
	int		r;

	auth_proof(want, key, role, nm, nn);
	r = sodium_memcmp(want, proof, AUTH_PROOF_LEN);
	sodium_memzero(want, sizeof(want));
	return r == 0 ? 0 : -1;
}

static void
derive(unsigned char *out, const unsigned char *key, const char *label,
    const unsigned char *nm, const unsigned char *nn)
{
	crypto_generichash_state	st;

	crypto_generichash_init(&st, key, AUTH_KEY_LEN, 32);
	crypto_generichash_update(&st, (const unsigned char *)label,
	    strlen(label) + 1);
	crypto_generichash_update(&st, nm, AUTH_NONCE_LEN);
	crypto_generichash_update(&st, nn, AUTH_NONCE_LEN);
	crypto_generichash_final(&st, out, 32);
}

void
auth_session_keys(const unsigned char *key, const unsigned char *nm,
    const unsigned char *nn, unsigned char *k_m2n, unsigned char *k_n2m)
{
	derive(k_m2n, key, "bproc-session master->node", nm, nn);
	derive(k_n2m, key, "bproc-session node->master", nm, nn);
}

/* A relay link's keys: server->client, client->server (auth.h). */
void
auth_relay_keys(const unsigned char *key, const unsigned char *ns,
    const unsigned char *nc, unsigned char *k_s2c, unsigned char *k_c2s)
{
	derive(k_s2c, key, "bproc-relay server->client", ns, nc);
	derive(k_c2s, key, "bproc-relay client->server", ns, nc);
}
