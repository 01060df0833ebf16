/* wsg-bench: clock, size parsing, latency histogram. */
#include "bench.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

uint64_t bench_now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

bool bench_parse_size(const char *s, uint64_t *out)
{
    char *end;
    if (!s || !isdigit((unsigned char)*s))
        return false;
    unsigned long long v = strtoull(s, &end, 10);
    uint64_t mul = 1;
    if (*end == 'k' || *end == 'K')
        mul = 1024, end++;
    else if (*end == 'm' || *end == 'M')
        mul = 1024 * 1024, end++;
    if (*end != 0 || v > UINT64_MAX / mul)
        return false;
    *out = v * mul;
    return true;
}

void hist_init(struct hist *h)
{
    memset(h, 0, sizeof *h);
    h->min = UINT64_MAX;
}

static size_t hist_index(uint64_t v)
{
    if (v < (1u << HIST_SUB_BITS))
        return (size_t)v;
    unsigned e = 63u - (unsigned)__builtin_clzll(v);
    size_t sub = (size_t)(v >> (e - HIST_SUB_BITS)) & ((1u << HIST_SUB_BITS) - 1);
    return ((size_t)(e - HIST_SUB_BITS + 1) << HIST_SUB_BITS) + sub;
}

/* Lowest value and width of bucket i. */
static void hist_bucket(size_t i, uint64_t *low, uint64_t *width)
{
    if (i < (1u << HIST_SUB_BITS)) {
        *low = i;
        *width = 1;
        return;
    }
    unsigned e = (unsigned)(i >> HIST_SUB_BITS) + HIST_SUB_BITS - 1;
    uint64_t sub = i & ((1u << HIST_SUB_BITS) - 1);
    *low = ((uint64_t)(1u << HIST_SUB_BITS) + sub) << (e - HIST_SUB_BITS);
    *width = (uint64_t)1 << (e - HIST_SUB_BITS);
}

void hist_add(struct hist *h, uint64_t v)
{
    h->count[hist_index(v)]++;
    h->total++;
    if (v > h->max)
        h->max = v;
    if (v < h->min)
        h->min = v;
}

uint64_t hist_percentile(const struct hist *h, double p)
{
    if (h->total == 0)
        return 0;
    if (p >= 100.0)
        return h->max;
    uint64_t rank = (uint64_t)(p / 100.0 * (double)h->total + 0.999999);
    if (rank == 0)
        rank = 1;
    uint64_t seen = 0;
    for (size_t i = 0; i < HIST_BUCKETS; i++) {
        seen += h->count[i];
        if (seen >= rank) {
            uint64_t low, width;
            hist_bucket(i, &low, &width);
            uint64_t mid = low + width / 2;
            if (mid > h->max)
                mid = h->max;
            if (mid < h->min)
                mid = h->min;
            return mid;
        }
    }
    return h->max;
}
