/* Shared helpers for the fuzz harnesses (shared/STYLE.md item 13).
 *
 * Every harness exports LLVMFuzzerTestOneInput(). It is linked either with
 * libFuzzer (clang with libFuzzer available) or with replay.c, a main() that runs the
 * files of a corpus; AFL++ can drive it the same way. A harness aborts on
 * any answer the public headers do not document. */
#ifndef WSG_FUZZ_COMMON_H
#define WSG_FUZZ_COMMON_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <wsguard/core.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Prints where and why, then abort()s: libFuzzer and ASan report it as a
 * crash and keep the input. */
#if defined(__GNUC__) || defined(__clang__)
__attribute__((noreturn, format(printf, 4, 5)))
#endif
void fuzz_fail(const char *file, int line, const char *cond, const char *fmt,
               ...);

#define FUZZ_CHECK(cond, ...)                                                 \
    do {                                                                      \
        if (!(cond))                                                          \
            fuzz_fail(__FILE__, __LINE__, #cond, __VA_ARGS__);                \
    } while (0)

/* Leading input bytes: read one at a time, 0 once the input is used up. */
struct fuzz_in {
    const uint8_t *p;
    size_t n;
};
uint8_t fuzz_in_byte(struct fuzz_in *in);

/* A small deterministic PRNG (splitmix64) for chunk sizes and actions. */
struct fuzz_rng {
    uint64_t s;
};
uint64_t fuzz_rng_next(struct fuzz_rng *r);
/* Uniform-ish in [0, n); 0 if n is 0. */
size_t fuzz_rng_below(struct fuzz_rng *r, size_t n);

/* Chunk size limits selected by a nibble: whole input, one byte at a time,
 * and sizes that split headers and payloads at varied places. */
size_t fuzz_chunk_max(unsigned nibble);
/* Next chunk length in [1, min(left, max)]. */
size_t fuzz_chunk_next(struct fuzz_rng *r, size_t max, size_t left);

/* Reads every byte (so ASan checks the whole range) into a sink. */
void fuzz_touch(const void *p, size_t len);

/* An exact-size heap copy (so an over-read past `len` hits a redzone). */
uint8_t *fuzz_dup(const uint8_t *p, size_t len);

/* A counting allocator: tracks live and peak bytes, detects leaks, and can
 * fail the N-th allocation (fail_at; 0 = never). */
struct fuzz_alloc {
    struct wsg_allocator a;
    size_t cur, peak;
    unsigned long count, fail_at, failed;
};
void fuzz_alloc_init(struct fuzz_alloc *fa, unsigned long fail_at);
/* True if rc is the WSG_ERR_NOMEM of an injected failure (the only NOMEM
 * a harness accepts). */
bool fuzz_alloc_err(const struct fuzz_alloc *fa, int rc);

/* Reference UTF-8 validator (RFC 3629 table 3-7 of Unicode), one byte at a
 * time, failing at the first byte that cannot continue a valid sequence:
 * the harnesses check the library's validator and events against it. */
struct fuzz_utf8 {
    unsigned need;
    uint8_t lo, hi;
};
bool fuzz_utf8_byte(struct fuzz_utf8 *u, uint8_t b);
/* Index of the first byte that makes `buf` invalid, or len if none. */
size_t fuzz_utf8_first_bad(struct fuzz_utf8 *u, const uint8_t *buf,
                           size_t len);
bool fuzz_utf8_valid(const uint8_t *buf, size_t len);

/* True if `hay` contains the NUL-terminated `needle`. */
bool fuzz_mem_has(const uint8_t *hay, size_t len, const char *needle);

/* A random callback with a deterministic, never-failing output: the first
 * 16 bytes are "the sample nonce" (RFC 6455 section 1.3's key), then a
 * counter pattern. */
struct fuzz_random {
    uint64_t n;
};
int fuzz_random_fill(void *ud, uint8_t *buf, size_t len);

#endif
