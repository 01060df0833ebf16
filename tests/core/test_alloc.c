/* Allocation: a failing allocator walked over every allocation site (the
 * N-th call fails, for N = 1.. until a run succeeds), and allocation from
 * declared sizes (shared/THREATS.md T2). */
#include <stdlib.h>
#include <string.h>

#include <criterion/criterion.h>

#include "helpers.h"

static void on_release(void *ud, const void *data)
{
    (void)data;
    (*(int *)ud)++;
}

static void check(int rc)
{
    cr_assert(rc == WSG_OK || rc == WSG_ERR_NOMEM, "unexpected %s",
              wsg_err_name(rc));
}

static void drain(struct wsg_conn *c)
{
    for (int g = 0; g < 100000 && wsg_conn_output_pending(c); g++) {
        struct wsg_iovec iov[8];
        size_t n = wsg_conn_output(c, iov, 8);
        cr_assert(n > 0);
        wsg_conn_output_consume(c, iov[0].len > 1000 ? 1000 : iov[0].len);
    }
    cr_assert_eq(wsg_conn_output_pending(c), 0);
}

/* Touches every allocation site: the connection, output chunks (small and
 * larger than a chunk), borrowed segments, the assembly buffer (grown
 * several times), automatic pongs. Returns whether NOMEM was seen. */
static bool scenario(struct test_alloc *t, enum wsg_role role, enum wsg_delivery d)
{
    struct wsg_conn_config cfg;
    uint64_t seed = 3;
    wsg_conn_config_init_default(&cfg);
    cfg.role = role;
    cfg.delivery = d;
    cfg.alloc = &t->a;
    cfg.random.fill = test_random;
    cfg.random.ud = &seed;
    struct wsg_conn *c = NULL;
    bool nomem = false;
    int rc = wsg_conn_new(&cfg, &c);
    check(rc);
    if (rc != WSG_OK) {
        cr_assert_null(c);
        return true;
    }
    static uint8_t big[40000];
    int released = 0, borrowed_ok = 0;

    rc = wsg_conn_send(c, WSG_OP_TEXT, "hello", 5);
    check(rc);
    nomem |= rc != WSG_OK;
    rc = wsg_conn_send(c, WSG_OP_BINARY, big, sizeof big);
    check(rc);
    nomem |= rc != WSG_OK;
    if (role == WSG_ROLE_SERVER) {
        for (int i = 0; i < 2; i++) {
            rc = wsg_conn_send_borrowed(c, WSG_OP_BINARY, big, 100, true, true,
                                        on_release, &released);
            check(rc);
            nomem |= rc != WSG_OK;
            borrowed_ok += rc == WSG_OK;
        }
    }
    rc = wsg_conn_send_fragment(c, WSG_OP_TEXT, "a", 1, true, false);
    check(rc);
    nomem |= rc != WSG_OK;
    if (rc == WSG_OK) {
        rc = wsg_conn_send_fragment(c, WSG_OP_TEXT, "b", 1, false, true);
        check(rc);
        nomem |= rc != WSG_OK;
    }
    rc = wsg_conn_ping(c, "p", 1);
    check(rc);
    nomem |= rc != WSG_OK;
    drain(c);

    bool masked = role == WSG_ROLE_SERVER;
    struct bb in = {0};
    static uint8_t part[30000];
    memset(part, 'x', sizeof part);
    bb_frame(&in, WSG_OP_TEXT, masked, part, sizeof part);
    bb_frame(&in, FIN | WSG_OP_PING, masked, "ping", 4);
    bb_frame(&in, WSG_OP_CONTINUATION, masked, part, sizeof part);
    bb_frame(&in, FIN | WSG_OP_CONTINUATION, masked, part, sizeof part);
    bb_frame(&in, FIN | WSG_OP_BINARY, masked, "whole", 5);
    bb_frame(&in, FIN | WSG_OP_PING, masked, "ping2", 5);
    bb_frame(&in, FIN | WSG_OP_CLOSE, masked, "\x03\xe8", 2);
    /* Fed in uneven pieces so the assembly buffer grows step by step. */
    size_t pos = 0;
    bool closed = false;
    while (pos < in.len) {
        size_t n = in.len - pos > 7777 ? 7777 : in.len - pos;
        size_t used;
        struct wsg_event ev;
        rc = wsg_conn_feed(c, in.p + pos, n, 0, &used, &ev);
        pos += used;
        if (rc == WSG_ERR_NOMEM) {
            cr_assert_eq(ev.type, WSG_EV_FAIL);
            cr_assert_eq(ev.err, WSG_ERR_NOMEM);
            cr_assert_eq(ev.close_code, 1011);
            nomem = true;
            break;
        }
        cr_assert_eq(rc, WSG_OK, "%s", wsg_err_name(rc));
        if (ev.type == WSG_EV_MESSAGE && ev.len == 90000)
            cr_assert_eq(ev.data[89999], 'x');
        closed |= ev.type == WSG_EV_CLOSE;
    }
    if (!nomem)
        cr_assert(closed);
    drain(c);
    wsg_conn_free(c);
    cr_assert_eq(released, borrowed_ok, "every borrowed payload released once");
    bb_free(&in);
    return nomem;
}

static void walk(enum wsg_role role, enum wsg_delivery d, bool no_realloc)
{
    size_t n;
    for (n = 1; n < 10000; n++) {
        struct test_alloc t;
        test_alloc_init(&t, n, !no_realloc);
        bool nomem = scenario(&t, role, d);
        cr_assert_eq(t.live, 0, "leak with allocation %zu failing", n);
        cr_assert_eq(t.bytes, 0);
        cr_assert_eq(nomem, t.failed, "NOMEM reported iff injected (n=%zu)", n);
        if (!t.failed)
            break;
    }
    cr_assert(n > 3, "the walk covered %zu sites", n);
    cr_assert(n < 10000);
}

Test(alloc, walk_server_message)
{
    walk(WSG_ROLE_SERVER, WSG_DELIVER_MESSAGE, false);
}

Test(alloc, walk_server_stream)
{
    walk(WSG_ROLE_SERVER, WSG_DELIVER_STREAM, false);
}

Test(alloc, walk_client_message)
{
    walk(WSG_ROLE_CLIENT, WSG_DELIVER_MESSAGE, false);
}

Test(alloc, walk_without_realloc)
{
    walk(WSG_ROLE_SERVER, WSG_DELIVER_MESSAGE, true);
}

/* T2: a header claiming 2 GiB closes with 1009 at once; nothing is
 * allocated beyond the connection itself (the Close needs no memory). */
Test(alloc, T2_two_gib_declared)
{
    const uint8_t in[] = {0x82, 0xFF, 0, 0, 0, 0, 0x80, 0, 0, 0,
                          0x37, 0xfa, 0x21, 0x3d, 'a', 'b', 'c'};
    for (int d = 0; d < 2; d++) {
        struct test_alloc t;
        test_alloc_init(&t, 0, true);
        struct wsg_conn_config cfg = cfg_server();
        cfg.alloc = &t.a;
        cfg.delivery = d ? WSG_DELIVER_STREAM : WSG_DELIVER_MESSAGE;
        struct run r;
        run_feed(&cfg, in, sizeof in, FEED_WHOLE, &r);
        expect_fail(&r, 1009, WSG_ERR_TOO_BIG, "frame too big: 2147483648 > 1048576");
        cr_assert_eq(out_close_code(&r.out, false), 1009);
        cr_assert_eq(t.calls, 1, "%zu allocations", t.calls);
        cr_assert(t.peak < 4096, "peak %zu", t.peak);
        run_free(&r);
        run_all(&cfg, in, sizeof in, &r);
        run_free(&r);
        cr_assert_eq(t.live, 0);
    }
}

/* T2: even when the limits allow it, memory follows the bytes that
 * arrived, not the declared length. */
Test(alloc, T2_memory_follows_bytes_not_declaration)
{
    struct bb in = {0};
    const uint8_t hdr[] = {0x82, 0xFF, 0, 0, 0, 0, 0x80, 0, 0, 0,
                           0x37, 0xfa, 0x21, 0x3d};
    bb_add(&in, hdr, sizeof hdr);
    for (int i = 0; i < 1000; i++)
        bb_byte(&in, (uint8_t)i);
    for (int d = 0; d < 2; d++) {
        struct test_alloc t;
        test_alloc_init(&t, 0, true);
        struct wsg_conn_config cfg = cfg_server();
        cfg.alloc = &t.a;
        cfg.max_frame = (uint64_t)4 << 30;
        cfg.max_message = (uint64_t)4 << 30;
        cfg.delivery = d ? WSG_DELIVER_STREAM : WSG_DELIVER_MESSAGE;
        struct run r;
        run_all(&cfg, in.p, in.len, &r);
        cr_assert_eq(r.rc, WSG_OK);
        cr_assert_eq(r.state, WSG_STATE_OPEN);
        cr_assert(t.peak < 8192, "peak %zu", t.peak);
        if (d == 0)
            cr_assert_eq(r.n, 0);
        run_free(&r);
    }
    bb_free(&in);
}
