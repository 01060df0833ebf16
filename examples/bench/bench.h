/* wsg-bench: shared declarations. A program, not a test: it prints
 * figures and asserts nothing but the echoed payloads. */
#ifndef WSG_BENCH_H
#define WSG_BENCH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* CLOCK_MONOTONIC in nanoseconds. */
uint64_t bench_now_ns(void);

/* Parses "64", "4k", "1m", "1048576" (k/m = 1024 multiples). False on
 * garbage or overflow. */
bool bench_parse_size(const char *s, uint64_t *out);

int bench_micro(int argc, char **argv);
int bench_load(int argc, char **argv);

/* An HDR-like histogram: 32 linear sub-buckets per power of two (relative
 * error under 3.2%), fixed size (about 15 KiB) whatever the values. */
#define HIST_SUB_BITS 5
#define HIST_BUCKETS ((64 - HIST_SUB_BITS + 1) << HIST_SUB_BITS)
struct hist {
    uint64_t count[HIST_BUCKETS];
    uint64_t total, max, min;
};
void hist_init(struct hist *h);
void hist_add(struct hist *h, uint64_t v);
/* The value at percentile p (0-100): the middle of the bucket holding it,
 * exact for the maximum. 0 if empty. */
uint64_t hist_percentile(const struct hist *h, double p);

#endif
