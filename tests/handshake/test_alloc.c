/* A failing allocator walked over every allocation site: the N-th
 * allocation fails, for N = 1, 2, ... until a run needs no failure. Every
 * run must end in WSG_ERR_NOMEM or success, never crash or leak. */
#include <stdlib.h>
#include <string.h>

#include <criterion/criterion.h>

#include "hs_req.h"
#include "hs_util.h"

/* Many headers and joined values, so the buffer and index grow. */
static char *big_request(void)
{
    char *extra = fmt("%s", "");
    for (int i = 0; i < 60; i++) {
        char *n = fmt("%sX-Header-%d: value-%d-%s\r\n", extra, i, i,
                      "padding-padding-padding-padding-padding");
        free(extra);
        extra = n;
    }
    char *req = fmt(REQ_LINE H_HOST H_UPG H_CONN H_KEY H_VER
                    "Sec-WebSocket-Protocol: chat, superchat\r\n"
                    "Sec-WebSocket-Protocol: v2\r\n"
                    "Sec-WebSocket-Extensions: permessage-deflate\r\n"
                    "%s\r\n",
                    extra);
    free(extra);
    return req;
}

/* One server session; returns true if it ran to the end without a
 * failed allocation. */
static bool server_session(struct test_alloc *ta, const char *req,
                           bool bytewise)
{
    struct wsg_hs_server *hs = NULL;
    int rc = wsg_hs_server_new(NULL, &ta->a, &hs);
    if (rc == WSG_ERR_NOMEM) {
        cr_assert(ta->failed);
        cr_assert_null(hs);
        return false;
    }
    cr_assert_eq(rc, WSG_OK);
    size_t len = strlen(req), c = 0;
    rc = 0;
    if (bytewise) {
        for (size_t i = 0; i < len && rc == 0; i++)
            rc = wsg_hs_server_feed(hs, (const uint8_t *)req + i, 1, &c);
    } else {
        rc = wsg_hs_server_feed(hs, (const uint8_t *)req, len, &c);
    }
    bool ok = true;
    if (rc == WSG_ERR_NOMEM) {
        cr_assert(ta->failed);
        /* Sticky, and a refusal can still be tried (it may fail too). */
        cr_assert_eq(wsg_hs_server_feed(hs, (const uint8_t *)"x", 1, &c),
                     WSG_ERR_NOMEM);
        cr_assert_eq(wsg_hs_server_status(hs), 503);
        ok = false;
    } else {
        cr_assert_eq(rc, 1, "rc %d: %s", rc, wsg_hs_server_reason(hs));
        struct wsg_hs_accept_opts o = {.subprotocol = "v2"};
        const uint8_t *d;
        size_t n;
        rc = wsg_hs_server_accept(hs, &o, &d, &n);
        if (rc == WSG_ERR_NOMEM) {
            cr_assert(ta->failed);
            cr_assert_null(d);
            ok = false;
        } else {
            cr_assert_eq(rc, WSG_OK);
        }
    }
    const uint8_t *d;
    size_t n;
    rc = wsg_hs_server_refuse(hs, 503, "busy", NULL, 0, &d, &n);
    if (rc == WSG_ERR_NOMEM) {
        cr_assert(ta->failed);
        ok = false;
    } else {
        cr_assert_eq(rc, WSG_OK);
    }
    wsg_hs_server_free(hs);
    cr_assert_eq(ta->live, 0, "leak: %ld blocks", ta->live);
    return ok && !ta->failed;
}

static void walk_server(bool with_realloc, bool bytewise)
{
    char *req = big_request();
    size_t n;
    for (n = 1; n < 10000; n++) {
        struct test_alloc ta;
        test_alloc_init(&ta, n, with_realloc);
        if (server_session(&ta, req, bytewise))
            break;
        cr_assert(ta.failed, "N=%zu: a failure without an injected one", n);
    }
    cr_log_info("server: %zu allocations walked", n - 1);
    cr_assert_gt(n, 4, "walked over %zu allocation sites", n - 1);
    cr_assert_lt(n, 10000);
    free(req);
}

Test(alloc_failures, server_whole)
{
    walk_server(true, false);
}

Test(alloc_failures, server_bytewise)
{
    walk_server(true, true);
}

Test(alloc_failures, server_without_realloc)
{
    walk_server(false, false);
}

static const char *const protos[] = {"chat", "superchat"};

static bool client_session(struct test_alloc *ta)
{
    struct wsg_hs_client_opts o;
    wsg_hs_client_opts_init_default(&o);
    o.host = "server.example.com";
    o.target = "/chat";
    o.protocols = protos;
    o.protocol_count = 2;
    o.extensions = "permessage-deflate";
    o.random.fill = rand_rfc_nonce;
    struct wsg_hs_client *hs = NULL;
    int rc = wsg_hs_client_new(&o, &ta->a, &hs);
    if (rc == WSG_ERR_NOMEM) {
        cr_assert(ta->failed);
        cr_assert_null(hs);
        cr_assert_eq(ta->live, 0);
        return false;
    }
    cr_assert_eq(rc, WSG_OK);
    char *resp = fmt("HTTP/1.1 101 Switching Protocols\r\n"
                     "Upgrade: websocket\r\nConnection: Upgrade\r\n"
                     "Sec-WebSocket-Accept: %s\r\n"
                     "Sec-WebSocket-Protocol: chat\r\n"
                     "Sec-WebSocket-Extensions: permessage-deflate\r\n"
                     "%s\r\n",
                     RFC_ACCEPT,
                     "X-A: 1\r\nX-B: 2\r\nX-C: 3\r\nX-D: 4\r\nX-E: 5\r\n"
                     "X-F: 6\r\nX-G: 7\r\nX-H: 8\r\nX-I: 9\r\nX-J: 10\r\n"
                     "X-K: 11\r\nX-L: 12\r\nX-M: 13\r\nX-N: 14\r\n"
                     "X-O: 15\r\nX-P: 16\r\nX-Q: 17\r\n");
    size_t c;
    rc = wsg_hs_client_feed(hs, (const uint8_t *)resp, strlen(resp), &c);
    free(resp);
    bool ok = true;
    if (rc == WSG_ERR_NOMEM) {
        cr_assert(ta->failed);
        ok = false;
    } else {
        cr_assert_eq(rc, 1, "%s", wsg_hs_client_reason(hs));
    }
    wsg_hs_client_free(hs);
    cr_assert_eq(ta->live, 0, "leak: %ld blocks", ta->live);
    return ok && !ta->failed;
}

Test(alloc_failures, client)
{
    size_t n;
    for (n = 1; n < 10000; n++) {
        struct test_alloc ta;
        test_alloc_init(&ta, n, n % 2 == 0);
        if (client_session(&ta))
            break;
    }
    cr_log_info("client: %zu allocations walked", n - 1);
    cr_assert_gt(n, 3, "walked over %zu allocation sites", n - 1);
    cr_assert_lt(n, 10000);
}
