/* wsg-relay: one GET to the upstream for its status only (the health
 * endpoint asks Streamlit's _stcore/health). A connection of its own with
 * Connection: close, a deadline over connect, send and the response head;
 * the head is read with the same strict parser as every response. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <wsguard/io.h>

#include "relay_int.h"

struct relay_probe {
    struct relay *r;
    int fd;
    struct wsg_watch *w;
    struct wsg_timer *t;
    bool connecting;
    struct relay_buf in, out;
    struct relay_http http;
    void (*done)(void *ud, int status);
    void *ud;
};

static void probe_free(struct relay_probe *p)
{
    wsg_watch_free(p->w);
    wsg_timer_free(p->t);
    if (p->fd >= 0)
        close(p->fd);
    relay_buf_free(&p->in);
    relay_buf_free(&p->out);
    free(p);
}

void relay_probe_cancel(struct relay_probe *p)
{
    if (p)
        probe_free(p);
}

/* Frees the probe, then reports (done may start another probe). */
static void finish(struct relay_probe *p, int status)
{
    void (*done)(void *, int) = p->done;
    void *ud = p->ud;
    probe_free(p);
    done(ud, status);
}

static void probe_timer(struct wsg_timer *t, void *ud)
{
    (void)t;
    finish(ud, 0);
}

static void probe_io(struct wsg_watch *w, unsigned revents, void *ud)
{
    struct relay_probe *p = ud;
    if (p->connecting) {
        int err = 0;
        socklen_t len = sizeof err;
        if (getsockopt(p->fd, SOL_SOCKET, SO_ERROR, &err, &len) != 0 || err) {
            finish(p, 0);
            return;
        }
        p->connecting = false;
    }
    while (relay_buf_pending(&p->out) > 0) {
        ssize_t n = send(p->fd, relay_buf_data(&p->out),
                         relay_buf_pending(&p->out), MSG_NOSIGNAL);
        if (n > 0) {
            relay_buf_consume(&p->out, (size_t)n);
            continue;
        }
        if (n < 0 && (errno == EAGAIN || errno == EINTR))
            break;
        finish(p, 0);
        return;
    }
    if (revents & (WSG_IO_READ | WSG_IO_ERROR)) {
        uint8_t *b = relay_buf_space(&p->in, 4096);
        ssize_t n = b ? recv(p->fd, b, 4096, 0) : -1;
        if (n <= 0 && !(n < 0 && (errno == EAGAIN || errno == EINTR))) {
            finish(p, 0); /* closed, reset or out of memory: no head */
            return;
        }
        if (n > 0)
            relay_buf_commit(&p->in, (size_t)n);
        size_t used = 0;
        enum relay_feed f = relay_http_feed(&p->http, relay_buf_data(&p->in),
                                            relay_buf_pending(&p->in), &used);
        if (f == RELAY_HEAD && (p->http.head.status < 100 ||
                                p->http.head.status >= 200)) {
            finish(p, p->http.head.status);
            return;
        }
        if (f == RELAY_ERR || f == RELAY_HEAD) { /* malformed, or a 1xx */
            finish(p, 0);
            return;
        }
    }
    wsg_watch_set(w, WSG_IO_READ |
                         (relay_buf_pending(&p->out) ? WSG_IO_WRITE : 0));
}

struct relay_probe *relay_upstream_probe(struct relay *r, const char *path,
                                         uint32_t timeout_ms,
                                         void (*done)(void *ud, int status),
                                         void *ud)
{
    const struct relay_config *cfg = r->cfg;
    if (!path || path[0] != '/' || strpbrk(path, " \r\n") || !done)
        return NULL;
    struct relay_probe *p = calloc(1, sizeof *p);
    if (!p)
        return NULL;
    p->r = r;
    p->done = done;
    p->ud = ud;
    relay_http_init(&p->http, false, NULL, NULL);
    p->http.skip_body = true;
    const char *host = cfg->upstream_unix ? "localhost" : cfg->upstream_host;
    bool v6 = !cfg->upstream_unix && strchr(host, ':');
    bool ok = cfg->upstream_unix
                  ? relay_buf_printf(&p->out, "GET %s HTTP/1.1\r\nHost: %s\r\n",
                                     path, host)
                  : relay_buf_printf(&p->out,
                                     v6 ? "GET %s HTTP/1.1\r\nHost: [%s]:%s\r\n"
                                        : "GET %s HTTP/1.1\r\nHost: %s:%s\r\n",
                                     path, host, cfg->upstream_port);
    ok = ok && relay_buf_puts(&p->out, "User-Agent: wsg-relay\r\n"
                                       "Connection: close\r\n\r\n");
    p->fd = socket(r->up_addr.ss_family,
                   SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (!ok || p->fd < 0) {
        probe_free(p);
        return NULL;
    }
    int rc = connect(p->fd, (struct sockaddr *)&r->up_addr, r->up_addrlen);
    p->connecting = rc != 0 && errno == EINPROGRESS;
    if ((rc != 0 && !p->connecting) ||
        wsg_timer_new(r->loop, probe_timer, p, &p->t) != WSG_OK ||
        wsg_watch_new(r->loop, p->fd, WSG_IO_READ | WSG_IO_WRITE, probe_io, p,
                      &p->w) != WSG_OK) {
        /* refused at once: still answered from the loop, as promised */
        if (p->t || wsg_timer_new(r->loop, probe_timer, p, &p->t) == WSG_OK) {
            wsg_watch_free(p->w);
            p->w = NULL;
            wsg_timer_start(p->t, 0);
            return p;
        }
        probe_free(p);
        return NULL;
    }
    wsg_timer_start(p->t, wsg_loop_now(r->loop) + (timeout_ms ? timeout_ms : 1));
    return p;
}
