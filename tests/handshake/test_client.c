/* RFC 6455 section 4.1: the client's request and its checks of the
 * server's response; each response fed whole, one byte at a time and
 * right before an unreadable page. */
#include <stdlib.h>
#include <string.h>

#include <criterion/criterion.h>

#include "hs_req.h"
#include "hs_util.h"

static const char *const chat_protocols[] = {"chat", "superchat"};

static void rfc_opts(struct wsg_hs_client_opts *o)
{
    wsg_hs_client_opts_init_default(o);
    o->host = "server.example.com";
    o->target = "/chat";
    o->origin = "http://example.com";
    o->protocols = chat_protocols;
    o->protocol_count = 2;
    o->random.fill = rand_rfc_nonce;
}

static struct wsg_hs_client *make(void *ud)
{
    struct wsg_hs_client *hs = NULL;
    int rc = wsg_hs_client_new(ud, NULL, &hs);
    cr_assert_eq(rc, WSG_OK, "%s", wsg_err_name(rc));
    return hs;
}

#define R101 "HTTP/1.1 101 Switching Protocols\r\n"
#define R_UPG "Upgrade: websocket\r\n"
#define R_CONN "Connection: Upgrade\r\n"
#define R_ACC "Sec-WebSocket-Accept: " RFC_ACCEPT "\r\n"

static void span_is(struct wsg_span s, const char *want)
{
    if (!want) {
        cr_assert_null(s.ptr);
        return;
    }
    cr_assert_not_null(s.ptr);
    cr_assert_eq(s.len, strlen(want));
    cr_assert(memcmp(s.ptr, want, s.len) == 0, "got \"%.*s\"", (int)s.len,
              s.ptr);
}

/* Runs `resp` against a client with options `o` in every mode; checks rc,
 * and the reason if given. Returns the whole-input client. */
static struct wsg_hs_client *run(struct wsg_hs_client_opts *o,
                                 const char *resp, int rc, const char *reason)
{
    struct feed_out r;
    struct wsg_hs_client *hs = client_check(make, o, resp, strlen(resp), &r);
    cr_assert_eq(r.rc, rc, "rc %s, want %s; reason: %s", wsg_err_name(r.rc),
                 wsg_err_name(rc), wsg_hs_client_reason(hs));
    if (reason)
        cr_assert_str_eq(wsg_hs_client_reason(hs), reason);
    if (rc == 1) {
        cr_assert_eq(r.head, strlen(resp));
    } else {
        cr_assert(wsg_hs_client_reason(hs)[0] != '\0');
        size_t c = 3;
        cr_assert_eq(wsg_hs_client_feed(hs, (const uint8_t *)"x", 1, &c), rc,
                     "sticky");
        cr_assert_eq(c, 0);
    }
    return hs;
}

static void bad(struct wsg_hs_client_opts *o, const char *resp,
                const char *reason)
{
    wsg_hs_client_free(run(o, resp, WSG_ERR_HANDSHAKE, reason));
}

/* ---- the request ---------------------------------------------------------- */

Test(rfc6455_4_1_client, rfc_request_bytes)
{
    struct wsg_hs_client_opts o;
    rfc_opts(&o);
    struct wsg_hs_client *hs = make(&o);
    const uint8_t *d;
    size_t n;
    wsg_hs_client_request(hs, &d, &n);
    const char *want = "GET /chat HTTP/1.1\r\n"
                       "Host: server.example.com\r\n"
                       "Upgrade: websocket\r\n"
                       "Connection: Upgrade\r\n"
                       "Sec-WebSocket-Key: " RFC_KEY "\r\n"
                       "Sec-WebSocket-Version: 13\r\n"
                       "Origin: http://example.com\r\n"
                       "Sec-WebSocket-Protocol: chat, superchat\r\n"
                       "\r\n";
    cr_assert_eq(n, strlen(want), "%.*s", (int)n, (const char *)d);
    cr_assert(memcmp(d, want, n) == 0, "%.*s", (int)n, (const char *)d);
    cr_assert_eq(wsg_hs_client_status(hs), 0);
    wsg_hs_client_free(hs);
}

Test(rfc6455_4_1_client, defaults_extensions_headers)
{
    struct wsg_hs_client_opts o;
    wsg_hs_client_opts_init_default(&o);
    cr_assert_str_eq(o.target, "/");
    cr_assert_eq(o.limits.max_headers, 100);
    o.host = "h:8080";
    o.random.fill = rand_rfc_nonce;
    o.extensions = "permessage-deflate; client_max_window_bits";
    struct wsg_header extra[] = {{"Authorization", 13, "Bearer t", 8}};
    o.headers = extra;
    o.header_count = 1;
    struct wsg_hs_client *hs = make(&o);
    const uint8_t *d;
    size_t n;
    wsg_hs_client_request(hs, &d, &n);
    const char *want = "GET / HTTP/1.1\r\n"
                       "Host: h:8080\r\n"
                       "Upgrade: websocket\r\n"
                       "Connection: Upgrade\r\n"
                       "Sec-WebSocket-Key: " RFC_KEY "\r\n"
                       "Sec-WebSocket-Version: 13\r\n"
                       "Sec-WebSocket-Extensions: permessage-deflate; "
                       "client_max_window_bits\r\n"
                       "Authorization: Bearer t\r\n"
                       "\r\n";
    cr_assert_eq(n, strlen(want), "%.*s", (int)n, (const char *)d);
    cr_assert(memcmp(d, want, n) == 0);
    wsg_hs_client_free(hs);
}

Test(rfc6455_4_1_client, fresh_key_each_time_and_server_accepts_it)
{
    struct wsg_hs_client_opts o;
    rfc_opts(&o);
    uint32_t seed = 1;
    o.random.fill = rand_counter;
    o.random.ud = &seed;
    struct wsg_hs_client *a = make(&o), *b = make(&o);
    const uint8_t *da, *db;
    size_t na, nb;
    wsg_hs_client_request(a, &da, &na);
    wsg_hs_client_request(b, &db, &nb);
    const char *ka = memmem(da, na, "Sec-WebSocket-Key: ", 19);
    const char *kb = memmem(db, nb, "Sec-WebSocket-Key: ", 19);
    cr_assert(ka && kb);
    cr_assert(memcmp(ka + 19, kb + 19, 24) != 0, "keys differ");

    /* Our own server accepts the request, and the client its answer. */
    struct wsg_hs_server *srv = NULL;
    size_t c;
    cr_assert_eq(wsg_hs_server_new(NULL, NULL, &srv), WSG_OK);
    cr_assert_eq(wsg_hs_server_feed(srv, da, na, &c), 1, "%s",
                 wsg_hs_server_reason(srv));
    cr_assert_eq(c, na);
    struct wsg_hs_accept_opts ao = {.subprotocol = "superchat"};
    const uint8_t *resp;
    size_t rn;
    cr_assert_eq(wsg_hs_server_accept(srv, &ao, &resp, &rn), WSG_OK);
    cr_assert_eq(wsg_hs_client_feed(a, resp, rn, &c), 1, "%s",
                 wsg_hs_client_reason(a));
    cr_assert_eq(c, rn);
    span_is(wsg_hs_client_protocol(a), "superchat");
    /* The same answer does not fit the other key. */
    cr_assert_eq(wsg_hs_client_feed(b, resp, rn, &c), WSG_ERR_HANDSHAKE);
    cr_assert_str_eq(wsg_hs_client_reason(b), "wrong Sec-WebSocket-Accept");
    wsg_hs_server_free(srv);
    wsg_hs_client_free(a);
    wsg_hs_client_free(b);
}

Test(rfc6455_4_1_client, option_checks)
{
    struct wsg_hs_client_opts o;
    struct wsg_hs_client *hs = (struct wsg_hs_client *)1;
    const char *p_empty[] = {""};
    const char *p_space[] = {"a b"};
    const char *p_comma[] = {"a,b"};
    const char *p_ctl[] = {"a\r\n"};
    const char *p_slash[] = {"a/b"};
    const char *p_dup[] = {"chat", "chat"};
    const char *p_null[] = {NULL};
    const char *const *plists[] = {p_empty, p_space, p_comma, p_ctl,
                                   p_slash, p_null};
    for (size_t i = 0; i < sizeof plists / sizeof *plists; i++) {
        rfc_opts(&o);
        o.protocols = plists[i];
        o.protocol_count = 1;
        cr_assert_eq(wsg_hs_client_new(&o, NULL, &hs), WSG_ERR_INVALID_ARG,
                     "protocol list %zu", i);
        cr_assert_null(hs);
    }
    rfc_opts(&o);
    o.protocols = p_dup;
    cr_assert_eq(wsg_hs_client_new(&o, NULL, &hs), WSG_ERR_INVALID_ARG);
    rfc_opts(&o);
    o.protocols = NULL;
    cr_assert_eq(wsg_hs_client_new(&o, NULL, &hs), WSG_ERR_INVALID_ARG);

    const char *hosts[] = {NULL, "", "a b", "a\r\nX: y", "h\x7f"};
    for (size_t i = 0; i < sizeof hosts / sizeof *hosts; i++) {
        rfc_opts(&o);
        o.host = hosts[i];
        cr_assert_eq(wsg_hs_client_new(&o, NULL, &hs), WSG_ERR_INVALID_ARG,
                     "host %zu", i);
    }
    const char *targets[] = {"", "chat", "/a b", "/a#f", "/\r\n"};
    for (size_t i = 0; i < sizeof targets / sizeof *targets; i++) {
        rfc_opts(&o);
        o.target = targets[i];
        cr_assert_eq(wsg_hs_client_new(&o, NULL, &hs), WSG_ERR_INVALID_ARG,
                     "target %zu", i);
    }
    rfc_opts(&o);
    o.origin = "x\r\nEvil: 1";
    cr_assert_eq(wsg_hs_client_new(&o, NULL, &hs), WSG_ERR_INVALID_ARG);
    rfc_opts(&o);
    o.extensions = "a\nb";
    cr_assert_eq(wsg_hs_client_new(&o, NULL, &hs), WSG_ERR_INVALID_ARG);

    struct wsg_header hb[] = {
        {"X", 1, "a\r\nb", 4},        {"X", 1, "a\0b", 3},
        {"X Y", 3, "v", 1},           {"Host", 4, "evil", 4},
        {"Sec-WebSocket-Key", 17, "k", 1},
        {"sec-websocket-protocol", 22, "p", 1},
        {"Connection", 10, "close", 5},
        {"Content-Length", 14, "0", 1},
    };
    for (size_t i = 0; i < sizeof hb / sizeof *hb; i++) {
        rfc_opts(&o);
        o.headers = &hb[i];
        o.header_count = 1;
        cr_assert_eq(wsg_hs_client_new(&o, NULL, &hs), WSG_ERR_INVALID_ARG,
                     "header %zu", i);
    }
    rfc_opts(&o);
    o.random.fill = NULL;
    cr_assert_eq(wsg_hs_client_new(&o, NULL, &hs), WSG_ERR_INVALID_ARG);
    rfc_opts(&o);
    o.random.fill = rand_fail;
    cr_assert_eq(wsg_hs_client_new(&o, NULL, &hs), WSG_ERR_RANDOM);
    rfc_opts(&o);
    o.limits.max_headers = 0;
    cr_assert_eq(wsg_hs_client_new(&o, NULL, &hs), WSG_ERR_INVALID_ARG);
    cr_assert_eq(wsg_hs_client_new(NULL, NULL, &hs), WSG_ERR_INVALID_ARG);
    rfc_opts(&o);
    cr_assert_eq(wsg_hs_client_new(&o, NULL, NULL), WSG_ERR_INVALID_ARG);
}

/* ---- the response --------------------------------------------------------- */

Test(rfc6455_4_1_client, rfc_response_accepted)
{
    struct wsg_hs_client_opts o;
    rfc_opts(&o);
    struct wsg_hs_client *hs =
        run(&o, R101 R_UPG R_CONN R_ACC "Sec-WebSocket-Protocol: chat\r\n\r\n",
            1, NULL);
    cr_assert_eq(wsg_hs_client_status(hs), 101);
    span_is(wsg_hs_client_protocol(hs), "chat");
    span_is(wsg_hs_client_extensions(hs), NULL);
    size_t n;
    const struct wsg_header *h = wsg_hs_client_headers(hs, &n);
    cr_assert_eq(n, 4);
    cr_assert_eq(h[3].value_len, 4);
    cr_assert(memcmp(h[3].value, "chat", 4) == 0);
    wsg_hs_client_free(hs);
}

Test(rfc6455_4_1_client, tokens_any_case_and_lists)
{
    struct wsg_hs_client_opts o;
    rfc_opts(&o);
    wsg_hs_client_free(run(&o,
                           "HTTP/1.1 101 \r\nupgrade: WebSocket\r\n"
                           "CONNECTION: keep-alive, UPGRADE\r\n"
                           "sec-websocket-accept:  " RFC_ACCEPT "\t\r\n\r\n",
                           1, NULL));
}

Test(rfc6455_4_1_client, not_101)
{
    struct wsg_hs_client_opts o;
    rfc_opts(&o);
    struct wsg_hs_client *hs =
        run(&o, "HTTP/1.1 403 Forbidden\r\nContent-Length: 10\r\n\r\nforbidden\n",
            WSG_ERR_HANDSHAKE, "server answered 403 Forbidden");
    cr_assert_eq(wsg_hs_client_status(hs), 403);
    size_t n;
    const struct wsg_header *h = wsg_hs_client_headers(hs, &n);
    cr_assert_eq(n, 1);
    cr_assert_eq(h[0].name_len, 14);
    span_is(wsg_hs_client_protocol(hs), NULL);
    wsg_hs_client_free(hs);
    bad(&o, "HTTP/1.1 200 OK\r\n\r\n", "server answered 200 OK");
    bad(&o, "HTTP/1.1 426 Upgrade Required\r\nSec-WebSocket-Version: 13\r\n\r\n",
        "server answered 426 Upgrade Required");
    bad(&o, "HTTP/1.1 599 Odd\r\n\r\n", "server answered 599");
    bad(&o, "HTTP/1.1 100 Continue\r\n\r\n", "server answered 100 Continue");
}

Test(rfc6455_4_1_client, upgrade_and_connection)
{
    struct wsg_hs_client_opts o;
    rfc_opts(&o);
    bad(&o, R101 R_CONN R_ACC CRLF, "missing Upgrade: websocket");
    bad(&o, R101 "Upgrade: h2c\r\n" R_CONN R_ACC CRLF,
        "missing Upgrade: websocket");
    bad(&o, R101 R_UPG R_UPG R_CONN R_ACC CRLF, "duplicate Upgrade header");
    bad(&o, R101 R_UPG R_ACC CRLF, "Connection does not include upgrade");
    bad(&o, R101 R_UPG "Connection: close\r\n" R_ACC CRLF,
        "Connection does not include upgrade");
}

Test(rfc6455_4_1_client, accept_value)
{
    struct wsg_hs_client_opts o;
    rfc_opts(&o);
    bad(&o, R101 R_UPG R_CONN CRLF, "missing Sec-WebSocket-Accept");
    bad(&o, R101 R_UPG R_CONN R_ACC R_ACC CRLF,
        "duplicate Sec-WebSocket-Accept header");
    bad(&o, R101 R_UPG R_CONN
        "Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOp=\r\n" CRLF,
        "wrong Sec-WebSocket-Accept");
    bad(&o, R101 R_UPG R_CONN
        "Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo\r\n" CRLF,
        "wrong Sec-WebSocket-Accept");
    bad(&o, R101 R_UPG R_CONN "Sec-WebSocket-Accept: " RFC_KEY "\r\n" CRLF,
        "wrong Sec-WebSocket-Accept");
}

Test(rfc6455_4_1_client, subprotocol_selection)
{
    struct wsg_hs_client_opts o;
    rfc_opts(&o);
    struct wsg_hs_client *hs = run(
        &o, R101 R_UPG R_CONN R_ACC "Sec-WebSocket-Protocol: superchat\r\n" CRLF,
        1, NULL);
    span_is(wsg_hs_client_protocol(hs), "superchat");
    wsg_hs_client_free(hs);
    hs = run(&o, R101 R_UPG R_CONN R_ACC CRLF, 1, NULL);
    span_is(wsg_hs_client_protocol(hs), NULL);
    wsg_hs_client_free(hs);
    bad(&o, R101 R_UPG R_CONN R_ACC "Sec-WebSocket-Protocol: Chat\r\n" CRLF,
        "server selected a subprotocol we did not offer");
    bad(&o, R101 R_UPG R_CONN R_ACC "Sec-WebSocket-Protocol: cha\r\n" CRLF,
        "server selected a subprotocol we did not offer");
    bad(&o, R101 R_UPG R_CONN R_ACC "Sec-WebSocket-Protocol:\r\n" CRLF,
        "server selected a subprotocol we did not offer");
    bad(&o, R101 R_UPG R_CONN R_ACC
        "Sec-WebSocket-Protocol: chat, superchat\r\n" CRLF,
        "server selected more than one subprotocol");
    bad(&o, R101 R_UPG R_CONN R_ACC "Sec-WebSocket-Protocol: chat\r\n"
            "Sec-WebSocket-Protocol: chat\r\n" CRLF,
        "duplicate Sec-WebSocket-Protocol header");
    o.protocols = NULL;
    o.protocol_count = 0;
    bad(&o, R101 R_UPG R_CONN R_ACC "Sec-WebSocket-Protocol: chat\r\n" CRLF,
        "server selected a subprotocol we did not offer");
}

Test(rfc6455_4_1_client, extensions)
{
    struct wsg_hs_client_opts o;
    rfc_opts(&o);
    bad(&o, R101 R_UPG R_CONN R_ACC
        "Sec-WebSocket-Extensions: permessage-deflate\r\n" CRLF,
        "server accepted an extension we did not offer");
    o.extensions = "permessage-deflate; client_max_window_bits, x-webkit";
    struct wsg_hs_client *hs =
        run(&o, R101 R_UPG R_CONN R_ACC
            "Sec-WebSocket-Extensions: permessage-deflate; "
            "server_no_context_takeover\r\n" CRLF,
            1, NULL);
    span_is(wsg_hs_client_extensions(hs),
            "permessage-deflate; server_no_context_takeover");
    wsg_hs_client_free(hs);
    bad(&o, R101 R_UPG R_CONN R_ACC
        "Sec-WebSocket-Extensions: permessage-deflate, x-other\r\n" CRLF,
        "server accepted an extension we did not offer");
    bad(&o, R101 R_UPG R_CONN R_ACC "Sec-WebSocket-Extensions: ;a=1\r\n" CRLF,
        "server accepted an extension we did not offer");
    bad(&o, R101 R_UPG R_CONN R_ACC "Sec-WebSocket-Extensions: x\r\n"
            "Sec-WebSocket-Extensions: permessage-deflate\r\n" CRLF,
        "server accepted an extension we did not offer");
    /* RFC 7692 section 5: the same extension twice fails the connection,
     * in one header or in two. */
    bad(&o, R101 R_UPG R_CONN R_ACC
        "Sec-WebSocket-Extensions: permessage-deflate, permessage-deflate\r\n" CRLF,
        "server accepted an extension twice");
    bad(&o, R101 R_UPG R_CONN R_ACC
        "Sec-WebSocket-Extensions: x-webkit\r\n"
        "Sec-WebSocket-Extensions: X-WEBKIT; a=1\r\n" CRLF,
        "server accepted an extension twice");
}

Test(rfc6455_4_1_client, not_http_1_1_or_with_body)
{
    struct wsg_hs_client_opts o;
    rfc_opts(&o);
    bad(&o, "HTTP/1.0 101 Switching Protocols\r\n" R_UPG R_CONN R_ACC CRLF,
        "response is not HTTP/1.1");
    bad(&o, R101 R_UPG R_CONN R_ACC "Content-Length: 0\r\n" CRLF,
        "101 response with a body header");
    bad(&o, R101 R_UPG R_CONN R_ACC "Transfer-Encoding: chunked\r\n" CRLF,
        "101 response with a body header");
}

Test(rfc6455_4_1_client, malformed_is_http_error)
{
    struct wsg_hs_client_opts o;
    rfc_opts(&o);
    const char *resp[] = {
        "HTTP/1.1 101 Switching Protocols\n" R_UPG R_CONN R_ACC CRLF,
        R101 R_UPG R_CONN R_ACC "X: a\r\n b\r\n" CRLF,
        R101 "Upgrade: a\rb\r\n" CRLF,
        "HTTP/1.1 1010 x\r\n\r\n",
        "XTTP/1.1 101 x\r\n\r\n",
        R101 "Bad Name: x\r\n\r\n",
        R101 ": x\r\n\r\n",
        CRLF R101 R_UPG R_CONN R_ACC CRLF,
    };
    for (size_t i = 0; i < sizeof resp / sizeof *resp; i++)
        wsg_hs_client_free(run(&o, resp[i], WSG_ERR_HTTP, NULL));
}

Test(rfc6455_4_1_client, limits)
{
    struct wsg_hs_client_opts o;
    rfc_opts(&o);
    o.limits.max_headers = 3;
    wsg_hs_client_free(run(&o, R101 R_UPG R_CONN R_ACC CRLF, 1, NULL));
    wsg_hs_client_free(run(&o, R101 R_UPG R_CONN R_ACC "X: y\r\n" CRLF,
                           WSG_ERR_HTTP, "too many response headers"));
    rfc_opts(&o);
    o.limits.max_request_line = 10;
    wsg_hs_client_free(run(&o, R101 R_UPG R_CONN R_ACC CRLF, WSG_ERR_HTTP,
                           "status line too long"));
    rfc_opts(&o);
    o.limits.max_header_bytes = 20;
    wsg_hs_client_free(run(&o, R101 R_UPG R_CONN R_ACC CRLF, WSG_ERR_HTTP,
                           "response headers too large"));
}

/* T8 on the client side: frames right after the 101 are not consumed. */
Test(rfc6455_4_1_client, pipelined_frame_after_101)
{
    struct wsg_hs_client_opts o;
    rfc_opts(&o);
    static const char head[] = R101 R_UPG R_CONN R_ACC CRLF;
    static const char in[] = R101 R_UPG R_CONN R_ACC CRLF "\x81\x05Hello";
    struct feed_out r;
    struct wsg_hs_client *hs =
        client_check(make, &o, in, sizeof in - 1, &r);
    cr_assert_eq(r.rc, 1, "%s", wsg_hs_client_reason(hs));
    cr_assert_eq(r.head, sizeof head - 1);
    size_t c = 5;
    cr_assert_eq(wsg_hs_client_feed(hs, (const uint8_t *)"\x81", 1, &c), 1);
    cr_assert_eq(c, 0);
    wsg_hs_client_free(hs);
}

/* A 101 without Connection would let llhttp read the next message; we stop
 * at the head whatever the headers say. */
Test(rfc6455_4_1_client, head_ends_even_without_upgrade_headers)
{
    struct wsg_hs_client_opts o;
    rfc_opts(&o);
    static const char in[] = R101 R_ACC CRLF "HTTP/1.1 200 OK\r\n\r\n";
    struct feed_out r;
    struct wsg_hs_client *hs = client_check(make, &o, in, sizeof in - 1, &r);
    cr_assert_eq(r.rc, WSG_ERR_HANDSHAKE);
    cr_assert_eq(wsg_hs_client_status(hs), 101);
    cr_assert_str_eq(wsg_hs_client_reason(hs), "missing Upgrade: websocket");
    wsg_hs_client_free(hs);
}

Test(rfc6455_4_1_client, null_arguments)
{
    size_t c = 4, n = 4;
    const uint8_t *d = (const uint8_t *)"x";
    cr_assert_eq(wsg_hs_client_feed(NULL, (const uint8_t *)"x", 1, &c),
                 WSG_ERR_INVALID_ARG);
    cr_assert_eq(c, 0);
    wsg_hs_client_request(NULL, &d, &n);
    cr_assert_null(d);
    cr_assert_eq(n, 0);
    cr_assert_str_eq(wsg_hs_client_reason(NULL), "");
    cr_assert_eq(wsg_hs_client_status(NULL), 0);
    cr_assert_null(wsg_hs_client_headers(NULL, &n));
    cr_assert_eq(n, 0);
    wsg_hs_client_free(NULL);
    wsg_hs_client_opts_init_default(NULL);
}
