/* wsg-relay: upstream connections (TCP or a Unix socket). The address is
 * resolved once at start; connects are non-blocking with a deadline; idle
 * keep-alive connections wait in a bounded pool (relay_config.pool_idle)
 * and are dropped if the upstream closes them or sends anything. A
 * request takes an idle connection or starts exactly one connect: it
 * never waits for another request's connection. */
#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <wsguard/io.h>

#include "relay_int.h"

int relay_pool_init(struct relay *r)
{
    const struct relay_config *cfg = r->cfg;
    memset(&r->up_addr, 0, sizeof r->up_addr);
    if (cfg->upstream_unix) {
        struct sockaddr_un *un = (struct sockaddr_un *)&r->up_addr;
        size_t n = strlen(cfg->upstream_unix);
        if (n == 0 || n >= sizeof un->sun_path) {
            fprintf(stderr, "wsg-relay: --upstream unix: path too long\n");
            return -1;
        }
        un->sun_family = AF_UNIX;
        memcpy(un->sun_path, cfg->upstream_unix, n + 1);
        r->up_addrlen = (socklen_t)sizeof *un;
        return 0;
    }
    struct addrinfo hints, *res = NULL;
    memset(&hints, 0, sizeof hints);
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    int rc = getaddrinfo(cfg->upstream_host, cfg->upstream_port, &hints, &res);
    if (rc != 0 || !res) {
        fprintf(stderr, "wsg-relay: --upstream %s:%s: %s\n",
                cfg->upstream_host, cfg->upstream_port,
                rc ? gai_strerror(rc) : "no address");
        return -1;
    }
    memcpy(&r->up_addr, res->ai_addr, res->ai_addrlen);
    r->up_addrlen = res->ai_addrlen;
    freeaddrinfo(res);
    return 0;
}

static void idle_remove(struct relay_up *u)
{
    struct relay *r = u->r;
    for (struct relay_up **pp = &r->idle; *pp; pp = &(*pp)->next) {
        if (*pp == u) {
            *pp = u->next;
            u->next = NULL;
            u->idle = false;
            r->idle_count--;
            return;
        }
    }
}

void relay_pool_drop(struct relay_up *u)
{
    if (!u)
        return;
    if (u->idle)
        idle_remove(u);
    wsg_watch_free(u->w);
    wsg_timer_free(u->t);
    if (u->fd >= 0)
        close(u->fd);
    relay_buf_free(&u->in);
    relay_buf_free(&u->out);
    free(u);
}

void relay_up_want(struct relay_up *u, bool read, bool write)
{
    unsigned ev = (read ? WSG_IO_READ : 0) |
                  (write || u->connecting ? WSG_IO_WRITE : 0);
    wsg_watch_set(u->w, ev);
}

static void up_io(struct wsg_watch *w, unsigned revents, void *ud)
{
    struct relay_up *u = ud;
    (void)w;
    if (u->idle) { /* idle: EOF, stray bytes or an error all end it */
        relay_pool_drop(u);
        return;
    }
    if (u->connecting) {
        if (!(revents & (WSG_IO_WRITE | WSG_IO_ERROR)))
            return;
        int err = 0;
        socklen_t len = sizeof err;
        if (getsockopt(u->fd, SOL_SOCKET, SO_ERROR, &err, &len) != 0)
            err = errno;
        if (err) {
            if (u->r->cfg->verbose)
                fprintf(stderr, "wsg-relay: upstream connect: %s\n",
                        strerror(err));
            relay_proxy_up_failed(u, WSG_ERR_IO);
            return;
        }
        u->connecting = false;
        wsg_timer_stop(u->t);
        revents |= WSG_IO_WRITE;
    }
    relay_proxy_up_io(u, revents);
}

static void up_timer(struct wsg_timer *t, void *ud)
{
    struct relay_up *u = ud;
    (void)t;
    if (u->connecting && u->c)
        relay_proxy_up_failed(u, WSG_ERR_TIMEOUT);
}


struct relay_up *relay_pool_get(struct relay *r, bool fresh)
{
    if (!fresh && r->idle) {
        struct relay_up *u = r->idle;
        idle_remove(u);
        u->reused = true;
        return u;
    }
    struct relay_up *u = calloc(1, sizeof *u);
    if (!u)
        return NULL;
    u->r = r;
    u->fd = socket(r->up_addr.ss_family, SOCK_STREAM | SOCK_NONBLOCK |
                                             SOCK_CLOEXEC, 0);
    if (u->fd < 0) {
        free(u);
        return NULL;
    }
    if (r->up_addr.ss_family != AF_UNIX) {
        int one = 1;
        setsockopt(u->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    }
    relay_http_init(&u->http, false, relay_proxy_resp_body, u);
    int rc = connect(u->fd, (struct sockaddr *)&r->up_addr, r->up_addrlen);
    if (rc != 0 && errno != EINPROGRESS) {
        if (r->cfg->verbose)
            fprintf(stderr, "wsg-relay: upstream connect: %s\n",
                    strerror(errno));
        relay_pool_drop(u);
        return NULL;
    }
    u->connecting = rc != 0;
    uint32_t ms = RELAY_CONNECT_TIMEOUT_MS;
    if (r->cfg->upstream_timeout_ms && r->cfg->upstream_timeout_ms < ms)
        ms = r->cfg->upstream_timeout_ms;
    if (wsg_timer_new(r->loop, up_timer, u, &u->t) != WSG_OK ||
        wsg_watch_new(r->loop, u->fd, WSG_IO_WRITE, up_io, u, &u->w) !=
            WSG_OK) {
        relay_pool_drop(u);
        return NULL;
    }
    if (u->connecting)
        wsg_timer_start(u->t, wsg_loop_now(r->loop) + ms);
    r->st.upstream_conns++;
    return u;
}

void relay_pool_put(struct relay_up *u)
{
    struct relay *r = u->r;
    if (r->idle_count >= r->cfg->pool_idle || r->draining || u->connecting ||
        relay_buf_pending(&u->in) || relay_buf_pending(&u->out)) {
        relay_pool_drop(u);
        return;
    }
    u->c = NULL;
    relay_http_next(&u->http);
    relay_buf_shrink(&u->in, 0);
    relay_buf_shrink(&u->out, 0);
    wsg_watch_set(u->w, WSG_IO_READ);
    u->idle = true;
    u->next = r->idle;
    r->idle = u;
    r->idle_count++;
}

void relay_pool_free(struct relay *r)
{
    while (r->idle)
        relay_pool_drop(r->idle);
}
