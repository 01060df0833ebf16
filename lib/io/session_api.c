/* The server's answers to an upgrade (101 or refusal), the teardown that
 * reports how a session ended, and the public
 * wsg_session_* API: thin wrappers over the core connection that schedule
 * a batched flush, deferred-upgrade answers and accessors. */
#include <netdb.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "io/io_internal.h"

/* ---- handshake outcomes (server) ------------------------------------------ */

int wsg__session_refuse(struct wsg_session *s, int status, const char *reason,
                        const struct wsg_header *headers, size_t n, int err)
{
    const uint8_t *data = NULL;
    size_t len = 0;
    int rc;

    s->refuse_err = err;
    s->refuse_status = status;
    snprintf(s->refuse_reason, sizeof s->refuse_reason, "%s",
             reason ? reason : wsg_http_status_text(status));
    wsg__session_stash(s, NULL, 0); /* pipelined bytes die with it */
    rc = wsg_hs_server_refuse(s->hs_srv, status, reason, headers, n, &data,
                              &len);
    if (rc != WSG_OK) {
        s->refuse_status = 0;
        wsg__session_end(s, err, s->refuse_reason);
        return rc;
    }
    s->hs_out = data;
    s->hs_out_len = len;
    s->hs_out_off = 0;
    s->phase = WSG__PH_REFUSING;
    wsg__session_kick(s);
    return WSG_OK;
}

int wsg__session_accept(struct wsg_session *s,
                        const struct wsg_hs_accept_opts *opts)
{
    struct wsg_hs_accept_opts none;
    const uint8_t *data = NULL;
    size_t len = 0;
    int rc;

    if (!opts) {
        memset(&none, 0, sizeof none);
        opts = &none;
    }
    rc = wsg_hs_server_accept(s->hs_srv, opts, &data, &len);
    if (rc != WSG_OK)
        return rc;
    s->conn_cfg.role = WSG_ROLE_SERVER;
    rc = wsg_conn_new(&s->conn_cfg, &s->conn);
    if (rc != WSG_OK)
        return rc;
    if (opts->subprotocol) {
        s->protocol = wsg__strdup(&s->alloc, opts->subprotocol);
        if (!s->protocol)
            return WSG_ERR_NOMEM;
    }
    if (!s->pause_output)
        s->pause_output = s->conn_cfg.max_output / 2;
    s->hs_out = data;
    s->hs_out_len = len;
    s->hs_out_off = 0;
    s->phase = WSG__PH_OPEN;
    s->opened = true;
    wsg__session_opened(s);
    if (s->cb.on_open)
        s->cb.on_open(s->cb.ud, s);
    wsg__session_kick(s);
    return WSG_OK;
}

/* ---- teardown ------------------------------------------------------------ */

void wsg__session_destroy(struct wsg_session *s)
{
    struct wsg_allocator a = s->alloc;
    uint16_t code_sent = s->conn ? wsg_conn_close_sent(s->conn) : 0;

    if (s->phase != WSG__PH_DEAD)
        wsg__session_end(s, WSG_ERR_CLOSED, "closed");
    wsg__defer_cancel(s->loop, &s->kick);
    wsg__defer_cancel(s->loop, &s->teardown);
    if (s->tops && s->tops->shutdown && s->fd >= 0 && s->opened)
        s->tops->shutdown(s->tctx, s->fd);
    if (s->tops && s->tops->free)
        s->tops->free(s->tctx);
    s->tops = NULL;
    if (s->fd >= 0)
        close(s->fd);
    s->fd = -1;
    /* Before on_close: the release callbacks of unsent borrowed buffers
     * run now, while the application's state for them still exists
     * (review F4). */
    wsg_conn_free(s->conn);
    s->conn = NULL;

    if (s->srv && !s->opened && s->cb.on_refuse) {
        struct wsg_refusal r;
        r.peer = s->peer;
        r.status = s->refuse_status;
        r.err = s->refuse_err ? s->refuse_err : s->end_err;
        r.reason = s->refuse_reason[0] ? s->refuse_reason
                                       : (s->detail[0] ? s->detail
                                                       : wsg_strerror(r.err));
        r.request = NULL;
        if (s->hs_srv) {
            r.request = wsg_hs_server_request(s->hs_srv);
            if (r.request == NULL)
                r.request = wsg_hs_server_plain_request(s->hs_srv);
        }
        s->cb.on_refuse(s->cb.ud, &r);
    }
    if (s->seen && s->cb.on_close) {
        struct wsg_close_info info;
        memset(&info, 0, sizeof info);
        info.err = s->end_err;
        info.opened = s->opened;
        info.code = s->peer_code ? s->peer_code : WSG_CLOSE_ABNORMAL;
        info.reason = s->peer_reason;
        info.reason_len = s->peer_reason_len;
        info.code_sent = code_sent;
        info.http_status = s->http_status;
        info.detail = s->detail[0] ? s->detail : wsg_strerror(s->end_err);
        s->cb.on_close(s->cb.ud, s, &info);
    }
    if (s->srv)
        wsg__server_session_gone(s->srv, s);

    wsg_timer_free(s->timer);
    wsg_hs_server_free(s->hs_srv);
    wsg_hs_client_free(s->hs_cli);
    wsg_rng_free(s->rng);
    if (s->ai_list)
        freeaddrinfo(s->ai_list);
    wsg__free(&a, s->stash);
    wsg__free(&a, s->protocol);
    wsg__free(&a, s->server_name);
    wsg__free(&a, s->unix_path);
    memset(s, 0, sizeof *s);
    wsg__free(&a, s);
}

/* ---- public API ---------------------------------------------------------- */

static bool usable(const struct wsg_session *s)
{
    return s && s->phase == WSG__PH_OPEN && s->conn;
}

static int after_send(struct wsg_session *s, int rc)
{
    if (rc == WSG_OK) {
        wsg__session_check_over(s);
        wsg__session_kick(s);
    }
    return rc;
}

struct wsg_conn *wsg_session_conn(struct wsg_session *s)
{
    return usable(s) ? s->conn : NULL;
}

int wsg_session_send(struct wsg_session *s, enum wsg_opcode op,
                     const void *data, size_t len)
{
    if (!usable(s))
        return WSG_ERR_STATE;
    return after_send(s, wsg_conn_send(s->conn, op, data, len));
}

int wsg_session_send_fragment(struct wsg_session *s, enum wsg_opcode op,
                              const void *data, size_t len, bool first,
                              bool fin)
{
    if (!usable(s))
        return WSG_ERR_STATE;
    return after_send(s, wsg_conn_send_fragment(s->conn, op, data, len, first,
                                                fin));
}

int wsg_session_send_borrowed(struct wsg_session *s, enum wsg_opcode op,
                              const void *data, size_t len, bool first,
                              bool fin,
                              void (*release)(void *ud, const void *data),
                              void *ud)
{
    if (!usable(s))
        return WSG_ERR_STATE;
    return after_send(s, wsg_conn_send_borrowed(s->conn, op, data, len, first,
                                                fin, release, ud));
}

int wsg_session_ping(struct wsg_session *s, const void *data, size_t len)
{
    if (!usable(s))
        return WSG_ERR_STATE;
    return after_send(s, wsg_conn_ping(s->conn, data, len));
}

int wsg_session_close(struct wsg_session *s, uint16_t code, const char *reason)
{
    if (!usable(s))
        return WSG_ERR_STATE;
    return after_send(s, wsg_conn_close(s->conn, code, reason,
                                        reason ? strlen(reason) : 0,
                                        wsg_clock_ms()));
}

void wsg_session_flush(struct wsg_session *s)
{
    if (s)
        wsg__session_kick(s);
}

void wsg_session_abort(struct wsg_session *s, int err)
{
    if (!s)
        return;
    if (!s->opened && s->srv && s->refuse_err == WSG_OK) {
        s->refuse_err = err ? err : WSG_ERR_CLOSED;
        snprintf(s->refuse_reason, sizeof s->refuse_reason, "aborted");
    }
    wsg__session_end(s, err ? err : WSG_ERR_CLOSED, "aborted");
}

void wsg_session_pause(struct wsg_session *s)
{
    if (s && s->phase != WSG__PH_DEAD) {
        s->user_paused = true;
        wsg__session_update_watch(s);
    }
}

void wsg_session_resume(struct wsg_session *s)
{
    if (s && s->phase != WSG__PH_DEAD && s->user_paused) {
        s->user_paused = false;
        wsg__session_rx_resumed(s);
        wsg__session_update_watch(s);
        wsg__session_rearm(s);
        if (s->stash)
            wsg__session_kick(s);
    }
}

size_t wsg_session_pending(const struct wsg_session *s)
{
    if (!s)
        return 0;
    return wsg__session_hs_out_left(s) + (s->conn ? wsg_conn_output_pending(s->conn) : 0);
}

int wsg_session_accept(struct wsg_session *s,
                       const struct wsg_hs_accept_opts *opts)
{
    int rc;

    if (!s || s->phase != WSG__PH_DEFERRED)
        return WSG_ERR_STATE;
    rc = wsg__session_accept(s, opts);
    if (rc != WSG_OK && s->phase == WSG__PH_DEFERRED)
        wsg__session_refuse(s, 500, "cannot accept the upgrade", NULL, 0, rc);
    return rc;
}

int wsg_session_refuse(struct wsg_session *s, int status, const char *reason,
                       const struct wsg_header *headers, size_t header_count)
{
    if (!s || s->phase != WSG__PH_DEFERRED)
        return WSG_ERR_STATE;
    if (status < 400 || status > 599)
        return WSG_ERR_INVALID_ARG;
    return wsg__session_refuse(s, status, reason, headers, header_count,
                               WSG_ERR_POLICY);
}

void *wsg_session_data(const struct wsg_session *s)
{
    return s ? s->data : NULL;
}

void wsg_session_set_data(struct wsg_session *s, void *data)
{
    if (s)
        s->data = data;
}

const char *wsg_session_peer(const struct wsg_session *s)
{
    return s ? s->peer : "unknown";
}

const char *wsg_session_protocol(const struct wsg_session *s)
{
    return s && s->protocol ? s->protocol : "";
}

bool wsg_session_is_open(const struct wsg_session *s)
{
    return usable(s) && wsg_conn_state(s->conn) == WSG_STATE_OPEN;
}


const struct wsg_header *wsg_session_response_headers(
    const struct wsg_session *s, size_t *count)
{
    /* The client's handshake (and the 101's head in it) lives as long as
     * the session: nothing is copied. */
    const struct wsg_header *h = NULL;
    size_t n = 0;

    if (s && !s->srv && s->opened && s->hs_cli)
        h = wsg_hs_client_headers(s->hs_cli, &n);
    if (!h)
        n = 0;
    if (count)
        *count = n;
    return n ? h : NULL;
}
