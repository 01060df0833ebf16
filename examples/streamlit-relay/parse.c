/* wsg-relay: HTTP/1.1 message streams with llhttp (parse.h). */
#include "parse.h"

#include <string.h>

enum { HS_NONE = 0, HS_FIELD, HS_VALUE };

static struct relay_http *H(llhttp_t *p)
{
    return p->data;
}

static int fail(struct relay_http *h, int status, const char *why)
{
    if (!h->status) {
        h->status = status;
        h->why = why;
    }
    return HPE_USER;
}

static void extend(struct wsg_span *s, const char *at, size_t n)
{
    if (!s->ptr)
        s->ptr = at;
    s->len = (size_t)(at + n - s->ptr);
}

static int on_url(llhttp_t *p, const char *at, size_t n)
{
    extend(&H(p)->head.target, at, n);
    return 0;
}

static int on_status(llhttp_t *p, const char *at, size_t n)
{
    extend(&H(p)->head.reason, at, n);
    return 0;
}

static int on_header_field(llhttp_t *p, const char *at, size_t n)
{
    struct relay_http *h = H(p);
    struct relay_head *hd = &h->head;
    if (h->hstate != HS_FIELD) {
        if (hd->n == RELAY_MAX_HEADERS)
            return fail(h, 431, "too many headers");
        hd->h[hd->n].name = at;
        hd->h[hd->n].name_len = 0;
        hd->h[hd->n].value = "";
        hd->h[hd->n].value_len = 0;
        hd->n++;
        h->hstate = HS_FIELD;
    }
    struct wsg_header *x = &hd->h[hd->n - 1];
    x->name_len = (size_t)(at + n - x->name);
    return 0;
}

static int on_header_value(llhttp_t *p, const char *at, size_t n)
{
    struct relay_http *h = H(p);
    if (h->head.n == 0)
        return fail(h, 400, "header value without a name");
    struct wsg_header *x = &h->head.h[h->head.n - 1];
    if (h->hstate != HS_VALUE) {
        x->value = at;
        h->hstate = HS_VALUE;
    }
    x->value_len = (size_t)(at + n - x->value);
    return 0;
}

static int on_headers_complete(llhttp_t *p)
{
    struct relay_http *h = H(p);
    struct relay_head *hd = &h->head;
    for (size_t i = 0; i < hd->n; i++) {
        struct wsg_header *x = &hd->h[i];
        if (x->name_len == 0)
            return fail(h, 400, "empty header name");
        /* RFC 9110 section 5.5: the value excludes surrounding OWS. */
        while (x->value_len && (x->value[0] == ' ' || x->value[0] == '\t'))
            x->value++, x->value_len--;
        while (x->value_len && (x->value[x->value_len - 1] == ' ' ||
                                x->value[x->value_len - 1] == '\t'))
            x->value_len--;
    }
    hd->method = p->method;
    hd->status = p->status_code;
    hd->major = p->http_major;
    hd->minor = p->http_minor;
    hd->chunked = (p->flags & F_CHUNKED) != 0;
    hd->has_length = (p->flags & F_CONTENT_LENGTH) != 0;
    hd->length = p->content_length;
    hd->keep_alive = llhttp_should_keep_alive(p) != 0;
    hd->upgrade = p->upgrade != 0;
    if (!h->request && (p->flags & F_TRANSFER_ENCODING) && !hd->chunked)
        return fail(h, 502, "transfer coding other than chunked");
    return h->skip_body ? 1 : 0;
}

static int on_body(llhttp_t *p, const char *at, size_t n)
{
    struct relay_http *h = H(p);
    int st = h->on_body ? h->on_body(h->ud, (const uint8_t *)at, n) : 0;
    return st ? fail(h, st, "body refused") : 0;
}

static int on_message_complete(llhttp_t *p)
{
    H(p)->done = true;
    return HPE_PAUSED; /* one message at a time */
}

void relay_http_init(struct relay_http *h, bool request,
                     int (*body)(void *ud, const uint8_t *d, size_t n),
                     void *ud)
{
    memset(h, 0, sizeof *h);
    h->request = request;
    h->on_body = body;
    h->ud = ud;
    llhttp_settings_init(&h->s);
    h->s.on_url = on_url;
    h->s.on_status = on_status;
    h->s.on_header_field = on_header_field;
    h->s.on_header_value = on_header_value;
    h->s.on_headers_complete = on_headers_complete;
    h->s.on_body = on_body;
    h->s.on_message_complete = on_message_complete;
    llhttp_init(&h->p, request ? HTTP_REQUEST : HTTP_RESPONSE, &h->s);
    h->p.data = h;
    relay_http_next(h);
}

void relay_http_next(struct relay_http *h)
{
    llhttp_reset(&h->p);
    memset(&h->scan, 0, sizeof h->scan);
    h->scan.max_line = RELAY_MAX_LINE;
    h->scan.max_head = RELAY_MAX_HEAD;
    memset(&h->head, 0, sizeof h->head);
    h->in_body = h->done = h->skip_body = false;
    h->hstate = HS_NONE;
    h->status = 0;
    h->why = NULL;
}

static const char *reason_of(llhttp_errno_t e)
{
    switch (e) {
    case HPE_INVALID_METHOD: return "invalid method";
    case HPE_INVALID_URL: return "invalid request-target";
    case HPE_INVALID_VERSION: return "invalid HTTP version";
    case HPE_INVALID_STATUS: return "invalid status code";
    case HPE_INVALID_HEADER_TOKEN: return "invalid character in header";
    case HPE_UNEXPECTED_CONTENT_LENGTH:
        return "Content-Length with Transfer-Encoding";
    case HPE_INVALID_CONTENT_LENGTH: return "invalid Content-Length";
    case HPE_INVALID_TRANSFER_ENCODING: return "invalid Transfer-Encoding";
    case HPE_INVALID_CHUNK_SIZE: return "invalid chunk size";
    default: return "malformed HTTP message";
    }
}

static enum relay_feed err(struct relay_http *h, llhttp_errno_t e)
{
    if (!h->status) {
        h->status = h->request ? 400 : 502;
        h->why = reason_of(e);
    }
    return RELAY_ERR;
}

static void split_target(struct relay_head *hd)
{
    const char *t = hd->target.ptr;
    size_t n = hd->target.len, i = 0;
    while (i < n && t[i] != '?')
        i++;
    hd->path.ptr = t;
    hd->path.len = i;
    if (i < n) {
        hd->query.ptr = t + i + 1;
        hd->query.len = n - i - 1;
    }
}

enum relay_feed relay_http_feed(struct relay_http *h, const uint8_t *d,
                                size_t n, size_t *used)
{
    *used = 0;
    if (h->status)
        return RELAY_ERR;
    if (h->done)
        return RELAY_DONE;
    const char *base = (const char *)d;
    if (!h->in_body) {
        int st = 0;
        const char *why = NULL;
        int rc = relay_scan_head(&h->scan, d, n, &st, &why);
        if (rc == RELAY_SCAN_MORE)
            return RELAY_MORE;
        if (rc == RELAY_SCAN_BAD) {
            h->status = h->request ? st : 502;
            h->why = why;
            return RELAY_ERR;
        }
        size_t len = h->scan.pos;
        llhttp_errno_t e = llhttp_execute(&h->p, base, len);
        if (h->status)
            return RELAY_ERR;
        if (e != HPE_OK && e != HPE_PAUSED)
            return err(h, e);
        if (e == HPE_PAUSED && !h->done)
            return err(h, e);
        h->in_body = true;
        h->head.len = len;
        if (h->request)
            split_target(&h->head);
        *used = len;
        return RELAY_HEAD;
    }
    if (n == 0)
        return RELAY_MORE;
    llhttp_errno_t e = llhttp_execute(&h->p, base, n);
    if (h->status) {
        *used = 0;
        return RELAY_ERR;
    }
    if (e == HPE_OK) {
        *used = n;
        return RELAY_MORE;
    }
    if (e == HPE_PAUSED && h->done) {
        *used = (size_t)(llhttp_get_error_pos(&h->p) - base);
        return RELAY_DONE;
    }
    return err(h, e);
}

enum relay_feed relay_http_eof(struct relay_http *h)
{
    if (h->done)
        return RELAY_DONE;
    if (!h->in_body) {
        if (h->scan.pos == 0)
            return RELAY_MORE;
        h->status = h->request ? 400 : 502;
        h->why = "connection closed inside a head";
        return RELAY_ERR;
    }
    llhttp_errno_t e = llhttp_finish(&h->p);
    if (h->done)
        return RELAY_DONE;
    (void)e;
    if (!h->status) {
        h->status = h->request ? 400 : 502;
        h->why = "connection closed inside a body";
    }
    return RELAY_ERR;
}
