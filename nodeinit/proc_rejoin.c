/*
 * A master restart (grace.c), the process host's half: while the link is
 * gone nothing is read or reported; a new master hears of each process
 * (MSG_REJOIN); a ghost that is back gets again the output it did not
 * write (MSG_RESUME), one that never came back has its process ended
 * (MSG_REAP).
 */
#include <signal.h>
#include <stdlib.h>

#include "nodeinit_int.h"
#include "proc_int.h"

/* The master link is gone: nothing goes out until the ghost is back. */
void
proc_pause_all(void)
{
	struct rproc	*rp;

	DLIST_FOREACH(rp, &rproc_list, link)
		rp->paused = 1;
}

/* To a new master, after WELCOME: what we host, one REJOIN each. */
int
proc_rejoin_report(void)
{
	unsigned char	 buf[1400];
	struct wire_msg	 m;
	struct rproc	*rp;
	int		 n = 0;

	DLIST_FOREACH(rp, &rproc_list, link) {
		wire_msg_init(&m, buf, sizeof(buf), MSG_REJOIN, 0, 0);
		wire_put_u32(&m, A_PID, (uint32_t)rp->gpid);
		wire_put_u32(&m, A_RPID, (uint32_t)rp->pid);
		wire_put_u32(&m, A_UID, rp->uid);
		wire_put_u32(&m, A_FLAGS, (rp->exited ? REJOIN_F_EXITED : 0) |
		    (rp->tty ? REJOIN_F_TTY : 0));
		wire_put_u32(&m, A_STATUS, (uint32_t)rp->status);
		cmdline_put(&m, rp->pid);
		wire_put_u64(&m, A_OFF_IN, rp->tx[0]);
		wire_put_u64(&m, A_OFF_INDONE, rp->indone);
		if (rp->in_eof || rp->fd[0] < 0)
			wire_put_u8(&m, A_EOF, 1);
		link_send_msg(&m);
		n++;
	}
	return n;
}

/*
 * The ghost is back: send again what it did not write, from its offset
 * (A_OFF_OUT, A_OFF_ERR), and go on; an exit it missed goes last.
 */
void
proc_resume(struct wire_attr *tb)
{
	unsigned char	 buf[IO_CHUNK + 128];
	struct wire_msg	 m;
	pid_t		 gpid = (pid_t)wire_get_u32(&tb[A_PID]);
	struct rproc	*rp = rproc_find(gpid);
	uint64_t	 got, base;
	uint32_t	 k;
	int		 s;

	track_resume(gpid);
	if (rp == NULL)
		return;
	for (s = 1; s <= 2; s++) {
		got = tb[s == 1 ? A_OFF_OUT : A_OFF_ERR].data ?
		    wire_get_u64(&tb[s == 1 ? A_OFF_OUT : A_OFF_ERR]) : 0;
		base = rp->tx[s] - rp->unacked[s];
		if (got < base || got > rp->tx[s])
			got = base;	/* not ours to send again */
		k = (uint32_t)(got - base);
		rp->unacked[s] -= k;
		rp->head[s] = (rp->head[s] + k) % IO_WINDOW;
		for (base = 0; rp->ring[s] != NULL && base < rp->unacked[s];
		    base += k) {
			uint32_t at = (uint32_t)((rp->head[s] + base) % IO_WINDOW);

			k = rp->unacked[s] - (uint32_t)base;
			if (k > IO_CHUNK)
				k = IO_CHUNK;
			if (k > IO_WINDOW - at)
				k = IO_WINDOW - at;
			wire_msg_init(&m, buf, sizeof(buf), MSG_IO, 0, 0);
			wire_put_u32(&m, A_PID, (uint32_t)rp->gpid);
			wire_put_u8(&m, A_STREAM, (uint8_t)s);
			wire_put(&m, A_DATA, rp->ring[s] + at, k);
			link_send_msg(&m);
		}
	}
	rp->paused = 0;
	if (rp->zombie) {
		wire_msg_init(&m, buf, sizeof(buf), MSG_EXIT, 0, 0);
		wire_put_u32(&m, A_PID, (uint32_t)rp->gpid);
		wire_put_u32(&m, A_STATUS, (uint32_t)rp->status);
		link_send_msg(&m);
	}
}

/* The ghost has the exit, or never came back: forget the process. */
void
proc_reap_one(struct wire_attr *tb)
{
	pid_t		 gpid = (pid_t)wire_get_u32(&tb[A_PID]);
	struct rproc	*rp = rproc_find(gpid);

	if (rp == NULL) {
		track_signal(gpid, SIGKILL);
		return;
	}
	if (!rp->exited)
		kill(rp->pid, SIGKILL);
	/*
	 * Its ghost has the exit, but processes it started still write to
	 * its pipes, printed by their own ghosts: the pipes stay until they
	 * close (rproc_finish frees it then).  Freeing it here closed
	 * them under the writers, whose next line died of SIGPIPE.
	 */
	else if (rp->reported && !rp->tty && (rp->fd[1] >= 0 ||
	    rp->fd[2] >= 0) && rproc_session_lives(rp))
		return;
	rproc_free(rp);
}
