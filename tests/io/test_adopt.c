/* wsg_server_adopt: a front end (the test) accepts a connection, reads the
 * request head or part of it, and hands the fd and those bytes to a
 * server, listening or not (port NULL). The peer is a raw client. */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <criterion/criterion.h>

#include "io_util.h"

/* A server (g.srv, non-listening unless asked), a front listener of the
 * test's own, the raw peer (g.r) connected to it and the front end's end
 * of that connection (fd), still blocking. */
struct arig {
    struct rig g;
    int lfd;
    uint16_t fport;
    int fd;
};

static void front_listen(struct arig *a)
{
    struct sockaddr_in sa;
    socklen_t len = sizeof sa;

    a->lfd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    cr_assert_geq(a->lfd, 0);
    memset(&sa, 0, sizeof sa);
    sa.sin_family = AF_INET;
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    cr_assert_eq(bind(a->lfd, (struct sockaddr *)&sa, sizeof sa), 0);
    cr_assert_eq(listen(a->lfd, 8), 0);
    cr_assert_eq(getsockname(a->lfd, (struct sockaddr *)&sa, &len), 0);
    a->fport = ntohs(sa.sin_port);
}

/* rig with cfg tweakable before arig_start. */
static void arig_init(struct arig *a)
{
    memset(a, 0, sizeof *a);
    rig_init(&a->g);
    a->g.cfg.port = NULL; /* adopt only */
    a->g.sd.echo = true;
    a->fd = -1;
    a->lfd = -1;
}

static void arig_start(struct arig *a)
{
    if (a->g.cfg.port) {
        rig_listen(&a->g);
    } else {
        cr_assert_eq(wsg_server_new(a->g.loop, &a->g.cfg, &a->g.srv), WSG_OK);
        cr_assert_eq(wsg_server_port(a->g.srv), 0);
    }
    front_listen(a);
    raw_connect(&a->g.r, a->fport);
    a->fd = accept(a->lfd, NULL, NULL); /* blocking, no CLOEXEC */
    cr_assert_geq(a->fd, 0, "accept: %s", strerror(errno));
    if (!a->g.port)
        a->g.port = a->fport; /* the Host header of upgrade_request */
}

static void arig_fini(struct arig *a)
{
    if (a->lfd >= 0)
        close(a->lfd);
    rig_fini(&a->g);
}

static void adopt_ok(struct arig *a, const void *data, size_t len)
{
    cr_assert_eq(wsg_server_adopt(a->g.srv, a->fd, data, len), WSG_OK);
    cr_expect_eq(wsg_server_session_count(a->g.srv), 1);
}

static void send_text(struct rig *g, const char *text)
{
    uint8_t fr[256];
    size_t n = strlen(text);
    cr_assert_lt(n, sizeof fr - 14);
    raw_send(&g->r, fr, client_frame(fr, WSG_OP_TEXT, true, text, n, RAW_KEY));
}

static bool fd_closed(int fd)
{
    return fcntl(fd, F_GETFD) == -1 && errno == EBADF;
}

/* The front end reads until the head is complete, as a relay would. */
static size_t front_read_head(int fd, uint8_t *buf, size_t cap)
{
    size_t n = 0;

    for (int i = 0; i < 300; i++) {
        struct pollfd pfd = {fd, POLLIN, 0};
        ssize_t got;

        cr_assert_geq(poll(&pfd, 1, 10), 0);
        if (!(pfd.revents & POLLIN))
            continue;
        got = recv(fd, buf + n, cap - n, 0);
        cr_assert_gt(got, 0);
        n += (size_t)got;
        if (memmem(buf, n, "\r\n\r\n", 4))
            return n;
        cr_assert_lt(n, cap);
    }
    cr_assert_fail("no request head within 3 s (%zu bytes)", n);
    return 0;
}

Test(io_adopt, full_head_in_data_then_echo, .timeout = 20)
{
    struct arig a;
    char req[512];
    uint8_t head[1024];
    size_t n;
    char want_peer[64];

    arig_init(&a);
    arig_start(&a);
    raw_send(&a.g.r, req, upgrade_request(req, sizeof req, a.fport, NULL));
    n = front_read_head(a.fd, head, sizeof head);
    adopt_ok(&a, head, n);
    memset(head, 0, sizeof head); /* the server kept no pointer into it */
    /* The fd was blocking and inheritable: now neither. */
    cr_expect(fcntl(a.fd, F_GETFL) & O_NONBLOCK);
    cr_expect(fcntl(a.fd, F_GETFD) & FD_CLOEXEC);
    cr_expect_eq(a.g.sd.upgrades, 0, "callback inside wsg_server_adopt");
    expect_101(&a.g);
    cr_expect_eq(a.g.sd.upgrades, 1);
    cr_assert(run_until(a.g.loop, 3000, int_pos, &a.g.sd.opens));
    /* Same peer string as a listener would give: the raw client's port. */
    struct sockaddr_in sa;
    socklen_t sl = sizeof sa;
    cr_assert_eq(getsockname(a.g.r.fd, (struct sockaddr *)&sa, &sl), 0);
    snprintf(want_peer, sizeof want_peer, "127.0.0.1:%u",
             (unsigned)ntohs(sa.sin_port));
    cr_expect_str_eq(wsg_session_peer(a.g.sd.s), want_peer);
    send_text(&a.g, "hello");
    expect_frame(&a.g, WSG_OP_TEXT, "hello", 5);
    cr_expect_eq(a.g.sd.msgs, 1);
    arig_fini(&a);
}

static bool no_callback_yet(struct side *sd)
{
    return sd->upgrades == 0 && sd->refuses == 0 && sd->closes == 0;
}

Test(io_adopt, partial_head_in_data_rest_from_the_socket, .timeout = 20)
{
    struct arig a;
    char req[512];
    size_t n;

    arig_init(&a);
    arig_start(&a);
    n = upgrade_request(req, sizeof req, a.fport, NULL);
    adopt_ok(&a, req, 30); /* the request line and a bit */
    run_until(a.g.loop, 100, NULL, NULL);
    cr_expect(no_callback_yet(&a.g.sd), "decided on a partial head");
    raw_pump(&a.g.r);
    cr_expect_eq(a.g.r.len, 0, "answered a partial head");
    raw_send(&a.g.r, req + 30, n - 30);
    expect_101(&a.g);
    send_text(&a.g, "rest");
    expect_frame(&a.g, WSG_OP_TEXT, "rest", 4);
    arig_fini(&a);
}

static bool msg_before_open;

static void check_open_first(struct side *sd, struct wsg_session *s,
                             const struct wsg_event *ev)
{
    (void)s;
    (void)ev;
    if (sd->opens != 1)
        msg_before_open = true;
}

Test(io_adopt, T8_frame_pipelined_in_data_reaches_the_parser_after_101,
     .timeout = 20)
{
    struct arig a;
    uint8_t data[1024];
    size_t n;

    arig_init(&a);
    msg_before_open = false;
    a.g.sd.hook_message = check_open_first;
    arig_start(&a);
    n = upgrade_request((char *)data, sizeof data, a.fport, NULL);
    n += client_frame(data + n, WSG_OP_TEXT, true, "early", 5, RAW_KEY);
    n += client_frame(data + n, WSG_OP_BINARY, true, "\x01\x02", 2, RAW_KEY);
    adopt_ok(&a, data, n);
    memset(data, 0xee, sizeof data); /* copied, not borrowed */
    expect_101(&a.g);
    expect_frame(&a.g, WSG_OP_TEXT, "early", 5);
    expect_frame(&a.g, WSG_OP_BINARY, "\x01\x02", 2);
    cr_expect_eq(a.g.sd.msgs, 2);
    cr_expect_not(msg_before_open, "a pipelined frame came before on_open");
    /* Then the socket is read as usual. */
    send_text(&a.g, "later");
    expect_frame(&a.g, WSG_OP_TEXT, "later", 5);
    arig_fini(&a);
}

Test(io_adopt, listening_server_adopts_too, .timeout = 20)
{
    struct arig a;
    struct raw direct;
    char req[512];

    arig_init(&a);
    a.g.cfg.port = "0";
    arig_start(&a);
    cr_assert_gt(wsg_server_port(a.g.srv), 0);
    adopt_ok(&a, req, upgrade_request(req, sizeof req, a.fport, NULL));
    expect_101(&a.g);
    /* The listener still serves its own connections. */
    raw_connect(&direct, a.g.port);
    raw_send(&direct, req, upgrade_request(req, sizeof req, a.g.port, NULL));
    cr_assert(run_until(a.g.loop, 3000, raw_has_head, &direct));
    cr_expect_eq(raw_status(&direct), 101);
    cr_expect_eq(wsg_server_session_count(a.g.srv), 2);
    raw_close(&direct);
    send_text(&a.g, "both");
    expect_frame(&a.g, WSG_OP_TEXT, "both", 4);
    arig_fini(&a);
}

static char peer_at_upgrade[64];

static int record_peer(struct side *sd, struct wsg_session *s,
                       struct wsg_upgrade *up)
{
    (void)sd;
    snprintf(peer_at_upgrade, sizeof peer_at_upgrade, "%s|%s", up->peer,
             wsg_session_peer(s));
    return WSG_UPGRADE_ACCEPT;
}

Test(io_adopt, unix_socketpair_peer_is_unix, .timeout = 20)
{
    struct rig g;
    int sv[2];
    char req[512];

    rig_init(&g);
    g.cfg.port = NULL;
    g.sd.echo = true;
    g.sd.hook_upgrade = record_peer;
    peer_at_upgrade[0] = '\0';
    cr_assert_eq(wsg_server_new(g.loop, &g.cfg, &g.srv), WSG_OK);
    cr_assert_eq(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
    /* The raw peer on sv[0]; sv[1] adopted (blocking). */
    memset(&g.r, 0, sizeof g.r);
    g.r.fd = sv[0];
    cr_assert_eq(fcntl(sv[0], F_SETFL, O_NONBLOCK), 0);
    g.r.cap = 4096;
    g.r.in = malloc(g.r.cap);
    cr_assert_not_null(g.r.in);
    cr_assert_eq(wsg_server_adopt(g.srv, sv[1], (const uint8_t *)req,
                                  upgrade_request(req, sizeof req, 80, NULL)),
                 WSG_OK);
    expect_101(&g);
    cr_expect_str_eq(peer_at_upgrade, "unix|unix");
    cr_expect(fcntl(sv[1], F_GETFL) & O_NONBLOCK);
    send_text(&g, "over unix");
    expect_frame(&g, WSG_OP_TEXT, "over unix", 9);
    rig_fini(&g);
}

static int refuse_403(struct side *sd, struct wsg_session *s,
                      struct wsg_upgrade *up)
{
    (void)sd;
    (void)s;
    up->refuse_reason = "no entry";
    return 403;
}

Test(io_adopt, refusal_reaches_the_peer, .timeout = 20)
{
    struct arig a;
    char req[512];

    arig_init(&a);
    a.g.sd.hook_upgrade = refuse_403;
    arig_start(&a);
    adopt_ok(&a, req, upgrade_request(req, sizeof req, a.fport, NULL));
    cr_assert(run_until(a.g.loop, 3000, raw_has_head, &a.g.r));
    cr_expect_eq(raw_status(&a.g.r), 403, "%.*s", (int)a.g.r.len,
                 (const char *)a.g.r.in);
    cr_assert(run_until(a.g.loop, 3000, raw_has_eof, &a.g.r));
    cr_assert(run_until(a.g.loop, 3000, int_pos, &a.g.sd.refuses));
    cr_expect_eq(a.g.sd.ref_status, 403);
    cr_expect_eq(a.g.sd.ref_err, WSG_ERR_POLICY);
    cr_expect(a.g.sd.ref_had_request);
    cr_expect_eq(a.g.sd.closes, 1); /* on_upgrade saw it: on_close owed */
    cr_expect_eq(wsg_server_session_count(a.g.srv), 0);
    arig_fini(&a);
}

Test(io_adopt, head_over_the_limits_in_data_gets_431, .timeout = 20)
{
    struct arig a;
    char *big, *req;
    size_t n;

    arig_init(&a);
    a.g.cfg.limits.max_header_bytes = 1024;
    arig_start(&a);
    big = malloc(8192);
    req = malloc(16384);
    cr_assert(big && req);
    memcpy(big, "X-Big: ", 7);
    memset(big + 7, 'a', 6000);
    memcpy(big + 6007, "\r\n", 3);
    n = upgrade_request(req, 16384, a.fport, big);
    adopt_ok(&a, req, n);
    free(big);
    free(req);
    cr_assert(run_until(a.g.loop, 3000, raw_has_head, &a.g.r));
    cr_expect_eq(raw_status(&a.g.r), 431, "%.*s", (int)a.g.r.len,
                 (const char *)a.g.r.in);
    cr_assert(run_until(a.g.loop, 3000, int_pos, &a.g.sd.refuses));
    cr_expect_eq(a.g.sd.ref_err, WSG_ERR_HTTP);
    cr_expect_eq(a.g.sd.upgrades, 0);
    arig_fini(&a);
}

Test(io_adopt, handshake_deadline_starts_at_adoption, .timeout = 20)
{
    struct arig a;
    char req[512];
    uint64_t t0;

    arig_init(&a);
    a.g.cfg.handshake_timeout_ms = 300;
    arig_start(&a);
    upgrade_request(req, sizeof req, a.fport, NULL);
    run_until(a.g.loop, 400, NULL, NULL); /* time before adoption: free */
    t0 = wsg_clock_ms();
    adopt_ok(&a, req, 20);
    cr_assert(run_until(a.g.loop, 3000, int_pos, &a.g.sd.refuses));
    uint64_t el = a.g.sd.t_refuse - t0;
    cr_expect_geq(el, 280, "early: %lu ms", (unsigned long)el);
    cr_expect_lt(el, 1500, "late: %lu ms", (unsigned long)el);
    cr_expect_eq(a.g.sd.ref_err, WSG_ERR_TIMEOUT);
    cr_expect_eq(a.g.sd.ref_status, 0);
    cr_assert(run_until(a.g.loop, 3000, raw_has_eof, &a.g.r));
    arig_fini(&a);
}

Test(io_adopt, over_max_connections_answers_503, .timeout = 20)
{
    struct arig a;
    struct raw r2;
    char req[512];
    size_t n;
    int fd2;

    arig_init(&a);
    a.g.cfg.max_connections = 1;
    arig_start(&a);
    n = upgrade_request(req, sizeof req, a.fport, NULL);
    adopt_ok(&a, req, n);
    expect_101(&a.g);
    raw_connect(&r2, a.fport);
    fd2 = accept(a.lfd, NULL, NULL);
    cr_assert_geq(fd2, 0);
    cr_assert_eq(wsg_server_adopt(a.g.srv, fd2, (const uint8_t *)req, n),
                 WSG_OK);
    cr_expect_eq(wsg_server_session_count(a.g.srv), 2);
    cr_assert(run_until(a.g.loop, 3000, raw_has_head, &r2));
    cr_expect_eq(raw_status(&r2), 503, "%.*s", (int)r2.len,
                 (const char *)r2.in);
    cr_assert(run_until(a.g.loop, 3000, raw_has_eof, &r2));
    cr_assert(run_until(a.g.loop, 3000, int_pos, &a.g.sd.refuses));
    cr_expect_eq(a.g.sd.ref_status, 503);
    cr_expect_eq(a.g.sd.ref_err, WSG_ERR_POLICY);
    cr_expect_str_eq(a.g.sd.ref_reason, "too many connections");
    cr_expect_eq(a.g.sd.upgrades, 1);
    cr_expect_eq(wsg_server_session_count(a.g.srv), 1);
    raw_close(&r2);
    /* The first one is unharmed. */
    send_text(&a.g, "still");
    expect_frame(&a.g, WSG_OP_TEXT, "still", 5);
    arig_fini(&a);
}

static void count_shutdown(void *ud, struct wsg_server *srv)
{
    struct side *sd = ud;
    (void)srv;
    (*(int *)sd->user)++;
}

Test(io_adopt, shutdown_closes_adopted_sessions_then_refuses_adoption,
     .timeout = 20)
{
    struct arig a;
    char req[512];
    int shutdowns = 0;
    struct raw r2;
    int fd2;

    arig_init(&a);
    a.g.sd.user = &shutdowns;
    a.g.cfg.on_shutdown = count_shutdown;
    arig_start(&a);
    adopt_ok(&a, req, upgrade_request(req, sizeof req, a.fport, NULL));
    expect_101(&a.g);
    wsg_server_shutdown(a.g.srv, 1001, NULL, 2000);
    struct pframe f = next_frame(&a.g);
    cr_expect_eq(f.op, WSG_OP_CLOSE);
    cr_expect_eq(close_code_of(&f), 1001);

    /* Adopting now: refused, the fd closed, no callback. */
    raw_connect(&r2, a.fport);
    fd2 = accept(a.lfd, NULL, NULL);
    cr_assert_geq(fd2, 0);
    cr_expect_eq(wsg_server_adopt(a.g.srv, fd2, (const uint8_t *)req,
                                  strlen(req)),
                 WSG_ERR_CLOSED);
    cr_expect(fd_closed(fd2), "fd left open");
    cr_assert(run_until(a.g.loop, 3000, raw_has_eof, &r2));
    cr_expect_eq(r2.len, 0);
    raw_close(&r2);

    uint8_t cl[8];
    static const uint8_t code[2] = {0x03, 0xe9};
    raw_send(&a.g.r, cl, client_frame(cl, WSG_OP_CLOSE, true, code, 2, RAW_KEY));
    cr_assert(run_until(a.g.loop, 3000, raw_has_eof, &a.g.r)); /* its FIN */
    raw_close(&a.g.r); /* ours: the linger ends */
    cr_assert(run_until(a.g.loop, 3000, int_pos, &shutdowns));
    cr_expect_eq(a.g.sd.closes, 1);
    cr_expect_eq(a.g.sd.ci.err, WSG_OK, "%s", a.g.sd.ci.detail);
    cr_expect_eq(a.g.sd.upgrades, 1);
    cr_expect_eq(wsg_server_session_count(a.g.srv), 0);
    arig_fini(&a);
}

Test(io_adopt, bad_arguments_close_the_fd, .timeout = 20)
{
    struct arig a;
    int sv[2], pfd[2], udp, lone;

    arig_init(&a);
    arig_start(&a);
    cr_expect_eq(wsg_server_adopt(a.g.srv, -1, NULL, 0), WSG_ERR_INVALID_ARG);

    cr_assert_eq(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
    cr_expect_eq(wsg_server_adopt(NULL, sv[1], NULL, 0), WSG_ERR_INVALID_ARG);
    cr_expect(fd_closed(sv[1]));
    close(sv[0]);

    cr_assert_eq(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
    cr_expect_eq(wsg_server_adopt(a.g.srv, sv[1], NULL, 5),
                 WSG_ERR_INVALID_ARG);
    cr_expect(fd_closed(sv[1]));
    close(sv[0]);

    cr_assert_eq(pipe(pfd), 0); /* not a socket */
    cr_expect_eq(wsg_server_adopt(a.g.srv, pfd[0], NULL, 0),
                 WSG_ERR_INVALID_ARG);
    cr_expect(fd_closed(pfd[0]));
    close(pfd[1]);

    udp = socket(AF_INET, SOCK_DGRAM, 0); /* not a stream */
    cr_assert_geq(udp, 0);
    cr_expect_eq(wsg_server_adopt(a.g.srv, udp, NULL, 0), WSG_ERR_INVALID_ARG);
    cr_expect(fd_closed(udp));

    lone = socket(AF_INET, SOCK_STREAM, 0); /* not connected */
    cr_assert_geq(lone, 0);
    cr_expect_eq(wsg_server_adopt(a.g.srv, lone, NULL, 0), WSG_ERR_IO);
    cr_expect(fd_closed(lone));

    run_until(a.g.loop, 50, NULL, NULL);
    cr_expect_eq(wsg_server_session_count(a.g.srv), 0);
    cr_expect(no_callback_yet(&a.g.sd));
    close(a.fd); /* never adopted */
    arig_fini(&a);
}
