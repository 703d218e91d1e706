/* nodeinit's clock: milliseconds since boot, for timers and deadlines. */
#include <stdint.h>
#include <time.h>

#include "nodeinit.h"

uint64_t
now_ms(void)
{
	struct timespec	ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}
