/* The one entry point shared by the libFuzzer build and the corpus replayer. */
#ifndef BPROC_FUZZ_H
#define BPROC_FUZZ_H

#include <stddef.h>
#include <stdint.h>

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

#endif
