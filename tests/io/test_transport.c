/* lib/io with a transport of our own (wsg_transport_factory), the way a TLS
 * adapter plugs in: reads come out of a private buffer 100 bytes at a time
 * with pending() > 0 (decrypted bytes epoll cannot see), writes are partial
 * (61 bytes per call). Messages must still arrive whole and in order, and
 * the ops' shutdown/free must be called once per connection. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include <criterion/criterion.h>

#include "io_util.h"

#define RCHUNK 100
#define WCHUNK 61

struct tstats {
    int wraps, server_wraps, frees, shutdowns;
    int pending_reads;              /* reads served from the buffer only */
    char server_name[64];
    bool fail_wrap;                 /* server side's wrap fails */
    bool fail_client_wrap;
};

struct tctx {
    struct tstats *st;
    uint8_t buf[32768];
    size_t len, off;
};

static int t_read(void *ctx, int fd, uint8_t *buf, size_t len, size_t *got,
                  unsigned *want)
{
    struct tctx *t = ctx;
    *got = 0;
    if (t->off == t->len) {
        ssize_t n;
        t->off = t->len = 0;
        do
            n = recv(fd, t->buf, sizeof t->buf, 0);
        while (n < 0 && errno == EINTR);
        if (n == 0)
            return WSG_ERR_PEER_CLOSED;
        if (n < 0) {
            if (errno == EAGAIN || errno == EWOULDBLOCK) {
                *want = WSG_IO_READ;
                return WSG_ERR_AGAIN;
            }
            return errno == ECONNRESET ? WSG_ERR_PEER_CLOSED : WSG_ERR_IO;
        }
        t->len = (size_t)n;
    } else {
        t->st->pending_reads++;
    }
    size_t k = t->len - t->off;
    if (k > len)
        k = len;
    if (k > RCHUNK)
        k = RCHUNK;
    memcpy(buf, t->buf + t->off, k);
    t->off += k;
    *got = k;
    return WSG_OK;
}

static int t_writev(void *ctx, int fd, const struct wsg_iovec *iov, size_t n,
                    size_t *put, unsigned *want)
{
    struct wsg_iovec one;
    (void)ctx;
    *put = 0;
    if (n == 0)
        return WSG_OK;
    one.base = iov[0].base;
    one.len = iov[0].len < WCHUNK ? iov[0].len : WCHUNK;
    return wsg_transport_tcp()->writev(NULL, fd, &one, 1, put, want);
}

static size_t t_pending(void *ctx)
{
    struct tctx *t = ctx;
    return t->len - t->off;
}

static void t_shutdown(void *ctx, int fd)
{
    struct tctx *t = ctx;
    (void)fd;
    t->st->shutdowns++;
}

static void t_free(void *ctx)
{
    struct tctx *t = ctx;
    t->st->frees++;
    free(t);
}

static const struct wsg_transport_ops tops = {
    t_read, t_writev, t_pending, t_shutdown, t_free,
};

static int t_wrap(void *ud, int fd, bool server_side, const char *server_name,
                  const struct wsg_transport_ops **ops, void **ctx)
{
    struct tstats *st = ud;
    struct tctx *t;
    (void)fd;
    if ((st->fail_wrap && server_side) ||
        (st->fail_client_wrap && !server_side))
        return WSG_ERR_TLS;
    t = calloc(1, sizeof *t);
    cr_assert_not_null(t);
    t->st = st;
    st->wraps++;
    st->server_wraps += server_side;
    if (!server_side && server_name)
        strncpy(st->server_name, server_name, sizeof st->server_name - 1);
    *ops = &tops;
    *ctx = t;
    return WSG_OK;
}

struct big {
    uint8_t *p;
    size_t len;
    int sent;
};

static void send_big_twice(struct side *sd, struct wsg_session *s)
{
    struct big *b = sd->user;
    /* Two messages back to back: they share transport buffers. */
    cr_assert_eq(wsg_session_send(s, WSG_OP_BINARY, b->p, b->len), WSG_OK);
    cr_assert_eq(wsg_session_send(s, WSG_OP_TEXT, "tail", 4), WSG_OK);
}

static void close_after_tail(struct side *sd, struct wsg_session *s,
                             const struct wsg_event *ev)
{
    struct big *b = sd->user;
    if (b->sent++ == 0) {
        cr_expect_eq(ev->opcode, WSG_OP_BINARY);
        cr_expect_eq(ev->len, b->len);
        cr_expect(ev->len == b->len && memcmp(ev->data, b->p, b->len) == 0,
                  "big message corrupted");
    } else {
        cr_expect_eq(ev->opcode, WSG_OP_TEXT);
        cr_expect_eq(ev->len, 4);
        cr_expect_arr_eq(ev->data, "tail", 4);
        cr_assert_eq(wsg_session_close(s, 1000, "fine"), WSG_OK);
    }
}

static bool both_closed(void *arg)
{
    struct side **sd = arg;
    return sd[0]->closes && sd[1]->closes;
}

Test(io_transport, buffered_partial_transport_round_trip, .timeout = 20)
{
    struct wsg_loop *loop = loop_new();
    struct side ss, cs;
    struct wsg_server_config scfg;
    struct wsg_client_config ccfg;
    struct wsg_server *srv;
    struct wsg_session *cli = NULL;
    struct tstats st;
    struct big b;

    memset(&st, 0, sizeof st);
    b.len = 20000;
    b.p = malloc(b.len);
    b.sent = 0;
    for (size_t i = 0; i < b.len; i++)
        b.p[i] = pattern(5, i);
    side_init(&ss, loop);
    side_init(&cs, loop);
    server_config(&scfg, &ss);
    scfg.transport.wrap = t_wrap;
    scfg.transport.ud = &st;
    ss.echo = true;
    srv = server_start(loop, &scfg, &ss);
    client_config(&ccfg, &cs, wsg_server_port(srv));
    ccfg.transport.wrap = t_wrap;
    ccfg.transport.ud = &st;
    cs.user = &b;
    cs.hook_open = send_big_twice;
    cs.hook_message = close_after_tail;
    cr_assert_eq(wsg_client_connect(loop, &ccfg, &cli), WSG_OK);
    struct side *both[2] = {&ss, &cs};
    cr_assert(run_until(loop, 10000, both_closed, both),
              "server msgs %d, client msgs %d", ss.msgs, cs.msgs);
    cr_expect_eq(ss.msgs, 2);
    cr_expect_eq(cs.msgs, 2);
    cr_expect_eq(cs.ci.err, WSG_OK, "%s", cs.ci.detail);
    cr_expect_eq(ss.ci.err, WSG_OK, "%s", ss.ci.detail);
    cr_expect_eq(ss.ci.code, 1000);
    cr_expect_str_eq(ss.ci_reason, "fine");
    cr_expect_gt(st.pending_reads, 100, "pending() path not exercised (%d)",
                 st.pending_reads);
    cr_expect_eq(st.wraps, 2);
    cr_expect_eq(st.server_wraps, 1);
    cr_expect_str_eq(st.server_name, "127.0.0.1");
    cr_expect_eq(st.frees, 2, "transport freed %d times", st.frees);
    cr_expect_geq(st.shutdowns, 2);
    loop_finish(loop, srv, NULL);
    side_fini(&ss);
    side_fini(&cs);
    free(b.p);
}

Test(io_transport, failing_wrap_reports_its_error, .timeout = 20)
{
    struct pair p;
    struct tstats st;

    memset(&st, 0, sizeof st);
    st.fail_wrap = true;
    pair_init(&p);
    p.scfg.transport.wrap = t_wrap;
    p.scfg.transport.ud = &st;
    pair_listen(&p);
    pair_connect(&p);
    cr_assert(run_until(p.loop, 5000, int_pos, &p.cli_sd.closes));
    cr_expect_eq(p.cli_sd.opens, 0);
    cr_expect_eq(p.srv_sd.upgrades, 0);
    cr_assert(run_until(p.loop, 1000, int_pos, &p.srv_sd.refuses));
    cr_expect_eq(p.srv_sd.ref_status, 0);
    /* A transport (TLS) wrap failure reaches on_refuse / the audit log with
     * the wrap's own error, not as "out of memory". */
    cr_expect_eq(p.srv_sd.ref_err, WSG_ERR_TLS, "on_refuse err %s for a "
                 "failed transport wrap (reason: %s)",
                 wsg_err_name(p.srv_sd.ref_err), p.srv_sd.ref_reason);
    cr_expect_eq(wsg_server_session_count(p.srv), 0);
    pair_fini(&p);
}

Test(io_transport, failing_client_wrap_reports_its_error, .timeout = 20)
{
    struct pair p;
    struct tstats st;

    memset(&st, 0, sizeof st);
    st.fail_client_wrap = true;
    pair_init(&p);
    pair_listen(&p);
    p.ccfg.transport.wrap = t_wrap;
    p.ccfg.transport.ud = &st;
    pair_connect(&p);
    cr_assert(run_until(p.loop, 5000, int_pos, &p.cli_sd.closes));
    cr_expect_eq(p.cli_sd.opens, 0);
    cr_expect_eq(p.cli_sd.ci.err, WSG_ERR_TLS, "client on_close err %s (%s)",
                 wsg_err_name(p.cli_sd.ci.err), p.cli_sd.ci_detail);
    pair_fini(&p);
}
