/*
 * A tool that breaks the blob exchange on purpose (t63_push_many.sh): it
 * asks bpmaster to run /bin/true on a node with one file to push, waits
 * for the node's MSG_NEED, then sends a MSG_BLOB of BLOB_PIECES + 1 A_DATA
 * attributes, more than a node takes in one frame.  bpmaster must close
 * this connection (and leave the node link alone).
 *
 * Usage: t63_badblob SOCKET NODE
 * Exit: 0 bpmaster closed the connection after the frame; 1 anything else
 * (it said so on stderr); 2 usage.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "proto.h"
#include "wire.h"

static unsigned char	frame[WIRE_MAX_FRAME];

static int
send_all(int fd, const unsigned char *p, size_t len)
{
	ssize_t	n;

	while (len > 0) {
		if ((n = write(fd, p, len)) <= 0)
			return -1;
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

/* 1 a frame (type in *type), 0 end of stream, -1 error */
static int
recv_frame(int fd, uint16_t *type)
{
	struct wire_hdr	 h;
	const char	*why;
	size_t		 got = 0, want = WIRE_HDR_LEN;
	ssize_t		 n;

	while (got < want) {
		n = read(fd, frame + got, want - got);
		if (n == 0 && got == 0)
			return 0;
		if (n <= 0)
			return n == 0 || errno == ECONNRESET ? 0 : -1;
		got += (size_t)n;
		if (got == WIRE_HDR_LEN) {
			if (wire_hdr_decode(frame, got, sizeof(frame), &h,
			    &why) != 1)
				return -1;
			want = h.len;
		}
	}
	*type = h.type;
	return 1;
}

int
main(int argc, char **argv)
{
	struct sockaddr_un	 sun;
	struct wire_msg		 m;
	unsigned char		 e[MFILE_FIXED + 64], hash[32], piece[1000];
	const char		*path = "/var/tmp/t63-badblob";
	uint16_t		 type;
	size_t			 len, i;
	int			 fd, r;

	if (argc != 3) {
		fprintf(stderr, "usage: t63_badblob SOCKET NODE\n");
		return 2;
	}
	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	snprintf(sun.sun_path, sizeof(sun.sun_path), "%s", argv[1]);
	if ((fd = socket(AF_UNIX, SOCK_STREAM, 0)) == -1 ||
	    connect(fd, (struct sockaddr *)&sun, sizeof(sun)) == -1) {
		perror(argv[1]);
		return 1;
	}
	alarm(20);

	/* a manifest entry for content no node has: it will be NEEDed */
	for (i = 0; i < sizeof(hash); i++)
		hash[i] = (unsigned char)(0xb0 + i + getpid());
	memset(e, 0, sizeof(e));
	memcpy(e, hash, 32);
	e[34] = 0x01;			/* mode 0644, big-endian */
	e[35] = 0xa4;
	e[49] = 0x10;			/* size 1 MiB (0x100000), big-endian u64 */
	e[52] = MFILE_REG;
	memcpy(e + MFILE_FIXED, path, strlen(path) + 1);
	wire_msg_init(&m, frame, sizeof(frame), MSG_EXEC, 0, 1);
	wire_put_u32(&m, A_NODE, (uint32_t)atoi(argv[2]));
	wire_put_str(&m, A_PATH, "/bin/true");
	wire_put_str(&m, A_ARG, "/bin/true");
	wire_put_str(&m, A_CWD, "/");
	wire_put_u32(&m, A_FLAGS, EXEC_F_NOIO);
	wire_put(&m, A_MFILE, e, MFILE_FIXED + strlen(path) + 1);
	if ((len = wire_msg_finish(&m)) == 0 || send_all(fd, frame, len) == -1) {
		fprintf(stderr, "t63_badblob: cannot send EXEC\n");
		return 1;
	}
	while ((r = recv_frame(fd, &type)) == 1 && type != MSG_NEED)
		if (type == MSG_EXEC_RESULT) {
			fprintf(stderr, "t63_badblob: EXEC answered before NEED\n");
			return 1;
		}
	if (r != 1) {
		fprintf(stderr, "t63_badblob: no NEED from the node\n");
		return 1;
	}

	memset(piece, 'x', sizeof(piece));
	wire_msg_init(&m, frame, sizeof(frame), MSG_BLOB, 0, 0);
	wire_put_u32(&m, A_PID, 0);
	wire_put(&m, A_HASH, hash, 32);
	for (i = 0; i < BLOB_PIECES + 1; i++)
		wire_put(&m, A_DATA, piece, sizeof(piece));
	if ((len = wire_msg_finish(&m)) == 0 || send_all(fd, frame, len) == -1) {
		fprintf(stderr, "t63_badblob: cannot send BLOB\n");
		return 1;
	}
	/* nothing but the end of the connection may come now */
	while ((r = recv_frame(fd, &type)) == 1)
		if (type != MSG_BLOB_ACK) {
			fprintf(stderr, "t63_badblob: got %s, not a close\n",
			    type == MSG_EXEC_RESULT ? "EXEC_RESULT" : "a frame");
			return 1;
		}
	if (r == -1) {
		perror("t63_badblob: read");
		return 1;
	}
	return 0;
}
