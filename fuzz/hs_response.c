/* Fuzz harness: the client side of the upgrade. wsg_hs_client_new() with a
 * fixed fake random source (its key is RFC 6455's "dGhlIHNhbXBsZSBub25jZQ==",
 * so a valid answer carries "s3pPLMBiTxaQ9kYGzzhZRbK+xOo="), then
 * wsg_hs_client_feed() with the fuzzed response, then the bytes after the
 * head into a client wsg_conn (T8).
 *
 * Input: 3 config bytes, then the response bytes.
 *   b0  chunking (low nibble), limits (high nibble)
 *   b1  bits0-1 offered subprotocols (none; chat, superchat; streamlit;
 *       a, b, c), bit2 offer permessage-deflate, bit3 send Origin
 *   b2  0xE0-0xFF: fail allocation number b2-0xDF */
#include "conn_drive.h"
#include "hs_feed.h"

#include <stdlib.h>
#include <string.h>

#include <wsguard/handshake.h>

static const char *const kP1[] = {"chat", "superchat"};
static const char *const kP2[] = {"streamlit"};
static const char *const kP3[] = {"a", "b", "c"};

/* Our own request must pass our own server parser. */
static void roundtrip(const uint8_t *req, size_t len)
{
    struct wsg_hs_server *srv = NULL;
    FUZZ_CHECK(wsg_hs_server_new(NULL, NULL, &srv) == WSG_OK, "server new");
    size_t consumed = 0;
    int rc = wsg_hs_server_feed(srv, req, len, &consumed);
    FUZZ_CHECK(rc == 1 && consumed == len,
               "our request refused by our parser: rc %d status %d (%s)", rc,
               wsg_hs_server_status(srv),
               rc < 0 ? wsg_hs_server_reason(srv) : "");
    const struct wsg_hs_request *r = wsg_hs_server_request(srv);
    FUZZ_CHECK(r && r->key.len == 24 &&
                   memcmp(r->key.ptr, "dGhlIHNhbXBsZSBub25jZQ==", 24) == 0,
               "key is not the sample nonce");
    wsg_hs_server_free(srv);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct fuzz_in in = {data, size};
    uint8_t b0 = fuzz_in_byte(&in), b1 = fuzz_in_byte(&in);
    uint8_t b2 = fuzz_in_byte(&in);

    struct wsg_hs_client_opts o;
    wsg_hs_client_opts_init_default(&o);
    o.host = "server.example.com";
    o.target = "/chat";
    struct fuzz_random rnd = {0};
    o.random.fill = fuzz_random_fill;
    o.random.ud = &rnd;
    switch (b1 & 3) {
    case 1: o.protocols = kP1; o.protocol_count = 2; break;
    case 2: o.protocols = kP2; o.protocol_count = 1; break;
    case 3: o.protocols = kP3; o.protocol_count = 3; break;
    default: break;
    }
    if (b1 & 4)
        o.extensions = "permessage-deflate; client_max_window_bits";
    if (b1 & 8)
        o.origin = "http://example.com";
    switch (b0 >> 4) {
    case 1: o.limits.max_request_line = 16; o.limits.max_header_bytes = 64;
            o.limits.max_headers = 2; break;
    case 2: o.limits.max_header_bytes = 100; break;
    case 3: o.limits.max_headers = 3; break;
    case 4: o.limits.max_request_line = 20; break;
    default: break;
    }

    struct fuzz_alloc fa;
    fuzz_alloc_init(&fa, b2 >= 0xE0 ? (unsigned long)(b2 - 0xDF) : 0);
    struct fuzz_hs_feed f = {in, {(uint64_t)b0 << 8 | b1},
                             fuzz_chunk_max(b0 & 15), 0, 0};

    struct wsg_hs_client *hs = NULL;
    int rc = wsg_hs_client_new(&o, &fa.a, &hs);
    if (fuzz_alloc_err(&fa, rc))
        goto out;
    FUZZ_CHECK(rc == WSG_OK && hs, "hs_client_new: %s", wsg_err_name(rc));
    const uint8_t *req;
    size_t reqlen;
    wsg_hs_client_request(hs, &req, &reqlen);
    FUZZ_CHECK(req && reqlen > 0, "empty request");
    FUZZ_CHECK(fuzz_mem_has(req, reqlen,
                            "\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"),
               "request without the expected key");
    if (!fa.fail_at)
        roundtrip(req, reqlen);

    rc = 0;
    while (f.off < in.n && rc == 0) {
        rc = fuzz_hs_feed_next(&f, fuzz_hs_client_feed, hs);
        if (rc == 0 || rc == 1)
            continue;
        if (rc == WSG_ERR_HANDSHAKE || rc == WSG_ERR_HTTP) {
            const char *why = wsg_hs_client_reason(hs);
            FUZZ_CHECK(why != NULL, "no reason");
            fuzz_touch(why, strlen(why));
            uint8_t one = 'x';
            size_t c2 = 0;
            FUZZ_CHECK(wsg_hs_client_feed(hs, &one, 1, &c2) == rc,
                       "failure does not stick");
        } else {
            FUZZ_CHECK(fuzz_alloc_err(&fa, rc),
                       "hs_client_feed returned %d (%s)", rc,
                       wsg_err_name(rc));
        }
    }
    if (rc == 1) {
        FUZZ_CHECK(wsg_hs_client_status(hs) == 101, "accepted status %d",
                   wsg_hs_client_status(hs));
        struct wsg_span p = wsg_hs_client_protocol(hs);
        if (p.ptr) {
            bool offered = false;
            for (size_t i = 0; i < o.protocol_count; i++)
                offered |= strlen(o.protocols[i]) == p.len &&
                           memcmp(o.protocols[i], p.ptr, p.len) == 0;
            FUZZ_CHECK(offered, "accepted a subprotocol never offered: %.*s",
                       (int)p.len, p.ptr);
        }
        struct wsg_span e = wsg_hs_client_extensions(hs);
        if (e.ptr) {
            fuzz_touch(e.ptr, e.len);
            FUZZ_CHECK(o.extensions != NULL, "extension accepted, none offered");
        }
        size_t hc = 0;
        const struct wsg_header *h = wsg_hs_client_headers(hs, &hc);
        FUZZ_CHECK(h != NULL || hc == 0, "NULL headers");
        for (size_t i = 0; i < hc; i++) {
            fuzz_touch(h[i].name, h[i].name_len);
            fuzz_touch(h[i].value, h[i].value_len);
        }
        struct fuzz_conn_opts co;
        memset(&co, 0, sizeof co);
        wsg_conn_config_init_default(&co.cfg);
        co.cfg.role = WSG_ROLE_CLIENT;
        co.max_chunk = f.max_chunk;
        co.seed = b1;
        fuzz_conn_run(&co, in.p + f.rest, in.n - f.rest);
    } else if (rc == WSG_ERR_HANDSHAKE && wsg_hs_client_status(hs) != 0) {
        size_t hc = 0;
        const struct wsg_header *h = wsg_hs_client_headers(hs, &hc);
        for (size_t i = 0; h && i < hc; i++) {
            fuzz_touch(h[i].name, h[i].name_len);
            fuzz_touch(h[i].value, h[i].value_len);
        }
    }
    wsg_hs_client_free(hs);
out:
    FUZZ_CHECK(fa.cur == 0, "leak: %zu bytes after wsg_hs_client_free", fa.cur);
    return 0;
}
