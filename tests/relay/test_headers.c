/* wsg-relay's HTTP proxy rules (examples/streamlit-relay/headers.c): every
 * rule of the design's "HTTP proxy rules" has a case that fails without
 * it: request-target checks (T15), hop-by-hop and Connection-named
 * headers, forged forwarding/identity headers, X-Forwarded-Proto (H1),
 * response filtering (Server), security headers (H10), the heads the relay
 * writes, and the strict head scanner (T5, T7). */
#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>

#include "headers.h"

#define H(n, v) {n, sizeof(n) - 1, v, sizeof(v) - 1}
#define COUNT(a) (sizeof(a) / sizeof((a)[0]))

static bool has(const struct wsg_header *h, size_t n, const char *name)
{
    for (size_t i = 0; i < n; i++)
        if (relay_name_is(h[i].name, h[i].name_len, name))
            return true;
    return false;
}

static char *text(struct relay_buf *b)
{
    char *s = malloc(relay_buf_pending(b) + 1);
    cr_assert(s);
    memcpy(s, relay_buf_data(b), relay_buf_pending(b));
    s[relay_buf_pending(b)] = '\0';
    return s;
}

/* ---- request-target ---------------------------------------------------------- */

Test(path, accepted)
{
    static const char *const ok[] = {
        "/", "/a", "/a/b", "/x/", "/static/js/main.js", "/a...b", "/...",
        "/.well-known/x", "/a.", "/%41b", "/a%20b", "/media/x?p=../..%2f%5c",
        "/_stcore/message?hash=abc", "/a?", "/a/b.c/d", "/..a", "/a..",
    };
    for (size_t i = 0; i < COUNT(ok); i++) {
        const char *why = NULL;
        cr_expect_eq(relay_path_check(ok[i], strlen(ok[i]), &why), 0,
                     "%s refused: %s", ok[i], why ? why : "");
    }
}

Test(path, refused)
{
    static const char *const bad[] = {
        "", "*", "http://example.com/", "a/b",
        /* dot segments, plain and encoded */
        "/a/../b", "/..", "/a/..", "/../a", "/.", "/a/./b", "/a/.",
        "/%2e%2e/x", "/%2E%2e", "/.%2e/a", "/%2e./a", "/a/%2e", "/%2e%2E",
        /* encoded slash, backslash, NUL */
        "/a%2fb", "/a%2Fb", "/a%5cb", "/a%5Cb", "/a%00", "/%2f%2fevil",
        /* backslash */
        "/a\\b", "/\\evil.com", "/..\\x",
        /* broken percent-encoding */
        "/a%zz", "/a%2", "/a%", "/a%g0",
        /* empty segments (open redirect via "//host") */
        "//evil.com", "/a//b", "//",
        /* characters that never belong in a path */
        "/a b", "/a\tb", "/a#frag", "/a\x01", "/a\x7f",
    };
    for (size_t i = 0; i < COUNT(bad); i++) {
        const char *why = NULL;
        cr_expect_eq(relay_path_check(bad[i], strlen(bad[i]), &why), 400,
                     "accepted: '%s'", bad[i]);
        cr_expect(bad[i][0] == '\0' || why != NULL);
    }
}

Test(path, nul_inside_length)
{
    const char t[] = {'/', 'a', '\0', 'b'};
    const char *why = NULL;
    cr_expect_eq(relay_path_check(t, sizeof t, &why), 400);
}

/* ---- names and lists --------------------------------------------------------- */

Test(lists, tokens)
{
    cr_expect(relay_list_has("close", 5, "close", 5));
    cr_expect(relay_list_has(" keep-alive ,\tUpgrade ", 22, "upgrade", 7));
    cr_expect(relay_list_has("a,,b", 4, "b", 1));
    cr_expect_not(relay_list_has("closed", 6, "close", 5));
    cr_expect_not(relay_list_has("x-close", 7, "close", 5));
    cr_expect_not(relay_list_has("", 0, "close", 5));
}

Test(lists, count)
{
    struct wsg_header h[] = {H("Host", "a"), H("host", "b"), H("X", "c")};
    const struct wsg_header *first = NULL;
    cr_expect_eq(relay_hdr_count(h, 3, "HOST", &first), 2);
    cr_expect_eq(first, &h[0]);
    cr_expect_eq(relay_hdr_count(h, 3, "Y", &first), 0);
    cr_expect_null(first);
}

/* ---- request headers ---------------------------------------------------------- */

Test(request, hop_by_hop_removed)
{
    static const char *const hop[] = {
        "Connection", "Keep-Alive", "Proxy-Connection", "TE", "Trailer",
        "Transfer-Encoding", "Upgrade", "Proxy-Authorization",
        "Proxy-Authenticate", "connection", "KEEP-ALIVE", "te"};
    for (size_t i = 0; i < COUNT(hop); i++) {
        struct wsg_header in[2] = {
            {hop[i], strlen(hop[i]), "x", 1}, H("Accept", "*/*")};
        struct wsg_header out[2];
        size_t n = relay_req_filter(in, 2, out);
        cr_expect_eq(n, 1, "%s kept", hop[i]);
        cr_expect(relay_name_is(out[0].name, out[0].name_len, "Accept"));
        cr_expect(relay_hdr_hop(hop[i], strlen(hop[i])));
    }
    cr_expect_not(relay_hdr_hop("Cookie", 6));
    cr_expect_not(relay_hdr_hop("Host", 4));
    cr_expect_not(relay_hdr_hop("Transfer", 8));
}

Test(request, connection_named_removed)
{
    struct wsg_header in[] = {
        H("Connection", "keep-alive, X-Secret"), H("Connection", "X-Other"),
        H("X-Secret", "1"), H("x-other", "2"), H("X-Kept", "3"),
        H("Cookie", "a=b"),
    };
    struct wsg_header out[COUNT(in)];
    size_t n = relay_req_filter(in, COUNT(in), out);
    cr_assert_eq(n, 2);
    cr_expect(relay_name_is(out[0].name, out[0].name_len, "X-Kept"));
    cr_expect(relay_name_is(out[1].name, out[1].name_len, "Cookie"));
    cr_expect(relay_hdr_conn_named(in, COUNT(in), "x-secret", 8));
    cr_expect_not(relay_hdr_conn_named(in, COUNT(in), "X-Kept", 6));
}

Test(request, forged_removed)
{
    static const char *const forged[] = {
        "X-Forwarded-For", "X-Forwarded-Proto", "X-Forwarded-Host",
        "X-Forwarded-Port", "Forwarded", "X-Real-IP", "X-Client-IP",
        "X-Streamlit-User", "x-streamlit-user", "X-ARR-SSL", "FORWARDED"};
    for (size_t i = 0; i < COUNT(forged); i++) {
        struct wsg_header in[1] = {{forged[i], strlen(forged[i]), "1.2.3.4", 7}};
        struct wsg_header out[1];
        cr_expect_eq(relay_req_filter(in, 1, out), 0, "%s kept", forged[i]);
        cr_expect(relay_hdr_client_forged(forged[i], strlen(forged[i])));
    }
    cr_expect_not(relay_hdr_client_forged("X-Forwarded", 11));
    cr_expect_not(relay_hdr_client_forged("X-Xsrftoken", 11));
}

Test(request, expect_removed)
{
    struct wsg_header in[] = {H("Expect", "100-continue"), H("Range", "bytes=0-1")};
    struct wsg_header out[2];
    cr_expect_eq(relay_req_filter(in, 2, out), 1);
    cr_expect(relay_name_is(out[0].name, out[0].name_len, "Range"));
}

Test(request, passed_through_in_order)
{
    struct wsg_header in[] = {
        H("Host", "app.example.com"), H("Cookie", "_streamlit_xsrf=2|a|b|1"),
        H("X-Xsrftoken", "2|a|b|1"), H("Range", "bytes=0-99"),
        H("Authorization", "Bearer t"), H("Content-Length", "5"),
        H("User-Agent", "ua"), H("Cookie", "ARRAffinity=x"),
        H("Content-Type", "multipart/form-data; boundary=x"),
        H("If-None-Match", "\"e\""), H("Accept-Encoding", "gzip"),
    };
    struct wsg_header out[COUNT(in)];
    size_t n = relay_req_filter(in, COUNT(in), out);
    cr_assert_eq(n, COUNT(in));
    for (size_t i = 0; i < n; i++) {
        cr_expect_eq(out[i].name, in[i].name);
        cr_expect_eq(out[i].value, in[i].value);
        cr_expect_eq(out[i].value_len, in[i].value_len);
    }
}

/* ---- X-Forwarded-Proto (H1) ----------------------------------------------------- */

Test(proto, untrusted_peer_is_http)
{
    struct wsg_header h[] = {H("X-Forwarded-Proto", "https"), H("X-ARR-SSL", "1")};
    cr_expect_str_eq(relay_forwarded_proto(false, h, 2), "http");
    cr_expect_str_eq(relay_forwarded_proto(false, NULL, 0), "http");
}

Test(proto, trusted_peer)
{
    struct wsg_header a[] = {H("X-Forwarded-Proto", "https")};
    struct wsg_header b[] = {H("x-forwarded-proto", " HTTPS ")};
    struct wsg_header c[] = {H("X-Forwarded-Proto", "http")};
    struct wsg_header d[] = {H("X-Forwarded-Proto", "http, https")};
    struct wsg_header e[] = {H("X-Forwarded-Proto", "https, http")};
    struct wsg_header f[] = {H("X-ARR-SSL", "2048|256|CN=...")};
    struct wsg_header g[] = {H("X-Forwarded-Proto", "https"),
                             H("X-Forwarded-Proto", "http")};
    struct wsg_header i[] = {H("X-Forwarded-Proto", "httpsx")};
    cr_expect_str_eq(relay_forwarded_proto(true, a, 1), "https");
    cr_expect_str_eq(relay_forwarded_proto(true, b, 1), "https");
    cr_expect_str_eq(relay_forwarded_proto(true, c, 1), "http");
    cr_expect_str_eq(relay_forwarded_proto(true, d, 1), "https");
    cr_expect_str_eq(relay_forwarded_proto(true, e, 1), "http");
    cr_expect_str_eq(relay_forwarded_proto(true, f, 1), "https");
    cr_expect_str_eq(relay_forwarded_proto(true, g, 2), "http");
    cr_expect_str_eq(relay_forwarded_proto(true, i, 1), "http");
    cr_expect_str_eq(relay_forwarded_proto(true, NULL, 0), "http");
}

/* ---- response headers ---------------------------------------------------------- */

Test(response, filtered)
{
    struct wsg_header in[] = {
        H("Server", "TornadoServer/6.2"), H("Connection", "close, X-Hop"),
        H("X-Hop", "1"), H("Transfer-Encoding", "chunked"),
        H("Keep-Alive", "timeout=5"), H("Set-Cookie", "_streamlit_xsrf=1"),
        H("Set-Cookie", "ARRAffinity=abc; Path=/"), H("Content-Encoding", "gzip"),
        H("Content-Range", "bytes 0-1/10"), H("ETag", "\"x\""),
        H("Content-Length", "2"), H("server", "x"), H("Upgrade", "h2c"),
    };
    struct wsg_header out[COUNT(in)];
    size_t n = relay_resp_filter(in, COUNT(in), out);
    cr_assert_eq(n, 6);
    cr_expect_not(has(out, n, "Server"));
    cr_expect_not(has(out, n, "X-Hop"));
    cr_expect_not(has(out, n, "Transfer-Encoding"));
    cr_expect_not(has(out, n, "Connection"));
    cr_expect_eq(relay_hdr_count(out, n, "Set-Cookie", NULL), 2);
    cr_expect(has(out, n, "Content-Encoding"));
    cr_expect(has(out, n, "Content-Range"));
    cr_expect(has(out, n, "ETag"));
    cr_expect(has(out, n, "Content-Length"));
}

/* ---- rendering -------------------------------------------------------------------- */

static const struct wsg_header sec[] = {
    H("X-Frame-Options", "DENY"), H("X-Content-Type-Options", "nosniff"),
    H("Content-Security-Policy", "default-src 'self'"),
};

Test(render, request_head)
{
    struct relay_buf b = {0};
    struct wsg_header h[] = {H("Host", "h:1"), H("Cookie", "c=1")};
    struct relay_fwd fwd = {.client = "192.0.2.7", .proto = "https",
                            .host = {"h:1", 3}, .chunked = true};
    struct wsg_span t = {"/a?b=1", 6};
    cr_assert(relay_req_render(&b, "PUT", t, h, 2, &fwd));
    char *s = text(&b);
    cr_expect_str_eq(s, "PUT /a?b=1 HTTP/1.1\r\nHost: h:1\r\nCookie: c=1\r\n"
                        "X-Forwarded-For: 192.0.2.7\r\n"
                        "X-Forwarded-Proto: https\r\n"
                        "X-Forwarded-Host: h:1\r\n"
                        "Transfer-Encoding: chunked\r\n\r\n");
    free(s);
    relay_buf_free(&b);
}

Test(render, response_adds_missing_security_headers)
{
    struct relay_buf b = {0};
    struct wsg_header h[] = {H("Content-Type", "text/html"),
                             H("x-frame-options", "SAMEORIGIN")};
    struct wsg_span reason = {"OK", 2};
    cr_assert(relay_resp_render(&b, 200, reason, h, 2, sec, COUNT(sec), false,
                                false));
    char *s = text(&b);
    cr_expect(strncmp(s, "HTTP/1.1 200 OK\r\n", 17) == 0, "%s", s);
    cr_expect(strstr(s, "x-frame-options: SAMEORIGIN\r\n"));
    cr_expect_null(strstr(s, "DENY"), "the upstream's own value must win");
    cr_expect(strstr(s, "X-Content-Type-Options: nosniff\r\n"));
    cr_expect(strstr(s, "Content-Security-Policy: default-src 'self'\r\n"));
    cr_expect_null(strstr(s, "Transfer-Encoding"));
    cr_expect_null(strstr(s, "Connection"));
    cr_expect(strcmp(s + strlen(s) - 4, "\r\n\r\n") == 0);
    free(s);
    relay_buf_free(&b);
}

Test(render, response_framing_and_reason)
{
    struct relay_buf b = {0};
    struct wsg_span bad = {"Evil\x01", 5};
    cr_assert(relay_resp_render(&b, 502, bad, NULL, 0, NULL, 0, true, true));
    char *s = text(&b);
    cr_expect_str_eq(s, "HTTP/1.1 502 Bad Gateway\r\n"
                        "Transfer-Encoding: chunked\r\n"
                        "Connection: close\r\n\r\n");
    free(s);
    relay_buf_free(&b);
}

Test(render, error_response)
{
    struct relay_buf b = {0};
    cr_assert(relay_error_render(&b, 413, "too large\n", sec, COUNT(sec), NULL,
                                 0, true, false));
    char *s = text(&b);
    cr_expect(strncmp(s, "HTTP/1.1 413 Content Too Large\r\n", 32) == 0);
    cr_expect(strstr(s, "Content-Length: 10\r\n"));
    cr_expect(strstr(s, "X-Frame-Options: DENY\r\n"));
    cr_expect(strstr(s, "Connection: close\r\n"));
    cr_expect(strcmp(s + strlen(s) - 14, "\r\n\r\ntoo large\n") == 0);
    free(s);
    relay_buf_free(&b);

    cr_assert(relay_error_render(&b, 404, NULL, NULL, 0, NULL, 0, false, true));
    s = text(&b);
    cr_expect(strstr(s, "Content-Length: 10\r\n"), "%s", s); /* "Not Found\n" */
    cr_expect_null(strstr(s, "Connection"));
    cr_expect(strcmp(s + strlen(s) - 4, "\r\n\r\n") == 0, "HEAD: no body");
    free(s);
    relay_buf_free(&b);
}

/* ---- head scanner ------------------------------------------------------------------ */

static int scan_all(const char *head, size_t step, size_t *pos, int *status)
{
    struct relay_scan s = {.max_line = 64, .max_head = 256};
    const char *why = NULL;
    size_t n = strlen(head);
    for (size_t have = step < n ? step : n;; have += step) {
        if (have > n)
            have = n;
        int rc = relay_scan_head(&s, (const uint8_t *)head, have, status, &why);
        if (rc != RELAY_SCAN_MORE || have == n) {
            *pos = s.pos;
            return rc;
        }
    }
}

Test(scan, complete_in_any_pieces)
{
    const char *h = "GET / HTTP/1.1\r\nHost: a\r\nX: y\r\n\r\nBODY";
    for (size_t step = 1; step < 40; step++) {
        size_t pos = 0;
        int st = -1;
        cr_expect_eq(scan_all(h, step, &pos, &st), RELAY_SCAN_END, "step %zu", step);
        cr_expect_eq(pos, strlen(h) - 4);
    }
    size_t pos = 0;
    int st = -1;
    cr_expect_eq(scan_all("GET / HTTP/1.1\r\nHost: a\r\n", 1, &pos, &st),
                 RELAY_SCAN_MORE);
}

Test(scan, strict)
{
    static const char *const bad[] = {
        "GET / HTTP/1.1\nHost: a\r\n\r\n",        /* bare LF */
        "GET / HTTP/1.1\r\nHost: a\n\n",          /* bare LF */
        "GET / HTTP/1.1\r\nHost: a\rX: b\r\n\r\n",/* bare CR */
        "GET / HTTP/1.1\r\nHost: a\r\n b\r\n\r\n",/* obs-fold */
        "GET / HTTP/1.1\r\nHost: a\r\n\tb\r\n\r\n",
        "\r\nGET / HTTP/1.1\r\nHost: a\r\n\r\n",  /* empty line first */
    };
    for (size_t i = 0; i < COUNT(bad); i++) {
        for (size_t step = 1; step <= 64; step *= 4) {
            size_t pos = 0;
            int st = 0;
            cr_expect_eq(scan_all(bad[i], step, &pos, &st), RELAY_SCAN_BAD,
                         "case %zu step %zu", i, step);
            cr_expect_eq(st, 400);
        }
    }
}

Test(scan, limits)
{
    char line[200];
    memset(line, 'a', sizeof line);
    memcpy(line, "GET /", 5);
    line[sizeof line - 1] = '\0';
    size_t pos = 0;
    int st = 0;
    cr_expect_eq(scan_all(line, 7, &pos, &st), RELAY_SCAN_BAD);
    cr_expect_eq(st, 414);

    char head[400] = "GET / HTTP/1.1\r\n";
    while (strlen(head) < 300)
        strcat(head, "X-Pad: aaaaaaaaaa\r\n");
    cr_expect_eq(scan_all(head, 13, &pos, &st), RELAY_SCAN_BAD);
    cr_expect_eq(st, 431);
}

/* ---- buffer ------------------------------------------------------------------------ */

Test(buf, put_consume_compact)
{
    struct relay_buf b = {0};
    char chunk[1000];
    for (size_t i = 0; i < sizeof chunk; i++)
        chunk[i] = (char)i;
    for (int r = 0; r < 100; r++) {
        cr_assert(relay_buf_put(&b, chunk, sizeof chunk));
        cr_assert_eq(memcmp(relay_buf_data(&b), chunk, 10), 0);
        relay_buf_consume(&b, sizeof chunk);
        cr_assert_eq(relay_buf_pending(&b), 0);
    }
    cr_expect_leq(b.cap, 4096, "consumed space is reused");
    cr_assert(relay_buf_printf(&b, "%zx\r\n", (size_t)255));
    cr_expect_eq(relay_buf_pending(&b), 4);
    cr_expect_eq(memcmp(relay_buf_data(&b), "ff\r\n", 4), 0);
    relay_buf_consume(&b, 100);
    cr_expect_eq(relay_buf_pending(&b), 0);
    relay_buf_shrink(&b, 0);
    cr_expect_null(b.p);
    relay_buf_free(&b);
}
