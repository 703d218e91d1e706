/*
 * Kernel modules: the NIC drivers a packaged (modular) kernel needs before
 * the cluster network exists.  The image builder resolved them through the
 * kernel's modules.dep and wrote /lib/modules/bproc.load, one path per
 * line relative to /lib/modules, dependencies first; so PID 1 needs no
 * dependency solver, only finit_module(2) in file order.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "log.h"
#include "nodeinit_int.h"

#define MODULES_DIR	"/lib/modules"		/* in the initramfs */
#define MODULES_LIST	MODULES_DIR "/bproc.load"	/* load order, from mkinitramfs.sh */
#define MODULES_NIC_MS	5000	/* ms to wait for the NIC after loading */
#define MODULES_POLL_MS	20	/* ms between looks for the NIC */

/* musl has no wrapper for finit_module(2). */
static int
module_load(const char *path)
{
	int	fd, r;

	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) == -1)
		return -1;
	r = (int)syscall(SYS_finit_module, fd, "", 0);
	close(fd);
	return r;
}

/*
 * Load every module the image carries.  A driver already built into the
 * kernel or loaded makes EEXIST, which is success here; one that fails is
 * logged and the rest still load: a node with two NIC types needs only one.
 */
void
modules_load(void)
{
	char	line[256], path[sizeof(line) + sizeof(MODULES_DIR) + 1];
	FILE	*f;
	size_t	n;
	int	loaded = 0, r;

	if ((f = fopen(MODULES_LIST, "re")) == NULL) {
		if (errno != ENOENT)
			log_warn("%s", MODULES_LIST);
		return;
	}
	while (fgets(line, sizeof(line), f) != NULL) {
		n = strcspn(line, "\r\n");
		line[n] = '\0';
		if (n == 0 || line[0] == '#')
			continue;
		snprintf(path, sizeof(path), "%s/%s", MODULES_DIR, line);
		r = module_load(path);
		if (r == -1 && errno == ENOSYS) {
			/* a kernel without modules (kernel-config/) has its
			 * drivers built in: nothing to load, nothing wrong */
			log_info("kernel without module support: drivers are "
			    "built in");
			break;
		}
		if (r == -1 && errno != EEXIST)
			log_warn("module %s", line);
		else
			loaded++;
	}
	fclose(f);
	log_info("%d kernel modules loaded", loaded);
}

/*
 * PCI drivers usually register their netdev inside init_module, but
 * some probe asynchronously; give the NIC a bounded time to appear.
 * Returns 0 once /sys/class/net/IFACE exists, -1 on timeout.
 */
int
modules_wait_iface(const char *iface)
{
	char		path[64];
	struct stat	st;
	uint64_t	deadline = now_ms() + MODULES_NIC_MS;

	snprintf(path, sizeof(path), "/sys/class/net/%s", iface);
	while (stat(path, &st) == -1) {
		if (now_ms() >= deadline) {
			log_warnx("%s did not appear within %d ms", iface,
			    MODULES_NIC_MS);
			return -1;
		}
		usleep(MODULES_POLL_MS * 1000);
	}
	return 0;
}
