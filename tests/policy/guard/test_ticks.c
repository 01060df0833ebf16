/* Deadlines: H7 idle timeout by direction, H3 post-connect auth deadline,
 * and the H11 close event of wsg_guard_conn_free. */
#include <string.h>

#include <criterion/criterion.h>

#include "conn_fixture.h"

TestSuite(guard_ticks, .init = conn_fixture_setup);

static void tick(uint64_t now)
{
    wsg_guard_conn_tick(C, now, &A);
}

static void in(uint64_t now)
{
    struct wsg_event ev = ev_msg(WSG_OP_TEXT, "x");

    wsg_guard_conn_message(C, &ev, now, &A);
    cr_assert_eq(A.what, WSG_GUARD_PASS);
}

static void assert_idle_close(void)
{
    cr_assert_eq(A.what, WSG_GUARD_CLOSE);
    cr_assert_eq(A.code, 1001);
    cr_assert_eq(A.control, WSG_H7);
    cr_assert_str_eq(A.reason, "idle timeout");
    cr_assert_str_eq(R.event[R.n - 1], "violation");
    cr_assert_eq(R.control[R.n - 1], WSG_H7);
}

Test(guard_ticks, h7_idle_off_by_default)
{
    C = conn_open(&P, &G, 0);
    cr_assert_eq(wsg_guard_conn_next_deadline(C), UINT64_MAX);
    tick(UINT64_MAX / 2);
    cr_assert_eq(A.what, WSG_GUARD_PASS);
    conn_close(G, C, 1);
}

Test(guard_ticks, h7_idle_any_direction)
{
    P.idle_timeout_ms = 1000;
    C = conn_open(&P, &G, 100);
    cr_assert_eq(wsg_guard_conn_next_deadline(C), 1100);
    tick(1099);
    cr_assert_eq(A.what, WSG_GUARD_PASS);
    in(500);
    cr_assert_eq(wsg_guard_conn_next_deadline(C), 1500);
    wsg_guard_conn_sent(C, 10, 900);
    cr_assert_eq(wsg_guard_conn_next_deadline(C), 1900);
    wsg_guard_conn_sent(C, 0, 1000); /* nothing sent: no traffic */
    cr_assert_eq(wsg_guard_conn_next_deadline(C), 1900);
    tick(1899);
    cr_assert_eq(A.what, WSG_GUARD_PASS);
    tick(1900);
    assert_idle_close();
    cr_assert_eq(wsg_guard_conn_next_deadline(C), UINT64_MAX);
    tick(5000);
    cr_assert_eq(A.what, WSG_GUARD_PASS); /* decided once */
    conn_close(G, C, 5000);
}

/* Browsers send nothing while idle: "in" counts the client only, pongs
 * included (liveness). */
Test(guard_ticks, h7_idle_in)
{
    struct wsg_event pong = ev_ctl(WSG_EV_PONG);

    P.idle_timeout_ms = 1000;
    P.idle_direction = WSG__IDLE_FROM_CLIENT;
    C = conn_open(&P, &G, 0);
    wsg_guard_conn_sent(C, 100, 800);
    cr_assert_eq(wsg_guard_conn_next_deadline(C), 1000);
    wsg_guard_conn_control(C, &pong, 700, &A);
    cr_assert_eq(wsg_guard_conn_next_deadline(C), 1700);
    tick(1700);
    assert_idle_close();
    conn_close(G, C, 2000);
}

Test(guard_ticks, h7_idle_out)
{
    P.idle_timeout_ms = 1000;
    P.idle_direction = WSG__IDLE_TO_CLIENT;
    C = conn_open(&P, &G, 0);
    in(800);
    cr_assert_eq(wsg_guard_conn_next_deadline(C), 1000);
    wsg_guard_conn_sent(C, 5, 600);
    cr_assert_eq(wsg_guard_conn_next_deadline(C), 1600);
    tick(1599);
    cr_assert_eq(A.what, WSG_GUARD_PASS);
    tick(1600);
    assert_idle_close();
    conn_close(G, C, 2000);
}

Test(guard_ticks, h3_auth_deadline)
{
    P.auth_token = (char *)"tok";
    P.auth_first_message_ms = 2000;
    P.idle_timeout_ms = 10000;
    C = conn_open(&P, &G, 0);
    cr_assert_eq(wsg_guard_conn_next_deadline(C), 2000);
    tick(1999);
    cr_assert_eq(A.what, WSG_GUARD_PASS);
    tick(2000);
    cr_assert_eq(A.what, WSG_GUARD_CLOSE);
    cr_assert_eq(A.code, 1008);
    cr_assert_eq(A.control, WSG_H3);
    cr_assert_str_eq(A.reason, "authentication required");
    cr_assert_eq(R.control[R.n - 1], WSG_H3);
    conn_close(G, C, 2000);

    /* authenticated: only the idle deadline is left */
    C = conn_open(&P, &G, 0);
    struct wsg_event ev = ev_msg(WSG_OP_TEXT, "tok");
    wsg_guard_conn_message(C, &ev, 10, &A);
    cr_assert_eq(A.what, WSG_GUARD_DROP);
    cr_assert_eq(wsg_guard_conn_next_deadline(C), 10010);
    tick(2000);
    cr_assert_eq(A.what, WSG_GUARD_PASS);
    conn_close(G, C, 3000);

    P.auth_first_message_ms = 0;
    P.auth_token = NULL;
    C = conn_open(&P, &G, 0);
    cr_assert_eq(wsg_guard_conn_next_deadline(C), 10000);
    tick(2000);
    cr_assert_eq(A.what, WSG_GUARD_PASS);
    conn_close(G, C, 3000);
}

/* H11: the close event carries duration, counters and both codes; the
 * per-address slot is released. */
Test(guard_ticks, h11_close_event)
{
    struct wsg_conn_stats st = {1234, 567, 10, 9, 8, 7, 1, 2};
    struct wsg_guard_peer pe = peer_make("192.0.2.9", true, 1700000000u);
    struct wsg_guard_verdict v;
    struct wsg_guard_conn *c2 = NULL;
    struct wsg_guard_stats gs;

    P.max_conns_per_ip = 1;
    C = conn_open(&P, &G, 1000);
    wsg_guard_conn_free(C, 4500, &st, 1000, 1001);
    cr_assert_str_eq(R.event[R.n - 1], "close");
    cr_assert_eq(R.code[R.n - 1], 1000);
    cr_assert(rec_has(&R, "\"duration_ms\":3500"), "%s", R.json);
    cr_assert(rec_has(&R, "\"bytes_in\":1234"));
    cr_assert(rec_has(&R, "\"bytes_out\":567"));
    cr_assert(rec_has(&R, "\"messages_in\":8"));
    cr_assert(rec_has(&R, "sent 1000, received 1001"));
    /* wall clock from peer->unix_s: 1700000000 s + 3.5 s */
    cr_assert(rec_has(&R, "2023-11-14T22:13:23.500Z"), "%s", R.json);
    wsg_guard_get_stats(G, &gs);
    cr_assert_eq(gs.open, 0);
    cr_assert_eq(gs.closed, 1);
    /* the same address again (conn_open used 203.0.113.5) */
    pe = peer_make("203.0.113.5", true, 1700000000u);
    cr_assert_eq(upgrade(G, "h", "/", NULL, &pe, 5000, &v, &c2), 0);
    wsg_guard_conn_free(c2, 5000, NULL, 0, 0);
    wsg_guard_free(G);
}

/* Deadlines saturate instead of wrapping (UBSan would catch signed
 * overflow in the wall-clock arithmetic). */
Test(guard_ticks, h7_deadlines_saturate)
{
    uint64_t t0 = UINT64_MAX - 10;

    P.idle_timeout_ms = 1000;
    P.auth_token = (char *)"tok";
    P.auth_first_message_ms = 5000;
    C = conn_open(&P, &G, t0);
    cr_assert_eq(wsg_guard_conn_next_deadline(C), UINT64_MAX);
    tick(UINT64_MAX - 1);
    cr_assert_eq(A.what, WSG_GUARD_PASS);
    tick(UINT64_MAX);
    cr_assert_eq(A.what, WSG_GUARD_CLOSE);
    cr_assert_eq(A.control, WSG_H3);
    conn_close(G, C, UINT64_MAX);
}
