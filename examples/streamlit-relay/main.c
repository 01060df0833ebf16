/* wsg-relay: start-up, workers, the loop, signals and the drain.
 *
 * Start-up: the settings (cli.c: flags over WSG_* variables), the key
 * file, the policy's own checks; --check-config and --report stop there.
 * The compliance report is logged once to stderr (stdout carries only
 * audit JSON lines). With --workers N > 1 the parent forks N workers, each
 * with its own loop and SO_REUSEPORT listener, passes SIGTERM/SIGINT on
 * and exits with the worst status.
 *
 * SIGTERM/SIGINT (a worker): stop accepting; /_wsguard/health answers 503;
 * every browser WebSocket gets 1001 and its upstream leg follows; HTTP
 * exchanges in flight finish; after --drain-timeout whatever is left is
 * closed. A second signal ends the drain at once. */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/signalfd.h>
#include <sys/wait.h>
#include <unistd.h>

#include <wsguard/io.h>
#include <wsguard/version.h>

#include "bridge.h"
#include "cli.h"
#include "relay_int.h"

#define DRAIN_POLL_MS 50u
#define MAX_WORKERS 256

extern char **environ;

struct worker {
    struct relay r;
    struct wsg_watch *sigw;
    struct wsg_timer *drain_t;
    uint64_t drain_deadline;
    bool ws_done;
    int signals;
};

/* Audit events (H11): one JSON line each on stdout, whole lines only
 * (workers share stdout: one write per line, under PIPE_BUF when short). */
static void on_audit(void *ud, const struct wsg_audit_event *ev)
{
    char buf[2048], *p = buf;
    size_t n = wsg_audit_json(ev, buf, sizeof buf);

    (void)ud;
    if (n >= sizeof buf) {
        if (!(p = malloc(n + 1)))
            return;
        wsg_audit_json(ev, p, n + 1);
    }
    fwrite(p, 1, n, stdout);
    fflush(stdout);
    if (p != buf)
        free(p);
}

static int print_report(const struct relay_cli *c, FILE *f)
{
    struct wsg_deployment d;
    enum wsg_report_format fmt = c->report == RELAY_REPORT_JSON
                                     ? WSG_REPORT_JSON : WSG_REPORT_MARKDOWN;
    char name[64];
    size_t n;
    char *buf;

    memset(&d, 0, sizeof(d));
    d.tls = false;
    d.trusted_front_end = wsg_policy_get(c->cfg.policy, "trusted-proxy", name,
                                         sizeof(name)) > 0;
    d.deflate_available = false;
    d.fuzzed = true;
    d.version = WSG_VERSION_STRING;
    n = wsg_policy_report(c->cfg.policy, &d, fmt, NULL, 0);
    buf = malloc(n + 1);
    if (buf == NULL)
        return -1;
    wsg_policy_report(c->cfg.policy, &d, fmt, buf, n + 1);
    fwrite(buf, 1, n, f);
    fflush(f);
    free(buf);
    return 0;
}

/* ---- one worker ---------------------------------------------------------- */

static void drain_check(struct worker *w)
{
    struct relay *r = &w->r;
    uint64_t now = wsg_loop_now(r->loop);

    if ((w->ws_done && r->st.conns_open == 0) || now >= w->drain_deadline ||
        w->signals > 1) {
        wsg_loop_stop(r->loop);
        return;
    }
    wsg_timer_start(w->drain_t, now + DRAIN_POLL_MS);
}

static void on_drain_timer(struct wsg_timer *t, void *ud)
{
    (void)t;
    drain_check(ud);
}

static void on_ws_done(void *ud)
{
    struct worker *w = ud;

    w->ws_done = true;
}

static void on_signal(struct wsg_watch *sw, unsigned revents, void *ud)
{
    struct worker *w = ud;
    struct relay *r = &w->r;
    struct signalfd_siginfo si;

    (void)revents;
    if (read(wsg_watch_fd(sw), &si, sizeof si) != (ssize_t)sizeof si)
        return;
    if (++w->signals > 1) {
        wsg_loop_stop(r->loop);
        return;
    }
    if (r->cfg->verbose)
        fprintf(stderr, "wsg-relay: draining (up to %u ms)\n",
                r->cfg->drain_timeout_ms);
    r->draining = true;
    relay_front_stop_accepting(r);
    relay_front_close_idle(r);
    w->drain_deadline = wsg_loop_now(r->loop) + r->cfg->drain_timeout_ms;
    if (r->ws != NULL)
        relay_bridge_shutdown(r->ws, r->cfg->drain_timeout_ms, on_ws_done, w);
    else
        w->ws_done = true;
    drain_check(w);
}

static int run_worker(const struct relay_config *cfg)
{
    static struct worker w;
    struct relay *r = &w.r;
    sigset_t set;
    int sfd, rc;

    sigemptyset(&set);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGTERM);
    sigprocmask(SIG_BLOCK, &set, NULL);
    sfd = signalfd(-1, &set, SFD_NONBLOCK | SFD_CLOEXEC);
    r->cfg = cfg;
    r->listen_fd = -1;
    if (cfg->audit) {
        r->audit = on_audit;
        wsg_policy_set_audit(cfg->policy, on_audit, r);
    }
    if (sfd < 0 || wsg_loop_new(NULL, &r->loop) != WSG_OK ||
        wsg_guard_new(cfg->policy, NULL, &r->guard) != WSG_OK ||
        relay_pool_init(r) != 0 || relay_front_init(r) != 0 ||
        relay_ws_init(r) != 0 || relay_endpoints_init(r) != 0 ||
        wsg_timer_new(r->loop, on_drain_timer, &w, &w.drain_t) != WSG_OK ||
        wsg_watch_new(r->loop, sfd, WSG_IO_READ, on_signal, &w, &w.sigw) !=
            WSG_OK) {
        fputs("wsg-relay: start-up failed\n", stderr);
        return 1;
    }
    fflush(stderr);
    rc = wsg_loop_run(r->loop);
    relay_endpoints_free(r);
    relay_ws_free(r);
    relay_front_free(r);
    relay_pool_free(r);
    wsg_timer_free(w.drain_t);
    wsg_watch_free(w.sigw);
    wsg_loop_run_once(r->loop, 0);
    wsg_loop_free(r->loop);
    close(sfd);
    wsg_guard_free(r->guard);
    return rc == WSG_OK ? 0 : 1;
}

/* ---- workers -------------------------------------------------------------- */

static volatile sig_atomic_t got_signal;

static void on_parent_signal(int sig)
{
    got_signal = sig;
}

static int run_workers(const struct relay_config *cfg)
{
    pid_t pids[MAX_WORKERS];
    unsigned n = cfg->workers, alive = 0;
    struct sigaction sa;
    int worst = 0;

    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = on_parent_signal;
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);
    fflush(stdout);
    fflush(stderr);
    for (unsigned i = 0; i < n; i++) {
        pid_t pid = fork();
        if (pid < 0) {
            perror("wsg-relay: fork");
            worst = 1;
            break;
        }
        if (pid == 0)
            _exit(run_worker(cfg));
        pids[alive++] = pid;
    }
    while (alive > 0) {
        int st = 0;
        pid_t pid = waitpid(-1, &st, 0);
        if (pid < 0 && errno == EINTR) {
            for (unsigned i = 0; i < alive; i++)
                kill(pids[i], got_signal ? (int)got_signal : SIGTERM);
            continue;
        }
        if (pid < 0)
            break;
        for (unsigned i = 0; i < alive; i++)
            if (pids[i] == pid)
                pids[i] = pids[--alive];
        if (!WIFEXITED(st) || WEXITSTATUS(st) != 0) {
            worst = 1;
            /* One worker failing takes the others down: the platform
             * restarts the container whole. */
            for (unsigned i = 0; i < alive; i++)
                kill(pids[i], SIGTERM);
        }
    }
    return worst;
}

int main(int argc, char **argv)
{
    static struct relay_cli c;
    char err[512] = "";
    struct rlimit rl;
    int rc;

    signal(SIGPIPE, SIG_IGN);
    if (wsg_policy_new(NULL, &c.cfg.policy) != WSG_OK) {
        fputs("wsg-relay: out of memory\n", stderr);
        return 1;
    }
    relay_cli_parse(argc, argv, environ, &c);
    if (wsg_policy_load_files(c.cfg.policy, err, sizeof(err)) != WSG_OK ||
        wsg_policy_check(c.cfg.policy, err, sizeof(err)) != WSG_OK) {
        fprintf(stderr, "wsg-relay: %s\n", err);
        return 2;
    }
    if (c.cfg.workers > 1 && strcmp(c.cfg.listen_port, "0") == 0) {
        fputs("wsg-relay: --workers needs a fixed --listen port\n", stderr);
        return 2;
    }
    /* Before the report, so that it shows the audit log on (H11). */
    if (c.cfg.audit)
        wsg_policy_set_audit(c.cfg.policy, on_audit, NULL);
    if (c.check_config) {
        fputs("config ok\n", stderr);
        return 0;
    }
    if (c.report != RELAY_REPORT_NONE)
        return print_report(&c, stdout) == 0 ? 0 : 1;
    /* One descriptor per browser connection and per upstream leg. */
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
        rl.rlim_cur = rl.rlim_max;
        setrlimit(RLIMIT_NOFILE, &rl);
    }
    {
        struct relay_cli md = c;
        md.report = RELAY_REPORT_MD;
        fprintf(stderr, "wsg-relay %s: upstream %s%s%s%s, ", WSG_VERSION_STRING,
                c.cfg.upstream_unix ? "unix:" : "http://",
                c.cfg.upstream_unix ? c.cfg.upstream_unix : c.cfg.upstream_host,
                c.cfg.upstream_unix ? "" : ":",
                c.cfg.upstream_unix ? "" : c.cfg.upstream_port);
        fprintf(stderr, "WebSocket path %s, %u worker%s\n", c.cfg.ws_path,
                c.cfg.workers, c.cfg.workers == 1 ? "" : "s");
        print_report(&md, stderr);
    }
    rc = c.cfg.workers > 1 ? run_workers(&c.cfg) : run_worker(&c.cfg);
    wsg_policy_free(c.cfg.policy);
    return rc;
}
