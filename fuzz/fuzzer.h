/*
 * fuzzer.h: the entry point every fuzz target defines, as libFuzzer calls it.
 *
 * The declaration lives here so that targets compile under
 * -Wmissing-prototypes and so that standalone_driver.c, which replays corpora
 * without libFuzzer, calls it with the same signature.
 */
#ifndef PS_FUZZ_FUZZER_H
#define PS_FUZZ_FUZZER_H

#include <stddef.h>
#include <stdint.h>

/* Runs one input. Must not keep data past the call; returns 0. A bug is
 * reported by crashing (abort(), a sanitizer report), never by the return
 * value. */
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#endif
