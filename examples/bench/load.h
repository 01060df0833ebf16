/* wsg-bench load: options and the masking-key source. */
#ifndef WSG_BENCH_LOAD_H
#define WSG_BENCH_LOAD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <wsguard/io.h>

#define MAX_CONNECTIONS 10000
#define MAX_DEPTH 4096
#define MAX_SIZE (64u << 20)

/* lib/io's CTR-DRBG, drawn 4 KiB at a time: a DRBG call per 4-byte key
 * would cost the client more than the framing it measures. */
struct brng {
    struct wsg_rng *rng;
    uint8_t buf[4096];
    size_t pos;
};
int brng_init(struct brng *r);   /* 0 or a wsg_err */
int brng_fill(void *ud, uint8_t *out, size_t len); /* a struct wsg_random */
void brng_free(struct brng *r);

struct opts {
    char host[256], port[16], target[1024], hosthdr[300];
    unsigned connections, depth;
    uint64_t size;
    bool text;
    double duration;
};

/* Parses the load options (after "load"); prints why and returns false on
 * a bad one. */
bool load_parse_args(int argc, char **argv, struct opts *o);

#endif
