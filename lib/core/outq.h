/* Internal: the output queue. A list of segments lent out as iovecs:
 * owned chunks (bytes right after the segment struct, never moved once
 * allocated, so lent pointers survive more output being queued), borrowed
 * payloads (released once written or at free) and one embedded segment
 * for the Close frame (so failing a connection never needs memory). */
#ifndef WSG_CORE_OUTQ_H
#define WSG_CORE_OUTQ_H

#include <wsguard/core.h>

enum wsg__seg_kind { WSG__SEG_OWNED, WSG__SEG_BORROWED, WSG__SEG_EMBEDDED };

struct wsg__seg {
    struct wsg__seg *next;
    uint8_t *ptr;      /* owned/embedded: writable bytes */
    const void *bptr;  /* borrowed bytes */
    size_t len;        /* bytes queued in this segment */
    size_t off;        /* bytes already written */
    size_t cap;        /* owned: capacity */
    void (*release)(void *ud, const void *data);
    void *ud;
    enum wsg__seg_kind kind;
};

struct wsg__outq {
    struct wsg__seg *head, *tail;
    size_t pending;
    const struct wsg_allocator *a; /* never NULL */
};

/* Default chunk size for owned bytes. */
#define WSG__CHUNK 4096u

void wsg__outq_init(struct wsg__outq *q, const struct wsg_allocator *a);

/* Returns `n` contiguous writable bytes at the end of the queue (a new
 * chunk if the tail has no room), not yet queued; NULL on NOMEM. */
uint8_t *wsg__outq_reserve(struct wsg__outq *q, size_t n);

/* Queues the `n` bytes written into the last reservation. */
void wsg__outq_commit(struct wsg__outq *q, size_t n);

/* A borrowed segment, not yet queued; NULL on NOMEM. */
struct wsg__seg *wsg__outq_borrowed_new(struct wsg__outq *q, const void *data,
                                        size_t len,
                                        void (*release)(void *, const void *),
                                        void *ud);

/* Appends a borrowed or embedded segment. */
void wsg__outq_push(struct wsg__outq *q, struct wsg__seg *s);

size_t wsg__outq_lend(const struct wsg__outq *q, struct wsg_iovec *iov,
                      size_t max);
/* Returns the bytes actually consumed (n capped at pending). */
size_t wsg__outq_consume(struct wsg__outq *q, size_t n);
void wsg__outq_free(struct wsg__outq *q);

/* Allocator helpers (allocator never NULL). */
void *wsg__core_alloc(const struct wsg_allocator *a, size_t n);
void *wsg__core_realloc(const struct wsg_allocator *a, void *p, size_t old,
                   size_t n);
void wsg__core_free(const struct wsg_allocator *a, void *p);
const struct wsg_allocator *wsg__core_allocator_default(void);

#endif
