/*
 * ghost_stream.c: what flows between the ghost and its remote process:
 * stdio both ways within the flow control windows, the signals the ghost
 * catches, and after a master restart what the node did not get, sent
 * again.
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <unistd.h>

#include "ghost.h"
#include "ghost_reconnect.h"
#include "proto.h"

/* No heap, static buffers touched only as far as used (ghost_conn.c). */
static unsigned char	iobuf[IO_CHUNK + 128];	/* frames we send with data */
static unsigned char	iodata[IO_CHUNK];
static int		stdin_open = 1;
static uint32_t		stdin_unacked;
static int		out_broken[3];
static uint64_t		out_rx[3];	/* output bytes written, per stream */
static uint64_t		in_acked;	/* stdin bytes the node wrote */
static int		sent_eof;	/* stdin's end went to the node */

/* The remote's stdin is /dev/null or none at all: we read no stdin. */
void
stream_init(unsigned int flags)
{
	if (flags & (EXEC_F_NOIO | EXEC_F_STDIN_NULL))
		stdin_open = 0;
}

/* Is there stdin to read, room for it in the window, a master to take it? */
int
stream_want_stdin(void)
{
	return stdin_open && stdin_unacked < IO_WINDOW && !ghost_self.away;
}

/* A child ghost: the parent's input and output counts are not its own. */
void
stream_child_reset(void)
{
	stdin_open = 0;
	stdin_unacked = 0;
	out_rx[1] = out_rx[2] = 0;
}

/* Output bytes of stream 1 or 2 written so far (for MSG_GHOST_REJOIN). */
uint64_t
stream_out_rx(int stream)
{
	return out_rx[stream];
}

void
ghost_signal(int sig)
{
	unsigned char	buf[64];
	struct wire_msg	m;

	/* delivered once bpmaster is back, in order */
	if (ghost_self.away) {
		if (reconnect_queue_sig(sig) == -1)
			dprintf(ghost_self.err_fd, "%d: signal %d lost: too "
			    "many while bpmaster is away\n", ghost_self.node,
			    sig);
		return;
	}
	wire_msg_init(&m, buf, sizeof(buf), MSG_SIGNAL, 0, 0);
	wire_put_u32(&m, A_PID, (uint32_t)getpid());
	wire_put_u32(&m, A_SIG, (uint32_t)sig);
	ghost_send(&m);
}

static void
ghost_ack(int stream, uint32_t n)
{
	unsigned char	buf[64];
	struct wire_msg	m;

	wire_msg_init(&m, buf, sizeof(buf), MSG_IO_ACK, 0, 0);
	wire_put_u32(&m, A_PID, (uint32_t)getpid());
	wire_put_u8(&m, A_STREAM, (uint8_t)stream);
	wire_put_u32(&m, A_BYTES, n);
	ghost_send(&m);
}

void
ghost_stdin(void)
{
	unsigned char	eofbuf[64];
	struct wire_msg	m;
	size_t		want = IO_WINDOW - stdin_unacked;
	ssize_t		n;

	if (want > IO_CHUNK)
		want = IO_CHUNK;
	n = read(STDIN_FILENO, iodata, want);
	if (n < 0 && (errno == EINTR || errno == EAGAIN))
		return;
	/* a pty session does not end because we lost the terminal for now */
	if (n < 0 && errno == EIO && tty_mode)
		return;
	/* an end of file alone leaves iobuf's pages untouched */
	if (n <= 0)
		wire_msg_init(&m, eofbuf, sizeof(eofbuf), MSG_IO, 0, 0);
	else
		wire_msg_init(&m, iobuf, sizeof(iobuf), MSG_IO, 0, 0);
	wire_put_u32(&m, A_PID, (uint32_t)getpid());
	wire_put_u8(&m, A_STREAM, 0);
	if (n <= 0) {
		/* EOF, or EIO for a background job reading the terminal */
		wire_put_u8(&m, A_EOF, 1);
		stdin_open = 0;
		sent_eof = 1;
	} else {
		wire_put(&m, A_DATA, iodata, (size_t)n);
		stdin_unacked += (uint32_t)n;
		stdin_keep(iodata, (size_t)n);
	}
	ghost_send(&m);
}

/* Write remote output where ours goes; blocking writes are the back-pressure. */
void
ghost_output(int stream, const unsigned char *p, size_t len)
{
	size_t	left = len;
	ssize_t	n;

	while (left > 0 && !out_broken[stream]) {
		n = write(stream, p, left);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			/* the reader went away: the remote writer gets SIGPIPE */
			out_broken[stream] = 1;
			if (errno == EPIPE)
				ghost_signal(SIGPIPE);
			break;
		}
		p += n;
		left -= (size_t)n;
	}
	out_rx[stream] += len;
	ghost_ack(stream, (uint32_t)len);
}


/*
 * The new master has our process too: send again the stdin the node did
 * not get, then the signals that came meanwhile.
 */
void
ghost_resume(struct wire_attr *tb)
{
	const unsigned char	*p;
	unsigned char		 eofbuf[64];
	struct wire_msg		 m;
	uint64_t		 got = tb[A_OFF_IN].data ?
				    wire_get_u64(&tb[A_OFF_IN]) : 0;
	uint64_t		 done = tb[A_OFF_INDONE].data ?
				    wire_get_u64(&tb[A_OFF_INDONE]) : in_acked;
	size_t			 n;
	int			 sig;

	ghost_self.away = 0;
	if (done > in_acked) {
		stdin_unacked -= (uint32_t)(done - in_acked) > stdin_unacked ?
		    stdin_unacked : (uint32_t)(done - in_acked);
		in_acked = done;
	}
	while ((n = stdin_kept(got, done, &p)) > 0) {
		if (n > IO_CHUNK)
			n = IO_CHUNK;
		wire_msg_init(&m, iobuf, sizeof(iobuf), MSG_IO, 0, 0);
		wire_put_u32(&m, A_PID, (uint32_t)getpid());
		wire_put_u8(&m, A_STREAM, 0);
		wire_put(&m, A_DATA, p, n);
		ghost_send(&m);
		got += n;
	}
	if (sent_eof && !tb[A_EOF].data) {
		wire_msg_init(&m, eofbuf, sizeof(eofbuf), MSG_IO, 0, 0);
		wire_put_u32(&m, A_PID, (uint32_t)getpid());
		wire_put_u8(&m, A_STREAM, 0);
		wire_put_u8(&m, A_EOF, 1);
		ghost_send(&m);
	}
	while (!ghost_self.away && (sig = reconnect_next_sig()) != 0)
		ghost_signal(sig);
}

int
ghost_on_io(void *arg, const struct proto_frame *f)
{
	uint8_t	s = wire_get_u8(&f->tb[A_STREAM]);

	(void)arg;
	if ((s == 1 || s == 2) && f->tb[A_DATA].data)
		ghost_output(s, f->tb[A_DATA].data, f->tb[A_DATA].len);
	return 0;
}

int
ghost_on_io_ack(void *arg, const struct proto_frame *f)
{
	uint32_t	n;

	(void)arg;
	if (wire_get_u8(&f->tb[A_STREAM]) == 0) {
		n = wire_get_u32(&f->tb[A_BYTES]);
		stdin_unacked = n > stdin_unacked ? 0 : stdin_unacked - n;
		in_acked += n;
	}
	return 0;
}

