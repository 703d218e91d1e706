/*
 * Readiness for systemd (Type=notify): one datagram to $NOTIFY_SOCKET,
 * as sd_notify(3) sends it, without linking libsystemd.  The socket is a
 * path, or an abstract name when it starts with '@'.  Outside systemd
 * there is no NOTIFY_SOCKET and nothing is sent.
 */
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "bpmaster.h"
#include "log.h"

void
notify_send(const char *state)
{
	struct sockaddr_un	 sun;
	const char		*path;
	size_t			 len;
	int			 fd;

	if ((path = getenv("NOTIFY_SOCKET")) == NULL || *path == '\0')
		return;
	len = strlen(path);
	if ((path[0] != '/' && path[0] != '@') || len >= sizeof(sun.sun_path)) {
		log_warnx("notify: NOTIFY_SOCKET is not a socket path: %s", path);
		return;
	}
	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	memcpy(sun.sun_path, path, len);
	if (sun.sun_path[0] == '@')
		sun.sun_path[0] = '\0';
	if ((fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0)) == -1) {
		log_warn("notify: socket");
		return;
	}
	if (sendto(fd, state, strlen(state), MSG_NOSIGNAL,
	    (struct sockaddr *)&sun, offsetof(struct sockaddr_un, sun_path) + len) == -1)
		log_warn("notify: %s", path);
	close(fd);
}
