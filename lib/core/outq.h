/* Internal: the output queue. A list of segments lent out as iovecs:
 * owned chunks (bytes right after the segment struct, never moved once
 * allocated, so lent pointers survive more output being queued), borrowed
 * payloads (their frame header in the same allocation, right after the
 * struct; the payload released once written or at free) and one embedded
 * segment for the Close frame (so failing a connection never needs memory).
 * The queue counts the bytes it allocated (`mem`) so the send side can
 * budget memory, not only wire bytes (H12). */
#ifndef WSG_CORE_OUTQ_H
#define WSG_CORE_OUTQ_H

#include <wsguard/core.h>

enum wsg__seg_kind { WSG__SEG_OWNED, WSG__SEG_BORROWED, WSG__SEG_EMBEDDED };

struct wsg__seg {
    struct wsg__seg *next;
    uint8_t *ptr;      /* owned/embedded: writable bytes; borrowed: header */
    const void *bptr;  /* borrowed payload */
    size_t len;        /* bytes queued in this segment (borrowed: hlen +
                          payload) */
    size_t off;        /* bytes already written */
    size_t cap;        /* owned: capacity */
    void (*release)(void *ud, const void *data);
    void *ud;
    enum wsg__seg_kind kind;
    uint8_t hlen;      /* borrowed: header bytes at ptr, before bptr */
};

struct wsg__outq {
    struct wsg__seg *head, *tail;
    size_t pending;
    size_t mem; /* bytes allocated: segment structs, chunks, headers */
    const struct wsg_allocator *a; /* never NULL */
};

/* Default chunk size for owned bytes. */
#define WSG__CHUNK 4096u

/* How far `mem` may pass a budget: one chunk of rounding, so frames smaller
 * than a chunk can share one even under a budget smaller than a chunk. */
#define WSG__OUTQ_SLACK (WSG__CHUNK + sizeof(struct wsg__seg))

void wsg__outq_init(struct wsg__outq *q, const struct wsg_allocator *a);

/* Returns `n` contiguous writable bytes at the end of the queue (a new
 * chunk if the tail has no room), not yet queued; NULL on NOMEM. */
uint8_t *wsg__outq_reserve(struct wsg__outq *q, size_t n);

/* Bytes wsg__outq_reserve(q, n) would allocate: 0 if the tail has room,
 * SIZE_MAX if it cannot. */
size_t wsg__outq_cost(const struct wsg__outq *q, size_t n);

/* Bytes wsg__outq_borrowed_new() allocates for a header of `hlen`. */
size_t wsg__outq_borrowed_cost(size_t hlen);

/* Queues the `n` bytes written into the last reservation. */
void wsg__outq_commit(struct wsg__outq *q, size_t n);

/* A borrowed segment carrying its own copy of the `hlen` header bytes (at
 * most WSG_FRAME_HEADER_MAX) and the caller's `len` payload bytes by
 * reference, not yet queued; NULL on NOMEM. Nothing else is allocated for
 * it: a borrowed frame never costs a chunk. */
struct wsg__seg *wsg__outq_borrowed_new(struct wsg__outq *q,
                                        const uint8_t *hdr, size_t hlen,
                                        const void *data, size_t len,
                                        void (*release)(void *, const void *),
                                        void *ud);

/* Appends a borrowed or embedded segment. */
void wsg__outq_push(struct wsg__outq *q, struct wsg__seg *s);

size_t wsg__outq_lend(const struct wsg__outq *q, struct wsg_iovec *iov,
                      size_t max);
/* Returns the bytes actually consumed (n capped at pending). */
size_t wsg__outq_consume(struct wsg__outq *q, size_t n);
void wsg__outq_free(struct wsg__outq *q);

#endif
