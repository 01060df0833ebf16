/* RFC 6455 section 4.2.2: Sec-WebSocket-Accept and the server's responses
 * (101 and refusals); RFC 9110 section 5.6.1 lists; status texts. */
#include <stdlib.h>
#include <string.h>

#include <criterion/criterion.h>

#include "hs_req.h"
#include "hs_util.h"

/* ---- the accept value ---------------------------------------------------- */

Test(rfc6455_4_2_2_accept, rfc_1_3_example)
{
    char out[29];
    memset(out, 'x', sizeof out);
    cr_assert_eq(wsg_hs_accept_value(RFC_KEY, strlen(RFC_KEY), out), WSG_OK);
    cr_assert_str_eq(out, RFC_ACCEPT);
}

Test(rfc6455_4_2_2_accept, other_keys)
{
    /* Values computed independently (python: base64(sha1(key + GUID))). */
    char out[29];
    cr_assert_eq(wsg_hs_accept_value("x3JJHMbDL1EzLkh9GBhXDw==", 24, out),
                 WSG_OK);
    cr_assert_str_eq(out, "HSmrc0sMlYUkAGmm5OPpG2HaGWk=");
    cr_assert_eq(wsg_hs_accept_value("", 0, out), WSG_OK);
    cr_assert_eq(strlen(out), 28);
    cr_assert_eq(wsg_hs_accept_value(NULL, 1, out), WSG_ERR_INVALID_ARG);
    cr_assert_eq(wsg_hs_accept_value(RFC_KEY, 24, NULL), WSG_ERR_INVALID_ARG);
}

/* ---- the 101 response ---------------------------------------------------- */

static struct wsg_hs_server *parsed(const char *req)
{
    struct wsg_hs_server *hs = NULL;
    size_t c;
    cr_assert_eq(wsg_hs_server_new(NULL, NULL, &hs), WSG_OK);
    cr_assert_eq(wsg_hs_server_feed(hs, (const uint8_t *)req, strlen(req), &c),
                 1, "%s", wsg_hs_server_reason(hs));
    return hs;
}

static void bytes_are(const uint8_t *d, size_t n, const char *want)
{
    cr_assert_eq(n, strlen(want), "got %zu bytes:\n%.*s", n, (int)n,
                 (const char *)d);
    cr_assert(memcmp(d, want, n) == 0, "got:\n%.*s\nwant:\n%s", (int)n,
              (const char *)d, want);
}

Test(rfc6455_4_2_2_accept, plain_101)
{
    struct wsg_hs_server *hs = parsed(VALID);
    const uint8_t *d;
    size_t n;
    cr_assert_eq(wsg_hs_server_accept(hs, NULL, &d, &n), WSG_OK);
    bytes_are(d, n,
              "HTTP/1.1 101 Switching Protocols\r\n"
              "Upgrade: websocket\r\n"
              "Connection: Upgrade\r\n"
              "Sec-WebSocket-Accept: " RFC_ACCEPT "\r\n"
              "\r\n");
    wsg_hs_server_free(hs);
}

Test(rfc6455_4_2_2_accept, subprotocol_extensions_headers)
{
    struct wsg_hs_server *hs =
        parsed(VALID_WITH("Sec-WebSocket-Protocol: chat, superchat\r\n"));
    struct wsg_header extra[] = {
        {"Set-Cookie", 10, "a=b; HttpOnly", 13},
        {"X-Empty", 7, NULL, 0},
    };
    struct wsg_hs_accept_opts o = {
        .subprotocol = "superchat",
        .extensions = "permessage-deflate; server_no_context_takeover",
        .headers = extra,
        .header_count = 2,
    };
    const uint8_t *d;
    size_t n;
    cr_assert_eq(wsg_hs_server_accept(hs, &o, &d, &n), WSG_OK);
    bytes_are(d, n,
              "HTTP/1.1 101 Switching Protocols\r\n"
              "Upgrade: websocket\r\n"
              "Connection: Upgrade\r\n"
              "Sec-WebSocket-Accept: " RFC_ACCEPT "\r\n"
              "Sec-WebSocket-Protocol: superchat\r\n"
              "Sec-WebSocket-Extensions: permessage-deflate; "
              "server_no_context_takeover\r\n"
              "Set-Cookie: a=b; HttpOnly\r\n"
              "X-Empty: \r\n"
              "\r\n");
    wsg_hs_server_free(hs);
}

Test(rfc6455_4_2_2_accept, subprotocol_must_be_offered)
{
    struct wsg_hs_server *hs =
        parsed(VALID_WITH("Sec-WebSocket-Protocol: chat, superchat\r\n"));
    const uint8_t *d = (const uint8_t *)"x";
    size_t n = 5;
    struct wsg_hs_accept_opts o = {.subprotocol = "Chat"};
    cr_assert_eq(wsg_hs_server_accept(hs, &o, &d, &n), WSG_ERR_INVALID_ARG);
    cr_assert_null(d);
    cr_assert_eq(n, 0);
    o.subprotocol = "chat, superchat";
    cr_assert_eq(wsg_hs_server_accept(hs, &o, &d, &n), WSG_ERR_INVALID_ARG);
    o.subprotocol = "";
    cr_assert_eq(wsg_hs_server_accept(hs, &o, &d, &n), WSG_ERR_INVALID_ARG);
    o.subprotocol = "chat";
    cr_assert_eq(wsg_hs_server_accept(hs, &o, &d, &n), WSG_OK);
    cr_assert_not_null(memmem(d, n, "\r\nSec-WebSocket-Protocol: chat\r\n", 32));
    wsg_hs_server_free(hs);

    hs = parsed(VALID);
    o.subprotocol = "chat";
    cr_assert_eq(wsg_hs_server_accept(hs, &o, &d, &n), WSG_ERR_INVALID_ARG,
                 "nothing was offered");
    wsg_hs_server_free(hs);
}

Test(rfc6455_4_2_2_accept, bad_extra_headers)
{
    struct wsg_hs_server *hs = parsed(VALID);
    const uint8_t *d;
    size_t n;
    struct wsg_header bad[] = {
        {"X-A", 3, "a\r\nInjected: 1", 15},
        {"X-A", 3, "a\nb", 3},
        {"X-A", 3, "a\0b", 3},
        {"X\r\nY", 4, "v", 1},
        {"X:Y", 3, "v", 1},
        {"", 0, "v", 1},
        {"Content-Length", 14, "0", 1},
        {"transfer-encoding", 17, "chunked", 7},
        {"Connection", 10, "close", 5},
        {"Upgrade", 7, "h2c", 3},
        {"Sec-WebSocket-Accept", 20, "x", 1},
        /* Review F7: a raw header must not bypass the offered-subprotocol
         * check, nor add an unnegotiated extension. */
        {"Sec-WebSocket-Protocol", 22, "not-offered", 11},
        {"sec-websocket-extensions", 24, "permessage-deflate", 18},
        {"Sec-WebSocket-Version", 21, "13", 2},
    };
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        struct wsg_hs_accept_opts o = {.headers = &bad[i], .header_count = 1};
        cr_assert_eq(wsg_hs_server_accept(hs, &o, &d, &n), WSG_ERR_INVALID_ARG,
                     "header %zu", i);
        cr_assert_eq(wsg_hs_server_refuse(hs, 403, NULL, &bad[i], 1, &d, &n),
                     WSG_ERR_INVALID_ARG, "header %zu", i);
    }
    struct wsg_hs_accept_opts o = {.extensions = "x\r\ny"};
    cr_assert_eq(wsg_hs_server_accept(hs, &o, &d, &n), WSG_ERR_INVALID_ARG);
    struct wsg_hs_accept_opts o2 = {.headers = NULL, .header_count = 1};
    cr_assert_eq(wsg_hs_server_accept(hs, &o2, &d, &n), WSG_ERR_INVALID_ARG);
    /* Still usable after a refused argument. */
    cr_assert_eq(wsg_hs_server_accept(hs, NULL, &d, &n), WSG_OK);
    wsg_hs_server_free(hs);
}

Test(rfc6455_4_2_2_accept, accept_needs_valid_request)
{
    struct wsg_hs_server *hs = NULL;
    const uint8_t *d;
    size_t n, c;
    cr_assert_eq(wsg_hs_server_new(NULL, NULL, &hs), WSG_OK);
    cr_assert_eq(wsg_hs_server_accept(hs, NULL, &d, &n), WSG_ERR_STATE);
    const char *bad = REQ_LINE H_HOST CRLF;
    cr_assert_eq(wsg_hs_server_feed(hs, (const uint8_t *)bad, strlen(bad), &c),
                 WSG_ERR_HTTP);
    cr_assert_eq(wsg_hs_server_accept(hs, NULL, &d, &n), WSG_ERR_STATE);
    cr_assert_eq(wsg_hs_server_accept(NULL, NULL, &d, &n), WSG_ERR_INVALID_ARG);
    cr_assert_eq(wsg_hs_server_accept(hs, NULL, NULL, &n), WSG_ERR_INVALID_ARG);
    wsg_hs_server_free(hs);
}

/* ---- refusals ------------------------------------------------------------ */

Test(rfc6455_4_2_2_accept, refuse_403)
{
    struct wsg_hs_server *hs = parsed(VALID);
    struct wsg_header sec[] = {{"X-Content-Type-Options", 22, "nosniff", 7}};
    const uint8_t *d;
    size_t n;
    cr_assert_eq(wsg_hs_server_refuse(hs, 403, "origin not allowed", sec, 1,
                                      &d, &n),
                 WSG_OK);
    bytes_are(d, n,
              "HTTP/1.1 403 Forbidden\r\n"
              "Content-Type: text/plain; charset=utf-8\r\n"
              "Content-Length: 19\r\n"
              "Connection: close\r\n"
              "X-Content-Type-Options: nosniff\r\n"
              "\r\n"
              "origin not allowed\n");
    /* After a refusal, no 101. */
    wsg_hs_server_free(hs);
}

Test(rfc6455_4_2_2_accept, refuse_426_names_version_and_upgrade)
{
    struct wsg_hs_server *hs = NULL;
    cr_assert_eq(wsg_hs_server_new(NULL, NULL, &hs), WSG_OK);
    const uint8_t *d;
    size_t n;
    cr_assert_eq(wsg_hs_server_refuse(hs, 426, NULL, NULL, 0, &d, &n), WSG_OK);
    bytes_are(d, n,
              "HTTP/1.1 426 Upgrade Required\r\n"
              "Content-Type: text/plain; charset=utf-8\r\n"
              "Content-Length: 17\r\n"
              "Connection: Upgrade, close\r\n"
              "Upgrade: websocket\r\n"
              "Sec-WebSocket-Version: 13\r\n"
              "\r\n"
              "Upgrade Required\n");
    wsg_hs_server_free(hs);
}

Test(rfc6455_4_2_2_accept, refuse_405_allows_get)
{
    struct wsg_hs_server *hs = NULL;
    cr_assert_eq(wsg_hs_server_new(NULL, NULL, &hs), WSG_OK);
    const char *req = "POST / HTTP/1.1\r\n" H_HOST CRLF;
    size_t c;
    cr_assert_eq(wsg_hs_server_feed(hs, (const uint8_t *)req, strlen(req), &c),
                 WSG_ERR_HTTP);
    cr_assert_eq(wsg_hs_server_status(hs), 405);
    const uint8_t *d;
    size_t n;
    cr_assert_eq(wsg_hs_server_refuse(hs, wsg_hs_server_status(hs),
                                      wsg_hs_server_reason(hs), NULL, 0, &d,
                                      &n),
                 WSG_OK);
    cr_assert(n > 0 && memcmp(d, "HTTP/1.1 405 Method Not Allowed\r\n", 33) == 0);
    cr_assert_not_null(memmem(d, n, "\r\nAllow: GET\r\n", 14));
    wsg_hs_server_free(hs);
}

Test(rfc6455_4_2_2_accept, refuse_from_parse_status)
{
    /* 431 straight from the parser, written as a refusal. */
    struct wsg_hs_limits lim = {.max_request_line = 8192,
                                .max_header_bytes = 10,
                                .max_headers = 100};
    struct wsg_hs_server *hs = NULL;
    cr_assert_eq(wsg_hs_server_new(&lim, NULL, &hs), WSG_OK);
    size_t c;
    cr_assert_eq(wsg_hs_server_feed(hs, (const uint8_t *)VALID, strlen(VALID),
                                    &c),
                 WSG_ERR_HTTP);
    const uint8_t *d;
    size_t n;
    cr_assert_eq(wsg_hs_server_refuse(hs, wsg_hs_server_status(hs),
                                      wsg_hs_server_reason(hs), NULL, 0, &d,
                                      &n),
                 WSG_OK);
    const char *want = "HTTP/1.1 431 Request Header Fields Too Large\r\n";
    cr_assert(n > strlen(want) && memcmp(d, want, strlen(want)) == 0);
    cr_assert_not_null(memmem(d, n, "\r\n\r\nrequest headers too large\n", 30));
    wsg_hs_server_free(hs);
}

Test(rfc6455_4_2_2_accept, refuse_argument_checks)
{
    struct wsg_hs_server *hs = NULL;
    cr_assert_eq(wsg_hs_server_new(NULL, NULL, &hs), WSG_OK);
    const uint8_t *d;
    size_t n;
    cr_assert_eq(wsg_hs_server_refuse(hs, 200, NULL, NULL, 0, &d, &n),
                 WSG_ERR_INVALID_ARG);
    cr_assert_eq(wsg_hs_server_refuse(hs, 600, NULL, NULL, 0, &d, &n),
                 WSG_ERR_INVALID_ARG);
    cr_assert_eq(wsg_hs_server_refuse(hs, 403, NULL, NULL, 1, &d, &n),
                 WSG_ERR_INVALID_ARG);
    cr_assert_eq(wsg_hs_server_refuse(hs, 403, NULL, NULL, 0, NULL, &n),
                 WSG_ERR_INVALID_ARG);
    char *huge = malloc(70000);
    memset(huge, 'a', 69999);
    huge[69999] = '\0';
    cr_assert_eq(wsg_hs_server_refuse(hs, 403, huge, NULL, 0, &d, &n),
                 WSG_ERR_INVALID_ARG, "bounded output");
    free(huge);
    /* A redirect, for H1. */
    struct wsg_header loc[] = {{"Location", 8, "https://example.com/", 20}};
    cr_assert_eq(wsg_hs_server_refuse(hs, 308, NULL, loc, 1, &d, &n), WSG_OK);
    cr_assert_not_null(memmem(d, n, "\r\nLocation: https://example.com/\r\n",
                              34));
    wsg_hs_server_free(hs);
}

/* ---- status texts --------------------------------------------------------- */

Test(http_status, texts)
{
    cr_assert_str_eq(wsg_http_status_text(101), "Switching Protocols");
    cr_assert_str_eq(wsg_http_status_text(400), "Bad Request");
    cr_assert_str_eq(wsg_http_status_text(401), "Unauthorized");
    cr_assert_str_eq(wsg_http_status_text(403), "Forbidden");
    cr_assert_str_eq(wsg_http_status_text(405), "Method Not Allowed");
    cr_assert_str_eq(wsg_http_status_text(414), "URI Too Long");
    cr_assert_str_eq(wsg_http_status_text(426), "Upgrade Required");
    cr_assert_str_eq(wsg_http_status_text(429), "Too Many Requests");
    cr_assert_str_eq(wsg_http_status_text(431),
                     "Request Header Fields Too Large");
    cr_assert_str_eq(wsg_http_status_text(502), "Bad Gateway");
    cr_assert_str_eq(wsg_http_status_text(503), "Service Unavailable");
    cr_assert_str_eq(wsg_http_status_text(999), "Unknown");
    cr_assert_str_eq(wsg_http_status_text(-1), "Unknown");
}

/* ---- RFC 9110 section 5.6.1 lists ---------------------------------------- */

static void list_is(const char *list, const char *const *want, size_t n)
{
    struct wsg_span l = {list, strlen(list)};
    struct wsg_span t;
    size_t pos = 0, i = 0;
    while (wsg_http_list_next(l, &pos, &t)) {
        cr_assert_lt(i, n, "extra element \"%.*s\"", (int)t.len, t.ptr);
        cr_assert_eq(t.len, strlen(want[i]), "element %zu: \"%.*s\"", i,
                     (int)t.len, t.ptr);
        cr_assert(memcmp(t.ptr, want[i], t.len) == 0);
        i++;
    }
    cr_assert_eq(i, n, "got %zu elements of \"%s\"", i, list);
    cr_assert_eq(pos, l.len);
    cr_assert_not(wsg_http_list_next(l, &pos, &t), "stays at the end");
}

Test(rfc9110_lists, elements_and_ows)
{
    const char *a[] = {"a", "b", "c"};
    list_is("a,b,c", a, 3);
    list_is("a, b ,c", a, 3);
    list_is(" \ta ,\tb\t, c \t", a, 3);
    list_is("a,,b,, ,c,", a, 3);
    list_is(",,a,b,c", a, 3);
    const char *one[] = {"keep alive x"};
    list_is("keep alive x", one, 1);
    list_is("", NULL, 0);
    list_is(" , ,\t, ", NULL, 0);
}

Test(rfc9110_lists, quoted_strings_keep_commas)
{
    const char *q[] = {"ext; a=\"x, y\"", "b", "c=\"\\\"q,\""};
    list_is("ext; a=\"x, y\", b, c=\"\\\"q,\"", q, 3);
    const char *open[] = {"a=\"never, closed"};
    list_is("a=\"never, closed", open, 1);
}

Test(rfc9110_lists, has_is_case_insensitive_and_exact)
{
    struct wsg_span l = {"keep-alive, Upgrade", 19};
    cr_assert(wsg_http_list_has(l, "upgrade"));
    cr_assert(wsg_http_list_has(l, "KEEP-ALIVE"));
    cr_assert_not(wsg_http_list_has(l, "upgrad"));
    cr_assert_not(wsg_http_list_has(l, "keep"));
    cr_assert_not(wsg_http_list_has(l, ""));
    cr_assert_not(wsg_http_list_has(l, NULL));
    struct wsg_span none = {NULL, 0};
    cr_assert_not(wsg_http_list_has(none, "upgrade"));
    size_t pos = 0;
    struct wsg_span t;
    cr_assert_not(wsg_http_list_next(none, &pos, &t));
    cr_assert_not(wsg_http_list_next(l, NULL, &t));
    cr_assert_not(wsg_http_list_next(l, &pos, NULL));
}

Test(rfc9110_lists, no_read_past_span)
{
    /* The span is not NUL-terminated: only `len` bytes are the list. */
    const char buf[] = "a, upgrade";
    struct wsg_span l = {buf, 3}; /* "a, " */
    cr_assert_not(wsg_http_list_has(l, "upgrade"));
    cr_assert(wsg_http_list_has(l, "a"));
}
