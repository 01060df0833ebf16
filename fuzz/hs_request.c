/* Fuzz harness: the server side of the upgrade (wsg_hs_server_feed), then
 * wsg_hs_server_accept() or _refuse(), then the bytes after the head into a
 * server wsg_conn (T8).
 *
 * Input: 3 config bytes, then the request bytes.
 *   b0  chunking (low nibble), limits (high nibble: small ones reach
 *       414/431)
 *   b1  bits0-1 subprotocol to pick (none, first offered, last offered,
 *       one never offered), bit2 extensions value, bit3 an extra header,
 *       bit4 a header with CR (must be refused), bit5 refuse instead of
 *       accepting, bits6-7 which refusal
 *   b2  0xE0-0xFF: fail allocation number b2-0xDF */
#include "conn_drive.h"
#include "hs_feed.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <wsguard/handshake.h>

static const struct {
    size_t line, bytes;
    uint32_t count;
} kLimits[16] = {
    {0, 0, 0}, {16, 64, 2}, {32, 128, 4}, {64, 256, 8}, {1, 1, 1},
    {8192, 16384, 100}, {100, 16384, 100}, {8192, 100, 100}, {8192, 16384, 3},
    {24, 16384, 100}, {8192, 40, 100}, {8192, 16384, 5}, {64, 64, 64},
    {200, 300, 10}, {8192, 16384, 1}, {5, 5, 5},
};

static bool span_eq(struct wsg_span a, struct wsg_span b)
{
    return a.len == b.len && (a.len == 0 || memcmp(a.ptr, b.ptr, a.len) == 0);
}

static void touch_span(struct wsg_span s, const char *what)
{
    if (s.ptr)
        fuzz_touch(s.ptr, s.len);
    else
        FUZZ_CHECK(s.len == 0, "%s: NULL with length %zu", what, s.len);
}

static void check_request(const struct wsg_hs_request *r,
                          const struct wsg_hs_limits *lim)
{
    FUZZ_CHECK(r != NULL, "feed returned 1 but request is NULL");
    touch_span(r->target, "target");
    touch_span(r->path, "path");
    touch_span(r->query, "query");
    touch_span(r->host, "host");
    touch_span(r->origin, "origin");
    touch_span(r->key, "key");
    touch_span(r->protocols, "protocols");
    touch_span(r->extensions, "extensions");
    FUZZ_CHECK(r->target.ptr && r->path.ptr && r->host.ptr && r->key.ptr,
               "target/path/host/key missing");
    FUZZ_CHECK(r->target.len <= lim->max_request_line, "target %zu > limit",
               r->target.len);
    FUZZ_CHECK(r->path.len <= r->target.len, "path longer than target");
    if (r->query.ptr)
        FUZZ_CHECK(r->path.len + 1 + r->query.len == r->target.len,
                   "path %zu + ? + query %zu != target %zu", r->path.len,
                   r->query.len, r->target.len);
    FUZZ_CHECK(r->key.len == 24, "key of %zu chars is not 16 bytes base64",
               r->key.len);
    FUZZ_CHECK(r->header_count <= lim->max_headers, "%zu headers > %u",
               r->header_count, lim->max_headers);
    FUZZ_CHECK(r->headers != NULL || r->header_count == 0, "NULL headers");
    size_t bytes = 0;
    for (size_t i = 0; i < r->header_count; i++) {
        const struct wsg_header *h = &r->headers[i];
        FUZZ_CHECK(h->name && h->name_len > 0, "empty header name %zu", i);
        fuzz_touch(h->name, h->name_len);
        if (h->value_len)
            fuzz_touch(h->value, h->value_len);
        bytes += h->name_len + h->value_len;
    }
    FUZZ_CHECK(bytes <= lim->max_header_bytes, "%zu header bytes > %zu",
               bytes, lim->max_header_bytes);
    struct wsg_span host = wsg_hs_request_header(r, "hOsT");
    FUZZ_CHECK(host.ptr && span_eq(host, r->host), "Host lookup differs");
    struct wsg_span key = wsg_hs_request_header(r, "Sec-WebSocket-Key");
    FUZZ_CHECK(key.ptr && span_eq(key, r->key), "Key lookup differs");
    struct wsg_span none = wsg_hs_request_header(r, "X-Never-Sent-Zz");
    FUZZ_CHECK(none.ptr == NULL || none.len < 1u << 30, "absent header");
}

static void check_response(const uint8_t *p, size_t n, int status)
{
    char line[32];
    FUZZ_CHECK(p && n > 12, "response of %zu bytes", n);
    fuzz_touch(p, n);
    snprintf(line, sizeof line, "HTTP/1.1 %d ", status);
    FUZZ_CHECK(memcmp(p, line, strlen(line)) == 0, "response not %s", line);
    FUZZ_CHECK(fuzz_mem_has(p, n, "\r\n\r\n"), "response head not ended");
}

/* Picks one offered subprotocol (first or last), NUL-terminated. */
static bool pick_protocol(struct wsg_span list, bool last, char *out,
                          size_t cap)
{
    size_t pos = 0;
    struct wsg_span tok, got = {NULL, 0};
    for (int i = 0; i < 1000 && wsg_http_list_next(list, &pos, &tok); i++) {
        FUZZ_CHECK(tok.ptr && tok.len > 0 && pos <= list.len,
                   "list_next gave an empty or out-of-range token");
        if (!got.ptr || last)
            got = tok;
    }
    if (!got.ptr || got.len >= cap || memchr(got.ptr, 0, got.len))
        return false;
    memcpy(out, got.ptr, got.len);
    out[got.len] = 0;
    return true;
}

static void accept_or_refuse(struct wsg_hs_server *hs, struct fuzz_alloc *fa,
                             uint8_t b1)
{
    const struct wsg_hs_request *r = wsg_hs_server_request(hs);
    const uint8_t *out = NULL;
    size_t outlen = 0;
    int rc;
    if (b1 & 0x20) {
        static const int st[4] = {400, 403, 429, 426};
        int status = st[b1 >> 6];
        static const struct wsg_header extra = {"Retry-After", 11, "1", 1};
        rc = wsg_hs_server_refuse(hs, status, (b1 & 8) ? "nope" : NULL,
                                  &extra, (b1 & 4) ? 1 : 0, &out, &outlen);
        if (fuzz_alloc_err(fa, rc))
            return;
        FUZZ_CHECK(rc == WSG_OK, "refuse(%d): %s", status, wsg_err_name(rc));
        check_response(out, outlen, status);
        if (status == 426)
            FUZZ_CHECK(fuzz_mem_has(out, outlen, "Sec-WebSocket-Version: 13"),
                       "426 without Sec-WebSocket-Version");
        return;
    }
    char proto[256];
    struct wsg_hs_accept_opts ao;
    memset(&ao, 0, sizeof ao);
    bool expect_ok = true;
    switch (b1 & 3) {
    case 1:
    case 2:
        if (r->protocols.ptr &&
            pick_protocol(r->protocols, (b1 & 3) == 2, proto, sizeof proto))
            ao.subprotocol = proto;
        break;
    case 3:
        ao.subprotocol = "wsg-never-offered";
        expect_ok = r->protocols.ptr &&
                    wsg_http_list_has(r->protocols, ao.subprotocol);
        break;
    default:
        break;
    }
    if (b1 & 4)
        ao.extensions = "permessage-deflate";
    struct wsg_header hdr[2] = {
        {"Set-Cookie", 10, "a=b", 3},
        {"X-Bad", 5, "x\r\nInjected: 1", 14},
    };
    if (b1 & 8) {
        ao.headers = hdr;
        ao.header_count = 1;
    }
    if (b1 & 0x10) {
        ao.headers = hdr;
        ao.header_count = 2;
        expect_ok = false;
    }
    rc = wsg_hs_server_accept(hs, &ao, &out, &outlen);
    if (fuzz_alloc_err(fa, rc))
        return;
    if (!expect_ok) {
        FUZZ_CHECK(rc == WSG_ERR_INVALID_ARG, "accept with a bad option: %s",
                   wsg_err_name(rc));
        return;
    }
    FUZZ_CHECK(rc == WSG_OK, "accept: %s", wsg_err_name(rc));
    check_response(out, outlen, 101);
    char want[29], line[64];
    char key[25];
    memcpy(key, r->key.ptr, 24);
    key[24] = 0;
    FUZZ_CHECK(wsg_hs_accept_value(key, 24, want) == WSG_OK, "accept_value");
    FUZZ_CHECK(strlen(want) == 28, "accept value of %zu chars", strlen(want));
    snprintf(line, sizeof line, "Sec-WebSocket-Accept: %s\r\n", want);
    FUZZ_CHECK(fuzz_mem_has(out, outlen, line), "101 without %s", line);
    if (ao.subprotocol) {
        char pl[300];
        snprintf(pl, sizeof pl, "Sec-WebSocket-Protocol: %s\r\n",
                 ao.subprotocol);
        FUZZ_CHECK(fuzz_mem_has(out, outlen, pl), "101 without the protocol");
    } else {
        FUZZ_CHECK(!fuzz_mem_has(out, outlen, "Sec-WebSocket-Protocol"),
                   "101 with a protocol nobody chose");
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct fuzz_in in = {data, size};
    uint8_t b0 = fuzz_in_byte(&in), b1 = fuzz_in_byte(&in);
    uint8_t b2 = fuzz_in_byte(&in);

    struct wsg_hs_limits lim;
    wsg_hs_limits_init_default(&lim);
    if (b0 >> 4) {
        lim.max_request_line = kLimits[b0 >> 4].line;
        lim.max_header_bytes = kLimits[b0 >> 4].bytes;
        lim.max_headers = kLimits[b0 >> 4].count;
    }
    struct fuzz_alloc fa;
    fuzz_alloc_init(&fa, b2 >= 0xE0 ? (unsigned long)(b2 - 0xDF) : 0);
    struct fuzz_hs_feed f = {in, {(uint64_t)b0 << 8 | b1},
                             fuzz_chunk_max(b0 & 15), 0, 0};

    struct wsg_hs_server *hs = NULL;
    int rc = wsg_hs_server_new(&lim, &fa.a, &hs);
    if (fuzz_alloc_err(&fa, rc))
        goto out;
    FUZZ_CHECK(rc == WSG_OK && hs, "hs_server_new: %s", wsg_err_name(rc));
    FUZZ_CHECK(wsg_hs_server_request(hs) == NULL, "request before feed");

    rc = 0;
    while (f.off < in.n && rc == 0) {
        rc = fuzz_hs_feed_next(&f, fuzz_hs_server_feed, hs);
        if (rc == 0 || rc == 1)
            continue;
        if (rc == WSG_ERR_HTTP) {
            int st = wsg_hs_server_status(hs);
            FUZZ_CHECK(st == 400 || st == 405 || st == 414 || st == 426 ||
                           st == 431,
                       "refusal status %d", st);
            const char *why = wsg_hs_server_reason(hs);
            FUZZ_CHECK(why != NULL, "no reason");
            fuzz_touch(why, strlen(why));
            FUZZ_CHECK(wsg_hs_server_request(hs) == NULL,
                       "request after a refusal");
            uint8_t one = 'x';
            size_t c2 = 0;
            FUZZ_CHECK(wsg_hs_server_feed(hs, &one, 1, &c2) == WSG_ERR_HTTP,
                       "refusal does not stick");
            const uint8_t *out;
            size_t outlen;
            int r2 = wsg_hs_server_refuse(hs, st, why, NULL, 0, &out, &outlen);
            if (!fuzz_alloc_err(&fa, r2)) {
                FUZZ_CHECK(r2 == WSG_OK, "refuse: %s", wsg_err_name(r2));
                check_response(out, outlen, st);
                if (st == 426)
                    FUZZ_CHECK(fuzz_mem_has(out, outlen,
                                            "Sec-WebSocket-Version: 13"),
                               "426 without Sec-WebSocket-Version");
            }
        } else {
            FUZZ_CHECK(fuzz_alloc_err(&fa, rc),
                       "hs_server_feed returned %d (%s)", rc,
                       wsg_err_name(rc));
        }
    }
    if (rc == 0) {
        const uint8_t *out;
        size_t outlen;
        struct wsg_hs_accept_opts ao;
        memset(&ao, 0, sizeof ao);
        FUZZ_CHECK(wsg_hs_server_request(hs) == NULL, "request while incomplete");
        int r2 = wsg_hs_server_accept(hs, &ao, &out, &outlen);
        FUZZ_CHECK(r2 == WSG_ERR_STATE, "accept while incomplete: %s",
                   wsg_err_name(r2));
    } else if (rc == 1) {
        check_request(wsg_hs_server_request(hs), &lim);
        accept_or_refuse(hs, &fa, b1);
        /* T8: what follows the head is WebSocket data */
        struct fuzz_conn_opts o;
        memset(&o, 0, sizeof o);
        wsg_conn_config_init_default(&o.cfg);
        o.max_chunk = f.max_chunk;
        o.seed = b1;
        fuzz_conn_run(&o, in.p + f.rest, in.n - f.rest);
    }
    wsg_hs_server_free(hs);
out:
    FUZZ_CHECK(fa.cur == 0, "leak: %zu bytes after wsg_hs_server_free", fa.cur);
    return 0;
}
