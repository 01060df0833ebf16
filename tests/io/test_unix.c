/* The client over a Unix socket (wsg_client_config.unix_path) to a
 * non-listening server that adopts from a Unix listener of the test's own;
 * the 101's headers on the client (wsg_session_response_headers); a failed
 * client handshake's http_status and detail. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <criterion/criterion.h>

#include "io_util.h"

/* A Unix listener watched on the loop: each connection is adopted by srv
 * with no bytes read (the server reads the whole head itself). */
struct ulis {
    struct wsg_loop *loop;
    struct wsg_server *srv;
    int lfd;
    char dir[64];
    char path[108];
    struct wsg_watch *w;
    int adopted, adopt_rc;
};

static void ulis_cb(struct wsg_watch *w, unsigned rev, void *ud)
{
    struct ulis *u = ud;
    int fd;

    (void)w;
    (void)rev;
    fd = accept4(u->lfd, NULL, NULL, 0); /* blocking: adopt fixes it */
    if (fd < 0)
        return;
    u->adopt_rc = wsg_server_adopt(u->srv, fd, NULL, 0);
    u->adopted++;
}

static void ulis_start(struct ulis *u, struct wsg_loop *loop,
                       struct wsg_server *srv)
{
    struct sockaddr_un un;

    memset(u, 0, sizeof *u);
    u->loop = loop;
    u->srv = srv;
    snprintf(u->dir, sizeof u->dir, "/tmp/wsg-io-unix-XXXXXX");
    cr_assert_not_null(mkdtemp(u->dir));
    snprintf(u->path, sizeof u->path, "%s/s", u->dir);
    u->lfd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    cr_assert_geq(u->lfd, 0);
    memset(&un, 0, sizeof un);
    un.sun_family = AF_UNIX;
    memcpy(un.sun_path, u->path, strlen(u->path) + 1);
    cr_assert_eq(bind(u->lfd, (struct sockaddr *)&un, sizeof un), 0,
                 "bind: %s", strerror(errno));
    cr_assert_eq(listen(u->lfd, 8), 0);
    cr_assert_eq(wsg_watch_new(loop, u->lfd, WSG_IO_READ, ulis_cb, u, &u->w),
                 WSG_OK);
}

static void ulis_stop(struct ulis *u)
{
    wsg_watch_free(u->w);
    close(u->lfd);
    unlink(u->path);
    rmdir(u->dir);
}

/* Server (port NULL) + Unix listener + a client config for it. */
struct urig {
    struct pair p;
    struct ulis u;
};

static void urig_init(struct urig *r)
{
    pair_init(&r->p);
    r->p.scfg.port = NULL;
}

static void urig_start(struct urig *r)
{
    cr_assert_eq(wsg_server_new(r->p.loop, &r->p.scfg, &r->p.srv), WSG_OK);
    cr_assert_eq(wsg_server_port(r->p.srv), 0);
    ulis_start(&r->u, r->p.loop, r->p.srv);
    client_config(&r->p.ccfg, &r->p.cli_sd, 1);
    r->p.ccfg.host = NULL;
    r->p.ccfg.port = NULL;
    r->p.ccfg.unix_path = r->u.path;
}

static void urig_fini(struct urig *r)
{
    ulis_stop(&r->u);
    pair_fini(&r->p);
}

/* What each end saw, recorded from its hooks. */
struct seen {
    char host[128];                 /* the request's Host, on the server */
    char srv_peer[64];
    size_t srv_resp_count;          /* response headers of a server session */
    bool srv_resp_null;
    char cookie[128];               /* Set-Cookie, on the client */
    size_t cli_resp_count;
    bool cli_saw_upgrade_hdr;
};

static struct seen seen;
static const struct wsg_header set_cookie[] = {
    {"Set-Cookie", 10, "_xsrf=abc|123; Path=/; SameSite=Lax", 35},
};

static int upgrade_cookie(struct side *sd, struct wsg_session *s,
                          struct wsg_upgrade *up)
{
    (void)sd;
    snprintf(seen.host, sizeof seen.host, "%.*s",
             (int)up->request->host.len, up->request->host.ptr);
    snprintf(seen.srv_peer, sizeof seen.srv_peer, "%s", wsg_session_peer(s));
    up->accept.headers = set_cookie;
    up->accept.header_count = 1;
    return WSG_UPGRADE_ACCEPT;
}

static void server_open(struct side *sd, struct wsg_session *s)
{
    (void)sd;
    seen.srv_resp_count = 99;
    seen.srv_resp_null =
        wsg_session_response_headers(s, &seen.srv_resp_count) == NULL;
}

static bool name_is(const struct wsg_header *h, const char *name)
{
    return h->name_len == strlen(name) &&
           strncasecmp(h->name, name, h->name_len) == 0;
}

static void client_open(struct side *sd, struct wsg_session *s)
{
    size_t n = 0;
    const struct wsg_header *h = wsg_session_response_headers(s, &n);

    (void)sd;
    seen.cli_resp_count = n;
    cr_assert(n == 0 || h != NULL);
    for (size_t i = 0; i < n; i++) {
        if (name_is(&h[i], "Set-Cookie"))
            snprintf(seen.cookie, sizeof seen.cookie, "%.*s",
                     (int)h[i].value_len, h[i].value);
        if (name_is(&h[i], "Upgrade"))
            seen.cli_saw_upgrade_hdr = true;
    }
    cr_assert_eq(wsg_session_send(s, WSG_OP_TEXT, "hi", 2), WSG_OK);
}

Test(io_unix, client_over_unix_socket_sees_the_101_headers, .timeout = 20)
{
    struct urig r;
    size_t n = 99;

    memset(&seen, 0, sizeof seen);
    urig_init(&r);
    r.p.srv_sd.echo = true;
    r.p.srv_sd.hook_upgrade = upgrade_cookie;
    r.p.srv_sd.hook_open = server_open;
    r.p.cli_sd.hook_open = client_open;
    urig_start(&r);
    pair_connect(&r.p);
    cr_expect_null(wsg_session_response_headers(r.p.cli, &n));
    cr_expect_eq(n, 0, "headers before open");
    cr_assert(run_until(r.p.loop, 5000, int_pos, &r.p.cli_sd.msgs));
    cr_expect_eq(r.u.adopted, 1);
    cr_expect_eq(r.u.adopt_rc, WSG_OK);
    cr_expect_arr_eq(r.p.cli_sd.msg, "hi", 2);
    cr_expect_str_eq(seen.host, "localhost");
    cr_expect_str_eq(seen.srv_peer, "unix");
    cr_expect_str_eq(wsg_session_peer(r.p.cli), "unix");
    cr_expect(seen.srv_resp_null);
    cr_expect_eq(seen.srv_resp_count, 0);
    cr_expect_str_eq(seen.cookie, "_xsrf=abc|123; Path=/; SameSite=Lax");
    cr_expect(seen.cli_saw_upgrade_hdr);
    cr_expect_geq(seen.cli_resp_count, 4); /* Upgrade, Connection, Accept,
                                              Set-Cookie */
    /* Still there later in the session. */
    cr_expect_not_null(wsg_session_response_headers(r.p.cli, &n));
    cr_expect_eq(n, seen.cli_resp_count);
    cr_expect_null(wsg_session_response_headers(NULL, &n));
    cr_expect_eq(n, 0);
    urig_fini(&r);
}

Test(io_unix, host_header_comes_from_hs_host, .timeout = 20)
{
    struct urig r;

    memset(&seen, 0, sizeof seen);
    urig_init(&r);
    r.p.srv_sd.hook_upgrade = upgrade_cookie;
    urig_start(&r);
    r.p.ccfg.hs.host = "app.example:8501";
    r.p.ccfg.host = "app.example"; /* not resolved: the TLS name only */
    pair_connect(&r.p);
    cr_assert(run_until(r.p.loop, 5000, int_pos, &r.p.cli_sd.opens));
    cr_expect_str_eq(seen.host, "app.example:8501");
    urig_fini(&r);
}

Test(io_unix, missing_socket_fails_with_a_detail, .timeout = 20)
{
    struct pair p;
    char path[128];

    pair_init(&p);
    client_config(&p.ccfg, &p.cli_sd, 1);
    snprintf(path, sizeof path, "/tmp/wsg-io-no-such-dir-%d/s", (int)getpid());
    p.ccfg.unix_path = path;
    p.ccfg.host = NULL;
    pair_connect(&p);
    cr_assert(run_until(p.loop, 3000, int_pos, &p.cli_sd.closes));
    cr_expect_eq(p.cli_sd.opens, 0);
    cr_expect_eq(p.cli_sd.ci.err, WSG_ERR_IO, "%s",
                 wsg_err_name(p.cli_sd.ci.err));
    cr_expect_not_null(strstr(p.cli_sd.ci_detail, path), "%s",
                       p.cli_sd.ci_detail);
    cr_expect_eq(p.cli_sd.ci.http_status, 0);
    p.cli_sd.s = NULL;
    pair_fini(&p);
}

Test(io_unix, bad_unix_paths_are_refused, .timeout = 20)
{
    struct wsg_loop *loop = loop_new();
    struct side sd;
    struct wsg_client_config cfg;
    struct wsg_session *s = (struct wsg_session *)&sd;
    char longp[200];

    side_init(&sd, loop);
    client_config(&cfg, &sd, 1);
    cfg.host = NULL;
    cfg.unix_path = "";
    cr_expect_eq(wsg_client_connect(loop, &cfg, &s), WSG_ERR_INVALID_ARG);
    cr_expect_null(s);
    memset(longp, 'a', sizeof longp - 1);
    longp[0] = '/';
    longp[sizeof longp - 1] = '\0';
    cfg.unix_path = longp;
    cr_expect_eq(wsg_client_connect(loop, &cfg, &s), WSG_ERR_INVALID_ARG);
    cfg.unix_path = NULL; /* then host is required again */
    cr_expect_eq(wsg_client_connect(loop, &cfg, &s), WSG_ERR_INVALID_ARG);
    cr_expect_eq(sd.closes, 0);
    loop_finish(loop, NULL, NULL);
    side_fini(&sd);
}

/* ---- a failed client handshake ------------------------------------------ */

static int refuse_403(struct side *sd, struct wsg_session *s,
                      struct wsg_upgrade *up)
{
    (void)sd;
    (void)s;
    up->refuse_reason = "go away";
    return 403;
}

static bool headers_in_close_null;

static void close_checks_headers(struct side *sd, struct wsg_session *s,
                                 const struct wsg_close_info *ci)
{
    size_t n = 7;
    (void)sd;
    (void)ci;
    headers_in_close_null =
        wsg_session_response_headers(s, &n) == NULL && n == 0;
}

Test(io_unix, failed_client_handshake_reports_status_and_detail,
     .timeout = 20)
{
    struct pair p;

    headers_in_close_null = false;
    pair_init(&p);
    p.srv_sd.hook_upgrade = refuse_403;
    p.cli_sd.hook_close = close_checks_headers;
    pair_listen(&p);
    pair_connect(&p);
    cr_assert(run_until(p.loop, 5000, int_pos, &p.cli_sd.closes));
    cr_expect_eq(p.cli_sd.opens, 0);
    cr_expect_not(p.cli_sd.ci.opened);
    cr_expect_eq(p.cli_sd.ci.http_status, 403);
    cr_expect_eq(p.cli_sd.ci.err, WSG_ERR_HANDSHAKE, "%s",
                 wsg_err_name(p.cli_sd.ci.err));
    cr_expect_not_null(strstr(p.cli_sd.ci_detail, "403"), "detail: %s",
                       p.cli_sd.ci_detail);
    cr_expect(headers_in_close_null, "101 headers after a refusal");
    p.cli_sd.s = NULL;
    pair_fini(&p);
}
