/* lib/io under a failing allocator (STYLE.md 12): the N-th allocation fails,
 * for every N that a full echo session reaches (loop, server, client,
 * handshakes, core connections, stashes). Each run must end in a defined
 * way (an error code, a refusal or on_close exactly once), never crash, and
 * free everything it allocated (H12, H13). The same for an adopted
 * connection (wsg_server_adopt). */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include <criterion/criterion.h>

#include "io_util.h"
#include "test_alloc.h" /* tests/common */

/* Sends may fail with WSG_ERR_NOMEM (not sticky: nothing was queued); this
 * application gives up on the session then. */
static void send_hi(struct side *sd, struct wsg_session *s)
{
    int rc = wsg_session_send(s, WSG_OP_TEXT, "hi", 2);
    (void)sd;
    if (rc != WSG_OK) {
        cr_assert_eq(rc, WSG_ERR_NOMEM);
        wsg_session_abort(s, rc);
    }
}

static void echo_or_abort(struct side *sd, struct wsg_session *s,
                          const struct wsg_event *ev)
{
    int rc = wsg_session_send(s, ev->opcode, ev->data, ev->len);
    (void)sd;
    if (rc != WSG_OK) {
        cr_assert_eq(rc, WSG_ERR_NOMEM);
        wsg_session_abort(s, rc);
    }
}

static void close_on_echo(struct side *sd, struct wsg_session *s,
                          const struct wsg_event *ev)
{
    (void)sd;
    (void)ev;
    wsg_session_close(s, 1000, "ok");
}

/* One echo session with allocation `fail_at` failing. Returns true when
 * no allocation failed (the walk is over). */
static bool one_run(long fail_at, long *total)
{
    struct test_alloc fa;
    struct wsg_loop_config lc;
    struct wsg_loop *loop = NULL;
    struct wsg_server *srv = NULL;
    struct wsg_session *cli = NULL;
    struct side ss, cs;
    struct wsg_server_config scfg;
    struct wsg_client_config ccfg;
    int rc;

    test_alloc_init(&fa, (size_t)fail_at, true);
    wsg_loop_config_init_default(&lc);
    lc.alloc = &fa.a;
    rc = wsg_loop_new(&lc, &loop);
    if (rc != WSG_OK) {
        cr_assert_eq(rc, WSG_ERR_NOMEM);
        cr_assert_null(loop);
        goto out;
    }
    side_init(&ss, loop);
    side_init(&cs, loop);
    server_config(&scfg, &ss);
    scfg.handshake_timeout_ms = 1000;
    scfg.conn.alloc = &fa.a;
    ss.hook_message = echo_or_abort;
    rc = wsg_server_new(loop, &scfg, &srv);
    if (rc != WSG_OK) {
        cr_assert_eq(rc, WSG_ERR_NOMEM, "server_new at %ld: %s", fail_at,
                     wsg_err_name(rc));
        cr_assert_null(srv);
        goto done;
    }
    client_config(&ccfg, &cs, wsg_server_port(srv));
    ccfg.timeout_ms = 1000;
    ccfg.conn.alloc = &fa.a;
    cs.hook_open = send_hi;
    cs.hook_message = close_on_echo;
    rc = wsg_client_connect(loop, &ccfg, &cli);
    if (rc != WSG_OK) {
        cr_assert_eq(rc, WSG_ERR_NOMEM, "connect at %ld: %s", fail_at,
                     wsg_err_name(rc));
        cr_assert_null(cli);
        run_until(loop, 20, NULL, NULL);
        cr_assert_eq(cs.closes, 0, "on_close after a failed connect");
        goto done;
    }
    /* Bounded by the deadlines (1 s) plus the lingering close (2 s). */
    cr_assert(run_until(loop, 4000, int_pos, &cs.closes),
              "client never ended (allocation %ld failed)", fail_at);
    if (!fa.failed) {
        cr_assert_eq(cs.ci.err, WSG_OK, "%s", cs.ci.detail);
        cr_assert_eq(ss.msgs, 1);
        cr_assert(run_until(loop, 3000, int_pos, &ss.closes));
    }
    run_until(loop, 10, NULL, NULL);
    cr_assert_eq(cs.closes, 1, "client on_close %d times", cs.closes);
done:
    wsg_server_free(srv);
    cr_assert_leq(ss.closes, 1);
    for (int i = 0; i < 3; i++)
        wsg_loop_run_once(loop, 0);
    wsg_loop_free(loop);
    side_fini(&ss);
    side_fini(&cs);
out:
    cr_assert_eq(fa.live, 0, "%ld allocations leaked (allocation %ld failed)",
                 fa.live, fail_at);
    *total = (long)fa.calls;
    return !fa.failed;
}

Test(io_alloc, H13_every_allocation_failure_is_clean, .timeout = 60)
{
    long total = 0, n;

    cr_assert(one_run(0, &total), "a run without failures failed");
    cr_assert_gt(total, 5);
    for (n = 1; n <= total + 5; n++)
        if (one_run(n, &total) && n > total)
            break;
    cr_expect_gt(n, total, "walk stopped early at %ld of %ld", n, total);
    cr_log_info("walked %ld allocation sites", total);
}

/* ---- wsg_server_adopt ------------------------------------------------------ */

/* A head with a pipelined frame adopted from a socketpair by a server
 * without a listener, allocation `fail_at` failing: WSG_OK then one
 * defined end, or WSG_ERR_NOMEM with the fd closed and no callback. */
static bool adopt_run(long fail_at, long *total)
{
    struct test_alloc fa;
    struct wsg_loop_config lc;
    struct wsg_loop *loop = NULL;
    struct wsg_server *srv = NULL;
    struct wsg_server_config scfg;
    struct side ss;
    struct raw r;
    uint8_t data[512];
    size_t n;
    int sv[2] = {-1, -1}, rc;

    test_alloc_init(&fa, (size_t)fail_at, true);
    wsg_loop_config_init_default(&lc);
    lc.alloc = &fa.a;
    if (wsg_loop_new(&lc, &loop) != WSG_OK)
        goto out;
    side_init(&ss, loop);
    server_config(&scfg, &ss);
    scfg.port = NULL;
    scfg.conn.alloc = &fa.a;
    ss.echo = false;
    ss.hook_message = echo_or_abort;
    rc = wsg_server_new(loop, &scfg, &srv);
    if (rc != WSG_OK) {
        cr_assert_eq(rc, WSG_ERR_NOMEM);
        goto done;
    }
    cr_assert_eq(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
    memset(&r, 0, sizeof r);
    r.fd = sv[0];
    cr_assert_eq(fcntl(sv[0], F_SETFL, O_NONBLOCK), 0);
    r.cap = 4096;
    r.in = malloc(r.cap);
    cr_assert_not_null(r.in);
    n = upgrade_request((char *)data, sizeof data, 80, NULL);
    n += client_frame(data + n, WSG_OP_TEXT, true, "hi", 2, RAW_KEY);
    rc = wsg_server_adopt(srv, sv[1], data, n);
    if (rc != WSG_OK) {
        cr_assert_eq(rc, WSG_ERR_NOMEM, "adopt at %ld: %s", fail_at,
                     wsg_err_name(rc));
        cr_assert(fcntl(sv[1], F_GETFD) == -1 && errno == EBADF,
                  "fd left open (allocation %ld failed)", fail_at);
        run_until(loop, 20, NULL, NULL);
        cr_assert_eq(ss.upgrades + ss.refuses + ss.closes, 0);
        raw_close(&r);
        goto done;
    }
    /* The 101 and the echo, or whatever end the failure led to. */
    for (int i = 0; i < 400; i++) {
        struct pframe f;
        size_t h;
        wsg_loop_run_once(loop, 5);
        raw_pump(&r);
        h = raw_head_len(&r);
        if (r.eof || (h && parse_frame(r.in + h, r.len - h, &f)))
            break;
    }
    if (!fa.failed) {
        cr_assert_eq(raw_status(&r), 101);
        cr_assert_eq(ss.msgs, 1);
    }
    raw_close(&r); /* the session ends: peer closed */
    for (int i = 0; i < 800 && wsg_server_session_count(srv); i++)
        wsg_loop_run_once(loop, 5);
    cr_assert_eq(wsg_server_session_count(srv), 0,
                 "session never ended (allocation %ld failed)", fail_at);
    cr_assert_eq(ss.closes, ss.upgrades, "on_close %d for %d upgrades",
                 ss.closes, ss.upgrades);
    cr_assert_leq(ss.closes + ss.refuses, 1 + (ss.upgrades > 0));
done:
    wsg_server_free(srv);
    for (int i = 0; i < 3; i++)
        wsg_loop_run_once(loop, 0);
    wsg_loop_free(loop);
    side_fini(&ss);
out:
    cr_assert_eq(fa.live, 0, "%ld allocations leaked (allocation %ld failed)",
                 fa.live, fail_at);
    *total = (long)fa.calls;
    return !fa.failed;
}

Test(io_alloc, H13_adopt_every_allocation_failure_is_clean, .timeout = 60)
{
    long total = 0, n;

    cr_assert(adopt_run(0, &total), "a run without failures failed");
    cr_assert_gt(total, 5);
    for (n = 1; n <= total + 5; n++)
        if (adopt_run(n, &total) && n > total)
            break;
    cr_expect_gt(n, total, "walk stopped early at %ld of %ld", n, total);
    cr_log_info("walked %ld allocation sites", total);
}
