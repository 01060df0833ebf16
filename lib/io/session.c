/* A session: one WebSocket connection on a transport, driven by the loop.
 *
 * Input: read into the loop's shared buffer, fed to the handshake or to
 * wsg_conn_feed(). Bytes that cannot be fed yet (the head's leftover while
 * the upgrade is pending, or input while paused) are stashed, in order, and
 * fed before anything new is read (shared/THREATS.md T8).
 * Output: the handshake bytes first, then the core's iovecs, written with
 * one writev per batch. Backpressure: reading stops while the pending output
 * is over pause_output and resumes at half of it (HARDENING.md H12).
 * Teardown is deferred to the end of the loop round, so callbacks may close
 * or abort any session. */
#include <errno.h>
#include <netdb.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "io/io_internal.h"

#define CONTAINER(ptr, type, member)                                          \
    ((type *)(void *)((char *)(ptr)-offsetof(type, member)))

/* Reads per readiness event, for fairness between sessions. */
#define READS_PER_EVENT 8
/* Bytes drained (and dropped) after a refusal before closing. */
#define LINGER_MAX_BYTES (8u * 1024u * 1024u)
#define LINGER_MS 2000u

static void session_io(struct wsg_watch *w, unsigned rev, void *ud);
static void session_timer(struct wsg_timer *t, void *ud);
static void kick_cb(struct wsg__defer *d);
static void teardown_cb(struct wsg__defer *d);
static void pump(struct wsg_session *s, bool do_read);

int wsg__session_new(struct wsg_loop *loop, const struct wsg_allocator *alloc,
                     const struct wsg_session_callbacks *cb,
                     struct wsg_session **out)
{
    struct wsg_allocator a;
    struct wsg_session *s;

    if (!wsg__alloc_init(&a, alloc ? alloc : wsg__loop_alloc(loop)))
        return WSG_ERR_INVALID_ARG;
    s = wsg__zalloc(&a, sizeof *s);
    if (!s)
        return WSG_ERR_NOMEM;
    s->loop = loop;
    s->alloc = a;
    if (cb)
        s->cb = *cb;
    s->fd = -1;
    s->hs_deadline = UINT64_MAX;
    s->read_want = WSG_IO_READ;
    s->kick.cb = kick_cb;
    s->teardown.cb = teardown_cb;
    snprintf(s->peer, sizeof s->peer, "unknown");
    if (wsg_timer_new(loop, session_timer, s, &s->timer) != WSG_OK) {
        wsg__free(&a, s);
        return WSG_ERR_NOMEM;
    }
    *out = s;
    return WSG_OK;
}

/* Adopts fd (closing any previous one) with an idle watch. */
static int session_set_fd(struct wsg_session *s, int fd)
{
    if (s->watch) {
        wsg_watch_free(s->watch);
        s->watch = NULL;
    }
    if (s->fd >= 0)
        close(s->fd);
    s->fd = fd;
    s->watching = 0;
    return wsg_watch_new(s->loop, fd, 0, session_io, s, &s->watch);
}

int wsg__session_attach(struct wsg_session *s, int fd, bool server_side)
{
    int rc;

    if (s->fd != fd) {
        rc = session_set_fd(s, fd);
        if (rc != WSG_OK)
            return rc;
    }
    if (s->tfac.wrap) {
        rc = s->tfac.wrap(s->tfac.ud, fd, server_side, s->server_name,
                          &s->tops, &s->tctx);
        if (rc != WSG_OK || !s->tops)
            return rc != WSG_OK ? rc : WSG_ERR_INVALID_ARG;
    } else {
        s->tops = wsg_transport_tcp();
        s->tctx = NULL;
    }
    return WSG_OK;
}

int wsg__session_stash(struct wsg_session *s, const uint8_t *buf, size_t len)
{
    uint8_t *p = NULL;

    if (len) {
        p = wsg__memdup(&s->alloc, buf, len);
        if (!p)
            return WSG_ERR_NOMEM;
    }
    wsg__free(&s->alloc, s->stash);
    s->stash = p;
    s->stash_len = len;
    s->stash_off = 0;
    return WSG_OK;
}

size_t wsg__session_hs_out_left(const struct wsg_session *s)
{
    return s->hs_out ? s->hs_out_len - s->hs_out_off : 0;
}

static bool input_paused(const struct wsg_session *s)
{
    return s->bp_paused || s->user_paused;
}

bool wsg__session_input_paused(const struct wsg_session *s)
{
    return input_paused(s) || s->stash;
}

static bool can_read(const struct wsg_session *s)
{
    if (s->stash)
        return false; /* stashed bytes go first */
    switch (s->phase) {
    case WSG__PH_CLIENT_HS:
    case WSG__PH_SERVER_HS:
    case WSG__PH_LINGER:
        return true;
    case WSG__PH_OPEN:
        /* Nothing read after a failure, the peer's Close or its FIN would
         * be used (RFC 6455 5.5.1, 7.1.7). */
        return !input_paused(s) && s->conn && !s->rd_eof &&
               s->fail_err == WSG_OK &&
               wsg_conn_state(s->conn) != WSG_STATE_CLOSED &&
               !wsg_conn_close_received(s->conn);
    default:
        return false;
    }
}

void wsg__session_rearm(struct wsg_session *s)
{
    uint64_t d = UINT64_MAX;

    if (s->phase == WSG__PH_DEAD)
        return;
    if (s->phase != WSG__PH_OPEN)
        d = s->hs_deadline;
    if (s->conn) {
        uint64_t c = wsg_conn_next_deadline(s->conn);
        if (c < d)
            d = c;
        c = wsg__session_deadline(s);
        if (c < d)
            d = c;
    }
    wsg_timer_start(s->timer, d);
}

void wsg__session_update_watch(struct wsg_session *s)
{
    unsigned ev = 0;

    if (!s->watch || s->phase == WSG__PH_DEAD)
        return;
    if (s->phase == WSG__PH_CONNECTING)
        ev = WSG_IO_WRITE;
    else {
        if (can_read(s))
            ev |= s->read_want;
        ev |= s->write_want;
    }
    if (ev != s->watching && wsg_watch_set(s->watch, ev) == WSG_OK)
        s->watching = ev;
}

void wsg__session_end(struct wsg_session *s, int err, const char *detail)
{
    if (s->phase == WSG__PH_DEAD)
        return;
    s->phase = WSG__PH_DEAD;
    s->end_err = err;
    if (detail && !s->detail[0])
        snprintf(s->detail, sizeof s->detail, "%s", detail);
    if (s->watch) {
        wsg_watch_free(s->watch);
        s->watch = NULL;
    }
    wsg_timer_stop(s->timer);
    wsg__defer_cancel(s->loop, &s->kick);
    wsg__defer_queue(s->loop, &s->teardown);
}

void wsg__session_kick(struct wsg_session *s)
{
    if (s->phase != WSG__PH_DEAD)
        wsg__defer_queue(s->loop, &s->kick);
}

/* ---- events from the core ------------------------------------------------ */

static void on_event(struct wsg_session *s, const struct wsg_event *ev)
{
    switch (ev->type) {
    case WSG_EV_MESSAGE:
    case WSG_EV_FRAGMENT:
        s->last_msg = wsg_loop_now(s->loop);
        if (s->cb.on_message)
            s->cb.on_message(s->cb.ud, s, ev);
        break;
    case WSG_EV_CLOSE: {
        size_t n = ev->reason_len < sizeof s->peer_reason - 1
                       ? ev->reason_len
                       : sizeof s->peer_reason - 1;
        s->peer_code = ev->close_code ? ev->close_code : WSG_CLOSE_NO_STATUS;
        if (n && ev->reason)
            memcpy(s->peer_reason, ev->reason, n);
        s->peer_reason[n] = '\0';
        s->peer_reason_len = n;
        if (s->cb.on_control)
            s->cb.on_control(s->cb.ud, s, ev);
        break;
    }
    case WSG_EV_PING:
    case WSG_EV_PONG:
        if (s->cb.on_control)
            s->cb.on_control(s->cb.ud, s, ev);
        break;
    case WSG_EV_FAIL:
        s->fail_err = ev->err;
        snprintf(s->detail, sizeof s->detail, "%s (close %u: %.*s)",
                 wsg_strerror(ev->err), (unsigned)ev->close_code,
                 (int)(ev->reason_len > 100 ? 100 : ev->reason_len),
                 ev->reason ? ev->reason : "");
        break;
    default:
        break;
    }
}

void wsg__session_check_over(struct wsg_session *s)
{
    if (s->conn && wsg_conn_output_pending(s->conn) > s->pause_output) {
        s->bp_paused = true;
        s->over = true;
    }
}

/* Feeds bytes to the core until they are used up, the session is paused or
 * dead. Returns how many were used. */
static size_t feed(struct wsg_session *s, uint8_t *buf, size_t len)
{
    size_t total = 0;

    while (len > 0 && s->phase == WSG__PH_OPEN && !input_paused(s)) {
        struct wsg_event ev;
        size_t used = 0;
        int rc;

        memset(&ev, 0, sizeof ev);
        rc = wsg_conn_feed(s->conn, buf, len, wsg_loop_now(s->loop), &used,
                           &ev);
        if (used > len)
            used = len;
        buf += used;
        len -= used;
        total += used;
        on_event(s, &ev);
        if (rc != WSG_OK && ev.type == WSG_EV_NONE) {
            total += len; /* closed: the rest is discarded */
            break;
        }
        if (used == 0 && ev.type == WSG_EV_NONE)
            break;
        wsg__session_check_over(s);
    }
    return total;
}

static void process_stash(struct wsg_session *s)
{
    size_t used = feed(s, s->stash + s->stash_off, s->stash_len - s->stash_off);

    if (!s->stash)
        return;
    s->stash_off += used;
    if (s->stash_off >= s->stash_len)
        wsg__session_stash(s, NULL, 0);
}

static void deliver(struct wsg_session *s, uint8_t *buf, size_t len)
{
    size_t used;

    switch (s->phase) {
    case WSG__PH_CLIENT_HS:
        wsg__client_hs_input(s, buf, len);
        break;
    case WSG__PH_SERVER_HS:
        wsg__server_hs_input(s, buf, len);
        break;
    case WSG__PH_LINGER:
        s->linger_bytes += len;
        if (s->linger_bytes > LINGER_MAX_BYTES)
            wsg__session_end(s, s->linger_err, NULL);
        break;
    case WSG__PH_OPEN:
        used = feed(s, buf, len);
        if (used < len && s->phase == WSG__PH_OPEN &&
            wsg__session_stash(s, buf + used, len - used) != WSG_OK)
            wsg__session_end(s, WSG_ERR_NOMEM, "out of memory");
        break;
    default:
        break;
    }
}

static bool close_clean(const struct wsg_session *s)
{
    return s->conn && wsg_conn_state(s->conn) == WSG_STATE_CLOSED &&
           wsg_conn_close_sent(s->conn) && wsg_conn_close_received(s->conn) &&
           s->fail_err == WSG_OK;
}

/* How an OPEN session ended, once its output is flushed: Close + FIN is
 * clean even if the FIN came first. */
static int end_err(struct wsg_session *s)
{
    const char *why = NULL;
    int err;

    if (s->fail_err != WSG_OK)
        err = s->fail_err;
    else if (s->self_err != WSG_OK)
        err = s->self_err;
    else if (close_clean(s))
        err = WSG_OK;
    else if (s->rd_eof) {
        err = WSG_ERR_PEER_CLOSED;
        why = "connection closed without a close handshake";
    } else {
        err = WSG_ERR_TIMEOUT;
        why = "close handshake incomplete";
    }
    if (why && !s->detail[0])
        snprintf(s->detail, sizeof s->detail, "%s", why);
    return err;
}

static void on_eof(struct wsg_session *s)
{
    switch (s->phase) {
    case WSG__PH_LINGER:
        wsg__session_end(s, s->linger_err, NULL);
        break;
    case WSG__PH_OPEN:
        if (s->rd_eof) { /* hang-up while flushing */
            wsg__session_end(s, end_err(s), NULL);
            break;
        }
        /* The peer's FIN: stop reading, but flush what is queued (the
         * failing Close, the Close echo, echoed data) first; check_close()
         * then decides how it ended. Bounded by the close deadline. */
        s->rd_eof = true;
        s->eof_deadline =
            wsg_loop_now(s->loop) + s->conn_cfg.close_timeout_ms;
        break;
    case WSG__PH_SERVER_HS:
        s->refuse_err = WSG_ERR_PEER_CLOSED;
        snprintf(s->refuse_reason, sizeof s->refuse_reason,
                 "connection closed during the handshake");
        wsg__session_end(s, WSG_ERR_PEER_CLOSED, s->refuse_reason);
        break;
    default:
        wsg__session_end(s, WSG_ERR_PEER_CLOSED,
                         "connection closed during the handshake");
        break;
    }
}

static void input(struct wsg_session *s)
{
    for (int i = 0; i < READS_PER_EVENT; i++) {
        uint8_t *buf;
        size_t cap, got = 0;
        unsigned want = WSG_IO_READ;
        int rc;

        if (s->stash) {
            if (s->phase != WSG__PH_OPEN || input_paused(s))
                break;
            process_stash(s);
            if (s->stash || s->phase == WSG__PH_DEAD)
                break;
            continue;
        }
        if (!can_read(s))
            break;
        buf = wsg__loop_rbuf(s->loop, &cap);
        rc = s->tops->read(s->tctx, s->fd, buf, cap, &got, &want);
        if (rc == WSG_ERR_AGAIN) {
            s->read_want = want ? want : WSG_IO_READ;
            return;
        }
        s->read_want = WSG_IO_READ;
        if (rc == WSG_OK && s->phase == WSG__PH_OPEN) {
            s->last_rx = wsg_loop_now(s->loop); /* any input: alive */
            s->ping_at = 0;
        }
        if (rc == WSG_ERR_PEER_CLOSED) {
            on_eof(s);
            return;
        }
        if (rc != WSG_OK) {
            if (s->phase == WSG__PH_SERVER_HS)
                s->refuse_err = rc;
            wsg__session_end(s, s->phase == WSG__PH_LINGER ? s->linger_err : rc,
                             "read failed");
            return;
        }
        deliver(s, buf, got);
        if (s->phase == WSG__PH_DEAD)
            return;
        if (got < cap && !(s->tops->pending && s->tops->pending(s->tctx)))
            return;
    }
    /* Budget used up: TLS may hold decrypted bytes that epoll cannot see. */
    if (s->tops && s->tops->pending && s->tops->pending(s->tctx) &&
        can_read(s)) {
        s->read_want = 0; /* re-read from the kick, not from epoll */
        wsg__session_kick(s);
    }
}

/* ---- output -------------------------------------------------------------- */

/* Lingering close: send FIN, then read and drop what the peer still sends,
 * bounded in time and bytes, so that closing with unread input does not
 * turn into a reset that destroys our last response or Close frame before
 * the peer reads it. Ends with `err`. */
static void linger(struct wsg_session *s, int err)
{
    s->linger_err = err;
    if (s->tops && s->tops->shutdown)
        s->tops->shutdown(s->tctx, s->fd);
    shutdown(s->fd, SHUT_WR);
    s->phase = WSG__PH_LINGER;
    s->hs_deadline = wsg_loop_now(s->loop) + LINGER_MS;
    s->linger_bytes = 0;
    s->write_want = 0;
    s->read_want = WSG_IO_READ;
    wsg__session_stash(s, NULL, 0);
}

static void hs_out_done(struct wsg_session *s)
{
    s->hs_out = NULL;
    s->hs_out_len = s->hs_out_off = 0;
    if (s->phase == WSG__PH_REFUSING) {
        linger(s, s->refuse_err);
    } else if (s->phase == WSG__PH_OPEN && s->hs_srv) {
        wsg_hs_server_free(s->hs_srv);
        s->hs_srv = NULL;
    }
}

static void flush(struct wsg_session *s)
{
    struct wsg_iovec iov[64];
    int i;

    if (s->phase == WSG__PH_DEAD || s->phase == WSG__PH_CONNECTING ||
        !s->tops)
        return;
    s->write_want = 0;
    for (i = 0; i < 64; i++) {
        size_t n, put = 0;
        unsigned want = WSG_IO_WRITE;
        int rc;
        bool hs = wsg__session_hs_out_left(s) > 0;

        if (hs) {
            iov[0].base = s->hs_out + s->hs_out_off;
            iov[0].len = wsg__session_hs_out_left(s);
            n = 1;
        } else if (s->conn) {
            n = wsg_conn_output(s->conn, iov, 64);
            if (n == 0)
                break;
        } else {
            break;
        }
        rc = s->tops->writev(s->tctx, s->fd, iov, n, &put, &want);
        if (put) {
            if (hs)
                s->hs_out_off += put;
            else {
                wsg_conn_output_consume(s->conn, put);
                s->wr_progress = wsg_loop_now(s->loop);
                s->wr_outq = SIZE_MAX;
            }
        }
        if (hs && wsg__session_hs_out_left(s) == 0)
            hs_out_done(s);
        if (rc == WSG_ERR_AGAIN) {
            s->write_want = want ? want : WSG_IO_WRITE;
            if (!hs && s->wr_outq == SIZE_MAX)
                s->wr_outq = wsg__sock_outq(s->fd); /* for the stall check */
            break;
        }
        if (rc != WSG_OK) {
            if (!s->opened && s->srv && s->refuse_err == WSG_OK)
                s->refuse_err = rc;
            wsg__session_end(s, rc == WSG_ERR_PEER_CLOSED && close_clean(s)
                                    ? WSG_OK
                                    : rc,
                             "write failed");
            return;
        }
    }
    if (i == 64)
        s->write_want = WSG_IO_WRITE; /* more next round */
    if (s->conn) {
        size_t pending = wsg_conn_output_pending(s->conn);
        if (pending <= s->pause_output / 2) {
            if (s->bp_paused) {
                s->bp_paused = false;
                wsg__session_rx_resumed(s);
                if (s->stash)
                    wsg__session_kick(s);
            }
            if (s->over) {
                s->over = false;
                if (s->cb.on_drain)
                    s->cb.on_drain(s->cb.ud, s);
            }
        }
    }
}

static void check_close(struct wsg_session *s)
{
    if (s->phase != WSG__PH_OPEN || !s->conn)
        return;
    if (s->rd_eof) {
        /* After the peer's FIN: done once everything is flushed. */
        if (wsg__session_hs_out_left(s) || wsg_conn_output_pending(s->conn))
            return;
    } else if (wsg__session_hs_out_left(s) ||
               !wsg_conn_should_close_transport(s->conn)) {
        return;
    }
    /* Lingering also drains what the peer sent after its Close or FIN,
     * so that closing never turns into a reset that eats our Close. */
    linger(s, end_err(s));
}

static void pump(struct wsg_session *s, bool do_read)
{
    if (s->phase == WSG__PH_DEAD || s->phase == WSG__PH_CONNECTING)
        return;
    if (s->adopt != WSG__ADOPT_NONE)
        wsg__server_adopted(s); /* before anything is read from the fd */
    flush(s);
    if (s->phase == WSG__PH_OPEN && s->stash && !input_paused(s))
        process_stash(s);
    if (do_read && s->phase != WSG__PH_DEAD)
        input(s);
    flush(s);
    check_close(s);
    if (s->phase != WSG__PH_DEAD) {
        wsg__session_update_watch(s);
        wsg__session_rearm(s);
    }
}

static void kick_cb(struct wsg__defer *d)
{
    struct wsg_session *s = CONTAINER(d, struct wsg_session, kick);
    pump(s, s->read_want == 0);
}

static void session_io(struct wsg_watch *w, unsigned rev, void *ud)
{
    struct wsg_session *s = ud;

    (void)w;
    if (s->phase == WSG__PH_DEAD)
        return;
    if (s->phase == WSG__PH_CONNECTING) {
        wsg__client_connect_ready(s);
        return;
    }
    if ((rev & WSG_IO_ERROR) && !(s->watching & (WSG_IO_READ | WSG_IO_WRITE))) {
        /* Hang-up while nothing is being read or written. */
        if (s->phase == WSG__PH_SERVER_HS || s->phase == WSG__PH_DEFERRED)
            s->refuse_err = WSG_ERR_PEER_CLOSED;
        on_eof(s);
        pump(s, false); /* OPEN: flush, then check_close() */
        return;
    }
    pump(s, true);
}

static void session_timer(struct wsg_timer *t, void *ud)
{
    struct wsg_session *s = ud;
    uint64_t now = wsg_loop_now(s->loop);

    (void)t;
    if (s->phase == WSG__PH_DEAD)
        return;
    if (s->phase != WSG__PH_OPEN && now >= s->hs_deadline) {
        switch (s->phase) {
        case WSG__PH_REFUSING:
            wsg__session_end(s, s->refuse_err, NULL);
            break;
        case WSG__PH_LINGER:
            wsg__session_end(s, s->linger_err, NULL);
            break;
        case WSG__PH_SERVER_HS:
        case WSG__PH_DEFERRED:
            s->refuse_err = WSG_ERR_TIMEOUT;
            snprintf(s->refuse_reason, sizeof s->refuse_reason,
                     "handshake deadline passed");
            wsg__session_end(s, WSG_ERR_TIMEOUT, s->refuse_reason);
            break;
        case WSG__PH_CONNECTING:
            wsg__session_end(s, WSG_ERR_TIMEOUT, "connect timed out");
            break;
        default:
            wsg__session_end(s, WSG_ERR_TIMEOUT, "handshake timed out");
            break;
        }
        return;
    }
    if (s->conn && wsg_conn_tick(s->conn, now) == WSG_ERR_TIMEOUT) {
        wsg__session_end(s, WSG_ERR_TIMEOUT, "close handshake timed out");
        return;
    }
    wsg__session_expire(s, now);
    pump(s, false);
}

/* ---- teardown ------------------------------------------------------------ */

static void teardown_cb(struct wsg__defer *d)
{
    wsg__session_destroy(CONTAINER(d, struct wsg_session, teardown));
}

/* Shared with client.c. */
void wsg__client_set_fd(struct wsg_session *s, int fd)
{
    if (session_set_fd(s, fd) != WSG_OK)
        wsg__session_end(s, WSG_ERR_IO, "cannot watch the socket");
    else
        wsg__session_update_watch(s);
}

void wsg__client_pump(struct wsg_session *s) { pump(s, true); }
