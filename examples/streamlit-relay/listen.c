/* wsg-relay: the listener (SO_REUSEADDR, SO_REUSEPORT for workers),
 * accepting on the loop (paused at RELAY_MAX_CONNS and, for 100 ms, when
 * out of descriptors), and what front.c takes from the policy: trusted
 * proxies, the client address header, H1 switches, the request head
 * deadline and the H10 header values (the CSP is the relay's own). */
#include <errno.h>
#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <wsguard/io.h>

#include "relay_int.h"

static void on_accept(struct wsg_watch *w, unsigned revents, void *ud)
{
    struct relay *r = ud;
    (void)w;
    (void)revents;
    for (int i = 0; i < 64; i++) {
        if (r->st.conns_open >= RELAY_MAX_CONNS) {
            wsg_watch_set(r->listen_w, 0);
            return;
        }
        struct sockaddr_storage ss;
        socklen_t len = sizeof ss;
        int fd = accept4(r->listen_fd, (struct sockaddr *)&ss, &len,
                         SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (fd < 0 && (errno == EMFILE || errno == ENFILE ||
                       errno == ENOBUFS || errno == ENOMEM)) {
            /* Out of descriptors: a level-triggered listener would spin;
             * pause it for 100 ms. */
            wsg_watch_set(r->listen_w, 0);
            wsg_timer_start(r->accept_t, wsg_loop_now(r->loop) + 100);
            return;
        }
        if (fd < 0)
            return; /* EAGAIN, or a transient error: try next time */
        relay_conn_new(r, fd, (struct sockaddr *)&ss, len);
    }
}

/* ---- set-up --------------------------------------------------------------------- */

/* Trusted proxies, the client address header and the H10 values from the
 * policy (defaults without one); the CSP is the relay's own (--csp). */
static int load_policy(struct relay *r)
{
    const struct wsg_policy *p = r->cfg->policy;
    wsg_security_headers_init_default(&r->sec);
    if (p) {
        char buf[4096];
        size_t n = wsg_policy_get(p, "trusted-proxy", buf, sizeof buf);
        for (size_t i = 0; n > 0 && n < sizeof buf && i < n;) {
            size_t j = i;
            while (j < n && buf[j] != ',')
                j++;
            size_t a = i, b = j;
            while (a < b && buf[a] == ' ')
                a++;
            while (b > a && buf[b - 1] == ' ')
                b--;
            if (b > a) {
                if (r->trusted_count == RELAY_MAX_TRUSTED ||
                    wsg_cidr_parse(buf + a, b - a,
                                   &r->trusted[r->trusted_count]) != WSG_OK) {
                    fprintf(stderr, "wsg-relay: bad or too many "
                                    "--trusted-proxy entries\n");
                    return -1;
                }
                r->trusted_count++;
            }
            i = j + 1;
        }
        char b[8];
        r->require_https = wsg_policy_get(p, "require-https", b, sizeof b) &&
                           strcmp(b, "true") == 0;
        r->https_redirect = wsg_policy_get(p, "https-redirect", b, sizeof b) &&
                            strcmp(b, "true") == 0;
        /* handshake-timeout: seconds with up to 3 decimals */
        char t[32];
        if (wsg_policy_get(p, "handshake-timeout", t, sizeof t) &&
            t[0] >= '0' && t[0] <= '9') {
            double sec = strtod(t, NULL);
            if (sec >= 0.1 && sec <= 600)
                r->head_timeout_ms = (uint32_t)(sec * 1000 + 0.5);
        }
        n = wsg_policy_get(p, "client-ip-header", r->client_ip_header,
                           sizeof r->client_ip_header);
        if (n >= sizeof r->client_ip_header)
            r->client_ip_header[0] = '\0';
        static const char *const names[4] = {
            "frame-options", "referrer-policy", "permissions-policy",
            "hsts-max-age"};
        for (int i = 0; i < 4; i++) {
            n = wsg_policy_get(p, names[i], r->sec_text[i],
                               sizeof r->sec_text[i]);
            if (n >= sizeof r->sec_text[i])
                r->sec_text[i][0] = '\0';
        }
        r->sec.frame_options = r->sec_text[0];
        r->sec.referrer_policy = r->sec_text[1];
        r->sec.permissions_policy = r->sec_text[2];
        r->sec.hsts_max_age = (uint32_t)strtoul(r->sec_text[3], NULL, 10);
    }
    r->sec.csp = r->cfg->csp;
    r->sec_count = wsg_security_headers_list(
        &r->sec, r->sec_list, sizeof r->sec_list / sizeof r->sec_list[0]);
    return 0;
}

static int listen_on(struct relay *r)
{
    const struct relay_config *cfg = r->cfg;
    struct addrinfo hints, *res = NULL;
    memset(&hints, 0, sizeof hints);
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = AI_PASSIVE;
    int rc = getaddrinfo(cfg->listen_host, cfg->listen_port, &hints, &res);
    if (rc != 0) {
        fprintf(stderr, "wsg-relay: --listen %s:%s: %s\n", cfg->listen_host,
                cfg->listen_port, gai_strerror(rc));
        return -1;
    }
    int fd = -1, err = 0;
    for (struct addrinfo *ai = res; ai && fd < 0; ai = ai->ai_next) {
        fd = socket(ai->ai_family,
                    ai->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
        if (fd < 0)
            continue;
        int one = 1;
        setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
#ifdef SO_REUSEPORT
        /* Only for --workers: otherwise a second relay (a stale one, or
         * another user's) could bind the same port and take connections. */
        if (r->cfg->workers > 1)
            setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof one);
#endif
        if (bind(fd, ai->ai_addr, ai->ai_addrlen) != 0 ||
            listen(fd, 511) != 0) {
            err = errno;
            close(fd);
            fd = -1;
        }
    }
    freeaddrinfo(res);
    if (fd < 0) {
        fprintf(stderr, "wsg-relay: cannot listen on %s:%s: %s\n",
                cfg->listen_host, cfg->listen_port, strerror(err));
        return -1;
    }
    r->listen_fd = fd;
    struct sockaddr_storage ss;
    socklen_t len = sizeof ss;
    char host[NI_MAXHOST] = "?", serv[NI_MAXSERV] = "?";
    if (getsockname(fd, (struct sockaddr *)&ss, &len) == 0)
        getnameinfo((struct sockaddr *)&ss, len, host, sizeof host, serv,
                    sizeof serv, NI_NUMERICHOST | NI_NUMERICSERV);
    fprintf(stderr,
            strchr(host, ':') ? "wsg-relay: listening on http://[%s]:%s\n"
                              : "wsg-relay: listening on http://%s:%s\n",
            host, serv);
    return 0;
}

static void accept_resume(struct wsg_timer *t, void *ud)
{
    struct relay *r = ud;
    (void)t;
    if (r->listen_w && r->st.conns_open < RELAY_MAX_CONNS)
        wsg_watch_set(r->listen_w, WSG_IO_READ);
}

int relay_front_init(struct relay *r)
{
    r->listen_fd = -1;
    r->head_timeout_ms = RELAY_HEAD_TIMEOUT_MS;
    if (load_policy(r) != 0)
        return -1;
    if (wsg_timer_new(r->loop, accept_resume, r, &r->accept_t) != WSG_OK)
        return -1;
    if (listen_on(r) != 0)
        return -1;
    if (wsg_watch_new(r->loop, r->listen_fd, WSG_IO_READ, on_accept, r,
                      &r->listen_w) != WSG_OK) {
        close(r->listen_fd);
        r->listen_fd = -1;
        return -1;
    }
    return 0;
}

void relay_front_stop_accepting(struct relay *r)
{
    wsg_watch_free(r->listen_w);
    r->listen_w = NULL;
    wsg_timer_free(r->accept_t);
    r->accept_t = NULL;
    if (r->listen_fd >= 0)
        close(r->listen_fd);
    r->listen_fd = -1;
}

void relay_front_close_idle(struct relay *r)
{
    /* relay_conn_kill frees later (a deferred kick): the list stays. */
    for (struct relay_conn *c = r->conns; c != NULL; c = c->next)
        if (c->state == RC_HEAD && relay_buf_pending(&c->in) == 0)
            relay_conn_kill(c);
}

void relay_front_free(struct relay *r)
{
    relay_front_stop_accepting(r);
    while (r->conns)
        relay_conn_free(r->conns);
}
