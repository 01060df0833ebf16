/* Server side of the opening handshake: RFC 6455 section 4.2.
 *
 * Statuses chosen where the RFCs leave a choice:
 * - a known method other than GET: 405, and the refusal carries
 *   "Allow: GET" (RFC 9110 section 15.5.6); an unknown method token: 400;
 * - no Upgrade header, or one without "websocket": 426 with
 *   "Upgrade: websocket" (RFC 9110 section 15.5.22), as for a plain GET at
 *   a WebSocket-only endpoint;
 * - missing or other Sec-WebSocket-Version: 426 with
 *   "Sec-WebSocket-Version: 13" (RFC 6455 section 4.4);
 * - everything else malformed, duplicated (Host, Upgrade, Key, Version,
 *   Origin), or with a body (Content-Length, Transfer-Encoding): 400. */
#include <stdio.h>
#include <string.h>

#include "handshake/hs_internal.h"

struct wsg_hs_server {
    struct wsg__http http;
    struct wsg_hs_request req;
    bool valid;
    bool plain; /* refused 426: a well-formed GET without Upgrade */
    uint8_t *out;
    size_t out_len;
};

int wsg_hs_server_new(const struct wsg_hs_limits *lim,
                      const struct wsg_allocator *alloc,
                      struct wsg_hs_server **out)
{
    struct wsg_hs_limits def;
    struct wsg_allocator a;
    if (!out)
        return WSG_ERR_INVALID_ARG;
    *out = NULL;
    if (!lim) {
        wsg_hs_limits_init_default(&def);
        lim = &def;
    }
    if (!wsg__hs_limits_ok(lim) || !wsg__alloc_init(&a, alloc))
        return WSG_ERR_INVALID_ARG;
    struct wsg_hs_server *hs = wsg__alloc(&a, sizeof *hs);
    if (!hs)
        return WSG_ERR_NOMEM;
    memset(hs, 0, sizeof *hs);
    wsg__http_init(&hs->http, true, lim, &a);
    *out = hs;
    return WSG_OK;
}

void wsg_hs_server_free(struct wsg_hs_server *hs)
{
    if (!hs)
        return;
    struct wsg_allocator a = hs->http.alloc;
    wsg__free(&a, hs->out);
    wsg__http_free(&hs->http);
    wsg__free(&a, hs);
}

static int refuse(struct wsg_hs_server *hs, int status, const char *reason)
{
    return wsg__http_fail(&hs->http, WSG_ERR_HTTP, status, reason);
}

/* Each offered subprotocol must be a token (RFC 6455 section 4.1). */
static bool protocols_ok(struct wsg_span list)
{
    size_t pos = 0;
    struct wsg_span t;
    while (wsg_http_list_next(list, &pos, &t))
        if (!wsg__is_token(t.ptr, t.len))
            return false;
    return true;
}

/* RFC 9112 section 3.2: Host is uri-host [":" port]; anything else (a
 * space, '/', '@', '?', '#') is an invalid field value: 400. */
static bool host_ok(struct wsg_span h)
{
    for (size_t i = 0; i < h.len; i++) {
        unsigned char c = (unsigned char)h.ptr[i];
        if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
            (c >= '0' && c <= '9'))
            continue;
        if (!c || !strchr("-._~!$&'()*+,;=%:[]", c))
            return false;
    }
    return true;
}

/* RFC 6455 section 4.2.1, in a fixed order so that every input gets one
 * defined status. */
static int validate(struct wsg_hs_server *hs)
{
    struct wsg__http *h = &hs->http;
    struct wsg_hs_request *r = &hs->req;
    struct wsg_span v;

    if (llhttp_get_http_major(&h->parser) != 1 ||
        llhttp_get_http_minor(&h->parser) != 1)
        return refuse(hs, 400, "HTTP/1.1 required");
    if (llhttp_get_method(&h->parser) != HTTP_GET)
        return refuse(hs, 405, "method not allowed: use GET");

    r->target.ptr = h->buf + h->target_off;
    r->target.len = h->target_len;
    if (r->target.len == 0 || r->target.ptr[0] != '/')
        return refuse(hs, 400, "request-target must be a path");
    if (memchr(r->target.ptr, '#', r->target.len))
        return refuse(hs, 400, "fragment in request-target");
    const char *q = memchr(r->target.ptr, '?', r->target.len);
    r->path.ptr = r->target.ptr;
    r->path.len = q ? (size_t)(q - r->target.ptr) : r->target.len;
    if (q) {
        r->query.ptr = q + 1;
        r->query.len = r->target.len - r->path.len - 1;
    }

    /* A body on the upgrade could smuggle a second request (T7). */
    if (wsg__http_count(h, "Content-Length", NULL) ||
        wsg__http_count(h, "Transfer-Encoding", NULL))
        return refuse(hs, 400, "request body not allowed on upgrade");

    if (wsg__http_count(h, "Host", &r->host) > 1)
        return refuse(hs, 400, "duplicate Host header");
    size_t n_upgrade = wsg__http_count(h, "Upgrade", &v);
    if (n_upgrade > 1)
        return refuse(hs, 400, "duplicate Upgrade header");
    struct wsg_span key, version;
    size_t n_key = wsg__http_count(h, "Sec-WebSocket-Key", &key);
    if (n_key > 1)
        return refuse(hs, 400, "duplicate Sec-WebSocket-Key header");
    size_t n_version = wsg__http_count(h, "Sec-WebSocket-Version", &version);
    if (n_version > 1)
        return refuse(hs, 400, "duplicate Sec-WebSocket-Version header");
    if (wsg__http_count(h, "Origin", &r->origin) > 1)
        return refuse(hs, 400, "duplicate Origin header");

    if (!r->host.ptr)
        return refuse(hs, 400, "missing Host header");
    if (r->host.len == 0)
        return refuse(hs, 400, "empty Host header");
    if (!host_ok(r->host))
        return refuse(hs, 400, "invalid Host header");
    /* A plain request, or an upgrade to something else: 426 names
     * websocket (RFC 9110 section 15.5.22). */
    if (n_upgrade == 0) {
        /* Kept for wsg_hs_server_plain_request (an https redirect, H1). */
        r->headers = h->headers;
        r->header_count = h->nhdr;
        hs->plain = true;
        return refuse(hs, 426, "missing Upgrade: websocket");
    }
    if (!wsg_http_list_has(v, "websocket"))
        return refuse(hs, 426, "Upgrade does not offer websocket");
    if (!wsg__http_any_has(h, "Connection", "upgrade"))
        return refuse(hs, 400, "Connection does not include upgrade");
    /* Section 4.4: an unsupported version gets 426 and the versions. */
    if (n_version == 0)
        return refuse(hs, 426, "missing Sec-WebSocket-Version");
    if (!wsg__ieq_z(version, "13"))
        return refuse(hs, 426, "unsupported Sec-WebSocket-Version");
    if (n_key == 0)
        return refuse(hs, 400, "missing Sec-WebSocket-Key");
    if (!wsg__hs_key_valid(key.ptr, key.len))
        return refuse(hs, 400, "invalid Sec-WebSocket-Key");
    if (h->protocols.ptr && !protocols_ok(h->protocols))
        return refuse(hs, 400, "invalid Sec-WebSocket-Protocol");

    r->key = key;
    r->protocols = h->protocols;
    r->extensions = h->extensions;
    r->headers = h->headers;
    r->header_count = h->nhdr;
    hs->valid = true;
    return 1;
}

int wsg_hs_server_feed(struct wsg_hs_server *hs, const uint8_t *data,
                       size_t len, size_t *consumed)
{
    if (consumed)
        *consumed = 0;
    if (!hs || !consumed || (!data && len))
        return WSG_ERR_INVALID_ARG;
    if (hs->valid)
        return 1; /* the head was done; all of `data` is WebSocket data */
    int rc = wsg__http_feed(&hs->http, data, len, consumed);
    if (rc != 1)
        return rc;
    size_t head = *consumed;
    rc = validate(hs);
    *consumed = rc == 1 ? head : 0;
    return rc;
}

const struct wsg_hs_request *
wsg_hs_server_request(const struct wsg_hs_server *hs)
{
    return hs && hs->valid ? &hs->req : NULL;
}

const struct wsg_hs_request *
wsg_hs_server_plain_request(const struct wsg_hs_server *hs)
{
    return hs && hs->plain ? &hs->req : NULL;
}

int wsg_hs_server_status(const struct wsg_hs_server *hs)
{
    return hs ? hs->http.status : 0;
}

const char *wsg_hs_server_reason(const struct wsg_hs_server *hs)
{
    return hs && hs->http.reason ? hs->http.reason : "";
}

struct wsg_span wsg_hs_request_header(const struct wsg_hs_request *r,
                                      const char *name)
{
    struct wsg_span s = {NULL, 0};
    if (!r || !name)
        return s;
    size_t nl = strlen(name);
    for (size_t i = 0; i < r->header_count; i++) {
        const struct wsg_header *hd = &r->headers[i];
        if (wsg__ieq(hd->name, hd->name_len, name, nl)) {
            s.ptr = hd->value;
            s.len = hd->value_len;
            return s;
        }
    }
    return s;
}

/* Counts (b.p NULL) or writes the extra headers. */
static void put_headers(struct wsg__wbuf *b, const struct wsg_header *hd,
                        size_t n)
{
    for (size_t i = 0; i < n; i++) {
        wsg__wb_put(b, hd[i].name, hd[i].name_len);
        wsg__wb_put(b, ": ", 2);
        if (hd[i].value_len)
            wsg__wb_put(b, hd[i].value, hd[i].value_len);
        wsg__wb_put(b, "\r\n", 2);
    }
}

static bool headers_ok(const struct wsg_header *hd, size_t n)
{
    if (n && !hd)
        return false;
    for (size_t i = 0; i < n; i++)
        if (!wsg__header_ok(&hd[i]))
            return false;
    return true;
}

/* Replaces the output buffer with `len` bytes to be written by the
 * caller's second pass. */
static int out_alloc(struct wsg_hs_server *hs, size_t len,
                     struct wsg__wbuf *b)
{
    if (len == 0 || len > WSG__HS_OUT_MAX)
        return WSG_ERR_INVALID_ARG;
    uint8_t *p = wsg__alloc(&hs->http.alloc, len);
    if (!p)
        return WSG_ERR_NOMEM;
    wsg__free(&hs->http.alloc, hs->out);
    hs->out = p;
    hs->out_len = len;
    b->p = p;
    b->cap = len;
    b->len = 0;
    return WSG_OK;
}

static void write_accept(struct wsg__wbuf *b, const char *accept,
                         const char *proto, const char *ext,
                         const struct wsg_hs_accept_opts *o)
{
    wsg__wb_puts(b, "HTTP/1.1 101 Switching Protocols\r\n"
                    "Upgrade: websocket\r\n"
                    "Connection: Upgrade\r\n");
    wsg__wb_header(b, "Sec-WebSocket-Accept", accept, 28);
    if (proto)
        wsg__wb_header(b, "Sec-WebSocket-Protocol", proto, strlen(proto));
    if (ext)
        wsg__wb_header(b, "Sec-WebSocket-Extensions", ext, strlen(ext));
    if (o)
        put_headers(b, o->headers, o->header_count);
    wsg__wb_put(b, "\r\n", 2);
}

int wsg_hs_server_accept(struct wsg_hs_server *hs,
                         const struct wsg_hs_accept_opts *opts,
                         const uint8_t **data, size_t *len)
{
    if (data)
        *data = NULL;
    if (len)
        *len = 0;
    if (!hs || !data || !len)
        return WSG_ERR_INVALID_ARG;
    if (!hs->valid)
        return WSG_ERR_STATE;
    const char *proto = opts ? opts->subprotocol : NULL;
    const char *ext = opts && opts->extensions && opts->extensions[0]
                          ? opts->extensions
                          : NULL;
    /* Section 4.2.2: the selected subprotocol is one the client offered. */
    if (proto && !hs->req.protocols.ptr)
        return WSG_ERR_INVALID_ARG;
    if (proto) {
        size_t pos = 0, pl = strlen(proto);
        struct wsg_span t;
        bool found = false;
        while (!found && wsg_http_list_next(hs->req.protocols, &pos, &t))
            found = t.len == pl && memcmp(t.ptr, proto, pl) == 0;
        if (!found || !wsg__is_token(proto, pl))
            return WSG_ERR_INVALID_ARG;
    }
    if ((ext && !wsg__is_field_value(ext, strlen(ext))) ||
        (opts && !headers_ok(opts->headers, opts->header_count)))
        return WSG_ERR_INVALID_ARG;

    char accept[29];
    if (wsg_hs_accept_value(hs->req.key.ptr, hs->req.key.len, accept))
        return WSG_ERR_INVALID_ARG;
    struct wsg__wbuf b = {NULL, 0, 0};
    write_accept(&b, accept, proto, ext, opts);
    int rc = out_alloc(hs, b.len, &b);
    if (rc)
        return rc;
    write_accept(&b, accept, proto, ext, opts);
    *data = hs->out;
    *len = hs->out_len;
    return WSG_OK;
}

static void write_refusal(struct wsg__wbuf *b, int status, const char *reason,
                          const char *clen, const struct wsg_header *hd,
                          size_t n)
{
    char line[64];
    int ll = snprintf(line, sizeof line, "HTTP/1.1 %d ", status);
    wsg__wb_put(b, line, (size_t)ll);
    wsg__wb_puts(b, wsg_http_status_text(status));
    wsg__wb_puts(b, "\r\nContent-Type: text/plain; charset=utf-8\r\n");
    wsg__wb_header(b, "Content-Length", clen, strlen(clen));
    if (status == 426) {
        /* RFC 9110 section 7.8: whoever sends Upgrade lists it in
         * Connection; RFC 6455 section 4.4: the versions we speak. */
        wsg__wb_puts(b, "Connection: Upgrade, close\r\n"
                        "Upgrade: websocket\r\n"
                        "Sec-WebSocket-Version: 13\r\n");
    } else {
        wsg__wb_puts(b, "Connection: close\r\n");
    }
    if (status == 405) /* RFC 9110 section 15.5.6 */
        wsg__wb_puts(b, "Allow: GET\r\n");
    put_headers(b, hd, n);
    wsg__wb_put(b, "\r\n", 2);
    wsg__wb_puts(b, reason);
    wsg__wb_put(b, "\n", 1);
}

int wsg_hs_server_refuse(struct wsg_hs_server *hs, int status,
                         const char *reason, const struct wsg_header *headers,
                         size_t header_count, const uint8_t **data,
                         size_t *len)
{
    if (data)
        *data = NULL;
    if (len)
        *len = 0;
    if (!hs || !data || !len || status < 300 || status > 599 ||
        !headers_ok(headers, header_count))
        return WSG_ERR_INVALID_ARG;
    if (!reason)
        reason = wsg_http_status_text(status);
    size_t rl = strlen(reason);
    if (rl > WSG__HS_OUT_MAX)
        return WSG_ERR_INVALID_ARG;
    char clen[24];
    snprintf(clen, sizeof clen, "%zu", rl + 1);
    struct wsg__wbuf b = {NULL, 0, 0};
    write_refusal(&b, status, reason, clen, headers, header_count);
    int rc = out_alloc(hs, b.len, &b);
    if (rc)
        return rc;
    write_refusal(&b, status, reason, clen, headers, header_count);
    *data = hs->out;
    *len = hs->out_len;
    return WSG_OK;
}
