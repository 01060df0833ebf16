/* Drives one wsg_conn over fuzzed wire bytes and checks every answer
 * against include/wsguard/core.h. Shared by the frame harnesses and by the
 * handshake harnesses (for the bytes after the HTTP head, T8). */
#ifndef WSG_FUZZ_CONN_DRIVE_H
#define WSG_FUZZ_CONN_DRIVE_H

#include <stdio.h>

#include "common.h"
#include "model.h"

struct fuzz_conn_opts {
    struct wsg_conn_config cfg; /* alloc and random are set by the driver */
    size_t max_chunk;           /* see fuzz_chunk_max() */
    uint64_t seed;              /* chunking and actions */
    bool actions;               /* interleave send/ping/close/tick/drain */
    unsigned long alloc_fail_at; /* 0: never */
    struct fuzz_recording *rec; /* non-NULL: record every event */
};

/* Feeds `wire` in chunks to a new connection, checks each event, drains the
 * output into a peer connection of the opposite role (which must never
 * fail: our output is always valid RFC 6455), ticks, and frees. Aborts on
 * any undocumented answer, leak or unbounded memory. */
void fuzz_conn_run(const struct fuzz_conn_opts *o, const uint8_t *wire,
                   size_t len);

/* Counts of events and failure codes seen so far (replay prints them with
 * WSGUARD_FUZZ_STATS=1, to show what a corpus reaches). */
void fuzz_conn_stats_print(FILE *f);

#endif
