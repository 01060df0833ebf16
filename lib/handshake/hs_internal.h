/* Internal to lib/handshake: the bounded HTTP head parser shared by the
 * server and client sides and a response writer. Allocation goes through
 * core/alloc.h. */
#ifndef WSG_HS_INTERNAL_H
#define WSG_HS_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <llhttp.h>

#include <wsguard/core.h>
#include <wsguard/handshake.h>

#include "core/alloc.h"

/* Hard caps on the limits a caller may configure, so that buffer sizes
 * computed from them never overflow. */
#define WSG__HS_MAX_LINE_CAP ((size_t)1 << 20)
#define WSG__HS_MAX_HDR_BYTES_CAP ((size_t)1 << 24)
#define WSG__HS_MAX_HEADERS_CAP 65536u
/* Largest response the handshake writes (101 or refusal). */
#define WSG__HS_OUT_MAX ((size_t)65536)

/* ---- the head parser ---------------------------------------------------- */

struct wsg__hdr_ix {
    size_t name_off, name_len, value_off, value_len;
};

struct wsg__http {
    llhttp_t parser;
    llhttp_settings_t settings;
    struct wsg_allocator alloc;
    struct wsg_hs_limits lim;
    bool is_request;

    /* One bounded buffer: target, then names and values as they arrive,
     * then the joined Sec-WebSocket-Protocol/-Extensions values. */
    char *buf;
    size_t buf_len, buf_cap, buf_max;

    struct wsg__hdr_ix *ix;
    size_t ix_cap, nhdr;
    struct wsg_header *headers; /* built when the head is complete */

    size_t target_off, target_len;
    size_t line_bytes, header_bytes, raw_bytes, raw_max;
    int hstate;

    /* CRLF scanner state (bare CR/LF, obs-fold; shared/THREATS.md T7). */
    bool sc_cr, sc_line_start, sc_prev_sp;
    uint32_t sc_line;

    struct wsg_span protocols, extensions; /* joined, ptr NULL if none */
    int resp_status; /* response status code once the status line ended */

    int err;            /* sticky: WSG_ERR_HTTP or WSG_ERR_NOMEM */
    int status;         /* HTTP status for a refusal (400, 414, 431, 503) */
    const char *reason; /* static string */
    bool done;          /* head complete and finalized */
};

/* Sets up `h` (no allocation yet). `alloc` must be complete. */
void wsg__http_init(struct wsg__http *h, bool is_request,
                    const struct wsg_hs_limits *lim,
                    const struct wsg_allocator *alloc);
void wsg__http_free(struct wsg__http *h);

/* Feeds bytes: 0 need more (all consumed), 1 head complete (*consumed is
 * the head's length within this input), or h->err (sticky). */
int wsg__http_feed(struct wsg__http *h, const uint8_t *data, size_t len,
                   size_t *consumed);

/* Records a failure (first one wins) and returns `err`. */
int wsg__http_fail(struct wsg__http *h, int err, int status,
                   const char *reason);

/* After the head: the number of headers named `name` (any case); *first
 * gets the first one's value (ptr NULL if none). */
size_t wsg__http_count(const struct wsg__http *h, const char *name,
                       struct wsg_span *first);
/* True if any header named `name` has `token` in its list. */
bool wsg__http_any_has(const struct wsg__http *h, const char *name,
                       const char *token);

bool wsg__hs_limits_ok(const struct wsg_hs_limits *lim);

/* ---- small helpers ------------------------------------------------------ */

bool wsg__is_tchar(unsigned char c);
bool wsg__is_token(const char *s, size_t n);
/* Field value: no CTL except HTAB (RFC 9110 section 5.5). */
bool wsg__is_field_value(const char *s, size_t n);
bool wsg__ieq(const char *a, size_t alen, const char *b, size_t blen);
bool wsg__ieq_z(struct wsg_span s, const char *z);
/* An extra header the caller wants written: a token name, a field value,
 * and not one of the framing headers the handshake writes itself. */
bool wsg__header_ok(const struct wsg_header *hd);

/* Key checks (accept.c): 24 base64 chars decoding to exactly 16 bytes in
 * canonical form (RFC 6455 section 4.2.1 item 5). */
bool wsg__hs_key_valid(const char *key, size_t len);
/* Constant-time comparison of two equal-length byte strings. */
bool wsg__ct_equal(const void *a, const void *b, size_t n);
/* base64 of `n` bytes into out (NUL-terminated); false if it does not fit. */
bool wsg__b64_encode(const uint8_t *in, size_t n, char *out, size_t out_size);

/* ---- response writer: count first, then write --------------------------- */

struct wsg__wbuf {
    uint8_t *p; /* NULL: count only */
    size_t len, cap;
};

void wsg__wb_put(struct wsg__wbuf *b, const char *s, size_t n);
void wsg__wb_puts(struct wsg__wbuf *b, const char *s);
void wsg__wb_header(struct wsg__wbuf *b, const char *name, const char *v,
                    size_t vlen);

#endif
