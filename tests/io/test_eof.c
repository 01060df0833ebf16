/* lib/io at the end of a session: a peer that sends its last frames and
 * half-closes at once (shutdown(SHUT_WR), as nc -N, simple clients and
 * conformance tools do) still gets everything the server queued (review
 * F3, H13); and the release callbacks of unsent borrowed buffers run before
 * on_close, so state freed in on_close is never used after (review F4). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <criterion/criterion.h>

#include "io_util.h"

#define RBUF 65536u /* the loop's default read buffer */

/* A masked binary frame with a 64-bit length field whatever the size
 * (non-minimal below 65536: a 1002 protocol error, RFC 6455 5.2). */
static size_t frame64(uint8_t *out, size_t len)
{
    out[0] = 0x82;
    out[1] = 0x80 | 127;
    for (int i = 0; i < 8; i++)
        out[2 + i] = (uint8_t)((uint64_t)len >> (56 - 8 * i));
    memcpy(out + 10, RAW_KEY, 4);
    for (size_t i = 0; i < len; i++)
        out[14 + i] = RAW_KEY[i & 3];
    return 14 + len;
}

/* Frames + Close(1000) that fill exactly one read of the server, then FIN
 * in the same go. `bad`: the first frame is a protocol violation. */
static size_t closefin_bytes(uint8_t *buf, bool bad)
{
    static const uint8_t body[2] = {0x03, 0xe8};
    size_t n;

    if (bad) {
        n = frame64(buf, RBUF - 8 - 14);
    } else {
        uint8_t *payload = calloc(1, RBUF);
        cr_assert_not_null(payload);
        n = client_frame(buf, WSG_OP_BINARY, true, payload, RBUF - 8 - 8,
                         RAW_KEY);
        free(payload);
    }
    n += client_frame(buf + n, WSG_OP_CLOSE, true, body, 2, RAW_KEY);
    cr_assert_eq(n, RBUF, "frames take %zu bytes, not one read", n);
    return n;
}

static bool closes_over(void *arg)
{
    struct rig *g = arg;
    return g->sd.closes > (int)(intptr_t)g->sd.user;
}

static void closefin_round(struct rig *g, const uint8_t *buf, size_t n,
                           bool bad, int round)
{
    g->sd.user = (void *)(intptr_t)g->sd.closes;
    raw_close(&g->r);
    raw_upgrade(g);
    raw_send(&g->r, buf, n);
    cr_assert_eq(shutdown(g->r.fd, SHUT_WR), 0);
    cr_assert(run_until(g->loop, 3000, raw_has_eof, &g->r),
              "round %d: no EOF", round);
    if (!bad) {
        struct pframe f = next_frame(g);
        cr_assert_eq(f.op, WSG_OP_BINARY, "round %d: op %d", round, f.op);
        cr_assert_eq(f.len, RBUF - 16, "round %d: echo of %zu bytes", round,
                     f.len);
    }
    cr_assert_gt(g->r.len, g->off, "round %d: nothing after the 101 (%zu "
                 "bytes in all)", round, g->r.len);
    struct pframe f = next_frame(g);
    cr_assert_eq(f.op, WSG_OP_CLOSE, "round %d: op %d", round, f.op);
    cr_assert_eq(close_code_of(&f), bad ? 1002 : 1000, "round %d: code %u",
                 round, close_code_of(&f));
    cr_expect_eq(g->r.len, g->off, "round %d: bytes after the Close", round);
    cr_assert(run_until(g->loop, 3000, closes_over, g),
              "round %d: no on_close", round);
    cr_expect_eq(g->sd.ci.err, bad ? WSG_ERR_PROTOCOL : WSG_OK,
                 "round %d: err %s (%s)", round, wsg_err_name(g->sd.ci.err),
                 g->sd.ci_detail);
    cr_expect_eq(g->sd.ci.code_sent, bad ? 1002 : 1000);
    if (!bad)
        cr_expect_eq(g->sd.ci.code, 1000);
}

static void closefin(bool bad)
{
    struct rig g;
    uint8_t *buf = malloc(RBUF);

    cr_assert_not_null(buf);
    rig_init(&g);
    g.sd.echo = true;
    rig_listen(&g);
    size_t n = closefin_bytes(buf, bad);
    for (int i = 0; i < 20; i++)
        closefin_round(&g, buf, n, bad, i);
    cr_expect_eq(g.sd.closes, 20);
    free(buf);
    rig_fini(&g);
}

Test(io_eof, F3_close_then_fin_in_one_read_gets_echo_and_close,
     .timeout = 60)
{
    closefin(false);
}

Test(io_eof, F3_violation_then_fin_in_one_read_gets_1002, .timeout = 60)
{
    closefin(true);
}

/* Data then FIN without a Close: the echo is still written, then the
 * session ends as closed without a handshake. */
Test(io_eof, F3_data_then_fin_gets_the_echo, .timeout = 20)
{
    struct rig g;
    uint8_t fr[64];

    rig_init(&g);
    g.sd.echo = true;
    rig_listen(&g);
    raw_upgrade(&g);
    raw_send(&g.r, fr, client_frame(fr, WSG_OP_TEXT, true, "last words", 10,
                                    RAW_KEY));
    cr_assert_eq(shutdown(g.r.fd, SHUT_WR), 0);
    cr_assert(run_until(g.loop, 3000, raw_has_eof, &g.r));
    expect_frame(&g, WSG_OP_TEXT, "last words", 10);
    cr_assert(run_until(g.loop, 3000, int_pos, &g.sd.closes));
    cr_expect_eq(g.sd.ci.err, WSG_ERR_PEER_CLOSED, "err %s",
                 wsg_err_name(g.sd.ci.err));
    cr_expect_eq(g.sd.ci.code, WSG_CLOSE_ABNORMAL);
    cr_expect_eq(g.sd.ci.code_sent, 0);
    rig_fini(&g);
}

/* ---- F4: borrowed buffers are released before on_close ------------------ */

struct app {
    int released;
    const void *buf;
};

static int g_order_release, g_order_close, g_order;

static void app_release(void *ud, const void *data)
{
    struct app *a = ud; /* freed in on_close: ASan reports a late release */
    cr_expect_eq(data, a->buf);
    a->released++;
    g_order_release = ++g_order;
}

static void borrow_big(struct side *sd, struct wsg_session *s)
{
    struct app *a = calloc(1, sizeof *a);
    cr_assert_not_null(a);
    a->buf = sd->user;
    wsg_session_set_data(s, a);
    cr_assert_eq(wsg_session_send_borrowed(s, WSG_OP_BINARY, sd->user,
                                           8u << 20, true, true, app_release,
                                           a),
                 WSG_OK);
}

static void free_app(struct side *sd, struct wsg_session *s,
                     const struct wsg_close_info *ci)
{
    struct app *a = wsg_session_data(s);
    (void)sd;
    (void)ci;
    g_order_close = ++g_order;
    cr_expect_eq(a->released, 1, "release not run before on_close");
    free(a);
}

Test(io_eof, F4_borrowed_release_runs_before_on_close, .timeout = 20)
{
    struct rig g;
    struct linger lg = {1, 0};
    int small = 4096;
    char *big = calloc(1, 8u << 20);

    cr_assert_not_null(big);
    rig_init(&g);
    g.cfg.conn.max_output = 16u << 20;
    g.sd.user = big;
    g.sd.hook_open = borrow_big;
    g.sd.hook_close = free_app;
    rig_listen(&g);
    raw_connect(&g.r, g.port);
    (void)setsockopt(g.r.fd, SOL_SOCKET, SO_RCVBUF, &small, sizeof small);
    char req[512];
    raw_send(&g.r, req, upgrade_request(req, sizeof req, g.port, NULL));
    cr_assert(run_until(g.loop, 3000, int_pos, &g.sd.opens));
    run_until(g.loop, 100, NULL, NULL); /* the peer never reads */
    cr_assert_gt(wsg_session_pending(g.sd.s), 0, "all 8 MiB written?");
    /* Reset: the session ends with the borrowed buffer unsent. */
    cr_assert_eq(setsockopt(g.r.fd, SOL_SOCKET, SO_LINGER, &lg, sizeof lg), 0);
    close(g.r.fd);
    g.r.fd = -1;
    cr_assert(run_until(g.loop, 3000, int_pos, &g.sd.closes));
    cr_expect_gt(g_order_release, 0, "release never called");
    cr_expect_lt(g_order_release, g_order_close, "release after on_close");
    rig_fini(&g);
    free(big);
}
