#include "conn_fixture.h"

#include <stdio.h>
#include <string.h>
#include <strings.h>

#include <criterion/criterion.h>

void test_policy_default(struct wsg_policy *p)
{
    memset(p, 0, sizeof(*p));
    cr_assert(wsg__alloc_init(&p->alloc, NULL));
    p->auth_from = WSG__TOKEN_BEARER;
    p->auth_name = (char *)"wsg_token";
    p->auth_leeway_s = 30;
    p->max_message = 1u << 20;
    p->max_frame = 1u << 20;
    p->max_fragments = 1024;
    p->rate_action = WSG__RATE_CLOSE;
    p->conn_rate_window_ms = 10000;
    p->addr_table_memory = 4u << 20;
    p->handshake_timeout_ms = 10000;
    p->idle_direction = WSG__IDLE_ANY;
    p->ping_interval_ms = 25000;
    p->pong_timeout_ms = 30000;
    p->close_timeout_ms = 5000;
    wsg_security_headers_init_default(&p->headers);
    p->max_output = 4u << 20;
}

void rec_audit(void *ud, const struct wsg_audit_event *ev)
{
    struct rec *r = ud;
    char line[1024];
    size_t n = wsg_audit_json(ev, line, sizeof(line));

    cr_assert_lt(n, sizeof(line));
    cr_assert_lt(r->n, REC_MAX);
    cr_assert_not_null(ev->event);
    snprintf(r->event[r->n], sizeof(r->event[0]), "%s", ev->event);
    r->control[r->n] = ev->control;
    r->status[r->n] = ev->status;
    r->code[r->n] = ev->close_code;
    snprintf(r->reason[r->n], sizeof(r->reason[0]), "%s",
             ev->reason != NULL ? ev->reason : "");
    snprintf(r->client[r->n], sizeof(r->client[0]), "%s",
             ev->client != NULL ? ev->client : "");
    cr_assert_lt(r->json_len + n, sizeof(r->json));
    memcpy(r->json + r->json_len, line, n + 1);
    r->json_len += n;
    r->n++;
}

void rec_attach(struct wsg_policy *p, struct rec *r)
{
    memset(r, 0, sizeof(*r));
    p->audit = rec_audit;
    p->audit_ud = r;
}

bool rec_has(const struct rec *r, const char *s)
{
    return strstr(r->json, s) != NULL;
}

struct wsg_guard_peer peer_make(const char *ip, bool tls, uint64_t unix_s)
{
    static char text[8][64];
    static unsigned next;
    struct wsg_guard_peer pe;
    char *t = text[next++ % 8];

    memset(&pe, 0, sizeof(pe));
    cr_assert_eq(wsg_addr_parse(ip, strlen(ip), false, &pe.addr), WSG_OK,
                 "bad test address %s", ip);
    snprintf(t, 64, strchr(ip, ':') != NULL ? "[%s]:40000" : "%s:40000", ip);
    pe.text = t;
    pe.tls = tls;
    pe.unix_s = unix_s;
    return pe;
}

int upgrade(struct wsg_guard *g, const char *host, const char *target,
            const char *extra, const struct wsg_guard_peer *peer,
            uint64_t now_ms, struct wsg_guard_verdict *v,
            struct wsg_guard_conn **out)
{
    char buf[4096];
    struct wsg_hs_server *hs = NULL;
    size_t used = 0;
    int n = snprintf(buf, sizeof(buf),
                     "GET %s HTTP/1.1\r\nHost: %s\r\nUpgrade: websocket\r\n"
                     "Connection: Upgrade\r\n"
                     "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
                     "Sec-WebSocket-Version: 13\r\n%s\r\n",
                     target, host, extra != NULL ? extra : "");

    cr_assert(n > 0 && (size_t)n < sizeof(buf));
    cr_assert_eq(wsg_hs_server_new(NULL, NULL, &hs), WSG_OK);
    if (wsg_hs_server_feed(hs, (const uint8_t *)buf, (size_t)n, &used) != 1) {
        wsg_hs_server_free(hs);
        return -1;
    }
    cr_assert_eq(wsg_guard_upgrade(g, wsg_hs_server_request(hs), peer, now_ms,
                                   v, out),
                 WSG_OK);
    wsg_hs_server_free(hs);
    if (v->status == 0)
        cr_assert_not_null(*out, "accepted without a connection");
    else
        cr_assert_null(*out, "refused with a connection");
    return v->status;
}

int upgrade_once(const struct wsg_policy *p, const char *target,
                 const char *extra, const struct wsg_guard_peer *peer,
                 struct wsg_guard_verdict *v)
{
    struct wsg_guard *g = NULL;
    struct wsg_guard_conn *gc = NULL;
    int st;

    cr_assert_eq(wsg_guard_new(p, NULL, &g), WSG_OK);
    st = upgrade(g, "server.example.com", target, extra, peer, 1000, v, &gc);
    wsg_guard_conn_free(gc, 1000, NULL, 1000, 1000);
    wsg_guard_free(g);
    return st;
}

const char *verdict_header(const struct wsg_guard_verdict *v,
                           const char *name, char *buf, size_t cap)
{
    for (size_t i = 0; i < v->header_count; i++) {
        const struct wsg_header *h = &v->headers[i];

        if (h->name_len == strlen(name) &&
            strncasecmp(h->name, name, h->name_len) == 0) {
            cr_assert_lt(h->value_len, cap);
            memcpy(buf, h->value, h->value_len);
            buf[h->value_len] = '\0';
            return buf;
        }
    }
    return NULL;
}

struct wsg_event ev_msg(enum wsg_opcode op, const char *data)
{
    struct wsg_event ev;

    memset(&ev, 0, sizeof(ev));
    ev.type = WSG_EV_MESSAGE;
    ev.opcode = op;
    ev.data = (const uint8_t *)data;
    ev.len = strlen(data);
    return ev;
}

struct wsg_event ev_frag(enum wsg_opcode op, const char *data, bool first,
                         bool fin)
{
    struct wsg_event ev = ev_msg(op, data);

    ev.type = WSG_EV_FRAGMENT;
    ev.first = first;
    ev.fin = fin;
    return ev;
}

struct wsg_event ev_ctl(enum wsg_event_type t)
{
    struct wsg_event ev;

    memset(&ev, 0, sizeof(ev));
    ev.type = t;
    ev.opcode = t == WSG_EV_PING ? WSG_OP_PING : WSG_OP_PONG;
    return ev;
}

struct wsg_guard_conn *conn_open(const struct wsg_policy *p,
                                 struct wsg_guard **g, uint64_t now_ms)
{
    struct wsg_guard_peer pe = peer_make("203.0.113.5", true, 1700000000u);
    struct wsg_guard_verdict v;
    struct wsg_guard_conn *gc = NULL;

    cr_assert_eq(wsg_guard_new(p, NULL, g), WSG_OK);
    cr_assert_eq(upgrade(*g, "server.example.com", "/chat", NULL, &pe, now_ms,
                         &v, &gc),
                 0);
    return gc;
}

void conn_close(struct wsg_guard *g, struct wsg_guard_conn *gc,
                uint64_t now_ms)
{
    wsg_guard_conn_free(gc, now_ms, NULL, 1000, 1000);
    wsg_guard_free(g);
}

/* ---- conn_fixture.h ------------------------------------------------------ */

struct wsg_policy P;
struct rec R;
struct wsg_guard *G;
struct wsg_guard_conn *C;
struct wsg_guard_action A;

void conn_fixture_setup(void)
{
    test_policy_default(&P);
    rec_attach(&P, &R);
    G = NULL;
    C = NULL;
}
