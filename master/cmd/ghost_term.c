/*
 * ghost_term.c: the ghost of a process on a pty (EXEC_F_TTY) is the far
 * end of ssh -t: our terminal is raw while we own it, so Ctrl-C, Ctrl-Z
 * and Ctrl-\ travel as bytes; size changes go to the pty; the
 * terminal's own settings come back on every way out.
 */
#include <signal.h>
#include <sys/ioctl.h>
#include <termios.h>
#include <unistd.h>

#include "ghost.h"
#include "proto.h"

int			tty_mode;	/* the remote runs on a pty */
int			term_raw;	/* stdin's terminal is in our raw mode */
static struct termios	term_saved;	/* its settings before */
static struct termios	term_set;	/* what raw mode looked like */

/* Is stdin a terminal whose foreground process group is ours? */
int
term_owned(void)
{
	pid_t	fg;

	if (!tty_mode || !isatty(STDIN_FILENO))
		return 0;
	fg = tcgetpgrp(STDIN_FILENO);
	return fg != -1 && fg == getpgrp();
}

static int
term_same(const struct termios *a, const struct termios *b)
{
	return a->c_iflag == b->c_iflag && a->c_oflag == b->c_oflag &&
	    a->c_cflag == b->c_cflag && a->c_lflag == b->c_lflag &&
	    a->c_cc[VMIN] == b->c_cc[VMIN] && a->c_cc[VTIME] == b->c_cc[VTIME];
}

/*
 * Raw mode on the terminal we own.  Called at start and after every
 * SIGCONT: if someone (the shell, after a stop) changed the settings
 * since, those become the ones to restore.
 */
void
term_enter_raw(void)
{
	struct termios	cur, raw;

	if (!term_owned() || tcgetattr(STDIN_FILENO, &cur) == -1)
		return;
	if (term_raw && term_same(&cur, &term_set))
		return;
	term_saved = cur;
	raw = cur;
	cfmakeraw(&raw);
	raw.c_cc[VMIN] = 1;
	raw.c_cc[VTIME] = 0;
	if (tcsetattr(STDIN_FILENO, TCSADRAIN, &raw) == -1)
		return;
	if (tcgetattr(STDIN_FILENO, &term_set) == -1)
		term_set = raw;
	term_raw = 1;
}

/*
 * Give the terminal its settings back.  We block SIGTTOU, so this works
 * from the background too.
 */
void
term_restore(void)
{
	if (!term_raw)
		return;
	term_raw = 0;
	tcsetattr(STDIN_FILENO, TCSADRAIN, &term_saved);
}

/* Tell the pty our terminal's size (SIGWINCH with the size attached). */
void
term_winch(void)
{
	unsigned char	buf[64];
	struct wire_msg	m;
	struct winsize	ws;

	wire_msg_init(&m, buf, sizeof(buf), MSG_SIGNAL, 0, 0);
	wire_put_u32(&m, A_PID, (uint32_t)getpid());
	wire_put_u32(&m, A_SIG, SIGWINCH);
	if ((ioctl(STDIN_FILENO, TIOCGWINSZ, &ws) == 0 ||
	    ioctl(STDOUT_FILENO, TIOCGWINSZ, &ws) == 0) && ws.ws_row &&
	    ws.ws_col) {
		wire_put_u16(&m, A_ROWS, ws.ws_row);
		wire_put_u16(&m, A_COLS, ws.ws_col);
	}
	ghost_send(&m);
}

