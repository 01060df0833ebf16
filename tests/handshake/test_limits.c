/* Limits on the HTTP head (shared/THREATS.md T5): request line (414),
 * header bytes and header count (431), bounded memory, any split. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <criterion/criterion.h>

#include "hs_req.h"
#include "hs_util.h"

/* Names plus values of VALID's headers, as the limit counts them. */
static size_t valid_header_bytes(void)
{
    return strlen("Host") + strlen("server.example.com") + strlen("Upgrade") +
           strlen("websocket") + strlen("Connection") + strlen("Upgrade") +
           strlen("Sec-WebSocket-Key") + strlen(RFC_KEY) +
           strlen("Sec-WebSocket-Version") + strlen("13");
}

static char *repeat(char c, size_t n)
{
    char *s = malloc(n + 1);
    cr_assert_not_null(s);
    memset(s, c, n);
    s[n] = '\0';
    return s;
}

static void expect(const char *req, const struct wsg_hs_limits *lim, int rc,
                   int status)
{
    struct feed_out r;
    struct wsg_hs_server *hs = server_check(req, strlen(req), lim, &r);
    cr_assert_eq(r.rc, rc, "rc %d, want %d (%s)", r.rc, rc,
                 wsg_hs_server_reason(hs));
    cr_assert_eq(wsg_hs_server_status(hs), status, "status %d, want %d (%s)",
                 wsg_hs_server_status(hs), status, wsg_hs_server_reason(hs));
    wsg_hs_server_free(hs);
}

Test(limits, defaults)
{
    struct wsg_hs_limits lim;
    memset(&lim, 0xff, sizeof lim);
    wsg_hs_limits_init_default(&lim);
    cr_assert_eq(lim.max_request_line, 8192);
    cr_assert_eq(lim.max_header_bytes, 16384);
    cr_assert_eq(lim.max_headers, 100);
    wsg_hs_limits_init_default(NULL);
}

Test(limits, invalid_limits_refused)
{
    struct wsg_hs_server *hs = (struct wsg_hs_server *)1;
    struct wsg_hs_limits lim;
    wsg_hs_limits_init_default(&lim);
    lim.max_request_line = 0;
    cr_assert_eq(wsg_hs_server_new(&lim, NULL, &hs), WSG_ERR_INVALID_ARG);
    cr_assert_null(hs);
    wsg_hs_limits_init_default(&lim);
    lim.max_header_bytes = 0;
    cr_assert_eq(wsg_hs_server_new(&lim, NULL, &hs), WSG_ERR_INVALID_ARG);
    wsg_hs_limits_init_default(&lim);
    lim.max_headers = 0;
    cr_assert_eq(wsg_hs_server_new(&lim, NULL, &hs), WSG_ERR_INVALID_ARG);
    wsg_hs_limits_init_default(&lim);
    lim.max_header_bytes = SIZE_MAX;
    cr_assert_eq(wsg_hs_server_new(&lim, NULL, &hs), WSG_ERR_INVALID_ARG);
    cr_assert_eq(wsg_hs_server_new(NULL, NULL, NULL), WSG_ERR_INVALID_ARG);
    struct wsg_allocator half = {0};
    cr_assert_eq(wsg_hs_server_new(NULL, &half, &hs), WSG_ERR_INVALID_ARG);
}

/* method + target + version ("GET", target, "1.1") <= 8192, else 414. */
Test(limits, request_line_boundary_414)
{
    size_t room = 8192 - strlen("GET") - strlen("1.1");
    char *path = repeat('a', room - 1);
    char *req = fmt("GET /%s HTTP/1.1\r\n" H_HOST H_UPG H_CONN H_KEY H_VER CRLF,
                    path);
    expect(req, NULL, 1, 0);
    free(req);
    free(path);
    path = repeat('a', room);
    req = fmt("GET /%s HTTP/1.1\r\n" H_HOST H_UPG H_CONN H_KEY H_VER CRLF, path);
    expect(req, NULL, WSG_ERR_HTTP, 414);
    free(req);
    free(path);
}

Test(limits, header_bytes_boundary_431)
{
    size_t room = 16384 - valid_header_bytes() - strlen("X-Fill");
    char *v = repeat('v', room);
    char *req = fmt(REQ_LINE H_HOST H_UPG H_CONN H_KEY H_VER "X-Fill: %s\r\n"
                    CRLF,
                    v);
    expect(req, NULL, 1, 0);
    free(req);
    free(v);
    v = repeat('v', room + 1);
    req = fmt(REQ_LINE H_HOST H_UPG H_CONN H_KEY H_VER "X-Fill: %s\r\n" CRLF, v);
    expect(req, NULL, WSG_ERR_HTTP, 431);
    free(req);
    free(v);
}

static char *with_n_headers(size_t extra)
{
    size_t cap = extra * 16 + 512;
    char *s = malloc(cap);
    cr_assert_not_null(s);
    strcpy(s, REQ_LINE H_HOST H_UPG H_CONN H_KEY H_VER);
    for (size_t i = 0; i < extra; i++) {
        size_t l = strlen(s);
        snprintf(s + l, cap - l, "X-%zu: v\r\n", i);
    }
    strcat(s, CRLF);
    return s;
}

Test(limits, header_count_boundary_431)
{
    char *req = with_n_headers(100 - 5);
    expect(req, NULL, 1, 0);
    free(req);
    req = with_n_headers(100 - 5 + 1);
    expect(req, NULL, WSG_ERR_HTTP, 431);
    free(req);
}

Test(limits, custom_small_limits)
{
    struct wsg_hs_limits lim = {.max_request_line = 16,
                                .max_header_bytes = 200,
                                .max_headers = 6};
    struct feed_out r;
    struct wsg_hs_server *hs = server_check(VALID, strlen(VALID), &lim, &r);
    cr_assert_eq(r.rc, WSG_ERR_HTTP, "line is 3+12+3 > 16");
    cr_assert_eq(wsg_hs_server_status(hs), 414);
    cr_assert_str_eq(wsg_hs_server_reason(hs), "request line too long");
    wsg_hs_server_free(hs);

    lim.max_request_line = 18;
    hs = server_check(VALID, strlen(VALID), &lim, &r);
    cr_assert_eq(r.rc, 1);
    wsg_hs_server_free(hs);

    const char *seven = VALID_WITH("A: 1\r\nB: 2\r\n");
    hs = server_check(seven, strlen(seven), &lim, &r);
    cr_assert_eq(r.rc, WSG_ERR_HTTP);
    cr_assert_eq(wsg_hs_server_status(hs), 431);
    cr_assert_str_eq(wsg_hs_server_reason(hs), "too many request headers");
    wsg_hs_server_free(hs);

    lim.max_header_bytes = valid_header_bytes();
    hs = server_check(VALID, strlen(VALID), &lim, &r);
    cr_assert_eq(r.rc, 1);
    wsg_hs_server_free(hs);
    lim.max_header_bytes--;
    hs = server_check(VALID, strlen(VALID), &lim, &r);
    cr_assert_eq(r.rc, WSG_ERR_HTTP);
    cr_assert_eq(wsg_hs_server_status(hs), 431);
    wsg_hs_server_free(hs);
}

/* ---- T5: header abuse ---------------------------------------------------- */

/* Feeds `chunk` over and over (up to `total` bytes) after `prefix`, with a
 * counting allocator; the server must refuse with `status` and its memory
 * stay under `bound`. */
static void endless(const char *prefix, const char *chunk, size_t total,
                    int status, size_t bound)
{
    struct test_alloc ta;
    test_alloc_init(&ta, 0, true);
    struct wsg_hs_server *hs = NULL;
    cr_assert_eq(wsg_hs_server_new(NULL, &ta.a, &hs), WSG_OK);
    size_t c;
    int rc = wsg_hs_server_feed(hs, (const uint8_t *)prefix, strlen(prefix),
                                &c);
    size_t fed = 0, cl = strlen(chunk);
    while (rc == 0 && fed < total) {
        rc = wsg_hs_server_feed(hs, (const uint8_t *)chunk, cl, &c);
        fed += cl;
    }
    cr_assert_eq(rc, WSG_ERR_HTTP, "refused after %zu bytes", fed);
    cr_assert_eq(wsg_hs_server_status(hs), status, "%s",
                 wsg_hs_server_reason(hs));
    cr_assert_lt(ta.peak, bound, "peak %zu bytes", ta.peak);
    wsg_hs_server_free(hs);
    cr_assert_eq(ta.live, 0);
}

Test(threats_T5, endless_headers_431_bounded_memory)
{
    endless(REQ_LINE, "X-Flood: 1\r\n", (size_t)1 << 20, 431, 64 * 1024);
}

Test(threats_T5, endless_header_value_431_bounded_memory)
{
    char *a = repeat('a', 4096);
    endless(REQ_LINE "X-Long: ", a, (size_t)1 << 22, 431, 64 * 1024);
    free(a);
}

Test(threats_T5, endless_header_name_431)
{
    char *a = repeat('n', 1000);
    endless(REQ_LINE, a, (size_t)1 << 22, 431, 64 * 1024);
    free(a);
}

Test(threats_T5, endless_request_line_414_bounded_memory)
{
    char *a = repeat('a', 1000);
    endless("GET /", a, (size_t)1 << 22, 414, 32 * 1024);
    free(a);
}

Test(threats_T5, endless_whitespace_is_cut_off)
{
    /* Leading whitespace of a value is not stored, but raw head bytes are
     * capped too, so a stream of spaces cannot go on for ever. */
    char *sp = repeat(' ', 1000);
    endless(REQ_LINE "X:", sp, (size_t)1 << 22, 431, 16 * 1024);
    free(sp);
}

Test(threats_T5, empty_values_count_as_headers)
{
    endless(REQ_LINE, "X:\r\n", (size_t)1 << 20, 431, 16 * 1024);
}

/* Every split of the head into two reads gives the same answer, and so do
 * random read sizes. */
Test(threats_T5, split_anywhere)
{
    static const char req[] =
        VALID_WITH("Sec-WebSocket-Protocol: chat, superchat\r\n"
                   "Sec-WebSocket-Extensions: permessage-deflate; "
                   "client_max_window_bits\r\n"
                   "Origin: https://example.com\r\n") "\x81\x80\x00\x00\x00\x00";
    size_t head = sizeof req - 1 - 6;
    for (size_t cut = 0; cut <= sizeof req - 1; cut++) {
        struct wsg_hs_server *hs = NULL;
        cr_assert_eq(wsg_hs_server_new(NULL, NULL, &hs), WSG_OK);
        size_t c1 = 0, c2 = 0;
        int rc = wsg_hs_server_feed(hs, (const uint8_t *)req, cut, &c1);
        if (rc == 0) {
            cr_assert_eq(c1, cut);
            rc = wsg_hs_server_feed(hs, (const uint8_t *)req + cut,
                                    sizeof req - 1 - cut, &c2);
        }
        cr_assert_eq(rc, 1, "cut %zu", cut);
        cr_assert_eq(c1 + c2, head, "cut %zu", cut);
        cr_assert_eq(wsg_hs_server_request(hs)->protocols.len,
                     strlen("chat, superchat"));
        wsg_hs_server_free(hs);
    }
    uint32_t seed = 7;
    for (int round = 0; round < 200; round++) {
        struct wsg_hs_server *hs = NULL;
        cr_assert_eq(wsg_hs_server_new(NULL, NULL, &hs), WSG_OK);
        size_t off = 0, total = 0, c = 0;
        int rc = 0;
        while (rc == 0 && off < sizeof req - 1) {
            uint8_t r;
            rand_counter(&seed, &r, 1);
            size_t n = (size_t)(r % 17) + 1;
            if (n > sizeof req - 1 - off)
                n = sizeof req - 1 - off;
            rc = wsg_hs_server_feed(hs, (const uint8_t *)req + off, n, &c);
            total += c;
            off += n;
        }
        cr_assert_eq(rc, 1);
        cr_assert_eq(total, head);
        wsg_hs_server_free(hs);
    }
}
