/*
 * What /proc says of a process's command line, for the reports that name
 * it (a master restart's MSG_REJOIN: bpstat -p's column).
 */
#include <fcntl.h>
#include <stdio.h>
#include <unistd.h>

#include "nodeinit_int.h"

/* The command line of pid, as one A_ARG (bpstat -p's column). */
void
cmdline_put(struct wire_msg *m, pid_t pid)
{
	char	path[32], buf[1001];
	ssize_t	n = 0, i;
	int	fd;

	snprintf(path, sizeof(path), "/proc/%d/cmdline", (int)pid);
	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) != -1) {
		n = read(fd, buf, sizeof(buf) - 1);
		close(fd);
	}
	if (n <= 0)
		n = snprintf(buf, sizeof(buf), "?") + 1;
	for (i = 0; i < n - 1; i++)
		if (buf[i] == '\0')
			buf[i] = ' ';
	buf[n - 1] = '\0';
	wire_put_str(m, A_ARG, buf);
}
