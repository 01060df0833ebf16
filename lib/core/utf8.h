/* Internal: the UTF-8 DFA and the fused unmask + validate pass. */
#ifndef WSG_CORE_UTF8_H
#define WSG_CORE_UTF8_H

#include <wsguard/core.h>

#define WSG__UTF8_ACCEPT 0u
#define WSG__UTF8_REJECT 8u

/* Runs the validator from `state` over `n` bytes; returns the new state
 * (WSG__UTF8_REJECT, sticky, at the first invalid byte). */
uint32_t wsg__utf8_run(uint32_t state, const uint8_t *p, size_t n);

/* One pass: XORs `n` bytes in place with `key` (at key offset `koff`) and
 * validates the result from `state`. Returns the new state. */
uint32_t wsg__unmask_utf8(uint8_t *p, size_t n, const uint8_t key[4],
                          size_t koff, uint32_t state);

#endif
