/* The bounded HTTP/1.1 head parser shared by both handshake sides.
 *
 * llhttp (strict build, no leniency) does the grammar. In front of it a
 * one-byte-state scanner refuses what llhttp 8.1 lets through even in strict
 * mode: a bare LF ending a line, a bare CR, obs-fold (RFC 9112 section 5.2),
 * an empty line before the start line and doubled spaces in the request
 * line (T7). The scanner also finds the end of the head ("\r\n\r\n"), so
 * llhttp never sees a byte after it (T8). Names and values are copied into
 * one buffer, limits enforced as bytes arrive (T5). */
#include <string.h>

#include "handshake/hs_internal.h"

enum { HS_IDLE = 0, HS_FIELD, HS_VALUE, HS_VALUE_DONE };

/* ---- limits ------------------------------------------------------------- */

void wsg_hs_limits_init_default(struct wsg_hs_limits *lim)
{
    if (!lim)
        return;
    lim->max_request_line = 8192;
    lim->max_header_bytes = 16384;
    lim->max_headers = 100;
}

bool wsg__hs_limits_ok(const struct wsg_hs_limits *lim)
{
    return lim->max_request_line > 0 &&
           lim->max_request_line <= WSG__HS_MAX_LINE_CAP &&
           lim->max_header_bytes > 0 &&
           lim->max_header_bytes <= WSG__HS_MAX_HDR_BYTES_CAP &&
           lim->max_headers > 0 && lim->max_headers <= WSG__HS_MAX_HEADERS_CAP;
}

/* ---- failure ------------------------------------------------------------ */

int wsg__http_fail(struct wsg__http *h, int err, int status,
                   const char *reason)
{
    if (!h->err) {
        h->err = err;
        h->status = status;
        h->reason = reason;
    }
    return h->err;
}

static int too_big(struct wsg__http *h, bool line)
{
    if (line)
        return wsg__http_fail(h, WSG_ERR_HTTP, 414,
                              h->is_request ? "request line too long"
                                            : "status line too long");
    return wsg__http_fail(h, WSG_ERR_HTTP, 431,
                          h->is_request ? "request headers too large"
                                        : "response headers too large");
}

/* ---- buffer ------------------------------------------------------------- */

static int buf_reserve(struct wsg__http *h, size_t n)
{
    if (n > h->buf_max - h->buf_len)
        return too_big(h, false);
    size_t need = h->buf_len + n;
    if (need <= h->buf_cap)
        return 0;
    size_t cap = h->buf_cap ? h->buf_cap : 256;
    while (cap < need)
        cap *= 2;
    if (cap > h->buf_max)
        cap = h->buf_max;
    char *p = wsg__realloc(&h->alloc, h->buf, h->buf_cap, cap);
    if (!p)
        return wsg__http_fail(h, WSG_ERR_NOMEM, 503, "out of memory");
    h->buf = p;
    h->buf_cap = cap;
    return 0;
}

static int buf_append(struct wsg__http *h, const char *p, size_t n)
{
    if (n == 0)
        return 0;
    if (buf_reserve(h, n))
        return h->err;
    memcpy(h->buf + h->buf_len, p, n);
    h->buf_len += n;
    return 0;
}

/* ---- llhttp callbacks --------------------------------------------------- */

static struct wsg__http *H(llhttp_t *p)
{
    return p->data;
}

static int count_line(struct wsg__http *h, size_t n)
{
    if (n > h->lim.max_request_line - h->line_bytes) {
        too_big(h, true);
        return HPE_USER;
    }
    h->line_bytes += n;
    return 0;
}

static int on_method(llhttp_t *p, const char *at, size_t n)
{
    (void)at;
    return count_line(H(p), n);
}

static int on_version(llhttp_t *p, const char *at, size_t n)
{
    (void)at;
    return count_line(H(p), n);
}

static int on_status(llhttp_t *p, const char *at, size_t n)
{
    (void)at;
    return count_line(H(p), n);
}

static int on_status_complete(llhttp_t *p)
{
    H(p)->resp_status = llhttp_get_status_code(p);
    return 0;
}

static int on_url(llhttp_t *p, const char *at, size_t n)
{
    struct wsg__http *h = H(p);
    if (count_line(h, n))
        return HPE_USER;
    if (h->target_len == 0)
        h->target_off = h->buf_len;
    if (buf_append(h, at, n))
        return HPE_USER;
    h->target_len += n;
    return 0;
}

static int count_header(struct wsg__http *h, size_t n)
{
    if (n > h->lim.max_header_bytes - h->header_bytes) {
        too_big(h, false);
        return HPE_USER;
    }
    h->header_bytes += n;
    return 0;
}

static int new_header(struct wsg__http *h)
{
    if (h->nhdr >= h->lim.max_headers) {
        wsg__http_fail(h, WSG_ERR_HTTP, 431, h->is_request
                                                 ? "too many request headers"
                                                 : "too many response headers");
        return HPE_USER;
    }
    if (h->nhdr == h->ix_cap) {
        size_t cap = h->ix_cap ? h->ix_cap * 2 : 16;
        if (cap > h->lim.max_headers)
            cap = h->lim.max_headers;
        struct wsg__hdr_ix *ix = wsg__realloc(
            &h->alloc, h->ix, h->ix_cap * sizeof *ix, cap * sizeof *ix);
        if (!ix) {
            wsg__http_fail(h, WSG_ERR_NOMEM, 503, "out of memory");
            return HPE_USER;
        }
        h->ix = ix;
        h->ix_cap = cap;
    }
    struct wsg__hdr_ix *x = &h->ix[h->nhdr++];
    x->name_off = h->buf_len;
    x->name_len = 0;
    x->value_off = h->buf_len;
    x->value_len = 0;
    h->hstate = HS_FIELD;
    return 0;
}

static int on_header_field(llhttp_t *p, const char *at, size_t n)
{
    struct wsg__http *h = H(p);
    if (h->hstate != HS_FIELD && new_header(h))
        return HPE_USER;
    if (count_header(h, n) || buf_append(h, at, n))
        return HPE_USER;
    h->ix[h->nhdr - 1].name_len += n;
    return 0;
}

static int on_header_field_complete(llhttp_t *p)
{
    struct wsg__http *h = H(p);
    if (h->hstate != HS_FIELD && new_header(h))
        return HPE_USER;
    h->ix[h->nhdr - 1].value_off = h->buf_len;
    h->hstate = HS_VALUE;
    return 0;
}

static int on_header_value(llhttp_t *p, const char *at, size_t n)
{
    struct wsg__http *h = H(p);
    if (h->hstate != HS_VALUE) {
        /* A value piece after the value ended: a continuation line. */
        wsg__http_fail(h, WSG_ERR_HTTP, 400, "obs-fold not allowed");
        return HPE_USER;
    }
    if (count_header(h, n) || buf_append(h, at, n))
        return HPE_USER;
    h->ix[h->nhdr - 1].value_len += n;
    return 0;
}

static int on_header_value_complete(llhttp_t *p)
{
    H(p)->hstate = HS_VALUE_DONE;
    return 0;
}

/* Always: no body, and stop right after the head (HPE_PAUSED_UPGRADE), so
 * that llhttp reads no byte of a body or of the WebSocket stream. */
static int on_headers_complete(llhttp_t *p)
{
    (void)p;
    return 2;
}

void wsg__http_init(struct wsg__http *h, bool is_request,
                    const struct wsg_hs_limits *lim,
                    const struct wsg_allocator *alloc)
{
    memset(h, 0, sizeof *h);
    h->alloc = *alloc;
    h->lim = *lim;
    h->is_request = is_request;
    /* Room for the target, every name and value, and the two joined
     * values (each at most all header bytes plus ", " separators). */
    h->buf_max = lim->max_request_line + 2 * lim->max_header_bytes +
                 4 * (size_t)lim->max_headers + 64;
    /* Raw head bytes, including separators and optional whitespace. */
    h->raw_max = lim->max_request_line + lim->max_header_bytes +
                 8 * ((size_t)lim->max_headers + 2) + 64;
    h->sc_line_start = true;

    llhttp_settings_init(&h->settings);
    h->settings.on_url = on_url;
    h->settings.on_method = on_method;
    h->settings.on_version = on_version;
    h->settings.on_status = on_status;
    h->settings.on_status_complete = on_status_complete;
    h->settings.on_header_field = on_header_field;
    h->settings.on_header_field_complete = on_header_field_complete;
    h->settings.on_header_value = on_header_value;
    h->settings.on_header_value_complete = on_header_value_complete;
    h->settings.on_headers_complete = on_headers_complete;
    llhttp_init(&h->parser, is_request ? HTTP_REQUEST : HTTP_RESPONSE,
                &h->settings);
    h->parser.data = h;
}

void wsg__http_free(struct wsg__http *h)
{
    wsg__free(&h->alloc, h->buf);
    wsg__free(&h->alloc, h->ix);
    wsg__free(&h->alloc, h->headers);
    h->buf = NULL;
    h->ix = NULL;
    h->headers = NULL;
}

/* ---- the CRLF scanner --------------------------------------------------- */

enum { SC_MORE = 0, SC_END = 1, SC_BAD = -1 };

/* Scans up to `n` bytes; *ok gets how many are acceptable (through the
 * head's last LF for SC_END; up to the bad byte, excluded, for SC_BAD). */
static int scan(struct wsg__http *h, const uint8_t *d, size_t n, size_t *ok,
                const char **why)
{
    for (size_t i = 0; i < n; i++) {
        uint8_t c = d[i];
        *ok = i;
        if (c == '\n') {
            if (!h->sc_cr) {
                *why = "bare LF in HTTP head";
                return SC_BAD;
            }
            h->sc_cr = false;
            if (h->sc_line_start) {
                if (h->sc_line == 0) {
                    *why = "empty line before the start line";
                    return SC_BAD;
                }
                *ok = i + 1;
                return SC_END;
            }
            h->sc_line_start = true;
            h->sc_line++;
            continue;
        }
        if (h->sc_cr) {
            *why = "bare CR in HTTP head";
            return SC_BAD;
        }
        if (c == '\r') {
            h->sc_cr = true;
            continue;
        }
        if (h->sc_line_start && h->sc_line > 0 && (c == ' ' || c == '\t')) {
            *why = "obs-fold not allowed";
            return SC_BAD;
        }
        if (h->sc_line == 0 && h->is_request) {
            if ((c == ' ' && (h->sc_prev_sp || h->sc_line_start)) ||
                c == '\t') {
                *why = "malformed request line";
                return SC_BAD;
            }
            h->sc_prev_sp = c == ' ';
        }
        h->sc_line_start = false;
    }
    *ok = n;
    return SC_MORE;
}

/* ---- finishing the head ------------------------------------------------- */

static bool is_ows(char c)
{
    return c == ' ' || c == '\t';
}

/* Appends the non-empty values of every `name` header, joined with ", ";
 * `off` and `len` locate them in the buffer; `any` false if none. */
static int join(struct wsg__http *h, const char *name, size_t *off,
                size_t *len, bool *any)
{
    size_t start = h->buf_len;
    *any = false;
    for (size_t i = 0; i < h->nhdr; i++) {
        const struct wsg__hdr_ix *x = &h->ix[i];
        if (x->value_len == 0 ||
            !wsg__ieq(h->buf + x->name_off, x->name_len, name, strlen(name)))
            continue;
        if (*any && buf_append(h, ", ", 2))
            return h->err;
        /* The source may move when the buffer grows: reserve, then copy. */
        if (buf_reserve(h, x->value_len))
            return h->err;
        memcpy(h->buf + h->buf_len, h->buf + x->value_off, x->value_len);
        h->buf_len += x->value_len;
        *any = true;
    }
    *off = start;
    *len = h->buf_len - start;
    return 0;
}

static int finish(struct wsg__http *h)
{
    for (size_t i = 0; i < h->nhdr; i++) {
        struct wsg__hdr_ix *x = &h->ix[i];
        if (x->name_len == 0)
            return wsg__http_fail(h, WSG_ERR_HTTP, 400, "empty header name");
        /* RFC 9110 section 5.5: the value excludes surrounding OWS. */
        while (x->value_len && is_ows(h->buf[x->value_off]))
            x->value_off++, x->value_len--;
        while (x->value_len && is_ows(h->buf[x->value_off + x->value_len - 1]))
            x->value_len--;
    }
    size_t p_off, p_len, e_off, e_len;
    bool p_any, e_any;
    if (join(h, "Sec-WebSocket-Protocol", &p_off, &p_len, &p_any) ||
        join(h, "Sec-WebSocket-Extensions", &e_off, &e_len, &e_any))
        return h->err;
    if (h->nhdr) {
        h->headers = wsg__alloc(&h->alloc, h->nhdr * sizeof *h->headers);
        if (!h->headers)
            return wsg__http_fail(h, WSG_ERR_NOMEM, 503, "out of memory");
        for (size_t i = 0; i < h->nhdr; i++) {
            h->headers[i].name = h->buf + h->ix[i].name_off;
            h->headers[i].name_len = h->ix[i].name_len;
            h->headers[i].value = h->buf + h->ix[i].value_off;
            h->headers[i].value_len = h->ix[i].value_len;
        }
    }
    /* The buffer no longer moves: offsets become pointers. */
    if (p_any) {
        h->protocols.ptr = h->buf + p_off;
        h->protocols.len = p_len;
    }
    if (e_any) {
        h->extensions.ptr = h->buf + e_off;
        h->extensions.len = e_len;
    }
    if (!h->is_request)
        h->resp_status = llhttp_get_status_code(&h->parser);
    h->done = true;
    return 0;
}

static const char *llhttp_reason(llhttp_errno_t e)
{
    switch (e) {
    case HPE_INVALID_METHOD:
        return "invalid method";
    case HPE_INVALID_URL:
        return "invalid request-target";
    case HPE_INVALID_VERSION:
        return "invalid HTTP version";
    case HPE_INVALID_STATUS:
        return "invalid status code";
    case HPE_INVALID_HEADER_TOKEN:
        return "invalid character in header";
    case HPE_CR_EXPECTED:
    case HPE_LF_EXPECTED:
        return "bare CR or LF in HTTP head";
    case HPE_UNEXPECTED_CONTENT_LENGTH:
        return "Content-Length with Transfer-Encoding";
    case HPE_INVALID_CONTENT_LENGTH:
        return "invalid Content-Length";
    case HPE_INVALID_TRANSFER_ENCODING:
        return "invalid Transfer-Encoding";
    case HPE_UNEXPECTED_SPACE:
        return "unexpected whitespace in HTTP head";
    default:
        return "malformed HTTP head";
    }
}

int wsg__http_feed(struct wsg__http *h, const uint8_t *data, size_t len,
                   size_t *consumed)
{
    *consumed = 0;
    if (h->err)
        return h->err;
    if (h->done)
        return 1;
    if (len == 0)
        return 0;

    size_t n = len, room = h->raw_max - h->raw_bytes;
    bool capped = false;
    if (n > room) {
        n = room;
        capped = true;
    }
    size_t ok = 0;
    const char *why = NULL;
    int sc = scan(h, data, n, &ok, &why);

    if (ok > 0) {
        const char *base = (const char *)data;
        llhttp_errno_t e = llhttp_execute(&h->parser, base, ok);
        if (h->err)
            return h->err; /* a callback refused (limits, memory) */
        if (e == HPE_PAUSED_UPGRADE) {
            size_t pos = (size_t)(llhttp_get_error_pos(&h->parser) - base);
            if (sc != SC_END || pos != ok)
                return wsg__http_fail(h, WSG_ERR_HTTP, 400,
                                      "malformed HTTP head");
            if (finish(h))
                return h->err;
            *consumed = pos;
            return 1;
        }
        if (e != HPE_OK)
            return wsg__http_fail(h, WSG_ERR_HTTP, 400, llhttp_reason(e));
    }
    if (sc == SC_BAD)
        return wsg__http_fail(h, WSG_ERR_HTTP, 400, why);
    if (sc == SC_END)
        return wsg__http_fail(h, WSG_ERR_HTTP, 400, "malformed HTTP head");
    h->raw_bytes += ok;
    if (capped)
        return too_big(h, h->sc_line == 0);
    *consumed = len;
    return 0;
}

/* ---- lookups ------------------------------------------------------------ */

size_t wsg__http_count(const struct wsg__http *h, const char *name,
                       struct wsg_span *first)
{
    size_t n = 0, nl = strlen(name);
    if (first) {
        first->ptr = NULL;
        first->len = 0;
    }
    for (size_t i = 0; i < h->nhdr; i++) {
        const struct wsg_header *hd = &h->headers[i];
        if (!wsg__ieq(hd->name, hd->name_len, name, nl))
            continue;
        if (n++ == 0 && first) {
            first->ptr = hd->value;
            first->len = hd->value_len;
        }
    }
    return n;
}

bool wsg__http_any_has(const struct wsg__http *h, const char *name,
                       const char *token)
{
    size_t nl = strlen(name);
    for (size_t i = 0; i < h->nhdr; i++) {
        const struct wsg_header *hd = &h->headers[i];
        struct wsg_span v = {hd->value, hd->value_len};
        if (wsg__ieq(hd->name, hd->name_len, name, nl) &&
            wsg_http_list_has(v, token))
            return true;
    }
    return false;
}

/* ---- response writer ---------------------------------------------------- */

void wsg__wb_put(struct wsg__wbuf *b, const char *s, size_t n)
{
    if (n > SIZE_MAX - b->len) {
        b->len = SIZE_MAX;
        return;
    }
    if (b->p && b->len + n <= b->cap)
        memcpy(b->p + b->len, s, n);
    b->len += n;
}

void wsg__wb_puts(struct wsg__wbuf *b, const char *s)
{
    wsg__wb_put(b, s, strlen(s));
}

void wsg__wb_header(struct wsg__wbuf *b, const char *name, const char *v,
                    size_t vlen)
{
    wsg__wb_puts(b, name);
    wsg__wb_put(b, ": ", 2);
    wsg__wb_put(b, v, vlen);
    wsg__wb_put(b, "\r\n", 2);
}
