/*
 * The master's memory: what a push grew goes back to the system.
 *
 * A push to N nodes queues up to a window of sealed blob frames on every
 * node link and reads 1 MiB frames from every tool; conn_shrink() frees
 * those buffers once they are empty.  Freed is not returned, though: glibc
 * raises its mmap threshold each time a large mmapped block is freed (up
 * to 32 MiB), after which megabyte buffers come from the heap, and a heap
 * is trimmed only from its top.  So the threshold is fixed here (which
 * also stops the raising), and once a burst has been freed malloc_trim()
 * hands back whatever free pages sit inside the heap as well.  The trim
 * waits a moment (MEM_TRIM_MS): a push frees its buffers link by link,
 * and one trim after the last is enough.
 */
#include <malloc.h>

#include "bpmaster.h"
#include "log.h"

#define MEM_MMAP_THRESHOLD	(128 * 1024)	/* bytes: larger blocks are mmapped, and unmapped on free */
#define MEM_TRIM_MS		500	/* ms after the last large free before the trim */

static struct ev_timer	mem_timer;
static size_t		mem_freed;	/* bytes given back since the last trim */

void
mem_init(void)
{
	if (mallopt(M_MMAP_THRESHOLD, MEM_MMAP_THRESHOLD) != 1 ||
	    mallopt(M_TRIM_THRESHOLD, MEM_MMAP_THRESHOLD) != 1)
		log_warnx("mallopt: the master may keep memory it freed");
}

static void
mem_trim(void *arg)
{
	(void)arg;
	mem_freed = 0;
	malloc_trim(0);
}

/*
 * Buffers of this many bytes were freed; once MEM_RELEASE_MIN have been,
 * in one link or spread over a thousand, trim soon.
 */
void
mem_release(size_t bytes)
{
	mem_freed += bytes;
	if (mem_freed >= MEM_RELEASE_MIN)
		ev_timer_set(&mem_timer, MEM_TRIM_MS, mem_trim, NULL);
}
