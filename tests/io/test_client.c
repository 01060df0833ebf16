/* lib/io client against a raw server written by hand: frames that arrive
 * in the same segment as the 101 (T8, client side), a masked server frame
 * (T10), the connect + handshake deadline (H7), a forged accept value. */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <criterion/criterion.h>

#include "io_util.h"

struct rsrv {
    int lfd;
    uint16_t port;
    struct raw c;                   /* the accepted connection */
    bool accepted;
    char key[64];
};

static void rsrv_listen(struct rsrv *rs)
{
    struct sockaddr_in sa;
    socklen_t len = sizeof sa;

    memset(rs, 0, sizeof *rs);
    rs->c.fd = -1;
    rs->lfd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    cr_assert_geq(rs->lfd, 0);
    memset(&sa, 0, sizeof sa);
    sa.sin_family = AF_INET;
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    cr_assert_eq(bind(rs->lfd, (struct sockaddr *)&sa, sizeof sa), 0);
    cr_assert_eq(listen(rs->lfd, 8), 0);
    cr_assert_eq(getsockname(rs->lfd, (struct sockaddr *)&sa, &len), 0);
    rs->port = ntohs(sa.sin_port);
}

static void rsrv_close(struct rsrv *rs)
{
    raw_close(&rs->c);
    close(rs->lfd);
}

/* cond: accepted and the whole request head read. */
static bool got_request(void *arg)
{
    struct rsrv *rs = arg;
    if (!rs->accepted) {
        int fd = accept4(rs->lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (fd < 0)
            return false;
        rs->accepted = true;
        rs->c.fd = fd;
        rs->c.cap = 4096;
        rs->c.in = malloc(rs->c.cap);
        cr_assert_not_null(rs->c.in);
    }
    return raw_has_head(&rs->c);
}

/* Waits for the client's request and extracts its key. */
static void read_request(struct wsg_loop *loop, struct rsrv *rs)
{
    cr_assert(run_until(loop, 3000, got_request, rs), "no request");
    const char *k = memmem(rs->c.in, rs->c.len, "Sec-WebSocket-Key: ", 19);
    cr_assert_not_null(k);
    k += 19;
    const char *e = memchr(k, '\r', (size_t)((const char *)rs->c.in + rs->c.len - k));
    cr_assert_not_null(e);
    cr_assert_lt((size_t)(e - k), sizeof rs->key);
    memcpy(rs->key, k, (size_t)(e - k));
    rs->key[e - k] = '\0';
    rs->c.len = 0; /* consumed */
}

static size_t response_101(char *buf, size_t cap, const char *key,
                           bool forge)
{
    char acc[29];
    cr_assert_eq(wsg_hs_accept_value(key, strlen(key), acc), WSG_OK);
    if (forge)
        acc[0] = acc[0] == 'A' ? 'B' : 'A';
    int n = snprintf(buf, cap,
                     "HTTP/1.1 101 Switching Protocols\r\n"
                     "Upgrade: websocket\r\nConnection: Upgrade\r\n"
                     "Sec-WebSocket-Accept: %s\r\n\r\n",
                     acc);
    cr_assert(n > 0 && (size_t)n < cap);
    return (size_t)n;
}

static size_t server_frame(uint8_t *out, enum wsg_opcode op, const void *p,
                           size_t len)
{
    size_t h = wsg_frame_header_write(out, op, true, 0, len, NULL);
    memcpy(out + h, p, len);
    return h + len;
}

/* The client under test against a raw server: loop, server, recorder. */
struct crig {
    struct wsg_loop *loop;
    struct rsrv rs;
    struct side cs;
    struct wsg_client_config cfg;
    struct wsg_session *s;
};

/* Listens and prepares the client's config (tweak before crig_connect). */
static void crig_init(struct crig *c)
{
    c->loop = loop_new();
    c->s = NULL;
    rsrv_listen(&c->rs);
    side_init(&c->cs, c->loop);
    client_config(&c->cfg, &c->cs, c->rs.port);
}

static void crig_connect(struct crig *c)
{
    cr_assert_eq(wsg_client_connect(c->loop, &c->cfg, &c->s), WSG_OK);
}

static void crig_fini(struct crig *c)
{
    rsrv_close(&c->rs);
    loop_finish(c->loop, NULL, NULL);
    side_fini(&c->cs);
}

/* Runs the loop until the raw server has a whole frame from the client. */
static bool client_frame_arrives(struct crig *c, struct pframe *f)
{
    bool got = false;
    for (int i = 0; i < 600 && !got; i++) {
        wsg_loop_run_once(c->loop, 5);
        raw_pump(&c->rs.c);
        got = parse_frame(c->rs.c.in, c->rs.c.len, f);
    }
    return got;
}

Test(io_client, T8_frames_in_the_101_segment_are_delivered, .timeout = 20)
{
    struct crig c;
    uint8_t out[1024];
    size_t n;
    uint8_t cl[2 + 3] = {0x03, 0xe8, 's', 'r', 'v'};

    crig_init(&c);
    crig_connect(&c);
    read_request(c.loop, &c.rs);
    /* 101, a text frame and a Close, in one write. */
    n = response_101((char *)out, sizeof out, c.rs.key, false);
    n += server_frame(out + n, WSG_OP_TEXT, "early", 5);
    n += server_frame(out + n, WSG_OP_CLOSE, cl, sizeof cl);
    raw_send(&c.rs.c, out, n);

    /* The client answers the Close with a masked Close 1000. */
    struct pframe f;
    cr_assert(client_frame_arrives(&c, &f), "no Close echo from the client");
    cr_expect_eq(f.op, WSG_OP_CLOSE);
    cr_expect(f.masked, "client frame not masked");
    cr_expect_eq(c.cs.msgs, 1);
    cr_expect_eq(c.cs.msg_op, WSG_OP_TEXT);
    cr_expect_eq(c.cs.msg_len, 5);
    cr_expect_arr_eq(c.cs.msg, "early", 5);
    /* Server closes TCP first (7.1.1). */
    raw_close(&c.rs.c);
    cr_assert(run_until(c.loop, 3000, int_pos, &c.cs.closes));
    cr_expect_eq(c.cs.ci.err, WSG_OK, "%s", c.cs.ci.detail);
    cr_expect_eq(c.cs.ci.code, 1000);
    cr_expect_str_eq(c.cs.ci_reason, "srv");
    cr_expect_eq(c.cs.ci.code_sent, 1000);
    cr_expect_eq(c.cs.opens, 1);
    crig_fini(&c);
}

Test(io_client, T10_masked_server_frame_fails_the_client, .timeout = 20)
{
    struct crig c;
    uint8_t out[1024];
    static const uint8_t key[4] = {1, 2, 3, 4};
    size_t n;

    crig_init(&c);
    crig_connect(&c);
    read_request(c.loop, &c.rs);
    n = response_101((char *)out, sizeof out, c.rs.key, false);
    n += client_frame(out + n, WSG_OP_TEXT, true, "masked", 6, key);
    raw_send(&c.rs.c, out, n);
    struct pframe f;
    cr_assert(client_frame_arrives(&c, &f), "no Close from the client");
    cr_expect_eq(f.op, WSG_OP_CLOSE);
    raw_close(&c.rs.c);
    cr_assert(run_until(c.loop, 3000, int_pos, &c.cs.closes));
    cr_expect_eq(c.cs.msgs, 0, "masked payload delivered");
    cr_expect(c.cs.ci.err == WSG_ERR_MASKING ||
                  c.cs.ci.err == WSG_ERR_PROTOCOL,
              "err %s", wsg_err_name(c.cs.ci.err));
    cr_expect_eq(c.cs.ci.code_sent, 1002);
    crig_fini(&c);
}

Test(io_client, wrong_accept_value_fails_handshake, .timeout = 20)
{
    struct crig c;
    char out[512];

    crig_init(&c);
    crig_connect(&c);
    read_request(c.loop, &c.rs);
    raw_send(&c.rs.c, out, response_101(out, sizeof out, c.rs.key, true));
    cr_assert(run_until(c.loop, 3000, int_pos, &c.cs.closes));
    cr_expect_eq(c.cs.opens, 0);
    cr_expect_not(c.cs.ci.opened);
    cr_expect_eq(c.cs.ci.err, WSG_ERR_HANDSHAKE);
    cr_expect_eq(c.cs.ci.http_status, 101);
    crig_fini(&c);
}

Test(io_client, H7_handshake_deadline_when_server_never_answers,
     .timeout = 20)
{
    struct crig c;
    uint64_t t0;

    crig_init(&c); /* the backlog completes the connect; never answers */
    c.cfg.timeout_ms = 300;
    t0 = wsg_clock_ms();
    crig_connect(&c);
    cr_assert(run_until(c.loop, 3000, int_pos, &c.cs.closes));
    uint64_t el = c.cs.t_close - t0;
    cr_expect_geq(el, 280, "early: %lu ms", (unsigned long)el);
    cr_expect_lt(el, 1500, "late: %lu ms", (unsigned long)el);
    cr_expect_eq(c.cs.ci.err, WSG_ERR_TIMEOUT, "err %s",
                 wsg_err_name(c.cs.ci.err));
    cr_expect_not(c.cs.ci.opened);
    cr_expect_eq(c.cs.ci.http_status, 0);
    crig_fini(&c);
}
