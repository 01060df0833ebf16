/* lib/io at the end of a session: the release callbacks of unsent borrowed
 * buffers run before on_close, so state freed in on_close is never used
 * after (review F4). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <criterion/criterion.h>

#include "io_util.h"

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
