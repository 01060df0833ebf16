/* wsg-relay: the HTTP proxy rules (headers.h). Pure: no I/O. */
#include "headers.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- buffer ---------------------------------------------------------------- */

uint8_t *relay_buf_space(struct relay_buf *b, size_t n)
{
    if (b->off == b->len)
        b->off = b->len = 0;
    if (n <= b->cap - b->len)
        return b->p + b->len;
    if (b->off > 0) { /* compact first */
        memmove(b->p, b->p + b->off, b->len - b->off);
        b->len -= b->off;
        b->off = 0;
        if (n <= b->cap - b->len)
            return b->p + b->len;
    }
    if (n > SIZE_MAX / 2 - b->len)
        return NULL;
    size_t cap = b->cap ? b->cap : 4096;
    while (cap - b->len < n)
        cap *= 2;
    uint8_t *p = realloc(b->p, cap);
    if (!p)
        return NULL;
    b->p = p;
    b->cap = cap;
    return b->p + b->len;
}

void relay_buf_commit(struct relay_buf *b, size_t n)
{
    b->len += n;
}

bool relay_buf_put(struct relay_buf *b, const void *d, size_t n)
{
    if (n == 0)
        return true;
    uint8_t *w = relay_buf_space(b, n);
    if (!w)
        return false;
    memcpy(w, d, n);
    b->len += n;
    return true;
}

bool relay_buf_puts(struct relay_buf *b, const char *s)
{
    return relay_buf_put(b, s, strlen(s));
}

bool relay_buf_printf(struct relay_buf *b, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (n < 0)
        return false;
    uint8_t *w = relay_buf_space(b, (size_t)n + 1);
    if (!w)
        return false;
    va_start(ap, fmt);
    vsnprintf((char *)w, (size_t)n + 1, fmt, ap);
    va_end(ap);
    b->len += (size_t)n;
    return true;
}

void relay_buf_consume(struct relay_buf *b, size_t n)
{
    b->off += n < b->len - b->off ? n : b->len - b->off;
    if (b->off == b->len)
        b->off = b->len = 0;
}

void relay_buf_shrink(struct relay_buf *b, size_t keep)
{
    if (b->off == b->len && b->cap > keep) {
        free(b->p);
        b->p = NULL;
        b->off = b->len = b->cap = 0;
    }
}

void relay_buf_free(struct relay_buf *b)
{
    free(b->p);
    b->p = NULL;
    b->off = b->len = b->cap = 0;
}

/* ---- names and lists --------------------------------------------------------- */

static int lower(int c)
{
    return c >= 'A' && c <= 'Z' ? c + 32 : c;
}

static bool ieq(const char *a, size_t an, const char *b, size_t bn)
{
    if (an != bn)
        return false;
    for (size_t i = 0; i < an; i++)
        if (lower((unsigned char)a[i]) != lower((unsigned char)b[i]))
            return false;
    return true;
}

bool relay_name_is(const char *s, size_t n, const char *name)
{
    return ieq(s, n, name, strlen(name));
}

bool relay_list_has(const char *v, size_t n, const char *tok, size_t tn)
{
    size_t i = 0;
    while (i < n) {
        size_t j = i;
        while (j < n && v[j] != ',')
            j++;
        size_t a = i, b = j;
        while (a < b && (v[a] == ' ' || v[a] == '\t'))
            a++;
        while (b > a && (v[b - 1] == ' ' || v[b - 1] == '\t'))
            b--;
        if (ieq(v + a, b - a, tok, tn))
            return true;
        i = j + 1;
    }
    return false;
}

size_t relay_hdr_count(const struct wsg_header *h, size_t n, const char *name,
                       const struct wsg_header **first)
{
    size_t c = 0;
    if (first)
        *first = NULL;
    for (size_t i = 0; i < n; i++) {
        if (!relay_name_is(h[i].name, h[i].name_len, name))
            continue;
        if (c++ == 0 && first)
            *first = &h[i];
    }
    return c;
}

/* ---- request-target ---------------------------------------------------------- */

static int hexval(int c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    c = lower(c);
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    return -1;
}

int relay_path_check(const char *t, size_t n, const char **why)
{
    if (n == 0 || t[0] != '/') {
        *why = "request-target must be a path";
        return 400;
    }
    size_t end = 0;
    while (end < n && t[end] != '?')
        end++;
    /* Segment by segment: dots (decoded) and length. */
    size_t seg_len = 0, seg_dots = 0;
    for (size_t i = 1; i <= end; i++) {
        int c = i < end ? (unsigned char)t[i] : '/';
        if (c == '/') {
            bool last = i == end;
            if (seg_len == 0 && !last) {
                *why = "empty path segment";
                return 400;
            }
            if (seg_len > 0 && seg_dots == seg_len && seg_dots <= 2) {
                *why = "dot segment in path";
                return 400;
            }
            seg_len = seg_dots = 0;
            continue;
        }
        if (c == '\\') {
            *why = "backslash in path";
            return 400;
        }
        if (c < 0x21 || c == 0x7f || c == '#') {
            *why = "invalid character in path";
            return 400;
        }
        if (c == '%') {
            int hi = i + 2 < end ? hexval((unsigned char)t[i + 1]) : -1;
            int lo = hi >= 0 ? hexval((unsigned char)t[i + 2]) : -1;
            if (lo < 0) {
                *why = "bad percent-encoding in path";
                return 400;
            }
            c = hi * 16 + lo;
            i += 2;
            if (c == '/' || c == '\\' || c == 0) {
                *why = "encoded slash, backslash or NUL in path";
                return 400;
            }
        }
        seg_len++;
        if (c == '.')
            seg_dots++;
    }
    return 0;
}

/* ---- header rules ------------------------------------------------------------- */

static bool in_list(const char *name, size_t n, const char *const *list)
{
    for (size_t i = 0; list[i]; i++)
        if (relay_name_is(name, n, list[i]))
            return true;
    return false;
}

bool relay_hdr_hop(const char *name, size_t n)
{
    static const char *const hop[] = {
        "Connection", "Keep-Alive", "Proxy-Connection", "TE", "Trailer",
        "Transfer-Encoding", "Upgrade", "Proxy-Authorization",
        "Proxy-Authenticate", NULL};
    return in_list(name, n, hop);
}

bool relay_hdr_conn_named(const struct wsg_header *h, size_t n,
                          const char *name, size_t nl)
{
    for (size_t i = 0; i < n; i++)
        if (relay_name_is(h[i].name, h[i].name_len, "Connection") &&
            relay_list_has(h[i].value, h[i].value_len, name, nl))
            return true;
    return false;
}

bool relay_hdr_client_forged(const char *name, size_t n)
{
    static const char *const forged[] = {
        "X-Forwarded-For", "X-Forwarded-Proto", "X-Forwarded-Host",
        "X-Forwarded-Port", "Forwarded", "X-Real-IP", "X-Client-IP",
        "X-ARR-SSL", "X-Streamlit-User", NULL};
    return in_list(name, n, forged);
}

size_t relay_req_filter(const struct wsg_header *in, size_t n,
                        struct wsg_header *out)
{
    size_t k = 0;
    for (size_t i = 0; i < n; i++) {
        const char *nm = in[i].name;
        size_t nl = in[i].name_len;
        if (relay_hdr_hop(nm, nl) || relay_hdr_conn_named(in, n, nm, nl) ||
            relay_hdr_client_forged(nm, nl) || relay_name_is(nm, nl, "Expect"))
            continue;
        out[k++] = in[i];
    }
    return k;
}

size_t relay_resp_filter(const struct wsg_header *in, size_t n,
                         struct wsg_header *out)
{
    size_t k = 0;
    for (size_t i = 0; i < n; i++) {
        const char *nm = in[i].name;
        size_t nl = in[i].name_len;
        if (relay_hdr_hop(nm, nl) || relay_hdr_conn_named(in, n, nm, nl) ||
            relay_name_is(nm, nl, "Server"))
            continue;
        out[k++] = in[i];
    }
    return k;
}

const char *relay_forwarded_proto(bool peer_trusted,
                                  const struct wsg_header *h, size_t n)
{
    if (!peer_trusted)
        return "http";
    const struct wsg_header *last = NULL;
    for (size_t i = 0; i < n; i++) {
        if (relay_name_is(h[i].name, h[i].name_len, "X-ARR-SSL"))
            return "https";
        if (relay_name_is(h[i].name, h[i].name_len, "X-Forwarded-Proto"))
            last = &h[i];
    }
    if (!last)
        return "http";
    /* The last element: what the nearest (trusted) proxy saw. */
    size_t b = last->value_len, a;
    while (b > 0 && (last->value[b - 1] == ' ' || last->value[b - 1] == '\t'))
        b--;
    a = b;
    while (a > 0 && last->value[a - 1] != ',')
        a--;
    while (a < b && (last->value[a] == ' ' || last->value[a] == '\t'))
        a++;
    return ieq(last->value + a, b - a, "https", 5) ? "https" : "http";
}

/* ---- heads ----------------------------------------------------------------------- */

const char *relay_status_text(int status)
{
    switch (status) {
    case 100: return "Continue";
    case 200: return "OK";
    case 204: return "No Content";
    case 206: return "Partial Content";
    case 301: return "Moved Permanently";
    case 302: return "Found";
    case 304: return "Not Modified";
    case 400: return "Bad Request";
    case 401: return "Unauthorized";
    case 403: return "Forbidden";
    case 404: return "Not Found";
    case 405: return "Method Not Allowed";
    case 408: return "Request Timeout";
    case 411: return "Length Required";
    case 413: return "Content Too Large";
    case 414: return "URI Too Long";
    case 417: return "Expectation Failed";
    case 426: return "Upgrade Required";
    case 429: return "Too Many Requests";
    case 431: return "Request Header Fields Too Large";
    case 500: return "Internal Server Error";
    case 501: return "Not Implemented";
    case 502: return "Bad Gateway";
    case 503: return "Service Unavailable";
    case 504: return "Gateway Timeout";
    default: return "Unknown";
    }
}

static bool put_header(struct relay_buf *o, const char *name, size_t nl,
                       const char *value, size_t vl)
{
    return relay_buf_put(o, name, nl) && relay_buf_put(o, ": ", 2) &&
           relay_buf_put(o, value, vl) && relay_buf_put(o, "\r\n", 2);
}

static bool put_headers(struct relay_buf *o, const struct wsg_header *h,
                        size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (!put_header(o, h[i].name, h[i].name_len, h[i].value,
                        h[i].value_len))
            return false;
    return true;
}

static bool put_str_header(struct relay_buf *o, const char *name,
                           const char *value)
{
    return put_header(o, name, strlen(name), value, strlen(value));
}

bool relay_req_render(struct relay_buf *out, const char *method,
                      struct wsg_span target, const struct wsg_header *h,
                      size_t n, const struct relay_fwd *fwd)
{
    bool ok = relay_buf_puts(out, method) && relay_buf_put(out, " ", 1) &&
              relay_buf_put(out, target.ptr, target.len) &&
              relay_buf_puts(out, " HTTP/1.1\r\n") && put_headers(out, h, n);
    if (ok && fwd->client)
        ok = put_str_header(out, "X-Forwarded-For", fwd->client);
    if (ok && fwd->proto)
        ok = put_str_header(out, "X-Forwarded-Proto", fwd->proto);
    if (ok && fwd->host.ptr)
        ok = put_header(out, "X-Forwarded-Host", 16, fwd->host.ptr,
                        fwd->host.len);
    if (ok && fwd->chunked)
        ok = relay_buf_puts(out, "Transfer-Encoding: chunked\r\n");
    return ok && relay_buf_put(out, "\r\n", 2);
}

static bool printable(struct wsg_span s)
{
    if (!s.ptr || s.len == 0 || s.len > 64)
        return false;
    for (size_t i = 0; i < s.len; i++)
        if ((unsigned char)s.ptr[i] < 0x20 || (unsigned char)s.ptr[i] >= 0x7f)
            return false;
    return true;
}

static bool put_sec(struct relay_buf *o, const struct wsg_header *have,
                    size_t n, const struct wsg_header *sec, size_t nsec)
{
    for (size_t i = 0; i < nsec; i++) {
        bool present = false;
        for (size_t j = 0; j < n && !present; j++)
            present = ieq(have[j].name, have[j].name_len, sec[i].name,
                          sec[i].name_len);
        if (!present && !put_header(o, sec[i].name, sec[i].name_len,
                                    sec[i].value, sec[i].value_len))
            return false;
    }
    return true;
}

bool relay_resp_render(struct relay_buf *out, int status,
                       struct wsg_span reason, const struct wsg_header *h,
                       size_t n, const struct wsg_header *sec, size_t nsec,
                       bool chunked, bool close)
{
    bool ok = relay_buf_printf(out, "HTTP/1.1 %03d ", status);
    if (ok && printable(reason))
        ok = relay_buf_put(out, reason.ptr, reason.len);
    else if (ok)
        ok = relay_buf_puts(out, relay_status_text(status));
    ok = ok && relay_buf_put(out, "\r\n", 2) && put_headers(out, h, n) &&
         put_sec(out, h, n, sec, nsec);
    if (ok && chunked)
        ok = relay_buf_puts(out, "Transfer-Encoding: chunked\r\n");
    if (ok && close)
        ok = relay_buf_puts(out, "Connection: close\r\n");
    return ok && relay_buf_put(out, "\r\n", 2);
}

bool relay_error_render(struct relay_buf *out, int status, const char *body,
                        const struct wsg_header *sec, size_t nsec,
                        const struct wsg_header *extra, size_t nextra,
                        bool close, bool head_only)
{
    char dflt[64];
    if (!body) {
        snprintf(dflt, sizeof dflt, "%s\n", relay_status_text(status));
        body = dflt;
    }
    size_t bl = strlen(body);
    bool ok =
        relay_buf_printf(out,
                         "HTTP/1.1 %03d %s\r\n"
                         "Content-Type: text/plain; charset=utf-8\r\n"
                         "Content-Length: %zu\r\n"
                         "Cache-Control: no-store\r\n",
                         status, relay_status_text(status), bl) &&
        put_headers(out, extra, nextra) && put_sec(out, extra, nextra, sec, nsec);
    if (ok && close)
        ok = relay_buf_puts(out, "Connection: close\r\n");
    ok = ok && relay_buf_put(out, "\r\n", 2);
    return ok && (head_only || relay_buf_put(out, body, bl));
}

/* ---- head scanner ---------------------------------------------------------- */

int relay_scan_head(struct relay_scan *s, const uint8_t *p, size_t n,
                    int *status, const char **why)
{
    for (size_t i = s->pos; i < n; i++) {
        uint8_t c = p[i];
        if (s->line == 0 && i >= s->max_line) {
            *status = 414;
            *why = "start line too long";
            return RELAY_SCAN_BAD;
        }
        if (i >= s->max_head) {
            *status = 431;
            *why = "head too large";
            return RELAY_SCAN_BAD;
        }
        *status = 400;
        if (c == '\n') {
            if (!s->cr) {
                *why = "bare LF in HTTP head";
                return RELAY_SCAN_BAD;
            }
            s->cr = false;
            if (!s->mid_line) {
                if (s->line == 0) {
                    *why = "empty line before the start line";
                    return RELAY_SCAN_BAD;
                }
                s->pos = i + 1;
                *status = 0;
                return RELAY_SCAN_END;
            }
            s->line++;
            s->mid_line = false;
            continue;
        }
        if (s->cr) {
            *why = "bare CR in HTTP head";
            return RELAY_SCAN_BAD;
        }
        if (c == '\r') {
            s->cr = true;
            continue;
        }
        if (!s->mid_line && s->line > 0 && (c == ' ' || c == '\t')) {
            *why = "obs-fold not allowed";
            return RELAY_SCAN_BAD;
        }
        s->mid_line = true;
    }
    s->pos = n;
    *status = 0;
    return RELAY_SCAN_MORE;
}
