/* lib/io server against a raw TCP peer written by hand, up to the upgrade:
 * pipelined frames after the head (T8), byte-at-a-time input, pausing with
 * frames already read, the handshake deadline (slowloris, T5, H7),
 * refusals on the wire (400, 403, 426) and the lingering close that keeps
 * them intact (H13). Closing is in test_close.c. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <criterion/criterion.h>

#include "io_util.h"

/* ---- T8: pipelined frames after the head ----------------------------------- */

static size_t pipelined(uint8_t *buf, size_t cap, uint16_t port)
{
    size_t n = upgrade_request((char *)buf, cap, port, NULL);
    uint8_t bin[300];
    for (size_t i = 0; i < sizeof bin; i++)
        bin[i] = pattern(3, i);
    n += client_frame(buf + n, WSG_OP_TEXT, true, "pipelined", 9, RAW_KEY);
    n += client_frame(buf + n, WSG_OP_BINARY, true, bin, sizeof bin, RAW_KEY);
    cr_assert_leq(n, cap);
    return n;
}

static void expect_pipelined_echo(struct rig *g)
{
    uint8_t bin[300];
    for (size_t i = 0; i < sizeof bin; i++)
        bin[i] = pattern(3, i);
    expect_101(g);
    expect_frame(g, WSG_OP_TEXT, "pipelined", 9);
    expect_frame(g, WSG_OP_BINARY, bin, sizeof bin);
    cr_expect_eq(g->sd.msgs, 2);
    cr_expect_eq(g->sd.refuses, 0);
}

Test(io_raw, T8_head_and_frames_in_one_write_are_delivered, .timeout = 20)
{
    struct rig g;
    uint8_t buf[2048];

    rig_init(&g);
    g.sd.echo = true;
    rig_listen(&g);
    raw_connect(&g.r, g.port);
    raw_send(&g.r, buf, pipelined(buf, sizeof buf, g.port));
    expect_pipelined_echo(&g);
    rig_fini(&g);
}

Test(io_raw, T8_head_and_frames_one_byte_at_a_time, .timeout = 20)
{
    struct rig g;
    uint8_t buf[2048];
    size_t n;

    rig_init(&g);
    g.sd.echo = true;
    rig_listen(&g);
    raw_connect(&g.r, g.port);
    n = pipelined(buf, sizeof buf, g.port);
    for (size_t i = 0; i < n; i++) {
        raw_send(&g.r, buf + i, 1);
        /* Let the server read this byte on its own. */
        wsg_loop_run_once(g.loop, 0);
        wsg_loop_run_once(g.loop, 0);
    }
    expect_pipelined_echo(&g);
    rig_fini(&g);
}

/* T8 with a deferred upgrade: the pipelined frame waits for the decision,
 * then arrives intact. */
struct later {
    struct wsg_session *s;
    struct wsg_timer *t;
    int msgs_at_accept;
    struct side *sd;
};

static int defer_it(struct side *sd, struct wsg_session *s,
                    struct wsg_upgrade *up)
{
    struct later *l = sd->user;
    (void)up;
    l->s = s;
    wsg_timer_start(l->t, wsg_clock_ms() + 60);
    return WSG_UPGRADE_DEFER;
}

static void accept_later(struct wsg_timer *t, void *ud)
{
    struct later *l = ud;
    (void)t;
    l->msgs_at_accept = l->sd->msgs;
    cr_assert_eq(wsg_session_accept(l->s, NULL), WSG_OK);
}

Test(io_raw, T8_pipelined_frames_wait_for_deferred_accept, .timeout = 20)
{
    struct rig g;
    struct later l;
    uint8_t buf[2048];

    rig_init(&g);
    memset(&l, 0, sizeof l);
    l.sd = &g.sd;
    l.msgs_at_accept = -1;
    cr_assert_eq(wsg_timer_new(g.loop, accept_later, &l, &l.t), WSG_OK);
    g.sd.echo = true;
    g.sd.user = &l;
    g.sd.hook_upgrade = defer_it;
    rig_listen(&g);
    raw_connect(&g.r, g.port);
    raw_send(&g.r, buf, pipelined(buf, sizeof buf, g.port));
    expect_pipelined_echo(&g);
    cr_expect_eq(l.msgs_at_accept, 0, "frames delivered before the upgrade "
                                      "was accepted");
    wsg_timer_free(l.t);
    rig_fini(&g);
}

/* ---- T5: handshake deadline ------------------------------------------------- */

Test(io_raw, T5_H7_slowloris_head_dropped_at_deadline, .timeout = 20)
{
    struct rig g;
    uint64_t t0, t_last = 0;
    int dribbled = 0;

    rig_init(&g);
    g.cfg.handshake_timeout_ms = 300;
    rig_listen(&g);
    t0 = wsg_clock_ms();
    raw_connect(&g.r, g.port);
    raw_sends(&g.r, "GET /chat HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: webs");
    /* Keep dribbling one byte every 40 ms: an idle timer would never fire;
     * the deadline must. */
    while (!g.r.eof && wsg_clock_ms() - t0 < 3000) {
        if (wsg_clock_ms() - t_last >= 40) {
            raw_pump(&g.r);
            if (g.r.eof)
                break;
            raw_sends(&g.r, "o");
            dribbled++;
            t_last = wsg_clock_ms();
        }
        wsg_loop_run_once(g.loop, 5);
        raw_pump(&g.r);
    }
    cr_assert(g.r.eof, "still connected after 3 s");
    uint64_t el = g.r.t_eof - t0;
    cr_expect_geq(el, 280, "dropped early: %lu ms", (unsigned long)el);
    cr_expect_lt(el, 1000, "dropped late: %lu ms", (unsigned long)el);
    cr_expect_geq(dribbled, 4);
    cr_expect_eq(g.r.len, 0, "a response was sent to a half head");
    cr_assert(run_until(g.loop, 1000, int_pos, &g.sd.refuses));
    cr_expect_eq(g.sd.ref_err, WSG_ERR_TIMEOUT, "on_refuse err %s",
                 wsg_err_name(g.sd.ref_err));
    cr_expect_eq(g.sd.ref_status, 0);
    cr_expect_eq(g.sd.upgrades, 0);
    cr_expect_eq(g.sd.closes, 0, "on_close for a session never seen");
    cr_expect_eq(wsg_server_session_count(g.srv), 0);
    rig_fini(&g);
}

/* ---- refusals on the wire --------------------------------------------------- */

static void refused_on_wire(const char *req, int status, const char *must)
{
    struct rig g;

    rig_init(&g);
    rig_listen(&g);
    raw_connect(&g.r, g.port);
    raw_sends(&g.r, req);
    cr_assert(run_until(g.loop, 3000, raw_has_eof, &g.r),
              "server did not finish the refusal");
    cr_expect_eq(raw_status(&g.r), status, "got: %.*s", (int)g.r.len,
                 (const char *)g.r.in);
    cr_expect_not(g.r.reset, "refusal ended in a reset");
    if (must)
        cr_expect_not_null(memmem(g.r.in, g.r.len, must, strlen(must)),
                           "missing '%s' in: %.*s", must, (int)g.r.len,
                           (const char *)g.r.in);
    /* Connection lists "close" (426 also keeps "Upgrade", RFC 9110 15.5.22) */
    const uint8_t *conn = memmem(g.r.in, g.r.len, "\r\nConnection: ", 14);
    cr_assert_not_null(conn, "no Connection header");
    const uint8_t *eol = memmem(conn + 2, g.r.len - (size_t)(conn + 2 - g.r.in),
                                "\r\n", 2);
    cr_assert_not_null(eol);
    cr_expect_not_null(memmem(conn, (size_t)(eol - conn), "close", 5),
                       "Connection without close: %.*s", (int)(eol - conn),
                       (const char *)conn);
    raw_close(&g.r); /* ends the server's lingering close at once */
    cr_assert(run_until(g.loop, 3000, int_pos, &g.sd.refuses));
    cr_expect_eq(g.sd.ref_status, status);
    cr_expect_eq(g.sd.ref_err, WSG_ERR_HTTP);
    cr_expect_eq(g.sd.upgrades, 0);
    rig_fini(&g);
}

Test(io_raw, refusal_400_missing_key, .timeout = 20)
{
    refused_on_wire("GET / HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                    "Upgrade: websocket\r\nConnection: Upgrade\r\n"
                    "Sec-WebSocket-Version: 13\r\n\r\n",
                    400, NULL);
}

Test(io_raw, refusal_426_version_8, .timeout = 20)
{
    refused_on_wire("GET / HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                    "Upgrade: websocket\r\nConnection: Upgrade\r\n"
                    "Sec-WebSocket-Key: " RFC_KEY "\r\n"
                    "Sec-WebSocket-Version: 8\r\n\r\n",
                    426, "Sec-WebSocket-Version: 13\r\n");
}

Test(io_raw, T7_refusal_400_body_on_upgrade_with_pipelined_bytes,
     .timeout = 20)
{
    /* A body on the upgrade GET (smuggling): 400, and the bytes after the
     * head are not parsed as a second request. */
    refused_on_wire("GET / HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                    "Upgrade: websocket\r\nConnection: Upgrade\r\n"
                    "Sec-WebSocket-Key: " RFC_KEY "\r\n"
                    "Sec-WebSocket-Version: 13\r\nContent-Length: 5\r\n\r\n"
                    "GET /x HTTP/1.1\r\n\r\n",
                    400, NULL);
}

static int refuse_403_hdr(struct side *sd, struct wsg_session *s,
                          struct wsg_upgrade *up)
{
    static const struct wsg_header h[] = {{"X-Refused-By", 12, "test", 4}};
    (void)sd;
    (void)s;
    up->refuse_reason = "not you";
    up->refuse_headers = h;
    up->refuse_header_count = 1;
    return 403;
}

Test(io_raw, refusal_403_from_on_upgrade_with_header, .timeout = 20)
{
    struct rig g;
    char req[512];
    size_t n;

    rig_init(&g);
    g.sd.hook_upgrade = refuse_403_hdr;
    rig_listen(&g);
    raw_connect(&g.r, g.port);
    n = upgrade_request(req, sizeof req, g.port, NULL);
    raw_send(&g.r, req, n);
    cr_assert(run_until(g.loop, 3000, raw_has_eof, &g.r));
    cr_expect_eq(raw_status(&g.r), 403);
    cr_expect_not_null(memmem(g.r.in, g.r.len, "\r\nX-Refused-By: test\r\n", 22),
                       "%.*s", (int)g.r.len, (const char *)g.r.in);
    size_t h = raw_head_len(&g.r);
    cr_assert_gt(h, 0);
    cr_expect_eq(g.r.len - h, 8);
    cr_expect_arr_eq(g.r.in + h, "not you\n", 8);
    raw_close(&g.r);
    cr_assert(run_until(g.loop, 3000, int_pos, &g.sd.closes));
    cr_expect_eq(g.sd.ref_status, 403);
    cr_expect_eq(g.sd.ref_err, WSG_ERR_POLICY);
    rig_fini(&g);
}

/* ---- more edges ------------------------------------------------------------- */

/* Pause inside on_message with more frames already read: they wait in
 * order and come out after resume. */
struct pauser {
    struct wsg_timer *t;
    struct wsg_session *s;
    int seen[8];
    int n;
    int during_pause;
    bool paused;
};

static void pause_first(struct side *sd, struct wsg_session *s,
                        const struct wsg_event *ev)
{
    struct pauser *pz = sd->user;
    if (pz->paused)
        pz->during_pause++;
    if (ev->len == 1 && pz->n < 8)
        pz->seen[pz->n++] = ev->data[0];
    if (pz->n == 1) {
        pz->s = s;
        pz->paused = true;
        wsg_session_pause(s);
        wsg_timer_start(pz->t, wsg_clock_ms() + 100);
    }
}

static void resume_later(struct wsg_timer *t, void *ud)
{
    struct pauser *pz = ud;
    (void)t;
    pz->paused = false;
    wsg_session_resume(pz->s);
}

static bool got_five(void *arg)
{
    return ((struct pauser *)arg)->n >= 5;
}

Test(io_raw, pause_in_callback_keeps_pipelined_frames_in_order,
     .timeout = 20)
{
    struct rig g;
    struct pauser pz;
    uint8_t buf[256];
    size_t n = 0;

    rig_init(&g);
    memset(&pz, 0, sizeof pz);
    cr_assert_eq(wsg_timer_new(g.loop, resume_later, &pz, &pz.t), WSG_OK);
    g.sd.user = &pz;
    g.sd.hook_message = pause_first;
    rig_listen(&g);
    raw_upgrade(&g);
    for (uint8_t i = 0; i < 5; i++)
        n += client_frame(buf + n, WSG_OP_BINARY, true, &i, 1, RAW_KEY);
    raw_send(&g.r, buf, n); /* one segment, one read */
    run_until(g.loop, 60, NULL, NULL);
    cr_expect_eq(pz.n, 1, "delivered while paused");
    run_until(g.loop, 3000, got_five, &pz);
    cr_expect_eq(pz.during_pause, 0);
    cr_assert_eq(pz.n, 5, "got %d of 5 after resume", pz.n);
    for (int i = 0; i < 5; i++)
        cr_expect_eq(pz.seen[i], i);
    wsg_timer_free(pz.t);
    rig_fini(&g);
}

static int defer_forever(struct side *sd, struct wsg_session *s,
                         struct wsg_upgrade *up)
{
    (void)sd;
    (void)s;
    (void)up;
    return WSG_UPGRADE_DEFER;
}

Test(io_raw, T5_deferred_upgrade_still_has_a_deadline, .timeout = 20)
{
    struct rig g;
    char req[512];
    uint64_t t0;

    rig_init(&g);
    g.cfg.handshake_timeout_ms = 300;
    g.sd.hook_upgrade = defer_forever;
    rig_listen(&g);
    t0 = wsg_clock_ms();
    raw_connect(&g.r, g.port);
    raw_send(&g.r, req, upgrade_request(req, sizeof req, g.port, NULL));
    cr_assert(run_until(g.loop, 3000, int_pos, &g.sd.closes));
    uint64_t el = g.sd.t_close - t0;
    cr_expect_geq(el, 280, "early: %lu ms", (unsigned long)el);
    cr_expect_lt(el, 1500, "late: %lu ms", (unsigned long)el);
    cr_expect_eq(g.sd.upgrades, 1);
    cr_expect_eq(g.sd.refuses, 1);
    cr_expect_eq(g.sd.ref_err, WSG_ERR_TIMEOUT);
    cr_expect_eq(g.sd.ci.err, WSG_ERR_TIMEOUT);
    cr_expect_not(g.sd.ci.opened);
    cr_expect(run_until(g.loop, 1000, raw_has_eof, &g.r));
    rig_fini(&g);
}

Test(io_raw, T5_silent_connection_dropped_at_deadline, .timeout = 20)
{
    struct rig g;
    uint64_t t0;

    rig_init(&g);
    g.cfg.handshake_timeout_ms = 200;
    rig_listen(&g);
    t0 = wsg_clock_ms();
    raw_connect(&g.r, g.port); /* sends nothing at all */
    cr_assert(run_until(g.loop, 3000, raw_has_eof, &g.r));
    uint64_t el = g.r.t_eof - t0;
    cr_expect_geq(el, 180, "early: %lu ms", (unsigned long)el);
    cr_expect_lt(el, 1000, "late: %lu ms", (unsigned long)el);
    cr_assert(run_until(g.loop, 1000, int_pos, &g.sd.refuses));
    cr_expect_eq(g.sd.ref_err, WSG_ERR_TIMEOUT);
    cr_expect_not(g.sd.ref_had_request);
    rig_fini(&g);
}

Test(io_raw, T8_large_frame_pipelined_behind_the_head, .timeout = 20)
{
    struct rig g;
    size_t big = 200 * 1024, n;
    uint8_t *buf = malloc(big + 1024), *pl = malloc(big);

    for (size_t i = 0; i < big; i++)
        pl[i] = pattern(11, i);
    rig_init(&g);
    g.sd.echo = true;
    rig_listen(&g);
    raw_connect(&g.r, g.port);
    n = upgrade_request((char *)buf, 1024, g.port, NULL);
    n += client_frame(buf + n, WSG_OP_BINARY, true, pl, big, RAW_KEY);
    raw_send(&g.r, buf, n); /* bigger than one 64 KiB read */
    expect_101(&g);
    expect_frame(&g, WSG_OP_BINARY, pl, big);
    cr_expect_eq(g.sd.msgs, 1);
    free(buf);
    free(pl);
    rig_fini(&g);
}

Test(io_raw, T8_pipelined_frames_and_pause_in_the_first_callback,
     .timeout = 20)
{
    struct rig g;
    struct pauser pz;
    uint8_t buf[1024];
    size_t n;

    rig_init(&g);
    memset(&pz, 0, sizeof pz);
    cr_assert_eq(wsg_timer_new(g.loop, resume_later, &pz, &pz.t), WSG_OK);
    g.sd.user = &pz;
    g.sd.hook_message = pause_first;
    rig_listen(&g);
    raw_connect(&g.r, g.port);
    n = upgrade_request((char *)buf, sizeof buf, g.port, NULL);
    for (uint8_t i = 0; i < 5; i++)
        n += client_frame(buf + n, WSG_OP_BINARY, true, &i, 1, RAW_KEY);
    raw_send(&g.r, buf, n);
    expect_101(&g);
    run_until(g.loop, 60, NULL, NULL);
    cr_expect_eq(pz.n, 1, "delivered while paused");
    run_until(g.loop, 3000, got_five, &pz);
    cr_expect_eq(pz.during_pause, 0);
    cr_assert_eq(pz.n, 5, "got %d of 5 after resume", pz.n);
    for (int i = 0; i < 5; i++)
        cr_expect_eq(pz.seen[i], i);
    wsg_timer_free(pz.t);
    rig_fini(&g);
}

/* H13: a refusal reaches the client intact even though the client keeps
 * sending and reads only later: closing with unread input would reset the
 * connection and destroy the unread response in the client's kernel; the
 * lingering close (FIN, then drain) must prevent that. */
Test(io_raw, refusal_intact_while_client_keeps_sending, .timeout = 20)
{
    struct rig g;
    static uint8_t junk[16384];
    size_t sent = 0;

    memset(junk, 'j', sizeof junk);
    rig_init(&g);
    rig_listen(&g);
    raw_connect(&g.r, g.port);
    raw_sends(&g.r, "GET / HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                    "Upgrade: websocket\r\nConnection: Upgrade\r\n"
                    "Sec-WebSocket-Key: " RFC_KEY "\r\n"
                    "Sec-WebSocket-Version: 8\r\n\r\n");
    /* 300 ms of sending without reading a byte. */
    uint64_t t0 = wsg_clock_ms();
    while (wsg_clock_ms() - t0 < 300) {
        ssize_t w = send(g.r.fd, junk, sizeof junk, MSG_NOSIGNAL);
        if (w > 0)
            sent += (size_t)w;
        wsg_loop_run_once(g.loop, 2);
    }
    cr_expect_gt(sent, 100000u, "the client could not keep sending (%zu)",
                 sent);
    /* Now read: the whole response, then an orderly end. */
    cr_assert(run_until(g.loop, 3000, raw_has_eof, &g.r), "no end");
    cr_expect_not(g.r.reset, "connection reset: the refusal was destroyed");
    cr_expect_eq(raw_status(&g.r), 426, "got %zu bytes: %.*s", g.r.len,
                 (int)g.r.len, (const char *)g.r.in);
    size_t h = raw_head_len(&g.r);
    cr_assert_gt(h, 0);
    const char *cl = memmem(g.r.in, h, "Content-Length: ", 16);
    cr_assert_not_null(cl);
    cr_expect_eq(g.r.len - h, (size_t)atoi(cl + 16), "body cut short");
    raw_close(&g.r);
    cr_assert(run_until(g.loop, 3000, int_pos, &g.sd.refuses));
    cr_expect_eq(g.sd.ref_status, 426);
    rig_fini(&g);
}
