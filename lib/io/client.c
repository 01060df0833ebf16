/* The client: resolve (getaddrinfo, synchronous) and connect without
 * blocking to each address in turn under one deadline (or to one Unix
 * socket), send the upgrade request
 * (RFC 6455 section 4.1), validate the response, then run the session in
 * the client role with keys from a CSPRNG. */
#include <errno.h>
#include <netdb.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "io/io_internal.h"

void wsg_client_config_init_default(struct wsg_client_config *cfg)
{
    memset(cfg, 0, sizeof *cfg);
    cfg->port = "80";
    cfg->timeout_ms = 10000;
    cfg->ping_interval_ms = 25000;
    cfg->pong_timeout_ms = 30000;
    cfg->idle_timeout_ms = 0;
    cfg->write_stall_timeout_ms = 60000;
    wsg_hs_client_opts_init_default(&cfg->hs);
    wsg_conn_config_init_default(&cfg->conn);
    cfg->conn.role = WSG_ROLE_CLIENT;
}

static void connected(struct wsg_session *s)
{
    const uint8_t *req = NULL;
    size_t len = 0;
    int rc;

    if (!s->unix_path) {
        wsg__sock_nodelay(s->fd);
        wsg__sock_keepalive(s->fd, s->write_stall_ms);
    }
    rc = wsg__session_attach(s, s->fd, false);
    if (rc != WSG_OK) {
        wsg__session_end(s, rc, "cannot set up the transport");
        return;
    }
    wsg_hs_client_request(s->hs_cli, &req, &len);
    s->hs_out = req;
    s->hs_out_len = len;
    s->hs_out_off = 0;
    s->phase = WSG__PH_CLIENT_HS;
    wsg__client_pump(s);
}

/* Starts a non-blocking connect. Returns 1 (connected), 0 (in progress)
 * or -1 (failed; connect_errno set). */
static int try_addr(struct wsg_session *s, int family, int socktype,
                    int protocol, const struct sockaddr *sa, socklen_t len)
{
    int fd, rc;

    fd = socket(family, socktype | SOCK_NONBLOCK | SOCK_CLOEXEC, protocol);
    if (fd < 0) {
        s->connect_errno = errno;
        return -1;
    }
    rc = connect(fd, sa, len);
    /* A Unix socket's EAGAIN is a full backlog: a failure, not progress. */
    if (rc != 0 && errno != EINPROGRESS) {
        s->connect_errno = errno;
        close(fd);
        return -1;
    }
    wsg__addr_format(sa, len, s->peer, sizeof s->peer);
    s->phase = WSG__PH_CONNECTING;
    wsg__client_set_fd(s, fd);
    return rc == 0 ? 1 : 0;
}

/* Tries the next address; ends the session when none is left. */
static void try_next(struct wsg_session *s)
{
    int rc = -1;

    if (s->unix_path && !s->unix_tried) {
        struct sockaddr_un un;
        memset(&un, 0, sizeof un);
        un.sun_family = AF_UNIX;
        memcpy(un.sun_path, s->unix_path, strlen(s->unix_path));
        s->unix_tried = true;
        rc = try_addr(s, AF_UNIX, SOCK_STREAM, 0,
                      (const struct sockaddr *)&un, sizeof un);
    }
    while (rc < 0 && s->ai_cur) {
        struct addrinfo *ai = s->ai_cur;
        s->ai_cur = ai->ai_next;
        rc = try_addr(s, ai->ai_family, ai->ai_socktype, ai->ai_protocol,
                      ai->ai_addr, ai->ai_addrlen);
    }
    if (rc >= 0) {
        if (s->phase != WSG__PH_DEAD && rc == 1)
            connected(s);
        return;
    }
    snprintf(s->detail, sizeof s->detail, "cannot connect to %s%s: %s",
             s->unix_path ? "unix:" : "",
             s->unix_path ? s->unix_path
                          : (s->server_name ? s->server_name : "?"),
             strerror(s->connect_errno ? s->connect_errno : ECONNREFUSED));
    wsg__session_end(s, WSG_ERR_IO, NULL);
}

void wsg__client_connect_ready(struct wsg_session *s)
{
    int err = 0;
    socklen_t len = sizeof err;

    if (getsockopt(s->fd, SOL_SOCKET, SO_ERROR, &err, &len) != 0)
        err = errno;
    if (err == 0) {
        connected(s);
        return;
    }
    if (err == EINPROGRESS || err == EALREADY)
        return;
    s->connect_errno = err;
    try_next(s);
}

void wsg__client_hs_input(struct wsg_session *s, const uint8_t *buf,
                          size_t len)
{
    size_t used = 0;
    struct wsg_span proto;
    int rc;

    rc = wsg_hs_client_feed(s->hs_cli, buf, len, &used);
    if (rc == 0)
        return;
    if (rc < 0) {
        s->http_status = wsg_hs_client_status(s->hs_cli);
        snprintf(s->detail, sizeof s->detail, "%s",
                 wsg_hs_client_reason(s->hs_cli)
                     ? wsg_hs_client_reason(s->hs_cli)
                     : wsg_strerror(rc));
        wsg__session_end(s, rc, NULL);
        return;
    }
    s->http_status = wsg_hs_client_status(s->hs_cli);
    /* T8: bytes after the 101 head are the server's first frames. */
    if (used < len && wsg__session_stash(s, buf + used, len - used) != WSG_OK) {
        wsg__session_end(s, WSG_ERR_NOMEM, "out of memory");
        return;
    }
    proto = wsg_hs_client_protocol(s->hs_cli);
    if (proto.ptr) {
        s->protocol = wsg__strndup(&s->alloc, proto.ptr, proto.len);
        if (!s->protocol) {
            wsg__session_end(s, WSG_ERR_NOMEM, "out of memory");
            return;
        }
    }
    rc = wsg_conn_new(&s->conn_cfg, &s->conn);
    if (rc != WSG_OK) {
        wsg__session_end(s, rc, "cannot create the connection");
        return;
    }
    if (!s->pause_output)
        s->pause_output = s->conn_cfg.max_output / 2;
    s->phase = WSG__PH_OPEN;
    s->opened = true;
    wsg__session_opened(s);
    if (s->cb.on_open)
        s->cb.on_open(s->cb.ud, s);
    wsg__session_kick(s);
}

int wsg_client_connect(struct wsg_loop *loop,
                       const struct wsg_client_config *cfg,
                       struct wsg_session **out)
{
    struct wsg_hs_client_opts hs;
    struct wsg_session *s = NULL;
    struct addrinfo hints;
    char hostbuf[300];
    int rc;

    if (!out)
        return WSG_ERR_INVALID_ARG;
    *out = NULL;
    if (!loop || !cfg || cfg->timeout_ms == 0)
        return WSG_ERR_INVALID_ARG;
    if (cfg->unix_path) {
        /* sun_path holds the path and its NUL; no abstract names. */
        if (!cfg->unix_path[0] ||
            strlen(cfg->unix_path) >= sizeof ((struct sockaddr_un *)0)->sun_path)
            return WSG_ERR_INVALID_ARG;
    } else if (!cfg->host || !cfg->host[0] || !cfg->port) {
        return WSG_ERR_INVALID_ARG;
    }
    if (cfg->host && strlen(cfg->host) > 255)
        return WSG_ERR_INVALID_ARG;
    rc = wsg__session_new(loop, cfg->alloc, &cfg->cb, &s);
    if (rc != WSG_OK)
        return rc;
    s->cb.on_upgrade = NULL;
    s->cb.on_refuse = NULL;
    s->cb.on_http_refusal = NULL;
    s->tfac = cfg->transport;
    s->pause_output = cfg->pause_output;
    s->ping_interval_ms = cfg->ping_interval_ms;
    s->pong_timeout_ms = cfg->pong_timeout_ms;
    s->idle_timeout_ms = cfg->idle_timeout_ms;
    s->write_stall_ms = cfg->write_stall_timeout_ms;
    s->conn_cfg = cfg->conn;
    s->conn_cfg.role = WSG_ROLE_CLIENT;
    hs = cfg->hs;
    if (!s->conn_cfg.random.fill || !hs.random.fill) {
        rc = wsg_rng_new(&s->alloc, "wsguard client", &s->rng);
        if (rc != WSG_OK)
            goto fail;
        if (!s->conn_cfg.random.fill)
            s->conn_cfg.random = wsg_rng_random(s->rng);
        if (!hs.random.fill)
            hs.random = wsg_rng_random(s->rng);
    }
    if (!hs.host && cfg->unix_path) {
        hs.host = "localhost";
    } else if (!hs.host) {
        bool v6 = strchr(cfg->host, ':') != NULL;
        bool dflt = strcmp(cfg->port, "80") == 0;
        snprintf(hostbuf, sizeof hostbuf, "%s%s%s%s%s", v6 ? "[" : "",
                 cfg->host, v6 ? "]" : "", dflt ? "" : ":",
                 dflt ? "" : cfg->port);
        hs.host = hostbuf;
    }
    rc = wsg_hs_client_new(&hs, &s->alloc, &s->hs_cli);
    if (rc != WSG_OK)
        goto fail;
    if (cfg->host) { /* also the TLS server name over a Unix socket */
        s->server_name = wsg__strdup(&s->alloc, cfg->host);
        if (!s->server_name) {
            rc = WSG_ERR_NOMEM;
            goto fail;
        }
    }
    if (cfg->unix_path) {
        s->unix_path = wsg__strdup(&s->alloc, cfg->unix_path);
        if (!s->unix_path) {
            rc = WSG_ERR_NOMEM;
            goto fail;
        }
    } else {
        memset(&hints, 0, sizeof hints);
        hints.ai_family = AF_UNSPEC;
        hints.ai_socktype = SOCK_STREAM;
        hints.ai_flags = AI_ADDRCONFIG;
        if (getaddrinfo(cfg->host, cfg->port, &hints, &s->ai_list) != 0) {
            s->ai_list = NULL;
            rc = WSG_ERR_IO;
            goto fail;
        }
        s->ai_cur = s->ai_list;
    }
    s->hs_deadline = wsg_clock_ms() + cfg->timeout_ms;
    s->seen = true;
    s->phase = WSG__PH_CONNECTING;
    try_next(s);
    wsg__session_rearm(s);
    *out = s;
    return WSG_OK;
fail:
    s->seen = false;
    wsg__session_destroy(s);
    return rc;
}
