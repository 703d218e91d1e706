/* The monotonic clock in milliseconds, for timers, deadlines and rates. */
#include <stdint.h>
#include <time.h>

#include "clock.h"

uint64_t
now_ms(void)
{
	struct timespec	ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}
