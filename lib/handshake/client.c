/* Client side of the opening handshake: RFC 6455 sections 4.1 and 4.2.2. */
#include <stdio.h>
#include <string.h>

#include "handshake/hs_internal.h"

struct wsg_hs_client {
    struct wsg__http http;
    uint8_t *req;
    size_t req_len;
    char key[25];
    char accept[29];
    /* What we offered, as spans of `req` (ptr NULL if nothing). */
    struct wsg_span offered_protocols, offered_extensions;
    struct wsg_span protocol, extensions;
    int err;
    bool ok;
    char reason[96];
};

void wsg_hs_client_opts_init_default(struct wsg_hs_client_opts *o)
{
    if (!o)
        return;
    memset(o, 0, sizeof *o);
    o->target = "/";
    wsg_hs_limits_init_default(&o->limits);
}

/* Visible ASCII, no space: a Host value or a request-target. */
static bool visible(const char *s)
{
    if (!s || !*s)
        return false;
    for (; *s; s++)
        if ((unsigned char)*s <= 0x20 || (unsigned char)*s >= 0x7f)
            return false;
    return true;
}

/* Headers the client writes itself; callers may not add them. */
static const char *const client_reserved[] = {
    "Host", "Sec-WebSocket-Key", "Sec-WebSocket-Version",
    "Sec-WebSocket-Protocol", "Sec-WebSocket-Extensions", "Origin",
};

static bool extra_ok(const struct wsg_header *hd)
{
    if (!wsg__header_ok(hd))
        return false;
    for (size_t i = 0; i < sizeof client_reserved / sizeof *client_reserved;
         i++)
        if (wsg__ieq(hd->name, hd->name_len, client_reserved[i],
                     strlen(client_reserved[i])))
            return false;
    return true;
}

static bool opts_ok(const struct wsg_hs_client_opts *o)
{
    const char *target = o->target ? o->target : "/";
    if (!visible(o->host) || !visible(target) || target[0] != '/' ||
        strchr(target, '#') || !o->random.fill ||
        !wsg__hs_limits_ok(&o->limits))
        return false;
    if (o->origin && (!o->origin[0] ||
                      !wsg__is_field_value(o->origin, strlen(o->origin))))
        return false;
    if (o->extensions &&
        !wsg__is_field_value(o->extensions, strlen(o->extensions)))
        return false;
    if (o->protocol_count && !o->protocols)
        return false;
    /* RFC 6455 section 4.1: tokens, each offered once. */
    for (size_t i = 0; i < o->protocol_count; i++) {
        const char *p = o->protocols[i];
        if (!p || !wsg__is_token(p, strlen(p)))
            return false;
        for (size_t j = 0; j < i; j++)
            if (strcmp(o->protocols[j], p) == 0)
                return false;
    }
    if (o->header_count && !o->headers)
        return false;
    for (size_t i = 0; i < o->header_count; i++)
        if (!extra_ok(&o->headers[i]))
            return false;
    return true;
}

/* Counts (b->p NULL) or writes the request; records where the offered
 * lists start. */
static void build(struct wsg__wbuf *b, const struct wsg_hs_client_opts *o,
                  const char *key, size_t *proto_off, size_t *ext_off)
{
    wsg__wb_puts(b, "GET ");
    wsg__wb_puts(b, o->target ? o->target : "/");
    wsg__wb_puts(b, " HTTP/1.1\r\n");
    wsg__wb_header(b, "Host", o->host, strlen(o->host));
    wsg__wb_puts(b, "Upgrade: websocket\r\nConnection: Upgrade\r\n");
    wsg__wb_header(b, "Sec-WebSocket-Key", key, 24);
    wsg__wb_puts(b, "Sec-WebSocket-Version: 13\r\n");
    if (o->origin)
        wsg__wb_header(b, "Origin", o->origin, strlen(o->origin));
    if (o->protocol_count) {
        wsg__wb_puts(b, "Sec-WebSocket-Protocol: ");
        *proto_off = b->len;
        for (size_t i = 0; i < o->protocol_count; i++) {
            if (i)
                wsg__wb_put(b, ", ", 2);
            wsg__wb_puts(b, o->protocols[i]);
        }
        wsg__wb_put(b, "\r\n", 2);
    }
    if (o->extensions && o->extensions[0]) {
        wsg__wb_puts(b, "Sec-WebSocket-Extensions: ");
        *ext_off = b->len;
        wsg__wb_puts(b, o->extensions);
        wsg__wb_put(b, "\r\n", 2);
    }
    for (size_t i = 0; i < o->header_count; i++) {
        const struct wsg_header *hd = &o->headers[i];
        wsg__wb_put(b, hd->name, hd->name_len);
        wsg__wb_put(b, ": ", 2);
        if (hd->value_len)
            wsg__wb_put(b, hd->value, hd->value_len);
        wsg__wb_put(b, "\r\n", 2);
    }
    wsg__wb_put(b, "\r\n", 2);
}

int wsg_hs_client_new(const struct wsg_hs_client_opts *opts,
                      const struct wsg_allocator *alloc,
                      struct wsg_hs_client **out)
{
    struct wsg_allocator a;
    if (!out)
        return WSG_ERR_INVALID_ARG;
    *out = NULL;
    if (!opts || !opts_ok(opts) || !wsg__alloc_init(&a, alloc))
        return WSG_ERR_INVALID_ARG;

    /* Section 4.1: a nonce of 16 random bytes, base64-encoded. */
    uint8_t nonce[16];
    char key[25];
    if (opts->random.fill(opts->random.ud, nonce, sizeof nonce) != 0)
        return WSG_ERR_RANDOM;
    if (!wsg__b64_encode(nonce, sizeof nonce, key, sizeof key))
        return WSG_ERR_RANDOM;

    size_t proto_off = 0, ext_off = 0;
    struct wsg__wbuf b = {NULL, 0, 0};
    build(&b, opts, key, &proto_off, &ext_off);
    if (b.len > WSG__HS_OUT_MAX)
        return WSG_ERR_INVALID_ARG;

    struct wsg_hs_client *hs = wsg__alloc(&a, sizeof *hs);
    if (!hs)
        return WSG_ERR_NOMEM;
    memset(hs, 0, sizeof *hs);
    hs->req = wsg__alloc(&a, b.len);
    if (!hs->req) {
        wsg__free(&a, hs);
        return WSG_ERR_NOMEM;
    }
    hs->req_len = b.len;
    b.p = hs->req;
    b.cap = b.len;
    b.len = 0;
    build(&b, opts, key, &proto_off, &ext_off);

    memcpy(hs->key, key, sizeof key);
    if (wsg_hs_accept_value(hs->key, 24, hs->accept) != WSG_OK) {
        wsg__free(&a, hs->req);
        wsg__free(&a, hs);
        return WSG_ERR_INVALID_ARG;
    }
    if (opts->protocol_count) {
        hs->offered_protocols.ptr = (const char *)hs->req + proto_off;
        hs->offered_protocols.len = 0;
        for (size_t i = 0; i < opts->protocol_count; i++)
            hs->offered_protocols.len +=
                strlen(opts->protocols[i]) + (i ? 2 : 0);
    }
    if (opts->extensions && opts->extensions[0]) {
        hs->offered_extensions.ptr = (const char *)hs->req + ext_off;
        hs->offered_extensions.len = strlen(opts->extensions);
    }
    wsg__http_init(&hs->http, false, &opts->limits, &a);
    *out = hs;
    return WSG_OK;
}

void wsg_hs_client_free(struct wsg_hs_client *hs)
{
    if (!hs)
        return;
    struct wsg_allocator a = hs->http.alloc;
    wsg__free(&a, hs->req);
    wsg__http_free(&hs->http);
    wsg__free(&a, hs);
}

void wsg_hs_client_request(const struct wsg_hs_client *hs,
                           const uint8_t **data, size_t *len)
{
    if (data)
        *data = hs ? hs->req : NULL;
    if (len)
        *len = hs ? hs->req_len : 0;
}

static int fail(struct wsg_hs_client *hs, const char *reason)
{
    snprintf(hs->reason, sizeof hs->reason, "%s", reason);
    hs->err = WSG_ERR_HANDSHAKE;
    return hs->err;
}

/* The extension name: an element up to its first ';', without OWS. */
static struct wsg_span ext_name(struct wsg_span e)
{
    const char *semi = memchr(e.ptr, ';', e.len);
    size_t n = semi ? (size_t)(semi - e.ptr) : e.len;
    while (n && (e.ptr[n - 1] == ' ' || e.ptr[n - 1] == '\t'))
        n--;
    e.len = n;
    return e;
}

/* Index of the first offered extension named `name`, or -1. */
static int offered_ext(const struct wsg_hs_client *hs, struct wsg_span name)
{
    size_t pos = 0;
    struct wsg_span t;
    for (int i = 0; wsg_http_list_next(hs->offered_extensions, &pos, &t); i++) {
        struct wsg_span o = ext_name(t);
        if (wsg__ieq(o.ptr, o.len, name.ptr, name.len))
            return i;
    }
    return -1;
}

/* Section 4.1, the client's checks of the server's handshake. */
static int validate(struct wsg_hs_client *hs)
{
    struct wsg__http *h = &hs->http;
    struct wsg_span v;
    int status = h->resp_status;

    if (status != 101) {
        const char *text = wsg_http_status_text(status);
        if (strcmp(text, "Unknown") == 0)
            snprintf(hs->reason, sizeof hs->reason, "server answered %d",
                     status);
        else
            snprintf(hs->reason, sizeof hs->reason, "server answered %d %s",
                     status, text);
        hs->err = WSG_ERR_HANDSHAKE;
        return hs->err;
    }
    if (llhttp_get_http_major(&h->parser) != 1 ||
        llhttp_get_http_minor(&h->parser) != 1)
        return fail(hs, "response is not HTTP/1.1");
    /* RFC 9110 section 8.6: no Content-Length (nor a body) on a 1xx. */
    if (wsg__http_count(h, "Content-Length", NULL) ||
        wsg__http_count(h, "Transfer-Encoding", NULL))
        return fail(hs, "101 response with a body header");
    size_t n = wsg__http_count(h, "Upgrade", &v);
    if (n > 1)
        return fail(hs, "duplicate Upgrade header");
    if (n == 0 || !wsg_http_list_has(v, "websocket"))
        return fail(hs, "missing Upgrade: websocket");
    if (!wsg__http_any_has(h, "Connection", "upgrade"))
        return fail(hs, "Connection does not include upgrade");

    n = wsg__http_count(h, "Sec-WebSocket-Accept", &v);
    if (n == 0)
        return fail(hs, "missing Sec-WebSocket-Accept");
    if (n > 1)
        return fail(hs, "duplicate Sec-WebSocket-Accept header");
    if (v.len != 28 || !wsg__ct_equal(v.ptr, hs->accept, 28))
        return fail(hs, "wrong Sec-WebSocket-Accept");

    n = wsg__http_count(h, "Sec-WebSocket-Protocol", &v);
    if (n > 1)
        return fail(hs, "duplicate Sec-WebSocket-Protocol header");
    if (n == 1) {
        bool found = false;
        size_t pos = 0;
        struct wsg_span t;
        if (memchr(v.ptr, ',', v.len))
            return fail(hs, "server selected more than one subprotocol");
        while (!found &&
               wsg_http_list_next(hs->offered_protocols, &pos, &t))
            found = t.len == v.len && memcmp(t.ptr, v.ptr, v.len) == 0;
        if (!found)
            return fail(hs, "server selected a subprotocol we did not offer");
        hs->protocol = v;
    }

    if (h->extensions.ptr) {
        size_t pos = 0;
        struct wsg_span t;
        uint64_t seen = 0; /* by offered index; over 64 offers: refused */
        while (wsg_http_list_next(h->extensions, &pos, &t)) {
            struct wsg_span name = ext_name(t);
            int i = name.len ? offered_ext(hs, name) : -1;
            if (i < 0)
                return fail(hs,
                            "server accepted an extension we did not offer");
            /* RFC 6455 9.1 / RFC 7692 5: each extension at most once. */
            if (i >= 64 || (seen >> i) & 1u)
                return fail(hs, "server accepted an extension twice");
            seen |= (uint64_t)1 << i;
        }
        hs->extensions = h->extensions;
    }
    hs->ok = true;
    return 1;
}

int wsg_hs_client_feed(struct wsg_hs_client *hs, const uint8_t *data,
                       size_t len, size_t *consumed)
{
    if (consumed)
        *consumed = 0;
    if (!hs || !consumed || (!data && len))
        return WSG_ERR_INVALID_ARG;
    if (hs->err)
        return hs->err;
    if (hs->ok)
        return 1; /* the head was done; all of `data` is WebSocket data */
    int rc = wsg__http_feed(&hs->http, data, len, consumed);
    if (rc < 0)
        hs->err = rc;
    if (rc != 1)
        return rc;
    size_t head = *consumed;
    rc = validate(hs);
    *consumed = rc == 1 ? head : 0;
    return rc;
}

const char *wsg_hs_client_reason(const struct wsg_hs_client *hs)
{
    if (!hs)
        return "";
    if (hs->reason[0])
        return hs->reason;
    return hs->http.reason ? hs->http.reason : "";
}

int wsg_hs_client_status(const struct wsg_hs_client *hs)
{
    return hs ? hs->http.resp_status : 0;
}

struct wsg_span wsg_hs_client_protocol(const struct wsg_hs_client *hs)
{
    struct wsg_span s = {NULL, 0};
    return hs && hs->ok ? hs->protocol : s;
}

struct wsg_span wsg_hs_client_extensions(const struct wsg_hs_client *hs)
{
    struct wsg_span s = {NULL, 0};
    return hs && hs->ok ? hs->extensions : s;
}

const struct wsg_header *wsg_hs_client_headers(const struct wsg_hs_client *hs,
                                               size_t *count)
{
    if (count)
        *count = hs && hs->http.done ? hs->http.nhdr : 0;
    return hs && hs->http.done ? hs->http.headers : NULL;
}
