/* Per-connection checks of the guard: H3 post-connect auth, H6 message,
 * byte and control-frame rates, H7 idle timeout, H9 types and validator,
 * H11 events. Once a CLOSE is decided, later messages are dropped: nothing
 * more reaches the application. Pings are the io layer's (ping_interval):
 * WSG_GUARD_PING is not produced. */
#include <stdio.h>
#include <string.h>

#include "guard_internal.h"

/* The wall clock follows the caller's monotonic time from the upgrade. */
static uint64_t wall_ms(const struct wsg_guard_conn *gc, uint64_t now_ms)
{
    return now_ms > gc->opened_ms
               ? wsg__sat_add(gc->unix_ms, now_ms - gc->opened_ms)
               : gc->unix_ms;
}

uint64_t wsg__sat_add(uint64_t a, uint64_t b)
{
    return a > UINT64_MAX - b ? UINT64_MAX : a + b;
}

static void pass(struct wsg_guard_action *act)
{
    memset(act, 0, sizeof(*act));
    act->what = WSG_GUARD_PASS;
}

static void drop(struct wsg_guard_conn *gc, int control,
                 struct wsg_guard_action *act)
{
    memset(act, 0, sizeof(*act));
    act->what = WSG_GUARD_DROP;
    act->control = control;
    gc->dropped++;
}

void wsg__guard_violation(struct wsg_guard_conn *gc, uint64_t now_ms,
                          int control, uint16_t code, const char *reason,
                          struct wsg_guard_action *act)
{
    const struct wsg_policy *p = gc->g->p;

    memset(act, 0, sizeof(*act));
    act->what = WSG_GUARD_CLOSE;
    act->code = code;
    act->reason = reason;
    act->control = control;
    gc->closed = true;
    gc->close_control = control;
    gc->close_reason = reason;
    gc->g->stats.violations[control & 15]++;
    if (p->audit != NULL) {
        struct wsg_audit_event ev;

        memset(&ev, 0, sizeof(ev));
        ev.time_ms = wall_ms(gc, now_ms);
        ev.event = "violation";
        ev.control = control;
        ev.client = gc->client_text;
        ev.subject = gc->subject[0] != '\0' ? gc->subject : NULL;
        ev.peer = gc->peer[0] != '\0' ? gc->peer : NULL;
        ev.path = gc->path;
        ev.close_code = code;
        ev.reason = reason;
        ev.subprotocol = gc->subprotocol;
        ev.duration_ms = now_ms > gc->opened_ms ? now_ms - gc->opened_ms : 0;
        p->audit(p->audit_ud, &ev);
    }
}

/* H3: the first message carries a token; its fragments are collected
 * (at most WSG_TOKEN_MAX bytes) and consumed. Returns true when `act` is
 * decided. */
static bool post_auth(struct wsg_guard_conn *gc, const struct wsg_event *ev,
                      uint64_t now_ms, struct wsg_guard_action *act)
{
    const struct wsg_policy *p = gc->g->p;
    bool last = ev->type == WSG_EV_MESSAGE || ev->fin;
    uint64_t unix_s = wall_ms(gc, now_ms) / 1000u;

    if (now_ms >= gc->auth_deadline_ms) {
        wsg__guard_violation(gc, now_ms, WSG_H3, 1008,
                             "authentication required", act);
        return true;
    }
    if (ev->len > sizeof(gc->auth_buf) - gc->auth_len)
        gc->auth_overflow = true;
    else if (ev->len > 0) {
        memcpy(gc->auth_buf + gc->auth_len, ev->data, ev->len);
        gc->auth_len += ev->len;
    }
    if (!last) {
        drop(gc, WSG_H3, act);
        return true;
    }
    if (gc->auth_overflow ||
        !wsg__guard_token_ok(p, (const char *)gc->auth_buf, gc->auth_len,
                             unix_s, gc->subject)) {
        memset(gc->auth_buf, 0, sizeof(gc->auth_buf));
        wsg__guard_violation(gc, now_ms, WSG_H3, 1008,
                             "authentication required", act);
        return true;
    }
    memset(gc->auth_buf, 0, sizeof(gc->auth_buf));
    gc->auth_len = 0;
    gc->authed = true;
    /* Consumed by the guard, not counted as dropped. */
    memset(act, 0, sizeof(*act));
    act->what = WSG_GUARD_DROP;
    act->control = WSG_H3;
    return true;
}

/* H6: one message token per message (the first fragment when streamed),
 * byte tokens per payload byte. */
static bool rates(struct wsg_guard_conn *gc, const struct wsg_event *ev,
                  bool first, uint64_t now_ms, struct wsg_guard_action *act)
{
    const struct wsg_policy *p = gc->g->p;
    bool ok = true;

    if (first && !wsg_bucket_take(&gc->msgs, 1, now_ms))
        ok = false;
    if (ok && ev->len > 0 && !wsg_bucket_take(&gc->bytes, ev->len, now_ms))
        ok = false;
    if (ok)
        return false;
    /* Dropping the middle of a streamed message would hand the application
     * a message with a hole: close instead. */
    if (p->rate_action == WSG__RATE_DROP && first) {
        drop(gc, WSG_H6, act);
        gc->drop_msg = ev->type == WSG_EV_FRAGMENT && !ev->fin;
        return true;
    }
    wsg__guard_violation(gc, now_ms, WSG_H6, 1008, "rate limit", act);
    return true;
}

static bool types(struct wsg_guard_conn *gc, const struct wsg_event *ev,
                  uint64_t now_ms, struct wsg_guard_action *act)
{
    const struct wsg_policy *p = gc->g->p;

    if (p->binary_only && ev->opcode == WSG_OP_TEXT) {
        wsg__guard_violation(gc, now_ms, WSG_H9, 1003, "text not accepted",
                             act);
        return true;
    }
    if (p->text_only && ev->opcode == WSG_OP_BINARY) {
        wsg__guard_violation(gc, now_ms, WSG_H9, 1003,
                             "binary not accepted", act);
        return true;
    }
    return false;
}

/* The validator sees each message, or each fragment when streamed. */
static bool validate(struct wsg_guard_conn *gc, const struct wsg_event *ev,
                     uint64_t now_ms, struct wsg_guard_action *act)
{
    const struct wsg_policy *p = gc->g->p;
    const char *reason = NULL;
    uint16_t code;

    if (p->validate == NULL)
        return false;
    code = p->validate(p->validate_ud, ev->opcode, ev->data, ev->len,
                       &reason);
    if (code == 0)
        return false;
    if (code != 1003 && code != 1007 && code != 1008)
        code = 1008;
    /* The validator's reason is its own static string; NULL gets ours. */
    wsg__guard_violation(gc, now_ms, WSG_H9, code,
                         reason != NULL ? reason : "message refused", act);
    return true;
}

void wsg_guard_conn_message(struct wsg_guard_conn *gc,
                            const struct wsg_event *ev, uint64_t now_ms,
                            struct wsg_guard_action *act)
{
    bool first, last;

    if (act == NULL)
        return;
    pass(act);
    if (gc == NULL || ev == NULL ||
        (ev->type != WSG_EV_MESSAGE && ev->type != WSG_EV_FRAGMENT))
        return;
    if (now_ms > gc->last_in_ms)
        gc->last_in_ms = now_ms;
    first = ev->type == WSG_EV_MESSAGE || ev->first;
    last = ev->type == WSG_EV_MESSAGE || ev->fin;
    if (gc->closed) {
        drop(gc, gc->close_control, act);
        return;
    }
    if (first)
        gc->drop_msg = false;
    if (gc->drop_msg) {
        drop(gc, WSG_H6, act);
        if (last)
            gc->drop_msg = false;
        return;
    }
    if (rates(gc, ev, first, now_ms, act))
        return;
    if (!gc->authed && post_auth(gc, ev, now_ms, act))
        return;
    if (types(gc, ev, now_ms, act))
        return;
    validate(gc, ev, now_ms, act);
}

void wsg_guard_conn_control(struct wsg_guard_conn *gc,
                            const struct wsg_event *ev, uint64_t now_ms,
                            struct wsg_guard_action *act)
{
    if (act == NULL)
        return;
    pass(act);
    if (gc == NULL || ev == NULL ||
        (ev->type != WSG_EV_PING && ev->type != WSG_EV_PONG))
        return;
    if (now_ms > gc->last_in_ms)
        gc->last_in_ms = now_ms;
    if (gc->closed)
        return;
    /* H6 / T12: pings and pongs share one bucket; the core answers pings
     * already, so a flood closes (rate_action drop does not apply). */
    if (!wsg_bucket_take(&gc->control, 1, now_ms))
        wsg__guard_violation(gc, now_ms, WSG_H6, 1008, "control frame flood",
                             act);
}

void wsg_guard_conn_sent(struct wsg_guard_conn *gc, size_t bytes,
                         uint64_t now_ms)
{
    if (gc != NULL && bytes > 0 && now_ms > gc->last_out_ms)
        gc->last_out_ms = now_ms;
}

static uint64_t idle_deadline(const struct wsg_guard_conn *gc)
{
    const struct wsg_policy *p = gc->g->p;
    uint64_t last;

    if (p->idle_timeout_ms == 0)
        return UINT64_MAX;
    switch (p->idle_direction) {
    case WSG__IDLE_FROM_CLIENT:
        last = gc->last_in_ms;
        break;
    case WSG__IDLE_TO_CLIENT:
        last = gc->last_out_ms;
        break;
    default:
        last = gc->last_in_ms > gc->last_out_ms ? gc->last_in_ms
                                                : gc->last_out_ms;
        break;
    }
    return wsg__sat_add(last, p->idle_timeout_ms);
}

uint64_t wsg_guard_conn_next_deadline(const struct wsg_guard_conn *gc)
{
    uint64_t d;

    if (gc == NULL || gc->closed)
        return UINT64_MAX;
    d = idle_deadline(gc);
    if (!gc->authed && gc->auth_deadline_ms < d)
        d = gc->auth_deadline_ms;
    return d;
}

void wsg_guard_conn_tick(struct wsg_guard_conn *gc, uint64_t now_ms,
                         struct wsg_guard_action *act)
{
    if (act == NULL)
        return;
    pass(act);
    if (gc == NULL || gc->closed)
        return;
    if (!gc->authed && now_ms >= gc->auth_deadline_ms)
        wsg__guard_violation(gc, now_ms, WSG_H3, 1008,
                             "authentication required", act);
    else if (now_ms >= idle_deadline(gc))
        wsg__guard_violation(gc, now_ms, WSG_H7, 1001, "idle timeout", act);
}

int wsg_guard_conn_failed(struct wsg_guard_conn *gc, uint64_t now_ms,
                          int err, uint16_t code_sent)
{
    struct wsg_guard_action act;
    const char *reason;
    int control;

    if (gc == NULL || gc->closed || code_sent == 0)
        return 0;
    switch (err) {
    case WSG_ERR_TOO_BIG:
        control = WSG_H5, reason = "message too big";
        break;
    case WSG_ERR_PROTOCOL:
    case WSG_ERR_MASKING:
        control = WSG_H4, reason = "protocol error";
        break;
    case WSG_ERR_INVALID_UTF8:
        control = WSG_H4, reason = "invalid data";
        break;
    case WSG_ERR_POLICY:
        control = WSG_H12, reason = "output budget exceeded";
        break;
    case WSG_ERR_TIMEOUT:
        if (code_sent != WSG_CLOSE_INTERNAL_ERROR)
            return 0;
        control = WSG_H7, reason = "keepalive ping timeout";
        break;
    default:
        return 0;
    }
    wsg__guard_violation(gc, now_ms, control, code_sent, reason, &act);
    return control;
}

void wsg_guard_conn_free(struct wsg_guard_conn *gc, uint64_t now_ms,
                         const struct wsg_conn_stats *st, uint16_t code_sent,
                         uint16_t code_received)
{
    struct wsg_guard *g;
    const struct wsg_policy *p;

    if (gc == NULL)
        return;
    g = gc->g;
    p = g->p;
    if (p->audit != NULL) {
        struct wsg_audit_event ev;
        char detail[96];

        snprintf(detail, sizeof(detail),
                 "sent %u, received %u, dropped %llu", (unsigned)code_sent,
                 (unsigned)code_received, (unsigned long long)gc->dropped);
        memset(&ev, 0, sizeof(ev));
        ev.time_ms = wall_ms(gc, now_ms);
        ev.event = "close";
        ev.control = gc->closed ? gc->close_control : 0;
        ev.client = gc->client_text;
        ev.subject = gc->subject[0] != '\0' ? gc->subject : NULL;
        ev.peer = gc->peer[0] != '\0' ? gc->peer : NULL;
        ev.path = gc->path;
        ev.close_code = code_sent != 0 ? code_sent : code_received;
        ev.reason = gc->closed ? gc->close_reason : NULL;
        ev.subprotocol = gc->subprotocol;
        ev.duration_ms = now_ms > gc->opened_ms ? now_ms - gc->opened_ms : 0;
        if (st != NULL) {
            ev.bytes_in = st->bytes_in;
            ev.bytes_out = st->bytes_out;
            ev.messages_in = st->messages_in;
            ev.messages_out = st->messages_out;
        }
        ev.messages_dropped = gc->dropped;
        ev.detail = detail;
        p->audit(p->audit_ud, &ev);
    }
    if (gc->slot)
        wsg_addr_table_release(g->table, &gc->client);
    if (g->conns > 0)
        g->conns--;
    g->stats.closed++;
    wsg__free(&g->alloc, gc);
}
