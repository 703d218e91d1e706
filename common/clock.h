/* The monotonic clock (common/clock.c). */
#ifndef BPROC_CLOCK_H
#define BPROC_CLOCK_H

#include <stdint.h>

uint64_t	now_ms(void);	/* CLOCK_MONOTONIC in milliseconds */

#endif
