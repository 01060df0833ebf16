/* RFC 6455 section 4.2.1: the server's reading of the client's opening
 * handshake; T7 and T8 regressions. Every case runs whole, one byte at a
 * time, and right before an unreadable page (hs_util.c). */
#include <stdlib.h>
#include <string.h>

#include <criterion/criterion.h>

#include "hs_req.h"
#include "hs_util.h"

static void span_is(struct wsg_span s, const char *want)
{
    if (!want) {
        cr_assert_null(s.ptr);
        return;
    }
    cr_assert_not_null(s.ptr, "expected \"%s\"", want);
    cr_assert_eq(s.len, strlen(want), "len %zu for \"%s\"", s.len, want);
    cr_assert(memcmp(s.ptr, want, s.len) == 0, "got \"%.*s\", want \"%s\"",
              (int)s.len, s.ptr, want);
}

static void ok(const char *req)
{
    wsg_hs_server_free(expect_server(req, 1, 0));
}

static void refused(const char *req, int status, const char *reason)
{
    struct wsg_hs_server *hs = expect_server(req, WSG_ERR_HTTP, status);
    if (reason)
        cr_assert_str_eq(wsg_hs_server_reason(hs), reason);
    /* Sticky. */
    size_t c = 1;
    cr_assert_eq(wsg_hs_server_feed(hs, (const uint8_t *)"x", 1, &c),
                 WSG_ERR_HTTP);
    cr_assert_eq(c, 0);
    wsg_hs_server_free(hs);
}

/* ---- the valid request and its fields ----------------------------------- */

Test(rfc6455_4_2_1_server_request, rfc_example_fields)
{
    const char *req = "GET /chat?room=1&x=2 HTTP/1.1\r\n"
                      "Host: server.example.com\r\n"
                      "Upgrade: websocket\r\n"
                      "Connection: Upgrade\r\n"
                      "Sec-WebSocket-Key:   dGhlIHNhbXBsZSBub25jZQ==  \r\n"
                      "Origin: http://example.com\r\n"
                      "Sec-WebSocket-Protocol: chat, superchat\r\n"
                      "Sec-WebSocket-Protocol: v2\r\n"
                      "Sec-WebSocket-Extensions: permessage-deflate\r\n"
                      "Sec-WebSocket-Extensions: x-foo; a=1\r\n"
                      "Sec-WebSocket-Version: 13\r\n"
                      "X-Custom: Value With Case\r\n"
                      "\r\n";
    struct wsg_hs_server *hs = expect_server(req, 1, 0);
    const struct wsg_hs_request *r = wsg_hs_server_request(hs);
    span_is(r->target, "/chat?room=1&x=2");
    span_is(r->path, "/chat");
    span_is(r->query, "room=1&x=2");
    span_is(r->host, "server.example.com");
    span_is(r->origin, "http://example.com");
    span_is(r->key, RFC_KEY);
    span_is(r->protocols, "chat, superchat, v2");
    span_is(r->extensions, "permessage-deflate, x-foo; a=1");
    cr_assert_eq(r->header_count, 11);
    cr_assert_eq(r->headers[10].name_len, strlen("X-Custom"));
    cr_assert(memcmp(r->headers[10].name, "X-Custom", 8) == 0,
              "names keep their case");
    span_is(wsg_hs_request_header(r, "x-custom"), "Value With Case");
    span_is(wsg_hs_request_header(r, "SEC-WEBSOCKET-PROTOCOL"),
            "chat, superchat");
    span_is(wsg_hs_request_header(r, "X-Absent"), NULL);
    span_is(wsg_hs_request_header(NULL, "Host"), NULL);
    cr_assert_eq(wsg_hs_server_status(hs), 0);
    wsg_hs_server_free(hs);
}

Test(rfc6455_4_2_1_server_request, minimal_no_query_no_origin)
{
    struct wsg_hs_server *hs = expect_server(
        "GET / HTTP/1.1\r\n" H_HOST H_UPG H_CONN H_KEY H_VER CRLF, 1, 0);
    const struct wsg_hs_request *r = wsg_hs_server_request(hs);
    span_is(r->path, "/");
    span_is(r->query, NULL);
    span_is(r->origin, NULL);
    span_is(r->protocols, NULL);
    span_is(r->extensions, NULL);
    wsg_hs_server_free(hs);
}

Test(rfc6455_4_2_1_server_request, empty_query)
{
    struct wsg_hs_server *hs = expect_server(
        "GET /a? HTTP/1.1\r\n" H_HOST H_UPG H_CONN H_KEY H_VER CRLF, 1, 0);
    const struct wsg_hs_request *r = wsg_hs_server_request(hs);
    span_is(r->path, "/a");
    cr_assert_not_null(r->query.ptr);
    cr_assert_eq(r->query.len, 0);
    wsg_hs_server_free(hs);
}

Test(rfc6455_4_2_1_server_request, request_before_parse_is_null)
{
    struct wsg_hs_server *hs = NULL;
    cr_assert_eq(wsg_hs_server_new(NULL, NULL, &hs), WSG_OK);
    cr_assert_null(wsg_hs_server_request(hs));
    cr_assert_eq(wsg_hs_server_status(hs), 0);
    size_t c = 7;
    cr_assert_eq(wsg_hs_server_feed(hs, NULL, 0, &c), 0);
    cr_assert_eq(c, 0);
    cr_assert_eq(wsg_hs_server_feed(hs, NULL, 1, &c), WSG_ERR_INVALID_ARG);
    cr_assert_eq(wsg_hs_server_feed(NULL, (const uint8_t *)"G", 1, &c),
                 WSG_ERR_INVALID_ARG);
    cr_assert_eq(wsg_hs_server_feed(hs, (const uint8_t *)"G", 1, NULL),
                 WSG_ERR_INVALID_ARG);
    wsg_hs_server_free(hs);
    wsg_hs_server_free(NULL);
}

/* ---- method and version -------------------------------------------------- */

Test(rfc6455_4_2_1_server_request, method_not_get_is_405)
{
    refused("POST /chat HTTP/1.1\r\n" H_HOST H_UPG H_CONN H_KEY H_VER CRLF,
            405, NULL);
    refused("PUT / HTTP/1.1\r\n" H_HOST H_UPG H_CONN H_KEY H_VER CRLF, 405,
            NULL);
    refused("HEAD / HTTP/1.1\r\n" H_HOST H_UPG H_CONN H_KEY H_VER CRLF, 405,
            NULL);
    refused("OPTIONS / HTTP/1.1\r\n" H_HOST H_UPG H_CONN H_KEY H_VER CRLF,
            405, NULL);
}

Test(rfc6455_4_2_1_server_request, unknown_or_lowercase_method_is_400)
{
    refused("FOO / HTTP/1.1\r\n" H_HOST CRLF, 400, "invalid method");
    refused("get / HTTP/1.1\r\n" H_HOST CRLF, 400, "invalid method");
}

Test(rfc6455_4_2_1_server_request, http_1_0_and_2_0_are_400)
{
    refused("GET / HTTP/1.0\r\n" H_HOST H_UPG H_CONN H_KEY H_VER CRLF, 400,
            "HTTP/1.1 required");
    refused("GET / HTTP/2.0\r\n" H_HOST H_UPG H_CONN H_KEY H_VER CRLF, 400,
            "HTTP/1.1 required");
    refused("GET / HTTP/1.1 \r\n" H_HOST CRLF, 400, NULL);
    refused("GET / HTTX/1.1\r\n" H_HOST CRLF, 400, NULL);
}

Test(rfc6455_4_2_1_server_request, target_forms)
{
    refused("GET http://server.example.com/chat HTTP/1.1\r\n" H_HOST H_UPG
            H_CONN H_KEY H_VER CRLF,
            400, "request-target must be a path");
    refused("GET /chat#frag HTTP/1.1\r\n" H_HOST H_UPG H_CONN H_KEY H_VER CRLF,
            400, "fragment in request-target");
    refused("GET /a\x7f HTTP/1.1\r\n" H_HOST CRLF, 400, NULL);
}

/* ---- Host ---------------------------------------------------------------- */

Test(rfc6455_4_2_1_server_request, host_rules)
{
    refused(REQ_LINE H_UPG H_CONN H_KEY H_VER CRLF, 400, "missing Host header");
    refused(REQ_LINE "Host:\r\n" H_UPG H_CONN H_KEY H_VER CRLF, 400,
            "empty Host header");
    refused(REQ_LINE "Host:   \r\n" H_UPG H_CONN H_KEY H_VER CRLF, 400,
            "empty Host header");
    ok(REQ_LINE "hOsT: example.com:8080\r\n" H_UPG H_CONN H_KEY H_VER CRLF);
    ok(REQ_LINE "Host: [::1]:9001\r\n" H_UPG H_CONN H_KEY H_VER CRLF);
    ok(REQ_LINE "Host: 127.0.0.1\r\n" H_UPG H_CONN H_KEY H_VER CRLF);
    const char *bad[] = {"a b", "good.example@evil.example", "a/b", "a?b",
                         "a#b", "a\"b", "a\\b", "caf\xc3\xa9"};
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        char *req = fmt(REQ_LINE "Host: %s\r\n" H_UPG H_CONN H_KEY H_VER CRLF,
                        bad[i]);
        refused(req, 400, "invalid Host header");
        free(req);
    }
}

/* ---- Upgrade and Connection ---------------------------------------------- */

Test(rfc6455_4_2_1_server_request, upgrade_rules)
{
    ok(REQ_LINE H_HOST "Upgrade: WebSocket\r\n" H_CONN H_KEY H_VER CRLF);
    ok(REQ_LINE H_HOST "Upgrade: h2c, websocket\r\n" H_CONN H_KEY H_VER CRLF);
    ok(REQ_LINE H_HOST "Upgrade: ,websocket,\r\n" H_CONN H_KEY H_VER CRLF);
    refused(REQ_LINE H_HOST H_CONN H_KEY H_VER CRLF, 426,
            "missing Upgrade: websocket");
    refused(REQ_LINE H_HOST "Upgrade: h2c\r\n" H_CONN H_KEY H_VER CRLF, 426,
            "Upgrade does not offer websocket");
    refused(REQ_LINE H_HOST "Upgrade: websockets\r\n" H_CONN H_KEY H_VER CRLF,
            426, NULL);
    refused(REQ_LINE H_HOST "Upgrade:\r\n" H_CONN H_KEY H_VER CRLF, 426, NULL);
}

/* A GET without Upgrade at a WebSocket-only endpoint: 426 Upgrade
 * Required (RFC 9110 section 15.5.22). */
Test(rfc6455_4_2_1_server_request, plain_get_is_426)
{
    refused("GET / HTTP/1.1\r\n" H_HOST CRLF, 426, "missing Upgrade: websocket");
}

Test(rfc6455_4_2_1_server_request, connection_rules)
{
    ok(REQ_LINE H_HOST H_UPG "Connection: keep-alive, Upgrade\r\n" H_KEY H_VER
       CRLF);
    ok(REQ_LINE H_HOST H_UPG "Connection: UPGRADE\r\n" H_KEY H_VER CRLF);
    /* Several Connection headers combine into one list. */
    ok(REQ_LINE H_HOST H_UPG "Connection: keep-alive\r\n"
                             "Connection: upgrade\r\n" H_KEY H_VER CRLF);
    refused(REQ_LINE H_HOST H_UPG H_KEY H_VER CRLF, 400,
            "Connection does not include upgrade");
    refused(REQ_LINE H_HOST H_UPG "Connection: keep-alive\r\n" H_KEY H_VER CRLF,
            400, "Connection does not include upgrade");
    refused(REQ_LINE H_HOST H_UPG "Connection: upgraded\r\n" H_KEY H_VER CRLF,
            400, NULL);
}

/* ---- Sec-WebSocket-Key --------------------------------------------------- */

static char *with_key(const char *key)
{
    return fmt(REQ_LINE H_HOST H_UPG H_CONN "Sec-WebSocket-Key: %s\r\n" H_VER
               CRLF,
               key);
}

Test(rfc6455_4_2_1_server_request, key_rules)
{
    const char *good[] = {RFC_KEY, "AAAAAAAAAAAAAAAAAAAAAA==",
                          "////////////////////ww==",
                          "+/+/+/+/+/+/+/+/+/+/+w=="};
    for (size_t i = 0; i < sizeof good / sizeof *good; i++) {
        char *r = with_key(good[i]);
        ok(r);
        free(r);
    }
    const char *bad[] = {
        "dGhlIHNhbXBsZSBub25jZQ=",   /* 23 chars */
        "dGhlIHNhbXBsZSBub25jZQ===",  /* 25 chars */
        "dGhlIHNhbXBsZSBub25jZQAA",   /* no padding: 18 bytes */
        "dGhlIHNhbXBsZSBub25jZR==",   /* non-canonical trailing bits */
        "dGhlIHNhbXBsZSBub25jZ*==",   /* not base64 */
        "AAAAAAAAAAAAAAAAAAAAAAA=",   /* 17 bytes */
        "dGhlIHNhbXBsZSBub25j ZQ==",  /* inner space */
        "dGhlIHNhbXBsZSBub25jZQ=A",   /* bad padding */
        "dGhlIHNhbXBsZSBub25jZQ",     /* 22 chars */
        "",                           /* empty */
    };
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        char *r = with_key(bad[i]);
        refused(r, 400, "invalid Sec-WebSocket-Key");
        free(r);
    }
    refused(REQ_LINE H_HOST H_UPG H_CONN H_VER CRLF, 400,
            "missing Sec-WebSocket-Key");
}

/* ---- Sec-WebSocket-Version ----------------------------------------------- */

static void refuse_426_version(const char *req, const char *reason)
{
    struct wsg_hs_server *hs = expect_server(req, WSG_ERR_HTTP, 426);
    cr_assert_str_eq(wsg_hs_server_reason(hs), reason);
    const uint8_t *d;
    size_t n;
    cr_assert_eq(wsg_hs_server_refuse(hs, wsg_hs_server_status(hs),
                                      wsg_hs_server_reason(hs), NULL, 0, &d,
                                      &n),
                 WSG_OK);
    cr_assert_not_null(memmem(d, n, "\r\nSec-WebSocket-Version: 13\r\n", 29));
    wsg_hs_server_free(hs);
}

Test(rfc6455_4_2_1_server_request, version_rules)
{
    ok(REQ_LINE H_HOST H_UPG H_CONN H_KEY "Sec-WebSocket-Version:  13 \r\n"
       CRLF);
    refuse_426_version(REQ_LINE H_HOST H_UPG H_CONN H_KEY CRLF,
                       "missing Sec-WebSocket-Version");
    refuse_426_version(REQ_LINE H_HOST H_UPG H_CONN H_KEY
                       "Sec-WebSocket-Version: 8\r\n" CRLF,
                       "unsupported Sec-WebSocket-Version");
    refuse_426_version(REQ_LINE H_HOST H_UPG H_CONN H_KEY
                       "Sec-WebSocket-Version: 13, 8\r\n" CRLF,
                       "unsupported Sec-WebSocket-Version");
    refuse_426_version(REQ_LINE H_HOST H_UPG H_CONN H_KEY
                       "Sec-WebSocket-Version: 130\r\n" CRLF,
                       "unsupported Sec-WebSocket-Version");
    refuse_426_version(REQ_LINE H_HOST H_UPG H_CONN H_KEY
                       "Sec-WebSocket-Version:\r\n" CRLF,
                       "unsupported Sec-WebSocket-Version");
}

/* ---- subprotocols, extensions, other headers ----------------------------- */

Test(rfc6455_4_2_1_server_request, protocols_must_be_tokens)
{
    refused(VALID_WITH("Sec-WebSocket-Protocol: chat, a/b\r\n"), 400,
            "invalid Sec-WebSocket-Protocol");
    refused(VALID_WITH("Sec-WebSocket-Protocol: \"chat\"\r\n"), 400,
            "invalid Sec-WebSocket-Protocol");
    /* Empty elements are skipped (RFC 9110 section 5.6.1). */
    struct wsg_hs_server *hs =
        expect_server(VALID_WITH("Sec-WebSocket-Protocol: , chat,,\r\n"
                                 "Sec-WebSocket-Protocol:\r\n"),
                      1, 0);
    span_is(wsg_hs_server_request(hs)->protocols, ", chat,,");
    wsg_hs_server_free(hs);
}

Test(rfc6455_4_2_1_server_request, duplicate_origin_is_400)
{
    refused(VALID_WITH("Origin: https://a.example\r\n"
                       "Origin: https://b.example\r\n"),
            400, "duplicate Origin header");
}

Test(rfc6455_4_2_1_server_request, empty_header_name_is_400)
{
    refused(VALID_WITH(": value\r\n"), 400, "empty header name");
}

Test(rfc6455_4_2_1_server_request, invalid_header_chars_are_400)
{
    refused(VALID_WITH("Bad Name: x\r\n"), 400, NULL);
    refused(VALID_WITH("X: a\x01z\r\n"), 400, NULL);
    refused(VALID_WITH("X: a\x7fz\r\n"), 400, NULL);
    /* obs-text (bytes >= 0x80) is allowed in values. */
    ok(VALID_WITH("X: caf\xc3\xa9\r\n"));
}

Test(rfc6455_4_2_1_server_request, nul_in_header_value_is_400)
{
    static const char req[] = VALID_WITH("X: a\0b\r\n");
    struct feed_out r;
    struct wsg_hs_server *hs = server_check(req, sizeof req - 1, NULL, &r);
    cr_assert_eq(r.rc, WSG_ERR_HTTP);
    cr_assert_eq(wsg_hs_server_status(hs), 400);
    wsg_hs_server_free(hs);
}

Test(rfc6455_4_2_1_server_request, incomplete_head_needs_more)
{
    const char *req = VALID;
    size_t n = strlen(req) - 1; /* all but the last LF */
    struct wsg_hs_server *hs = NULL;
    for (int m = 0; m < FEED_MODES; m++) {
        struct feed_out r = server_feed_mode(req, n, (enum feed_mode)m, NULL,
                                             &hs);
        cr_assert_eq(r.rc, 0);
        cr_assert_null(wsg_hs_server_request(hs));
        size_t c = 0;
        cr_assert_eq(wsg_hs_server_feed(hs, (const uint8_t *)"\n", 1, &c), 1);
        cr_assert_eq(c, 1);
        wsg_hs_server_free(hs);
    }
}

/* ---- T7: HTTP parser smuggling ------------------------------------------- */

Test(threats_T7, bare_lf_ends_request_line)
{
    refused("GET / HTTP/1.1\n" H_HOST H_UPG H_CONN H_KEY H_VER CRLF, 400,
            "bare LF in HTTP head");
}

Test(threats_T7, bare_lf_ends_header)
{
    refused(REQ_LINE "Host: server.example.com\n" H_UPG H_CONN H_KEY H_VER CRLF,
            400, NULL);
}

Test(threats_T7, bare_lf_ends_head)
{
    refused(REQ_LINE H_HOST H_UPG H_CONN H_KEY H_VER "\n", 400,
            "bare LF in HTTP head");
}

Test(threats_T7, bare_cr_in_value)
{
    refused(REQ_LINE "Host: a\rb\r\n" H_UPG H_CONN H_KEY H_VER CRLF, 400,
            "bare CR in HTTP head");
    refused(REQ_LINE H_HOST "X: a\r\r\n" H_UPG H_CONN H_KEY H_VER CRLF, 400,
            "bare CR in HTTP head");
}

Test(threats_T7, bare_cr_in_request_line)
{
    refused("GET /\r HTTP/1.1\r\n" H_HOST CRLF, 400, NULL);
}

Test(threats_T7, obs_fold)
{
    refused(REQ_LINE H_HOST "X-Folded: a\r\n b\r\n" H_UPG H_CONN H_KEY H_VER
            CRLF,
            400, "obs-fold not allowed");
    refused(REQ_LINE H_HOST "X-Folded: a\r\n\tb\r\n" H_UPG H_CONN H_KEY H_VER
            CRLF,
            400, "obs-fold not allowed");
    /* A folded Upgrade that would otherwise smuggle a second value. */
    refused(REQ_LINE H_HOST "Upgrade: h2c\r\n websocket\r\n" H_CONN H_KEY H_VER
            CRLF,
            400, "obs-fold not allowed");
}

Test(threats_T7, whitespace_before_first_header)
{
    refused(REQ_LINE " Host: x\r\n" H_UPG H_CONN H_KEY H_VER CRLF, 400,
            "obs-fold not allowed");
}

Test(threats_T7, content_length_on_upgrade)
{
    refused(VALID_WITH("Content-Length: 0\r\n"), 400,
            "request body not allowed on upgrade");
    refused(VALID_WITH("Content-Length: 5\r\n") "hello", 400,
            "request body not allowed on upgrade");
}

Test(threats_T7, transfer_encoding_on_upgrade)
{
    refused(VALID_WITH("Transfer-Encoding: chunked\r\n") "0\r\n\r\n", 400,
            "request body not allowed on upgrade");
    refused(VALID_WITH("Transfer-Encoding: gzip\r\n"), 400,
            "request body not allowed on upgrade");
}

Test(threats_T7, content_length_and_transfer_encoding)
{
    refused(VALID_WITH("Content-Length: 5\r\nTransfer-Encoding: chunked\r\n"),
            400, NULL);
    refused(VALID_WITH("Content-Length: 1\r\nContent-Length: 2\r\n"), 400,
            NULL);
    refused(VALID_WITH("Content-Length: x\r\n"), 400, NULL);
}

Test(threats_T7, duplicate_host)
{
    refused(VALID_WITH("Host: evil.example\r\n"), 400, "duplicate Host header");
}

Test(threats_T7, duplicate_upgrade)
{
    refused(VALID_WITH("Upgrade: websocket\r\n"), 400,
            "duplicate Upgrade header");
}

Test(threats_T7, duplicate_key)
{
    refused(VALID_WITH("Sec-WebSocket-Key: AAAAAAAAAAAAAAAAAAAAAA==\r\n"), 400,
            "duplicate Sec-WebSocket-Key header");
}

Test(threats_T7, duplicate_version)
{
    refused(VALID_WITH("Sec-WebSocket-Version: 13\r\n"), 400,
            "duplicate Sec-WebSocket-Version header");
}

Test(threats_T7, empty_line_before_request_line)
{
    refused(CRLF VALID, 400, "empty line before the start line");
}

Test(threats_T7, doubled_space_in_request_line)
{
    refused("GET  / HTTP/1.1\r\n" H_HOST H_UPG H_CONN H_KEY H_VER CRLF, 400,
            "malformed request line");
    refused("GET /  HTTP/1.1\r\n" H_HOST H_UPG H_CONN H_KEY H_VER CRLF, 400,
            "malformed request line");
    refused(" GET / HTTP/1.1\r\n" H_HOST H_UPG H_CONN H_KEY H_VER CRLF, 400,
            "malformed request line");
    refused("GET\t/ HTTP/1.1\r\n" H_HOST H_UPG H_CONN H_KEY H_VER CRLF, 400,
            "malformed request line");
}

Test(threats_T7, space_before_colon)
{
    refused(REQ_LINE "Host : x\r\n" H_UPG H_CONN H_KEY H_VER CRLF, 400, NULL);
}

/* ---- T8: bytes after the head -------------------------------------------- */

Test(threats_T8, pipelined_frame_not_consumed)
{
    /* A masked text frame "Hello" (RFC 6455 section 5.7) right after the
     * head. */
    static const char frame[] = "\x81\x85\x37\xfa\x21\x3d\x7f\x9f\x4d\x51\x58";
    static const char head[] = VALID;
    char in[sizeof head - 1 + sizeof frame - 1];
    memcpy(in, head, sizeof head - 1);
    memcpy(in + sizeof head - 1, frame, sizeof frame - 1);
    struct feed_out r;
    struct wsg_hs_server *hs = server_check(in, sizeof in, NULL, &r);
    cr_assert_eq(r.rc, 1);
    cr_assert_eq(r.head, sizeof head - 1);
    /* Later bytes are WebSocket data: nothing more is consumed. */
    size_t c = 9;
    cr_assert_eq(wsg_hs_server_feed(hs, (const uint8_t *)frame, 11, &c), 1);
    cr_assert_eq(c, 0);
    wsg_hs_server_free(hs);
}

Test(threats_T8, pipelined_http_is_not_parsed)
{
    /* A second request after the upgrade (bad headers in it) must not be
     * looked at: it belongs to the frame parser. */
    static const char in[] = VALID "GET / HTTP/1.1\nHost: a\r\n\r\n";
    struct feed_out r;
    struct wsg_hs_server *hs = server_check(in, sizeof in - 1, NULL, &r);
    cr_assert_eq(r.rc, 1);
    cr_assert_eq(r.head, strlen(VALID));
    cr_assert_eq(wsg_hs_request_header(wsg_hs_server_request(hs), "Host").len,
                 strlen("server.example.com"));
    wsg_hs_server_free(hs);
}

Test(threats_T8, refusal_with_trailing_bytes)
{
    static const char in[] = REQ_LINE H_HOST CRLF "\x81\x80";
    struct feed_out r;
    struct wsg_hs_server *hs = server_check(in, sizeof in - 1, NULL, &r);
    cr_assert_eq(r.rc, WSG_ERR_HTTP);
    cr_assert_eq(wsg_hs_server_status(hs), 426);
    wsg_hs_server_free(hs);
}
