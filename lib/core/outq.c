/* The output queue. */
#include <string.h>

#include "core/alloc.h"
#include "core/outq.h"

/* ---- queue ---------------------------------------------------------------- */

void wsg__outq_init(struct wsg__outq *q, const struct wsg_allocator *a)
{
    memset(q, 0, sizeof *q);
    q->a = a;
}

static void seg_append(struct wsg__outq *q, struct wsg__seg *s)
{
    s->next = NULL;
    if (q->tail)
        q->tail->next = s;
    else
        q->head = s;
    q->tail = s;
}

static size_t seg_mem(const struct wsg__seg *s)
{
    if (s->kind == WSG__SEG_OWNED)
        return sizeof *s + s->cap;
    if (s->kind == WSG__SEG_BORROWED)
        return sizeof *s + s->hlen;
    return 0; /* embedded: part of the connection */
}

size_t wsg__outq_cost(const struct wsg__outq *q, size_t n)
{
    const struct wsg__seg *t = q->tail;

    if (t && t->kind == WSG__SEG_OWNED && t->cap - t->len >= n)
        return 0;
    size_t cap = n > WSG__CHUNK ? n : WSG__CHUNK;
    if (cap > SIZE_MAX - sizeof *t)
        return SIZE_MAX;
    return sizeof *t + cap;
}

uint8_t *wsg__outq_reserve(struct wsg__outq *q, size_t n)
{
    struct wsg__seg *t = q->tail;

    if (t && t->kind == WSG__SEG_OWNED && t->cap - t->len >= n)
        return t->ptr + t->len;
    size_t cap = n > WSG__CHUNK ? n : WSG__CHUNK;
    if (cap > SIZE_MAX - sizeof(struct wsg__seg))
        return NULL;
    struct wsg__seg *s = wsg__alloc(q->a, sizeof *s + cap);
    if (!s)
        return NULL;
    memset(s, 0, sizeof *s);
    s->kind = WSG__SEG_OWNED;
    s->ptr = (uint8_t *)(s + 1);
    s->cap = cap;
    q->mem += seg_mem(s);
    seg_append(q, s);
    return s->ptr;
}

void wsg__outq_commit(struct wsg__outq *q, size_t n)
{
    q->tail->len += n;
    q->pending += n;
}

size_t wsg__outq_borrowed_cost(size_t hlen)
{
    return sizeof(struct wsg__seg) + hlen;
}

struct wsg__seg *wsg__outq_borrowed_new(struct wsg__outq *q,
                                        const uint8_t *hdr, size_t hlen,
                                        const void *data, size_t len,
                                        void (*release)(void *, const void *),
                                        void *ud)
{
    if (hlen > WSG_FRAME_HEADER_MAX || len > SIZE_MAX - hlen)
        return NULL;
    struct wsg__seg *s = wsg__alloc(q->a, wsg__outq_borrowed_cost(hlen));
    if (!s)
        return NULL;
    memset(s, 0, sizeof *s);
    s->kind = WSG__SEG_BORROWED;
    s->ptr = (uint8_t *)(s + 1);
    memcpy(s->ptr, hdr, hlen);
    s->hlen = (uint8_t)hlen;
    s->bptr = data;
    s->len = hlen + len;
    s->release = release;
    s->ud = ud;
    q->mem += seg_mem(s);
    return s;
}

void wsg__outq_push(struct wsg__outq *q, struct wsg__seg *s)
{
    seg_append(q, s);
    q->pending += s->len - s->off;
}

/* A borrowed segment lends up to two pieces: the rest of its header, then
 * the rest of the caller's payload. */
size_t wsg__outq_lend(const struct wsg__outq *q, struct wsg_iovec *iov,
                      size_t max)
{
    size_t n = 0;
    for (const struct wsg__seg *s = q->head; s && n < max; s = s->next) {
        if (s->off == s->len)
            continue;
        if (s->kind != WSG__SEG_BORROWED) {
            iov[n].base = s->ptr + s->off;
            iov[n].len = s->len - s->off;
            n++;
            continue;
        }
        size_t off = s->off;
        if (off < s->hlen) {
            iov[n].base = s->ptr + off;
            iov[n].len = s->hlen - off;
            n++;
            off = s->hlen;
            if (off == s->len || n == max)
                continue;
        }
        iov[n].base = (const uint8_t *)s->bptr + (off - s->hlen);
        iov[n].len = s->len - off;
        n++;
    }
    return n;
}

static void seg_drop(struct wsg__outq *q, struct wsg__seg *s)
{
    q->mem -= seg_mem(s);
    if (s->kind == WSG__SEG_BORROWED) {
        if (s->release)
            s->release(s->ud, s->bptr);
        wsg__free(q->a, s);
    } else if (s->kind == WSG__SEG_OWNED) {
        wsg__free(q->a, s);
    }
    /* Embedded segments belong to the connection. */
}

size_t wsg__outq_consume(struct wsg__outq *q, size_t n)
{
    size_t done = 0;

    if (n > q->pending)
        n = q->pending;
    while (q->head) {
        struct wsg__seg *s = q->head;
        if (s->off == s->len) {
            if (s == q->tail && s->kind == WSG__SEG_OWNED &&
                s->cap == WSG__CHUNK) {
                /* Keep one standard chunk as a spare: no malloc per frame. */
                s->off = s->len = 0;
                break;
            }
            q->head = s->next;
            if (!q->head)
                q->tail = NULL;
            seg_drop(q, s);
            continue;
        }
        if (n == 0)
            break;
        size_t take = s->len - s->off;
        if (take > n)
            take = n;
        s->off += take;
        n -= take;
        done += take;
    }
    q->pending -= done;
    return done;
}

void wsg__outq_free(struct wsg__outq *q)
{
    while (q->head) {
        struct wsg__seg *s = q->head;
        q->head = s->next;
        seg_drop(q, s);
    }
    q->tail = NULL;
    q->pending = 0;
    q->mem = 0;
}
