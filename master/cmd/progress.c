/*
 * The progress bar of scp, as bpcp and bpsh --push draw it: name,
 * percent, bytes, rate, time left (or taken, at the end), redrawn in
 * place with \r on stderr, only when stderr is a terminal.
 */
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "bproc.h"
#include "progress.h"

static struct progress	push_bar;	/* progress_push(): the one push */

static double
now_sec(void)
{
	struct timespec	ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static const char *
human(double v, char *buf, size_t len)
{
	static const char	*unit[] = { "B", "KB", "MB", "GB", "TB" };
	int			 i = 0;

	while (v >= 1024 && i < 4) {
		v /= 1024;
		i++;
	}
	snprintf(buf, len, i ? "%.1f%s" : "%.0f%s", v, unit[i]);
	return buf;
}

static void
progress_draw(struct progress *p, uint64_t done, int last)
{
	char	 b1[32], b2[32];
	double	 el = now_sec() - p->start, rate = el > 0 ? (double)done / el : 0;
	int	 pct = p->total ? (int)(done * 100 / p->total) : 100;
	long	 eta = rate > 0 && p->total > done ?
		    (long)((double)(p->total - done) / rate) : 0;

	if (last)
		eta = (long)el;
	fprintf(stderr, "\r%-32.32s %3d%% %9s %9s/s %3ld:%02ld%s", p->name,
	    pct > 100 ? 100 : pct, human((double)done, b1, sizeof(b1)),
	    human(rate, b2, sizeof(b2)), eta / 60, eta % 60,
	    last ? "    \n" : " ETA");
	p->shown = 1;
	p->drawn = now_sec();
}

void
progress_begin(struct progress *p, const char *name, uint64_t total)
{
	memset(p, 0, sizeof(*p));
	snprintf(p->name, sizeof(p->name), "%s", name);
	p->total = total;
	p->start = now_sec();
	p->on = isatty(STDERR_FILENO);
}

void
progress_step(struct progress *p, uint64_t done, uint64_t total)
{
	p->total = total;
	if (p->on && total > PROGRESS_MIN &&
	    now_sec() - p->drawn >= PROGRESS_MS / 1000.0)
		progress_draw(p, done, 0);
}

void
progress_end(struct progress *p, uint64_t done)
{
	if (p->on && p->shown)
		progress_draw(p, done, 1);
}

/* libbproc's word on the push (bproc_push_progress). */
static void
push_heard(uint64_t done, uint64_t total, int end, void *arg)
{
	(void)arg;
	if (end)
		progress_end(&push_bar, done);
	else
		progress_step(&push_bar, done, total);
}

/*
 * bpsh --push: a bar for what the next bproc_rexec*() pushes to node,
 * named after the command, when the node lacks more than PROGRESS_MIN.
 */
void
progress_push(int node, const char *cmd)
{
	const char	*base = strrchr(cmd, '/');
	char		 name[64];

	snprintf(name, sizeof(name), "n%d: push %s", node,
	    base != NULL ? base + 1 : cmd);
	progress_begin(&push_bar, name, 0);
	bproc_push_progress(push_heard, NULL);
}
