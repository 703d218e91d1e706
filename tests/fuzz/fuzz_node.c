/*
 * Fuzz target for nodeinit's message handlers: what a master (or anyone
 * who got past the handshake) can make PID 1 do.  The input is
 *
 *	u8 setup, u8 fail_at, frames...
 *
 * and each frame is handed to uplink_frame() as uplink_poll_event would,
 * with the link in the state setup's low two bits name (0 up, 1 waiting
 * for the challenge, 2 for the confirm, 3 for WELCOME).  After each frame,
 * setup bit 2 runs a pass of the process host's poll loop (output, stdin,
 * exit reports), bit 3 reports the oldest process as exited, bit 4 as
 * stopped first.  fail_at > 0 makes that write to the link fail, as when
 * the master goes away mid-handler (FUZZ_NODE_NOFAIL=1 in the environment
 * turns that off, for a long run past a known crash of that kind).
 *
 * Nothing real is started or changed: the link is /dev/null; clone3,
 * kill, waitpid and sethostname are fakes (a process is a fake PID with
 * real pipes whose far ends are closed, like a program that exits at
 * once); the node's files (cache, pushed paths, /etc/passwd) are written
 * in a sandbox (sandbox.c) that holds a small node image; MSG_POWER ends
 * the input instead of rebooting.  uplink.c and cache.c are included so
 * their state can be reset between inputs (uplink_net.c, userdb.c and
 * node_status.c with uplink.c, pending.c with cache.c); fetch.c and proc*.c are linked
 * and emptied through push_abort_all and proc_kill_all.
 *
 * Accepted means: every byte was a whole frame, the link never failed
 * (LINK_DEAD; the harness then runs uplink_reap as the main loop does), and
 * no EXEC_RESULT the node sent carried an error.
 */
#include "nodeinit/uplink.c"
#include "nodeinit/uplink_fsm.c"
#include "nodeinit/uplink_net.c"
#include "nodeinit/userdb.c"
#include "nodeinit/node_status.c"
#include "nodeinit/cache.c"
#include "nodeinit/pending.c"

#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <sys/syscall.h>
#include <sys/wait.h>

#include "fuzz.h"

#define FZ_PID_BASE	5000000	/* above any pid_max: a fake can hit nothing */
#define FZ_MAXPIDS	256

struct node_conf	ncf;
int			node_stage;

static jmp_buf	fz_power;
static int	fz_link_fd = -1;
static unsigned	fz_writes, fz_fail_at, fz_refused;
static pid_t	fz_pids[FZ_MAXPIDS];	/* fake children not yet exited */
static int	fz_npids, fz_nextpid;
static int	fz_events[8];		/* waitpid's queue: index into fz_pids */
static int	fz_evstatus[8];
static int	fz_nevents;

/* What uplink.c calls in boot.c, netlink.c and modules.c: never reached. */
uint64_t
now_ms(void)
{
	struct timespec	ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}
int	boot_dhcp(void) { return -1; }
int	nl_link_up(const char *i) { (void)i; return -1; }
int	nl_addr_add(const char *i, const char *a, int l) { (void)i; (void)a; (void)l; return -1; }
int	nl_route_default(const char *g) { (void)g; return -1; }
int	nl_mask_len(const char *m) { (void)m; return -1; }
int	modules_wait_iface(const char *i) { (void)i; return -1; }

/*
 * track.c ptraces what the remote processes fork; the fake processes
 * fork nothing, so it is stubbed as a tracker that sees no children.
 */
int	track_child(int fd) { (void)fd; return 0; }
int	track_attach(pid_t p, pid_t g) { (void)p; (void)g; return 0; }
int	track_event(pid_t p, int s) { (void)p; (void)s; return 0; }
void	track_fork_result(const struct wire_hdr *h, struct wire_attr *tb) { (void)h; (void)tb; }
void	track_stopsig(pid_t p, int s) { (void)p; (void)s; }
int	track_signal(pid_t p, int s) { (void)p; (void)s; return -1; }
pid_t	track_top_of(pid_t p) { return p; }
pid_t	track_session_member(pid_t p) { (void)p; return 0; }
int	track_count(void) { return 0; }
pid_t	track_gpid(pid_t t) { (void)t; return 0; }
int	track_catches(pid_t p, int s) { (void)p; (void)s; return 0; }
void	track_kill_all(void) { }
int	track_children(void) { return 0; }
void	track_link_lost(void) { }
int	track_rejoin_report(void) { return 0; }
void	track_resume(pid_t g) { (void)g; }

void
node_poweroff(int how)
{
	(void)how;
	longjmp(fz_power, 1);
}

/* --wrap'd system calls of nodeinit (see the Makefile) */
long	__wrap_syscall(long, ...);
int	__wrap_kill(pid_t, int);
pid_t	__wrap_waitpid(pid_t, int *, int);
int	__wrap_sethostname(const char *, size_t);
ssize_t	__wrap_write(int, const void *, size_t);
ssize_t	__real_write(int, const void *, size_t);

long
__wrap_syscall(long nr, ...)
{
	if (nr != SYS_clone3 || fz_npids == FZ_MAXPIDS) {
		errno = ENOSYS;
		return -1;
	}
	fz_pids[fz_npids++] = FZ_PID_BASE + fz_nextpid;
	return FZ_PID_BASE + fz_nextpid++;
}

int
__wrap_kill(pid_t pid, int sig)
{
	(void)sig;
	if (pid < FZ_PID_BASE && -pid < FZ_PID_BASE)
		abort();	/* nodeinit signalled a PID it never started */
	return 0;
}

pid_t
__wrap_waitpid(pid_t pid, int *status, int opts)
{
	int	i, k;

	(void)pid;
	(void)opts;
	if (fz_nevents == 0)
		return 0;
	k = fz_events[0];
	*status = fz_evstatus[0];
	pid = fz_pids[k];
	if (WIFEXITED(*status) || WIFSIGNALED(*status))
		fz_pids[k] = fz_pids[--fz_npids];
	for (i = 1; i < fz_nevents; i++) {
		fz_events[i - 1] = fz_events[i];
		fz_evstatus[i - 1] = fz_evstatus[i];
	}
	fz_nevents--;
	return pid;
}

int
__wrap_sethostname(const char *name, size_t len)
{
	(void)name;
	(void)len;
	return 0;
}

/* What the node says: an EXEC_RESULT with an error is a refusal. */
static void
fz_outgoing(const unsigned char *p, size_t len)
{
	struct wire_hdr		 h;
	struct wire_iter	 it;
	struct wire_attr	 a;
	const char		*why;

	while (wire_hdr_decode(p, len, WIRE_MAX_FRAME, &h, &why) == 1 &&
	    h.len <= len) {
		if (h.type == MSG_EXEC_RESULT) {
			wire_iter_init(&it, p + WIRE_HDR_LEN, h.len - WIRE_HDR_LEN);
			while (wire_iter_next(&it, &a) == 1)
				if (a.type == A_ERRNO && a.len == 4 &&
				    wire_get_u32(&a) != 0)
					fz_refused++;
		}
		p += h.len;
		len -= h.len;
	}
}

ssize_t
__wrap_write(int fd, const void *buf, size_t len)
{
	if (fd != fz_link_fd || fd < 0)
		return __real_write(fd, buf, len);
	if (fz_fail_at && ++fz_writes == fz_fail_at) {
		errno = EPIPE;
		return -1;
	}
	fz_outgoing(buf, len);
	return (ssize_t)len;
}

/* The node image: busybox with applet links, a library, the cache dir. */
static void
fz_image(void)
{
	static const char	busybox[] = "\177ELF busybox";
	char			p[512];

	fuzz_sandbox_put("/bin/busybox", busybox, sizeof(busybox) - 1, 0755);
	fuzz_sandbox_put("/lib/libimage.so", busybox, sizeof(busybox) - 1, 0755);
	fuzz_sandbox_put("/etc/passwd", "root:x:0:0::/:/bin/sh\n", 22, 0644);
	fuzz_sandbox_put("/var/lib/bproc/cache/.keep", "", 0, 0644);
	snprintf(p, sizeof(p), "%s/bin/sh", fuzz_sandbox_root);
	symlink("/bin/busybox", p);
	snprintf(p, sizeof(p), "%s/bin/ls", fuzz_sandbox_root);
	symlink("/bin/busybox", p);
}

static void
fz_cache_reset(void)
{
	struct blob	*b;
	struct lpath	*lp;
	struct hold	*ho;

	for (int i = 0; i < CACHE_HT; i++) {
		while ((b = blob_ht[i]) != NULL) {
			blob_ht[i] = b->next;
			free(b);
		}
		while ((lp = path_ht[i]) != NULL) {
			path_ht[i] = lp->next;
			free(lp->path);
			free(lp);
		}
	}
	while ((ho = DLIST_FIRST(&holds)) != NULL) {
		DLIST_REMOVE(ho, link);
		free(ho->blobs);
		free(ho->alias_path);
		free(ho);
	}
	lru_clock = 0;
	cache_bytes = 0;
	cache_budget = 0;
}

/* What nodeinit.c hangs on the link: the handlers it hands frames up to. */
static void fz_setup(const struct proto_frame *f) { push_setup(f->h, f->tb, f->body, f->len); }
static void fz_exec(const struct proto_frame *f) { spawn_exec(f->h, f->tb, f->body, f->len); }
static void fz_blob(const struct proto_frame *f) { push_blob(f->tb, f->body, f->len); }
static void fz_signal(const struct proto_frame *f) { proc_signal(f->tb); }
static void fz_input(const struct proto_frame *f) { proc_input(f->tb); }
static void fz_ack(const struct proto_frame *f) { proc_ack(f->tb); }
static void fz_fork_result(const struct proto_frame *f) { track_fork_result(f->h, f->tb); }

static void
fz_lost(int up)
{
	if (up)
		proc_kill_all();
	push_abort_all();
}

static void
fz_init(void)
{
	uplink_hooks.setup = fz_setup;
	uplink_hooks.exec = fz_exec;
	uplink_hooks.blob = fz_blob;
	uplink_hooks.signal = fz_signal;
	uplink_hooks.input = fz_input;
	uplink_hooks.ack = fz_ack;
	uplink_hooks.fork_result = fz_fork_result;
	uplink_hooks.lost = fz_lost;
	cache_hooks.hosts = proc_hosts;
	rproc_hooks.freed = migrate_forget;
	signal(SIGPIPE, SIG_IGN);	/* stdin pipes of fake processes */
	fuzz_sandbox_init("fuzz-node");
	fz_image();
	snprintf(ncf.iface, sizeof(ncf.iface), "eth0");
	ncf.virt = 1;
}

/* One pass of nodeinit's loop over its processes, and the reaper. */
static void
fz_events_pass(unsigned setup)
{
	struct pollfd	pfd[3 * 32];
	int		n;

	if (setup & 0x04) {
		n = proc_poll_setup(pfd, 3 * 32);
		if (n > 0 && poll(pfd, (nfds_t)n, 0) > 0)
			proc_poll_event(pfd, n);
	}
	if ((setup & 0x18) && fz_npids > 0 && fz_nevents < 6) {
		if (setup & 0x10) {
			fz_events[fz_nevents] = 0;
			fz_evstatus[fz_nevents++] = 0x137f;	/* stopped, SIGSTOP */
			fz_events[fz_nevents] = 0;
			fz_evstatus[fz_nevents++] = 0xffff;	/* continued */
		}
		if (setup & 0x08) {
			fz_events[fz_nevents] = 0;
			fz_evstatus[fz_nevents++] = 3 << 8;	/* exit 3 */
		}
		proc_reap();
	}
}

int
fuzz_verdict(const uint8_t *data, size_t size)
{
	static const int	 states[4] = { LINK_UP, LINK_CONNECTING,
				    LINK_AUTH, LINK_HELLO };
	static int		 ready, nofail;
	struct wire_hdr		 h;
	const char		*why;
	volatile int		 ok = 1;
	volatile size_t		 off = 2;
	unsigned		 setup;

	if (!ready) {
		fz_init();
		nofail = getenv("FUZZ_NODE_NOFAIL") != NULL;
		ready = 1;
	}
	if (size < 2)
		return 0;
	setup = data[0];
	fz_fail_at = nofail ? 0 : data[1];
	fz_writes = fz_refused = 0;
	fz_npids = fz_nevents = 0;

	fz_link_fd = open("/dev/null", O_WRONLY | O_CLOEXEC);
	conn_init(&lc, fz_link_fd, "fuzz", WIRE_MAX_FRAME, 1u << 20);
	lstate = states[setup & 3];
	node_stage = lstate == LINK_UP ? STAGE_SETUP : STAGE_NETWORK;
	node_num = lstate == LINK_UP ? 0 : -1;
	heartbeat_ms = 1000;
	silence_ms = 6000;
	have_key = 1;

	fuzz_sandbox_on = 1;
	if (setjmp(fz_power) == 0) {
		while (off < size) {
			if (wire_hdr_decode(data + off, size - off, WIRE_MAX_FRAME,
			    &h, &why) != 1 || h.len > size - off) {
				ok = 0;		/* not a whole frame: a link would wait or close */
				break;
			}
			uplink_frame(&h, data + off + WIRE_HDR_LEN,
			    h.len - WIRE_HDR_LEN);
			off += h.len;
			if (lstate == LINK_DEAD || lstate == LINK_IDLE)
				break;
			fz_events_pass(setup);
			if (lstate == LINK_DEAD || lstate == LINK_IDLE)
				break;
		}
		/* a failed link is closed by the main loop, after the handler */
		if (lstate == LINK_DEAD || lstate == LINK_IDLE) {
			ok = 0;
			uplink_reap();
		}
	}
	/* the master went away: what uplink_reap's hook does, and the rest */
	proc_kill_all();
	push_abort_all();
	fuzz_sandbox_on = 0;
	conn_free(&lc);
	fz_link_fd = -1;
	lstate = LINK_IDLE;
	fz_cache_reset();
	if (fuzz_sandbox_dirty) {
		fuzz_sandbox_wipe();
		fz_image();
	}
	return ok && fz_refused == 0;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	fuzz_verdict(data, size);
	return 0;
}
