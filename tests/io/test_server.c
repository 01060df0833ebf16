/* lib/io server lifecycle end to end (wsg_server + wsg_client in one
 * loop): shutdown with 1001 (H7's bounded close), shutdown and free from
 * callbacks, wsg_server_free with open sessions, max_connections, IPv6. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <criterion/criterion.h>

#include "io_util.h"

/* ---- server teardown ------------------------------------------------------------ */

static void count_shutdown(void *ud, struct wsg_server *srv)
{
    struct side *sd = ud;
    (void)srv;
    (*(int *)sd->user)++;
}

struct two {
    struct side *a, *b, *srv;
};

static bool two_open(void *arg)
{
    struct two *t = arg;
    return t->a->opens && t->b->opens && t->srv->opens == 2;
}

static bool shut_done(void *arg)
{
    struct two *t = arg;
    return t->a->closes && t->b->closes && *(int *)t->srv->user;
}

Test(io_server, server_shutdown_sends_1001, .timeout = 20)
{
    struct pair p;
    struct side cli2;
    struct wsg_session *s2 = NULL;
    struct two t;
    int shutdowns = 0;
    uint64_t t0;

    pair_init(&p);
    side_init(&cli2, p.loop);
    p.srv_sd.user = &shutdowns;
    p.scfg.on_shutdown = count_shutdown;
    pair_listen(&p);
    pair_connect(&p);
    struct wsg_client_config c2 = p.ccfg;
    side_callbacks(&cli2, &c2.cb);
    cr_assert_eq(wsg_client_connect(p.loop, &c2, &s2), WSG_OK);
    t.a = &p.cli_sd;
    t.b = &cli2;
    t.srv = &p.srv_sd;
    cr_assert(run_until(p.loop, 5000, two_open, &t));
    cr_expect_eq(wsg_server_session_count(p.srv), 2);

    t0 = wsg_clock_ms();
    wsg_server_shutdown(p.srv, 1001, NULL, 2000);
    wsg_server_shutdown(p.srv, 1000, "again", 10); /* second call: no-op */
    cr_assert(run_until(p.loop, 5000, shut_done, &t));
    cr_expect_lt(wsg_clock_ms() - t0, 2500, "shutdown took %lu ms",
                 (unsigned long)(wsg_clock_ms() - t0));
    cr_expect_eq(shutdowns, 1);
    cr_expect_eq(wsg_server_session_count(p.srv), 0);
    for (int i = 0; i < 2; i++) {
        struct side *c = i ? &cli2 : &p.cli_sd;
        cr_expect_eq(c->ci.code, 1001, "client %d got %u", i, c->ci.code);
        cr_expect_str_eq(c->ci_reason, "server shutting down");
        cr_expect_eq(c->ci.err, WSG_OK, "client %d: %s", i, c->ci.detail);
    }
    cr_expect_eq(p.srv_sd.closes, 2);
    cr_expect_eq(p.srv_sd.ci.code_sent, 1001);

    /* The listener is gone: a new client cannot connect. */
    struct side late;
    struct wsg_session *s3 = NULL;
    side_init(&late, p.loop);
    struct wsg_client_config c3 = p.ccfg;
    side_callbacks(&late, &c3.cb);
    cr_assert_eq(wsg_client_connect(p.loop, &c3, &s3), WSG_OK);
    cr_assert(run_until(p.loop, 3000, int_pos, &late.closes));
    cr_expect_eq(late.opens, 0);
    cr_expect_eq(p.srv_sd.upgrades, 2);

    p.cli_sd.s = NULL; /* closed */
    pair_fini(&p);
    side_fini(&cli2);
    side_fini(&late);
}

Test(io_server, server_free_closes_open_sessions, .timeout = 20)
{
    struct pair p;

    pair_init(&p);
    pair_listen(&p);
    pair_connect(&p);
    cr_assert(run_until(p.loop, 5000, int_pos, &p.srv_sd.opens));
    cr_assert(run_until(p.loop, 5000, int_pos, &p.cli_sd.opens));
    wsg_server_free(p.srv);
    p.srv = NULL;
    /* Inside the free call. */
    cr_expect_eq(p.srv_sd.closes, 1);
    cr_expect_eq(p.srv_sd.ci.err, WSG_ERR_CLOSED);
    cr_assert(run_until(p.loop, 3000, int_pos, &p.cli_sd.closes));
    cr_expect_neq(p.cli_sd.ci.err, WSG_OK);
    pair_fini(&p);
}

/* ---- shutdown and free from callbacks ---------------------------------------- */

struct selfshut {
    struct wsg_server *srv;
    int shutdowns;
};

static void shutdown_on_message(struct side *sd, struct wsg_session *s,
                                const struct wsg_event *ev)
{
    struct selfshut *ss = sd->user;
    (void)s;
    (void)ev;
    wsg_server_shutdown(ss->srv, 1012, "restart", 2000);
}

static void free_on_shutdown(void *ud, struct wsg_server *srv)
{
    struct side *sd = ud;
    struct selfshut *ss = sd->user;
    cr_assert_eq(srv, ss->srv);
    ss->shutdowns++;
    wsg_server_free(srv); /* not a session callback: allowed */
    ss->srv = NULL;
}

Test(io_server, shutdown_from_on_message_and_free_from_on_shutdown,
     .timeout = 20)
{
    struct pair p;
    struct selfshut ss = {NULL, 0};

    pair_init(&p);
    p.srv_sd.user = &ss;
    p.srv_sd.hook_message = shutdown_on_message;
    p.scfg.on_shutdown = free_on_shutdown;
    p.cli_sd.hook_open = send_one;
    pair_listen(&p);
    ss.srv = p.srv;
    pair_connect(&p);
    cr_assert(run_until(p.loop, 5000, int_pos, &ss.shutdowns));
    cr_assert(run_until(p.loop, 3000, int_pos, &p.cli_sd.closes));
    cr_expect_null(ss.srv);
    cr_expect_eq(p.cli_sd.ci.code, 1012);
    cr_expect_str_eq(p.cli_sd.ci_reason, "restart");
    cr_expect_eq(p.srv_sd.closes, 1);
    p.srv = NULL; /* freed by on_shutdown */
    pair_fini(&p);
}

/* ---- max_connections ----------------------------------------------------------- */

Test(io_server, max_connections_defers_accepting, .timeout = 20)
{
    struct pair p;
    struct side c2;
    struct wsg_session *s2 = NULL;

    pair_init(&p);
    side_init(&c2, p.loop);
    p.scfg.max_connections = 1;
    pair_listen(&p);
    pair_connect(&p);
    cr_assert(run_until(p.loop, 5000, int_pos, &p.cli_sd.opens));
    struct wsg_client_config cc = p.ccfg;
    side_callbacks(&c2, &cc.cb);
    cr_assert_eq(wsg_client_connect(p.loop, &cc, &s2), WSG_OK);
    run_until(p.loop, 300, NULL, NULL);
    cr_expect_eq(c2.opens, 0, "accepted over max_connections");
    cr_expect_eq(wsg_server_session_count(p.srv), 1);
    /* One leaves: the waiting one is served. */
    cr_assert_eq(wsg_session_close(p.cli, 1000, NULL), WSG_OK);
    cr_assert(run_until(p.loop, 5000, int_pos, &c2.opens));
    cr_expect_eq(p.srv_sd.upgrades, 2);
    cr_assert_eq(wsg_session_close(s2, 1000, NULL), WSG_OK);
    cr_assert(run_until(p.loop, 5000, int_pos, &c2.closes));
    pair_fini(&p);
    side_fini(&c2);
}

Test(io_server, ipv6_loopback_round_trip, .timeout = 20)
{
    struct pair p;
    char want[64];

    pair_init(&p);
    p.scfg.host = "::1";
    p.srv_sd.echo = true;
    p.cli_sd.hook_open = send_one;
    pair_listen(&p);
    p.ccfg.host = "::1";
    pair_connect(&p);
    cr_assert(run_until(p.loop, 5000, int_pos, &p.cli_sd.msgs));
    cr_expect_arr_eq(p.cli_sd.msg, "hi", 2);
    snprintf(want, sizeof want, "[::1]:%u", (unsigned)wsg_server_port(p.srv));
    cr_expect_str_eq(wsg_session_peer(p.cli), want);
    cr_expect_eq(strncmp(wsg_session_peer(p.srv_sd.s), "[::1]:", 6), 0, "%s",
                 wsg_session_peer(p.srv_sd.s));
    pair_fini(&p);
}
