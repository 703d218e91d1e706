/*
 * bpstat -U: the live view.  It takes a new snapshot whenever the master
 * says the table changed and redraws at once; it polls nothing on a timer
 * except, in the long view, the last-seen ages, which it refreshes once a
 * second while they are on screen.
 *
 * When stdout is not a terminal (a pipe, a file, a log) there is no screen
 * to redraw: each snapshot goes out as plain lines after a time-stamped
 * header, at most one per LIVE_PLAIN_MS, the first at once and later ones
 * only when the table changed (with -l, every interval: the ages move).
 * A reader that went away ends it: SIGPIPE as for any filter, and the
 * write end of a pipe is watched (POLLERR) so that `bpstat -U | head -3`
 * ends even when nothing changes.
 */
#include <sys/ioctl.h>

#include <err.h>
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

#include "bpstat_int.h"
#include "clock.h"

#define LIVE_TICK_MS	1000	/* -U -l: refresh of the last-seen ages */
#define LIVE_KEYBUF	64	/* keys read from the terminal at once */
#define LIVE_PLAIN_MS	1000	/* -U into a pipe or file: a snapshot at most this often */

/* -U: terminal state, restored on every way out (atexit, signals). */
static struct termios		tty_saved;
static int			tty_raw_on;	/* stdin is non-canonical */
static int			screen_on;	/* alternate screen in use */
static volatile sig_atomic_t	live_quit, live_redraw, live_stop;

static void	live_sig(int);
static void	tty_enter(void);
static void	tty_restore(void);
static void	live_write(const char *, size_t);
static void	live_draw(const struct bpstat *, const struct snap *, int);
static void	live_lost(const char *) __attribute__((noreturn));

/* Handlers only set flags; the loop sees them when ppoll() returns EINTR. */
static void
live_sig(int sig)
{
	switch (sig) {
	case SIGWINCH:
	case SIGCONT:
		live_redraw = 1;
		break;
	case SIGTSTP:
		live_stop = 1;
		break;
	default:
		live_quit = 1;
		break;
	}
}

static void
live_write(const char *p, size_t len)
{
	ssize_t	n;

	while (len > 0) {
		if ((n = write(STDOUT_FILENO, p, len)) == -1) {
			if (errno == EINTR)
				continue;
			return;	/* the terminal is gone: no one to tell */
		}
		p += n;
		len -= (size_t)n;
	}
}

/*
 * Keys without Enter and without echo; ISIG stays on so Ctrl-C and Ctrl-Z
 * still become signals, which the loop turns into a clean exit or stop.
 */
static void
tty_enter(void)
{
	static const char	enter[] = "\033[?1049h\033[?25l";
	struct termios		t;

	if (!tty_raw_on && isatty(STDIN_FILENO) &&
	    tcgetattr(STDIN_FILENO, &tty_saved) == 0) {
		t = tty_saved;
		t.c_lflag &= ~(tcflag_t)(ICANON | ECHO);
		t.c_cc[VMIN] = 1;
		t.c_cc[VTIME] = 0;
		if (tcsetattr(STDIN_FILENO, TCSANOW, &t) == 0)
			tty_raw_on = 1;
	}
	if (!screen_on && isatty(STDOUT_FILENO)) {
		live_write(enter, sizeof(enter) - 1);
		screen_on = 1;
	}
}

static void
tty_restore(void)
{
	static const char	leave[] = "\033[?25h\033[?1049l";

	if (screen_on) {
		live_write(leave, sizeof(leave) - 1);
		screen_on = 0;
	}
	if (tty_raw_on) {
		tcsetattr(STDIN_FILENO, TCSANOW, &tty_saved);
		tty_raw_on = 0;
	}
}

/*
 * Draw a frame over the old one: cursor home, each line cleared before it
 * is written, the rest of the screen cleared after, all in one write, so
 * the screen does not flicker.  Lines are cut to the terminal's size,
 * since a line that wrapped or scrolled would push the frame off its home.
 */
static void
live_draw(const struct bpstat *bs, const struct snap *s, int clear)
{
	struct winsize	 ws;
	char		*body = NULL, *out = NULL, tbuf[16];
	const char	*p, *nl;
	size_t		 blen = 0, olen = 0, i, rows = 0, cols = 0, nlines;
	size_t		 row, len;
	time_t		 t = time(NULL);
	FILE		*f;

	if ((f = open_memstream(&body, &blen)) == NULL)
		err(1, NULL);
	strftime(tbuf, sizeof(tbuf), "%H:%M:%S", localtime(&t));
	fprintf(f, "bpstat: %d node%s, %d up    %s    q quits\n\n",
	    s->t.nnodes, s->t.nnodes == 1 ? "" : "s", s->nup, tbuf);
	view_print(f, bs, s);
	for (i = 0; i < s->nmissing; i++)
		fprintf(f, "%d: No such node\n", s->missing[i]);
	if (fclose(f) == EOF)
		err(1, NULL);

	if (ioctl(STDOUT_FILENO, TIOCGWINSZ, &ws) == 0 && ws.ws_row > 0 &&
	    ws.ws_col > 0) {
		rows = ws.ws_row;
		cols = ws.ws_col;
	}
	for (nlines = 0, p = body; *p != '\0'; nlines++)
		p = (nl = strchr(p, '\n')) ? nl + 1 : p + strlen(p);

	if ((f = open_memstream(&out, &olen)) == NULL)
		err(1, NULL);
	fputs(clear ? "\033[H\033[2J" : "\033[H", f);
	for (row = 0, p = body; *p != '\0'; row++) {
		len = (nl = strchr(p, '\n')) ? (size_t)(nl - p) : strlen(p);
		if (row > 0)
			putc('\n', f);
		fputs("\033[K", f);
		if (rows > 0 && row + 1 == rows && nlines > rows) {
			fprintf(f, "... %zu more lines", nlines - row);
			break;
		}
		fwrite(p, 1, cols > 0 && len > cols ? cols : len, f);
		p += len + (nl != NULL);
	}
	fputs("\033[J", f);
	if (fclose(f) == EOF)
		err(1, NULL);
	live_write(out, olen);
	free(out);
	free(body);
}

/* The master went away under the live view: say so on the normal screen. */
static void
live_lost(const char *why)
{
	tty_restore();
	errx(EXIT_NONODE, "lost bpmaster: %s", why);
}

/* The live view's state between its steps. */
struct live {
	const struct bpstat	*bs;
	struct snap		 s;
	struct sigaction	 sa;	/* our handler, for after a stop */
	sigset_t		 orig;	/* the mask ppoll() waits with */
	int			 wfd;	/* bproc_watch() */
	int			 stdin_open;
	uint64_t		 next_tick;	/* 0: no ticking (not -l) */
	int			 plain;		/* stdout is no terminal: lines */
	int			 changed;	/* plain: a change not printed yet */
};

/*
 * The signals stay blocked except inside ppoll(), so a flag set by a
 * handler is always seen before the loop sleeps again.
 */
static void
live_signals(struct live *lv)
{
	static const int	sigs[] = {
		SIGINT, SIGTERM, SIGHUP, SIGQUIT, SIGWINCH, SIGTSTP, SIGCONT
	};
	sigset_t		block;
	size_t			i;

	memset(&lv->sa, 0, sizeof(lv->sa));
	lv->sa.sa_handler = live_sig;
	sigemptyset(&lv->sa.sa_mask);
	sigemptyset(&block);
	for (i = 0; i < sizeof(sigs) / sizeof(sigs[0]); i++) {
		sigaction(sigs[i], &lv->sa, NULL);
		sigaddset(&block, sigs[i]);
	}
	sigprocmask(SIG_BLOCK, &block, &lv->orig);
}

/* Ctrl-Z: give the terminal back, then really stop. */
static void
live_suspend(struct live *lv)
{
	sigset_t	tstp;

	live_stop = 0;
	tty_restore();
	signal(SIGTSTP, SIG_DFL);
	sigemptyset(&tstp);
	sigaddset(&tstp, SIGTSTP);
	raise(SIGTSTP);
	sigprocmask(SIG_UNBLOCK, &tstp, NULL);
	/* ... stopped here until SIGCONT ... */
	sigprocmask(SIG_BLOCK, &tstp, NULL);
	sigaction(SIGTSTP, &lv->sa, NULL);
	tty_enter();
	live_redraw = 1;
}

/* q quits, Ctrl-L redraws; end of input just stops reading it. */
static void
live_keys(struct live *lv)
{
	char	keys[LIVE_KEYBUF];
	ssize_t	nk, k;

	nk = read(STDIN_FILENO, keys, sizeof(keys));
	if (nk <= 0 && !(nk == -1 && errno == EINTR))
		lv->stdin_open = 0;
	for (k = 0; k < nk; k++) {
		if (keys[k] == 'q' || keys[k] == 'Q')
			live_quit = 1;
		else if (keys[k] == '\f')	/* Ctrl-L */
			live_redraw = 1;
	}
}

/*
 * Sleep until the master says the table changed, a key, a signal or the
 * next tick: 1 when the table must be fetched again, else 0.
 */
static int
live_wait(struct live *lv)
{
	struct pollfd	 pfd[3];
	struct timespec	 ts, *tsp = NULL;
	uint64_t	 now;
	int		 r, refetch = 0;

	if (lv->next_tick != 0) {
		now = now_ms();
		now = lv->next_tick > now ? lv->next_tick - now : 0;
		ts.tv_sec = (time_t)(now / 1000);
		ts.tv_nsec = (long)(now % 1000) * 1000000;
		tsp = &ts;
	}
	pfd[0].fd = lv->wfd;
	pfd[0].events = POLLIN;
	pfd[1].fd = lv->stdin_open ? STDIN_FILENO : -1;
	pfd[1].events = POLLIN;
	/* plain: no events asked, so only POLLERR/POLLHUP of a gone reader */
	pfd[2].fd = lv->plain ? STDOUT_FILENO : -1;
	pfd[2].events = 0;
	pfd[0].revents = pfd[1].revents = pfd[2].revents = 0;
	if ((r = ppoll(pfd, 3, tsp, &lv->orig)) == -1) {
		if (errno == EINTR)
			return 0;
		tty_restore();
		err(1, "ppoll");
	}
	if (pfd[0].revents != 0) {
		/* one redraw for however many changes are queued */
		do {
			if (bproc_watch_ack(lv->wfd) == -1) {
				/* a restart: watch the next master (libbproc waits) */
				close(lv->wfd);
				if ((lv->wfd = bproc_watch()) == -1)
					live_lost(bproc_strerror());
				break;
			}
			pfd[0].revents = 0;
		} while (poll(pfd, 1, 0) == 1 && pfd[0].revents != 0);
		refetch = 1;
	}
	if (pfd[1].revents != 0) {
		live_keys(lv);
		if (live_quit)
			return 0;
	}
	if (pfd[2].revents & (POLLERR | POLLHUP)) {
		/* the reader is gone: end as a filter does, by SIGPIPE */
		signal(SIGPIPE, SIG_DFL);
		live_write("\n", 1);
		exit(EXIT_NONODE);
	}
	if (r == 0 && lv->next_tick != 0 && !lv->plain)
		refetch = 1;
	return refetch;
}

/*
 * A snapshot as plain lines: the header with the date and time, the view,
 * a blank line.  A write that fails ends bpstat (EPIPE when SIGPIPE is
 * ignored; otherwise the signal did).
 */
static void
live_plain(const struct bpstat *bs, const struct snap *s)
{
	char	tbuf[32];
	time_t	t = time(NULL);
	size_t	i;

	strftime(tbuf, sizeof(tbuf), "%Y-%m-%d %H:%M:%S", localtime(&t));
	printf("bpstat: %d node%s, %d up    %s\n", s->t.nnodes,
	    s->t.nnodes == 1 ? "" : "s", s->nup, tbuf);
	view_print(stdout, bs, s);
	for (i = 0; i < s->nmissing; i++)
		printf("%d: No such node\n", s->missing[i]);
	putchar('\n');
	if (fflush(stdout) == EOF)
		err(EXIT_NONODE, "stdout");
}

static void
live_refetch(struct live *lv)
{
	char	errbuf[256];

	snap_release(&lv->s);
	switch (snap_select(&lv->s, lv->bs, errbuf, sizeof(errbuf))) {
	case SNAP_OK:
		break;
	case SNAP_MASTER:
		live_lost(bproc_strerror());
	case SNAP_BADSET:
		tty_restore();
		errx(EXIT_USAGE, "%s", errbuf);
	}
	if (lv->plain) {
		lv->changed = 1;
		return;
	}
	if (lv->next_tick != 0)
		lv->next_tick = now_ms() + LIVE_TICK_MS;
	live_draw(lv->bs, &lv->s, 0);
}

/*
 * Plain: the next interval's end is the tick; then the snapshot goes out
 * if something changed (or always with -l), and the next interval starts.
 */
static void
live_plain_tick(struct live *lv)
{
	uint64_t	now = now_ms();

	if (now < lv->next_tick)
		return;
	if (lv->changed || lv->bs->view == VIEW_LONG) {
		if (lv->bs->view == VIEW_LONG && !lv->changed) {
			char	errbuf[256];

			snap_release(&lv->s);
			if (snap_select(&lv->s, lv->bs, errbuf,
			    sizeof(errbuf)) != SNAP_OK)
				live_lost(bproc_strerror());
		}
		live_plain(lv->bs, &lv->s);
		lv->changed = 0;
	}
	lv->next_tick = now + LIVE_PLAIN_MS;
}

/* -U into a pipe or a file: snapshots as lines, until a signal or EPIPE. */
static int
live_plain_run(struct live *lv)
{
	sigset_t	tstp;

	/* no keys, no terminal to give back: Ctrl-Z stops it as it is */
	lv->stdin_open = 0;
	signal(SIGTSTP, SIG_DFL);
	sigemptyset(&tstp);
	sigaddset(&tstp, SIGTSTP);
	sigprocmask(SIG_UNBLOCK, &tstp, NULL);
	sigdelset(&lv->orig, SIGTSTP);
	live_plain(lv->bs, &lv->s);
	lv->next_tick = now_ms() + LIVE_PLAIN_MS;
	while (!live_quit) {
		if (live_wait(lv) && !live_quit)
			live_refetch(lv);
		live_plain_tick(lv);
	}
	snap_release(&lv->s);
	close(lv->wfd);
	return 0;
}

int
live_run(const struct bpstat *bs)
{
	struct live	lv;

	memset(&lv, 0, sizeof(lv));
	lv.bs = bs;
	lv.stdin_open = 1;
	live_signals(&lv);
	/* Watch before the first snapshot, so no change falls in between. */
	if ((lv.wfd = bproc_watch()) == -1)
		tool_master_fail();
	snap_or_exit(&lv.s, bs);
	if ((lv.plain = !isatty(STDOUT_FILENO)))
		return live_plain_run(&lv);
	atexit(tty_restore);
	tty_enter();
	live_draw(bs, &lv.s, 1);
	if (bs->view == VIEW_LONG)
		lv.next_tick = now_ms() + LIVE_TICK_MS;

	while (!live_quit) {
		if (live_stop)
			live_suspend(&lv);
		if (live_redraw) {
			live_redraw = 0;
			live_draw(bs, &lv.s, 1);
			continue;
		}
		if (live_wait(&lv) && !live_quit)
			live_refetch(&lv);
	}
	tty_restore();
	snap_release(&lv.s);
	close(lv.wfd);
	return 0;
}
