/* Time limits of an OPEN session (HARDENING.md H7, H12; review F2): the
 * keepalive Ping after a quiet spell and its Pong deadline, the idle
 * timeout, the write-stall timeout, and the bound on flushing after the
 * peer's FIN. All fold into the session's one timer (wsg__session_rearm).
 * The close handshake deadline itself is the core's. */
#include <stdio.h>
#include <string.h>

#include "io/io_internal.h"

static uint64_t add(uint64_t t, uint32_t ms) { return t + ms; }

static bool core_open(const struct wsg_session *s)
{
    return s->conn && wsg_conn_state(s->conn) == WSG_STATE_OPEN &&
           !s->rd_eof;
}

void wsg__session_opened(struct wsg_session *s)
{
    uint64_t now = wsg_loop_now(s->loop);

    s->last_rx = s->last_msg = now;
    s->ping_at = 0;
    s->wr_armed = false;
    s->rd_eof = false;
}

void wsg__session_rx_resumed(struct wsg_session *s)
{
    uint64_t now = wsg_loop_now(s->loop);

    s->last_rx = s->last_msg = now;
    if (s->ping_at)
        s->ping_at = now;
}

/* The stall clock runs while output is pending; it restarts whenever a
 * write makes progress (session.c sets wr_progress) or output appears. */
static void stall_track(struct wsg_session *s)
{
    size_t pending = wsg_conn_output_pending(s->conn);

    if (!pending)
        s->wr_armed = false;
    else if (!s->wr_armed) {
        s->wr_armed = true;
        s->wr_progress = wsg_loop_now(s->loop);
        s->wr_outq = SIZE_MAX;
    }
}

/* When the next keepalive Ping is due: after ping_interval_ms without
 * input; with an outstanding Ping, only when there is no pong deadline
 * (then pings keep going, one per interval). */
static uint64_t next_ping(const struct wsg_session *s)
{
    if (!s->ping_interval_ms)
        return UINT64_MAX;
    if (!s->ping_at)
        return add(s->last_rx, s->ping_interval_ms);
    return s->pong_timeout_ms ? UINT64_MAX
                              : add(s->ping_at, s->ping_interval_ms);
}

uint64_t wsg__session_deadline(struct wsg_session *s)
{
    uint64_t d = UINT64_MAX;

    if (s->phase != WSG__PH_OPEN || !s->conn)
        return d;
    stall_track(s);
    if (s->write_stall_ms && s->wr_armed)
        d = add(s->wr_progress, s->write_stall_ms);
    if (s->rd_eof && s->eof_deadline < d)
        d = s->eof_deadline;
    if (!core_open(s) || wsg__session_input_paused(s))
        return d; /* nothing is read by our choice: the rx clocks wait */
    if (s->ping_at && s->pong_timeout_ms &&
        add(s->ping_at, s->pong_timeout_ms) < d)
        d = add(s->ping_at, s->pong_timeout_ms);
    if (next_ping(s) < d)
        d = next_ping(s);
    if (s->idle_timeout_ms && add(s->last_msg, s->idle_timeout_ms) < d)
        d = add(s->last_msg, s->idle_timeout_ms);
    return d;
}

/* Starts the close handshake because a time limit passed; the core's close
 * deadline bounds the rest. on_close reports WSG_ERR_TIMEOUT. */
static void close_for(struct wsg_session *s, uint16_t code,
                      const char *reason, const char *detail, uint64_t now)
{
    s->self_err = WSG_ERR_TIMEOUT;
    if (!s->detail[0])
        snprintf(s->detail, sizeof s->detail, "%s", detail);
    if (wsg_conn_close(s->conn, code, reason, strlen(reason), now) != WSG_OK)
        wsg__session_end(s, WSG_ERR_TIMEOUT, NULL);
}

/* The write-stall deadline passed with no progress. A slow reader drains
 * the kernel's send queue long before the socket is writable again: that
 * counts as progress too (the clock restarts). */
static bool stalled(struct wsg_session *s, uint64_t now)
{
    size_t q;

    if (!s->write_stall_ms || !s->wr_armed ||
        now < add(s->wr_progress, s->write_stall_ms))
        return false;
    q = wsg__sock_outq(s->fd);
    if (q < s->wr_outq) {
        s->wr_progress = now;
        s->wr_outq = q;
        return false;
    }
    return true;
}

void wsg__session_expire(struct wsg_session *s, uint64_t now)
{
    char buf[96];

    if (s->phase != WSG__PH_OPEN || !s->conn)
        return;
    stall_track(s);
    if (stalled(s, now)) {
        /* The peer reads nothing: a close handshake cannot finish. */
        snprintf(buf, sizeof buf, "output stalled for %u ms (%zu bytes "
                 "pending)", (unsigned)s->write_stall_ms,
                 wsg_conn_output_pending(s->conn));
        wsg__session_end(s, WSG_ERR_TIMEOUT, buf);
        return;
    }
    if (s->rd_eof && now >= s->eof_deadline) {
        wsg__session_end(s, WSG_ERR_TIMEOUT,
                         "output not flushed after the peer's FIN");
        return;
    }
    if (!core_open(s))
        return;
    if (wsg__session_input_paused(s)) {
        wsg__session_rx_resumed(s); /* frozen while we do not read */
        return;
    }
    if (s->ping_at && s->pong_timeout_ms &&
        now >= add(s->ping_at, s->pong_timeout_ms)) {
        /* RFC 6455 7.4.1 has no code for a dead peer; 1011 (the endpoint
         * cannot go on) as python-websockets does for the same case. */
        snprintf(buf, sizeof buf, "no pong within %u ms",
                 (unsigned)s->pong_timeout_ms);
        close_for(s, WSG_CLOSE_INTERNAL_ERROR, "keepalive ping timeout", buf,
                  now);
        return;
    }
    if (s->idle_timeout_ms && now >= add(s->last_msg, s->idle_timeout_ms)) {
        snprintf(buf, sizeof buf, "no data message for %u ms",
                 (unsigned)s->idle_timeout_ms);
        close_for(s, WSG_CLOSE_GOING_AWAY, "idle timeout", buf, now);
        return;
    }
    if (now >= next_ping(s)) {
        /* Section 5.5.2: any Pong (or any input) proves the peer alive. A
         * failure to queue leaves ping_at set: the pong deadline ends it. */
        s->ping_at = now;
        (void)wsg_conn_ping(s->conn, NULL, 0);
    }
}
