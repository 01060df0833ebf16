/* wsg-echo: the reference WebSocket echo server on wsguard.
 *
 * Echoes every text or binary message as the same type, behind the policy
 * (wsguard/policy.h, wsguard/guard.h): every connection goes through the
 * guard at the upgrade, on each message, control frame and deadline.
 * SIGINT/SIGTERM: a clean shutdown (1001 to every open connection, bounded
 * wait); a second signal exits at once. */
#include <errno.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <time.h>
#include <unistd.h>

#include <wsguard/guard.h>
#include <wsguard/io.h>
#include <wsguard/policy.h>
#include <wsguard/version.h>
#include <wsguard/wsguard.h>

#include "cli.h"

#define SHUTDOWN_MS 3000u
#define DEFAULT_MAX_OUTPUT "4194304"   /* the max-output row's default */

struct echo {
    struct wsg_loop *loop;
    struct wsg_server *srv;
    struct wsg_watch *sigw;
    int sigfd;
    struct echo_cli cli;
    struct wsg_guard *guard;
    struct wsg_guard_verdict verdict; /* lives until the 101 is written */
    bool max_output_default;
    int signals;
};

/* Per session: the guard's state, its deadline timer and a running copy of
 * the core's counters (the conn is freed before on_close). */
struct sess {
    struct echo *e;
    struct wsg_session *s;
    struct wsg_guard_conn *gc;
    struct wsg_timer *timer;
    uint64_t armed;               /* the timer's deadline; UINT64_MAX: off */
    struct wsg_conn_stats st;
    char path[256];               /* for events the guard does not emit */
    char client[WSG_ADDR_STRLEN];
};

/* ---- audit (H11) ----------------------------------------------------------- */

static uint64_t unix_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_REALTIME, &ts);
    return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

static void on_audit(void *ud, const struct wsg_audit_event *ev)
{
    char buf[2048], *p = buf;
    size_t n;

    (void)ud;
    n = wsg_audit_json(ev, buf, sizeof(buf));
    if (n >= sizeof(buf)) {
        if ((p = malloc(n + 1)) == NULL)
            return;
        wsg_audit_json(ev, p, n + 1);
    }
    fwrite(p, 1, n, stdout);
    fflush(stdout);
    if (p != buf)
        free(p);
}

/* A refusal the guard did not see (before the upgrade callback). */
static void audit_refusal(struct echo *e, const struct wsg_refusal *r,
                          int control)
{
    struct wsg_audit_event ev;
    struct wsg_addr a;
    char client[WSG_ADDR_STRLEN] = "", path[256] = "";

    if (!e->cli.audit)
        return;
    memset(&ev, 0, sizeof(ev));
    ev.time_ms = unix_ms();
    ev.event = "refuse";
    ev.control = control;
    ev.peer = r->peer;
    if (wsg_addr_parse(r->peer, strlen(r->peer), true, &a) == WSG_OK) {
        wsg_addr_format(&a, client, sizeof(client));
        ev.client = client;
    }
    if (r->request != NULL && r->request->path.ptr != NULL) {
        size_t len = r->request->path.len < sizeof(path) - 1
                         ? r->request->path.len : sizeof(path) - 1;
        memcpy(path, r->request->path.ptr, len);
        path[len] = '\0';
        ev.path = path;
    }
    ev.status = r->status;
    ev.reason = r->reason;
    on_audit(e, &ev);
}

/* ---- the guard's deadlines ------------------------------------------------- */

/* Arms the timer when the guard's next deadline comes earlier than the one
 * armed; a later deadline is found when the timer fires (no heap work per
 * message). */
static void rearm(struct sess *ss)
{
    uint64_t d = wsg_guard_conn_next_deadline(ss->gc);

    if (d < ss->armed) {
        ss->armed = d;
        wsg_timer_start(ss->timer, d);
    }
}

static void act(struct sess *ss, const struct wsg_guard_action *a)
{
    if (a->what == WSG_GUARD_CLOSE)
        wsg_session_close(ss->s, a->code, a->reason);
    else if (a->what == WSG_GUARD_PING)
        wsg_session_ping(ss->s, NULL, 0);
}

/* Counters and bytes sent, after anything that may have queued output. */
static void update(struct sess *ss, uint64_t now)
{
    struct wsg_conn *c = wsg_session_conn(ss->s);
    uint64_t out = ss->st.bytes_out;

    if (c == NULL)
        return;
    wsg_conn_get_stats(c, &ss->st);
    if (ss->st.bytes_out > out)
        wsg_guard_conn_sent(ss->gc, (size_t)(ss->st.bytes_out - out), now);
}

static void on_timer(struct wsg_timer *t, void *ud)
{
    struct sess *ss = ud;
    struct wsg_guard_action a;
    uint64_t now = wsg_loop_now(ss->e->loop);

    (void)t;
    ss->armed = UINT64_MAX;
    wsg_guard_conn_tick(ss->gc, now, &a);
    act(ss, &a);
    update(ss, now);
    rearm(ss);
}

/* ---- server callbacks ------------------------------------------------------ */

static bool path_matches(const struct wsg_span *p, const char *want)
{
    size_t n = strlen(want);
    return p->ptr && p->len == n && memcmp(p->ptr, want, n) == 0;
}

/* A request the handshake refused: the security headers (H10) on the
 * answer, and the https redirect (H1) for a plain GET. */
static void on_http_refusal(void *ud, struct wsg_http_answer *ans)
{
    struct echo *e = ud;

    wsg_guard_amend_refusal(e->guard, ans, false, &e->verdict);
}

static int on_upgrade(void *ud, struct wsg_session *s, struct wsg_upgrade *up)
{
    struct echo *e = ud;
    struct wsg_guard_verdict *v = &e->verdict;
    struct wsg_guard_peer peer;
    struct wsg_guard_conn *gc = NULL;
    struct sess *ss;
    uint64_t now = wsg_loop_now(e->loop);

    if (e->cli.path && !path_matches(&up->request->path, e->cli.path)) {
        struct wsg_refusal r = {up->peer, 404, WSG_ERR_POLICY,
                                "no WebSocket endpoint at this path",
                                up->request};
        struct wsg_guard_peer peer404;

        audit_refusal(e, &r, 0);
        up->refuse_reason = r.reason;
        wsg_guard_peer_fill(&peer404, up->peer, false);
        if (wsg_guard_http(e->guard, NULL, &peer404, 404, v) == WSG_OK) {
            up->refuse_headers = v->headers; /* H10 */
            up->refuse_header_count = v->header_count;
        }
        return 404;
    }
    wsg_guard_peer_fill(&peer, up->peer, false); /* no TLS here */
    if (wsg_guard_upgrade(e->guard, up->request, &peer, now, v, &gc) != WSG_OK) {
        up->refuse_reason = "out of memory";
        return 503;
    }
    if (v->status != 0) {
        up->refuse_reason = v->reason;
        up->refuse_headers = v->headers;
        up->refuse_header_count = v->header_count;
        return v->status; /* 401, 403, 429 or 503: never a redirect */
    }
    ss = calloc(1, sizeof(*ss));
    if (ss == NULL || wsg_timer_new(e->loop, on_timer, ss, &ss->timer) != WSG_OK) {
        free(ss);
        wsg_guard_conn_free(gc, now, NULL, 0, 0);
        up->refuse_reason = "out of memory";
        return 503;
    }
    ss->e = e;
    ss->s = s;
    ss->gc = gc;
    ss->armed = UINT64_MAX;
    if (up->request->path.ptr != NULL) {
        size_t len = up->request->path.len < sizeof(ss->path) - 1
                         ? up->request->path.len : sizeof(ss->path) - 1;
        memcpy(ss->path, up->request->path.ptr, len);
    }
    memcpy(ss->client, v->client, sizeof(ss->client));
    ss->client[sizeof(ss->client) - 1] = '\0';
    up->session_data = ss;
    up->accept.subprotocol = v->subprotocol;
    up->accept.headers = v->headers;
    up->accept.header_count = v->header_count;
    wsg_guard_conn_config(e->guard, &up->conn);
    /* Room for one echo of the largest message past the pause threshold
     * (half of max_output), unless max-output was set: sends are then
     * never refused. */
    if (e->max_output_default &&
        up->conn.max_output < 2 * (up->conn.max_message + 64) + 4096)
        up->conn.max_output = (size_t)(2 * (up->conn.max_message + 64) + 4096);
    rearm(ss);
    return WSG_UPGRADE_ACCEPT;
}

static void on_refuse(void *ud, const struct wsg_refusal *r)
{
    struct echo *e = ud;

    if (e->cli.verbose)
        fprintf(stderr, "wsg-echo: %s refused: %d %s\n", r->peer, r->status,
                r->reason);
    if (r->err == WSG_ERR_POLICY)
        return; /* the guard (or the path check) has audited it */
    audit_refusal(e, r, wsg_refusal_control(r));
}

static void on_open(void *ud, struct wsg_session *s)
{
    struct echo *e = ud;
    if (e->cli.verbose)
        fprintf(stderr, "wsg-echo: %s open\n", wsg_session_peer(s));
}

static void on_message(void *ud, struct wsg_session *s,
                       const struct wsg_event *ev)
{
    struct sess *ss = wsg_session_data(s);
    struct wsg_guard_action a;
    uint64_t now;
    int rc;

    (void)ud;
    now = wsg_loop_now(ss->e->loop);
    wsg_guard_conn_message(ss->gc, ev, now, &a);
    if (a.what == WSG_GUARD_PASS) {
        /* ev->data lives until the callback returns: the core copies it. */
        rc = wsg_session_send(s, ev->opcode, ev->data, ev->len);
        if (rc != WSG_OK && rc != WSG_ERR_STATE)
            wsg_session_close(s, WSG_CLOSE_INTERNAL_ERROR, "cannot echo");
    } else {
        act(ss, &a);
    }
    update(ss, now);
    rearm(ss);
}

static void on_control(void *ud, struct wsg_session *s,
                       const struct wsg_event *ev)
{
    struct sess *ss = wsg_session_data(s);
    struct wsg_guard_action a;
    uint64_t now;

    (void)ud;
    now = wsg_loop_now(ss->e->loop);
    if (ev->type == WSG_EV_PING || ev->type == WSG_EV_PONG) {
        wsg_guard_conn_control(ss->gc, ev, now, &a);
        act(ss, &a);
    }
    update(ss, now);
    rearm(ss);
}


static void on_close(void *ud, struct wsg_session *s,
                     const struct wsg_close_info *ci)
{
    struct echo *e = ud;
    struct sess *ss = wsg_session_data(s);

    if (e->cli.verbose)
        fprintf(stderr, "wsg-echo: %s closed: %s, peer %u '%s', sent %u (%s)\n",
                wsg_session_peer(s), wsg_err_name(ci->err), ci->code,
                ci->reason, ci->code_sent, ci->detail);
    if (ss == NULL)
        return;
    /* A failure lib/io decided (1009, 1002/1007, output budget, missed
     * pong): a violation event, and the close event's control id. */
    wsg_guard_conn_failed(ss->gc, wsg_loop_now(e->loop), ci->err,
                          ci->code_sent);
    /* The conn is gone: the counters are the last copy taken. */
    wsg_guard_conn_free(ss->gc, wsg_loop_now(e->loop), &ss->st, ci->code_sent,
                        ci->code);
    wsg_timer_free(ss->timer);
    free(ss);
    wsg_session_set_data(s, NULL);
}

static void on_shutdown(void *ud, struct wsg_server *srv)
{
    struct echo *e = ud;
    (void)srv;
    wsg_loop_stop(e->loop);
}

static void on_signal(struct wsg_watch *w, unsigned rev, void *ud)
{
    struct echo *e = ud;
    struct signalfd_siginfo si;

    (void)w;
    (void)rev;
    while (read(e->sigfd, &si, sizeof si) == (ssize_t)sizeof si) {
        if (++e->signals > 1) {
            wsg_loop_stop(e->loop);
            return;
        }
        if (e->cli.verbose)
            fprintf(stderr, "wsg-echo: signal %u: shutting down\n",
                    si.ssi_signo);
        wsg_server_shutdown(e->srv, WSG_CLOSE_GOING_AWAY,
                            "server shutting down", SHUTDOWN_MS);
    }
}

/* ---- main ------------------------------------------------------------------ */

static int report(const struct wsg_policy *p, enum echo_report fmt)
{
    struct wsg_deployment d;
    char buf[16];
    size_t n;
    char *out;

    memset(&d, 0, sizeof(d));
    d.tls = false;
    d.trusted_front_end =
        wsg_policy_get(p, "trusted-proxy", buf, sizeof(buf)) > 0 &&
        wsg_policy_get(p, "require-https", buf, sizeof(buf)) > 0 &&
        strcmp(buf, "true") == 0;
    d.deflate_available = false;
    d.fuzzed = true;
    d.version = WSG_VERSION_STRING;
    n = wsg_policy_report(p, &d, fmt == ECHO_REPORT_JSON ? WSG_REPORT_JSON
                                                         : WSG_REPORT_MARKDOWN,
                          NULL, 0);
    if ((out = malloc(n + 1)) == NULL)
        return 1;
    wsg_policy_report(p, &d, fmt == ECHO_REPORT_JSON ? WSG_REPORT_JSON
                                                     : WSG_REPORT_MARKDOWN,
                      out, n + 1);
    fwrite(out, 1, n, stdout);
    free(out);
    return fflush(stdout) == 0 ? 0 : 1;
}

static int configure(struct echo *e, int argc, char **argv)
{
    char err[512], buf[32];

    if (wsg_policy_new(NULL, &e->cli.policy) != WSG_OK) {
        fprintf(stderr, "wsg-echo: out of memory\n");
        return 1;
    }
    echo_cli_parse(argc, argv, &e->cli);
    if (wsg_policy_load_files(e->cli.policy, err, sizeof(err)) != WSG_OK ||
        wsg_policy_check(e->cli.policy, err, sizeof(err)) != WSG_OK) {
        fprintf(stderr, "wsg-echo: %s\n", err);
        return 2;
    }
    wsg_policy_get(e->cli.policy, "max-output", buf, sizeof(buf));
    e->max_output_default = strcmp(buf, DEFAULT_MAX_OUTPUT) == 0;
    if (e->cli.audit)
        wsg_policy_set_audit(e->cli.policy, on_audit, e);
    if (e->cli.report != ECHO_REPORT_NONE)
        return report(e->cli.policy, e->cli.report) == 0 ? -1 : 1;
    if (e->cli.check_config) {
        fprintf(stderr, "config ok\n");
        return -1;
    }
    if (wsg_guard_new(e->cli.policy, NULL, &e->guard) != WSG_OK) {
        fprintf(stderr, "wsg-echo: cannot create the guard\n");
        return 1;
    }
    return 0;
}

int main(int argc, char **argv)
{
    struct echo e;
    struct wsg_server_config cfg;
    struct sigaction sa;
    sigset_t mask;
    int rc, status = 0;
    const char *host;

    memset(&e, 0, sizeof e);
    e.sigfd = -1;
    rc = configure(&e, argc, argv);
    if (rc != 0) {
        wsg_policy_free(e.cli.policy);
        return rc < 0 ? 0 : rc;
    }
    host = e.cli.host;

    /* Signals: the program's business, not the library's. */
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = SIG_IGN;
    sigaction(SIGPIPE, &sa, NULL);
    sigemptyset(&mask);
    sigaddset(&mask, SIGINT);
    sigaddset(&mask, SIGTERM);
    sigprocmask(SIG_BLOCK, &mask, NULL);
    e.sigfd = signalfd(-1, &mask, SFD_NONBLOCK | SFD_CLOEXEC);
    if (e.sigfd < 0) {
        fprintf(stderr, "wsg-echo: signalfd: %s\n", strerror(errno));
        status = 1;
        goto out_guard;
    }

    rc = wsg_loop_new(NULL, &e.loop);
    if (rc != WSG_OK) {
        fprintf(stderr, "wsg-echo: cannot create the loop: %s\n",
                wsg_strerror(rc));
        status = 1;
        goto out_guard;
    }
    wsg_server_config_init_default(&cfg);
    cfg.host = host;
    cfg.port = e.cli.port;
    wsg_server_config_from_policy(&cfg, e.cli.policy);
    /* As in on_upgrade, for the server's own copy. */
    if (e.max_output_default &&
        cfg.conn.max_output < 2 * (cfg.conn.max_message + 64) + 4096)
        cfg.conn.max_output = (size_t)(2 * (cfg.conn.max_message + 64) + 4096);
    cfg.cb.on_upgrade = on_upgrade;
    cfg.cb.on_refuse = on_refuse;
    cfg.cb.on_http_refusal = on_http_refusal;
    cfg.cb.on_open = on_open;
    cfg.cb.on_message = on_message;
    cfg.cb.on_control = on_control;
    cfg.cb.on_close = on_close;
    cfg.cb.ud = &e;
    cfg.on_shutdown = on_shutdown;

    rc = wsg_server_new(e.loop, &cfg, &e.srv);
    if (rc != WSG_OK) {
        fprintf(stderr, "wsg-echo: cannot listen on %s port %s: %s%s%s\n",
                host, e.cli.port, wsg_strerror(rc), errno ? ": " : "",
                errno ? strerror(errno) : "");
        wsg_loop_free(e.loop);
        status = 1;
        goto out_guard;
    }
    rc = wsg_watch_new(e.loop, e.sigfd, WSG_IO_READ, on_signal, &e, &e.sigw);
    if (rc != WSG_OK) {
        fprintf(stderr, "wsg-echo: cannot watch signals: %s\n",
                wsg_strerror(rc));
        status = 1;
        goto out;
    }
    fprintf(stderr, "wsg-echo listening on ws://%s%s%s:%u%s\n",
            strchr(host, ':') ? "[" : "", host, strchr(host, ':') ? "]" : "",
            (unsigned)wsg_server_port(e.srv), e.cli.path ? e.cli.path : "/");
    fflush(stderr);

    rc = wsg_loop_run(e.loop);
    if (rc != WSG_OK) {
        fprintf(stderr, "wsg-echo: event loop failed: %s\n", wsg_strerror(rc));
        status = 1;
    }
out:
    wsg_watch_free(e.sigw);
    wsg_server_free(e.srv);
    /* Deferred teardowns queued by the free run in one more round. */
    wsg_loop_run_once(e.loop, 0);
    wsg_loop_free(e.loop);
out_guard:
    if (e.sigfd >= 0)
        close(e.sigfd);
    wsg_guard_free(e.guard);
    wsg_policy_free(e.cli.policy);
    return status;
}
