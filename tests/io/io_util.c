#include "io_util.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <criterion/criterion.h>

/* ---- loop driver ---------------------------------------------------------- */

bool run_until(struct wsg_loop *loop, int ms, bool (*cond)(void *arg),
               void *arg)
{
    uint64_t end = wsg_clock_ms() + (uint64_t)ms;

    for (;;) {
        uint64_t now;
        if (cond && cond(arg))
            return true;
        now = wsg_clock_ms();
        if (now >= end)
            return cond ? cond(arg) : true;
        int left = (int)(end - now);
        cr_assert_geq(wsg_loop_run_once(loop, left < 5 ? left : 5), 0);
    }
}

bool int_pos(void *arg) { return *(int *)arg > 0; }

/* ---- side ----------------------------------------------------------------- */

static int cb_upgrade(void *ud, struct wsg_session *s, struct wsg_upgrade *up)
{
    struct side *sd = ud;
    sd->s = s;
    sd->upgrades++;
    return sd->hook_upgrade ? sd->hook_upgrade(sd, s, up) : WSG_UPGRADE_ACCEPT;
}

static void cb_refuse(void *ud, const struct wsg_refusal *r)
{
    struct side *sd = ud;
    sd->refuses++;
    sd->ref_status = r->status;
    sd->ref_err = r->err;
    cr_assert_not_null(r->reason);
    cr_assert_not_null(r->peer);
    snprintf(sd->ref_reason, sizeof sd->ref_reason, "%s", r->reason);
    sd->ref_had_request = r->request != NULL;
    sd->t_refuse = wsg_clock_ms();
}

static void cb_open(void *ud, struct wsg_session *s)
{
    struct side *sd = ud;
    sd->s = s;
    sd->opens++;
    sd->t_open = wsg_clock_ms();
    sd->data_at_open = wsg_session_data(s);
    snprintf(sd->proto_at_open, sizeof sd->proto_at_open, "%s",
             wsg_session_protocol(s));
    if (sd->hook_open)
        sd->hook_open(sd, s);
}

static void cb_message(void *ud, struct wsg_session *s,
                       const struct wsg_event *ev)
{
    struct side *sd = ud;
    sd->s = s;
    sd->msgs++;
    sd->msg_op = ev->opcode;
    sd->msg_len = ev->len < SIDE_MSG_MAX ? ev->len : SIDE_MSG_MAX;
    if (sd->msg_len)
        memcpy(sd->msg, ev->data, sd->msg_len);
    sd->data_at_msg = wsg_session_data(s);
    if (sd->echo)
        cr_assert_eq(wsg_session_send(s, ev->opcode, ev->data, ev->len),
                     WSG_OK);
    if (sd->hook_message)
        sd->hook_message(sd, s, ev);
}

static void cb_control(void *ud, struct wsg_session *s,
                       const struct wsg_event *ev)
{
    struct side *sd = ud;
    (void)s;
    sd->controls++;
    if (ev->type == WSG_EV_CLOSE)
        sd->ctl_close_code = ev->close_code;
}

static void cb_drain(void *ud, struct wsg_session *s)
{
    struct side *sd = ud;
    (void)s;
    sd->drains++;
}

static void cb_close(void *ud, struct wsg_session *s,
                     const struct wsg_close_info *ci)
{
    struct side *sd = ud;
    sd->closes++;
    sd->ci = *ci;
    cr_assert_not_null(ci->detail);
    cr_assert_not_null(ci->reason);
    snprintf(sd->ci_reason, sizeof sd->ci_reason, "%.*s",
             (int)ci->reason_len, ci->reason);
    snprintf(sd->ci_detail, sizeof sd->ci_detail, "%s", ci->detail);
    sd->ci.reason = sd->ci_reason;
    sd->ci.detail = sd->ci_detail;
    sd->data_at_close = wsg_session_data(s);
    sd->t_close = wsg_clock_ms();
    if (sd->hook_close)
        sd->hook_close(sd, s, ci);
    if (sd->s == s)
        sd->s = NULL;
}

void side_init(struct side *sd, struct wsg_loop *loop)
{
    memset(sd, 0, sizeof *sd);
    sd->loop = loop;
    sd->msg = malloc(SIDE_MSG_MAX);
    cr_assert_not_null(sd->msg);
}

void side_fini(struct side *sd)
{
    free(sd->msg);
    sd->msg = NULL;
}

void side_callbacks(struct side *sd, struct wsg_session_callbacks *cb)
{
    memset(cb, 0, sizeof *cb);
    cb->on_upgrade = cb_upgrade;
    cb->on_refuse = cb_refuse;
    cb->on_open = cb_open;
    cb->on_message = cb_message;
    cb->on_control = cb_control;
    cb->on_drain = cb_drain;
    cb->on_close = cb_close;
    cb->ud = sd;
}

struct wsg_loop *loop_new(void)
{
    struct wsg_loop *loop = NULL;
    cr_assert_eq(wsg_loop_new(NULL, &loop), WSG_OK);
    cr_assert_not_null(loop);
    return loop;
}

void loop_finish(struct wsg_loop *loop, struct wsg_server *srv,
                 struct side *clients)
{
    if (clients && clients->s)
        wsg_session_abort(clients->s, WSG_ERR_CLOSED);
    wsg_server_free(srv);
    if (clients)
        run_until(loop, 3000, int_pos, &clients->closes);
    for (int i = 0; i < 3; i++)
        wsg_loop_run_once(loop, 0);
    wsg_loop_free(loop);
}

void server_config(struct wsg_server_config *cfg, struct side *sd)
{
    wsg_server_config_init_default(cfg);
    cfg->host = "127.0.0.1";
    cfg->port = "0";
    side_callbacks(sd, &cfg->cb);
}

struct wsg_server *server_start(struct wsg_loop *loop,
                                const struct wsg_server_config *cfg,
                                struct side *sd)
{
    struct wsg_server *srv = NULL;
    cr_assert_eq(wsg_server_new(loop, cfg, &srv), WSG_OK);
    cr_assert_not_null(srv);
    cr_assert_gt(wsg_server_port(srv), 0);
    snprintf(sd->port, sizeof sd->port, "%u", (unsigned)wsg_server_port(srv));
    return srv;
}

void client_config(struct wsg_client_config *cfg, struct side *sd,
                   uint16_t port)
{
    wsg_client_config_init_default(cfg);
    snprintf(sd->port, sizeof sd->port, "%u", (unsigned)port);
    cfg->host = "127.0.0.1";
    cfg->port = sd->port;
    cfg->timeout_ms = 5000;
    side_callbacks(sd, &cfg->cb);
}

/* ---- raw peer ------------------------------------------------------------- */

void raw_connect(struct raw *r, uint16_t port)
{
    struct sockaddr_in sa;
    int one = 1;

    memset(r, 0, sizeof *r);
    r->fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    cr_assert_geq(r->fd, 0);
    memset(&sa, 0, sizeof sa);
    sa.sin_family = AF_INET;
    sa.sin_port = htons(port);
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    /* The listener's backlog completes the connect without an accept. */
    cr_assert_eq(connect(r->fd, (struct sockaddr *)&sa, sizeof sa), 0,
                 "connect: %s", strerror(errno));
    cr_assert_eq(fcntl(r->fd, F_SETFL, fcntl(r->fd, F_GETFL) | O_NONBLOCK),
                 0);
    (void)setsockopt(r->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    r->cap = 4096;
    r->in = malloc(r->cap);
    cr_assert_not_null(r->in);
}

void raw_close(struct raw *r)
{
    if (r->fd >= 0)
        close(r->fd);
    r->fd = -1;
    free(r->in);
    r->in = NULL;
}

void raw_send(struct raw *r, const void *p, size_t n)
{
    const uint8_t *b = p;
    int spins = 0;

    while (n > 0) {
        ssize_t w = send(r->fd, b, n, MSG_NOSIGNAL);
        if (w < 0 && (errno == EAGAIN || errno == EINTR) && spins++ < 1000) {
            usleep(1000);
            continue;
        }
        cr_assert_gt(w, 0, "raw send: %s", strerror(errno));
        b += w;
        n -= (size_t)w;
    }
}

void raw_sends(struct raw *r, const char *s) { raw_send(r, s, strlen(s)); }

void raw_pump(struct raw *r)
{
    while (!r->eof) {
        if (r->cap - r->len < 4096) {
            r->cap *= 2;
            r->in = realloc(r->in, r->cap);
            cr_assert_not_null(r->in);
        }
        ssize_t n = recv(r->fd, r->in + r->len, r->cap - r->len, 0);
        if (n > 0) {
            r->len += (size_t)n;
            continue;
        }
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
            return;
        r->eof = true;
        r->reset = n < 0;
        r->t_eof = wsg_clock_ms();
    }
}

size_t raw_head_len(const struct raw *r)
{
    for (size_t i = 0; i + 4 <= r->len; i++)
        if (memcmp(r->in + i, "\r\n\r\n", 4) == 0)
            return i + 4;
    return 0;
}

bool raw_has_head(void *arg)
{
    struct raw *r = arg;
    raw_pump(r);
    return raw_head_len(r) > 0;
}

bool raw_has_eof(void *arg)
{
    struct raw *r = arg;
    raw_pump(r);
    return r->eof;
}

int raw_status(const struct raw *r)
{
    int st = 0;
    if (r->len < 12 || memcmp(r->in, "HTTP/1.1 ", 9) != 0)
        return 0;
    for (size_t i = 9; i < 12; i++) {
        if (r->in[i] < '0' || r->in[i] > '9')
            return 0;
        st = st * 10 + (r->in[i] - '0');
    }
    return st;
}

size_t upgrade_request(char *buf, size_t cap, uint16_t port,
                       const char *extra_headers)
{
    int n = snprintf(buf, cap,
                     "GET /chat HTTP/1.1\r\n"
                     "Host: 127.0.0.1:%u\r\n"
                     "Upgrade: websocket\r\n"
                     "Connection: Upgrade\r\n"
                     "Sec-WebSocket-Key: " RFC_KEY "\r\n"
                     "Sec-WebSocket-Version: 13\r\n"
                     "%s\r\n",
                     (unsigned)port, extra_headers ? extra_headers : "");
    cr_assert(n > 0 && (size_t)n < cap);
    return (size_t)n;
}

/* ---- frames --------------------------------------------------------------- */

size_t client_frame(uint8_t *out, enum wsg_opcode op, bool fin,
                    const void *payload, size_t len, const uint8_t key[4])
{
    size_t h = wsg_frame_header_write(out, op, fin, 0, len, key);
    if (len)
        memcpy(out + h, payload, len);
    wsg_mask(out + h, len, key, 0);
    return h + len;
}

bool parse_frame(const uint8_t *p, size_t n, struct pframe *f)
{
    size_t h = 2;
    uint64_t len;

    if (n < 2)
        return false;
    f->fin = (p[0] & 0x80) != 0;
    f->op = (enum wsg_opcode)(p[0] & 0x0f);
    f->masked = (p[1] & 0x80) != 0;
    len = p[1] & 0x7f;
    if (len == 126) {
        if (n < 4)
            return false;
        len = ((uint64_t)p[2] << 8) | p[3];
        h = 4;
    } else if (len == 127) {
        if (n < 10)
            return false;
        len = 0;
        for (int i = 0; i < 8; i++)
            len = (len << 8) | p[2 + i];
        h = 10;
    }
    if (f->masked)
        h += 4;
    if (n < h || n - h < len)
        return false;
    f->payload = p + h;
    f->len = (size_t)len;
    f->size = h + (size_t)len;
    return true;
}

/* ---- a server and a client in one loop ------------------------------------ */

void pair_init(struct pair *p)
{
    memset(p, 0, sizeof *p);
    p->loop = loop_new();
    side_init(&p->srv_sd, p->loop);
    side_init(&p->cli_sd, p->loop);
    server_config(&p->scfg, &p->srv_sd);
}

/* Starts the server from p->scfg and prepares p->ccfg (tweak before
 * pair_connect). */
void pair_listen(struct pair *p)
{
    p->srv = server_start(p->loop, &p->scfg, &p->srv_sd);
    client_config(&p->ccfg, &p->cli_sd, wsg_server_port(p->srv));
}

void pair_connect(struct pair *p)
{
    cr_assert_eq(wsg_client_connect(p->loop, &p->ccfg, &p->cli), WSG_OK);
    cr_assert_not_null(p->cli);
}

void pair_fini(struct pair *p)
{
    loop_finish(p->loop, p->srv, &p->cli_sd);
    side_fini(&p->srv_sd);
    side_fini(&p->cli_sd);
}

bool pair_both_closed(void *arg)
{
    struct pair *p = arg;
    return p->srv_sd.closes > 0 && p->cli_sd.closes > 0;
}

void send_one(struct side *sd, struct wsg_session *s)
{
    (void)sd;
    cr_assert_eq(wsg_session_send(s, WSG_OP_TEXT, "hi", 2), WSG_OK);
}

/* ---- a server and a raw peer ---------------------------------------------- */

const uint8_t RAW_KEY[4] = {0x37, 0xfa, 0x21, 0x3d};


void rig_init(struct rig *g)
{
    memset(g, 0, sizeof *g);
    g->loop = loop_new();
    side_init(&g->sd, g->loop);
    server_config(&g->cfg, &g->sd);
    g->r.fd = -1;
}

void rig_listen(struct rig *g)
{
    g->srv = server_start(g->loop, &g->cfg, &g->sd);
    g->port = wsg_server_port(g->srv);
}

void rig_fini(struct rig *g)
{
    raw_close(&g->r);
    loop_finish(g->loop, g->srv, NULL);
    side_fini(&g->sd);
}

/* Runs until the raw peer has the whole response head; checks a 101 with
 * the accept value of RFC_KEY. */
void expect_101(struct rig *g)
{
    cr_assert(run_until(g->loop, 3000, raw_has_head, &g->r),
              "no response head (%zu bytes)", g->r.len);
    cr_assert_eq(raw_status(&g->r), 101, "status %d: %.*s", raw_status(&g->r),
                 (int)g->r.len, (const char *)g->r.in);
    g->off = raw_head_len(&g->r);
    cr_assert_not_null(memmem(g->r.in, g->off, "Sec-WebSocket-Accept: " RFC_ACCEPT
                              "\r\n", 22 + 28 + 2));
}

struct want_frame {
    struct rig *g;
    struct pframe f;
};

static bool have_frame(void *arg)
{
    struct want_frame *w = arg;
    raw_pump(&w->g->r);
    return parse_frame(w->g->r.in + w->g->off, w->g->r.len - w->g->off, &w->f);
}

/* The next server frame (asserts that one arrives). */
struct pframe next_frame(struct rig *g)
{
    struct want_frame w;
    w.g = g;
    cr_assert(run_until(g->loop, 3000, have_frame, &w), "no frame");
    cr_assert_not(w.f.masked, "server frame is masked");
    g->off += w.f.size;
    return w.f;
}

void expect_frame(struct rig *g, enum wsg_opcode op, const void *data,
                         size_t len)
{
    struct pframe f = next_frame(g);
    cr_expect_eq(f.op, op, "opcode %d, want %d", f.op, op);
    cr_expect(f.fin);
    cr_assert_eq(f.len, len, "length %zu, want %zu", f.len, len);
    cr_expect_arr_eq(f.payload, data, len);
}

uint16_t close_code_of(const struct pframe *f)
{
    cr_assert_geq(f->len, 2);
    return (uint16_t)((f->payload[0] << 8) | f->payload[1]);
}

void raw_upgrade(struct rig *g)
{
    char req[512];
    raw_connect(&g->r, g->port);
    raw_send(&g->r, req, upgrade_request(req, sizeof req, g->port, NULL));
    expect_101(g);
}
