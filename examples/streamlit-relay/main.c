/* wsg-relay: start-up, the loop and signals (minimal: cli.c will replace
 * parse_args with the full flag and WSG_* environment handling). */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/signalfd.h>
#include <unistd.h>

#include <wsguard/io.h>

#include "relay_int.h"

#define DEFAULT_CSP                                                          \
    "default-src 'self'; script-src 'self' 'unsafe-inline' 'unsafe-eval'; " \
    "style-src 'self' 'unsafe-inline'; img-src 'self' data: blob: https:; " \
    "font-src 'self' data:; connect-src 'self' ws: wss:; "                  \
    "media-src 'self' blob: data:; worker-src 'self' blob:; "               \
    "frame-ancestors 'self'"

static void usage(FILE *f)
{
    fputs("usage: wsg-relay [--listen HOST:PORT] [--upstream URL]\n"
          "  --listen HOST:PORT      default 0.0.0.0:$WEBSITES_PORT, $PORT "
          "or 8080\n"
          "  --upstream URL          http://HOST:PORT or unix:/path "
          "(default http://127.0.0.1:8501)\n"
          "  --base-path /PREFIX     Streamlit's server.baseUrlPath\n"
          "  --ws-path PATH          default BASE/_stcore/stream\n"
          "  --max-upload SIZE       request body limit (default 200m; 413)\n"
          "  --upstream-timeout S    no progress for S seconds: 504 "
          "(default 30)\n"
          "  --pool-idle N           idle upstream connections kept "
          "(default 32)\n"
          "  --csp POLICY            Content-Security-Policy of pages\n"
          "  --verbose               diagnostics on stderr\n"
          "  --NAME VALUE            any wsguard policy setting "
          "(wsg-echo --help lists them)\n",
          f);
}

static bool parse_size(const char *s, uint64_t *out)
{
    char *end;
    errno = 0;
    unsigned long long v = strtoull(s, &end, 10);
    if (errno || end == s || *s == '-')
        return false;
    unsigned shift = 0;
    if (*end == 'k' || *end == 'K')
        shift = 10;
    else if (*end == 'm' || *end == 'M')
        shift = 20;
    else if (*end == 'g' || *end == 'G')
        shift = 30;
    if (shift)
        end++;
    if (*end || v > (UINT64_MAX >> shift))
        return false;
    *out = (uint64_t)v << shift;
    return true;
}

static char *xstrdup(const char *s)
{
    char *d = strdup(s);
    if (!d) {
        fputs("wsg-relay: out of memory\n", stderr);
        exit(1);
    }
    return d;
}

/* Fills `cfg` (and policy settings into cfg->policy) from the command
 * line. Returns 0, 1 (--help printed) or -1 (message in err). */
static int parse_args(int argc, char **argv, struct relay_config *cfg,
                      char *err, size_t cap)
{
    const char *port = getenv("WEBSITES_PORT");
    if (!port || !*port)
        port = getenv("PORT");
    cfg->listen_host = "0.0.0.0";
    cfg->listen_port = port && *port ? port : "8080";
    cfg->upstream_host = "127.0.0.1";
    cfg->upstream_port = "8501";
    cfg->base_path = "";
    cfg->own_prefix = "/_wsguard/";
    cfg->max_upload = 200ull << 20;
    cfg->max_message_down = 200000000;
    cfg->csp = DEFAULT_CSP;
    cfg->upstream_timeout_ms = 30000;
    cfg->drain_timeout_ms = 10000;
    cfg->pool_idle = 32;
    cfg->workers = 1;
    cfg->audit = true;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0)
            return 1;
        if (strcmp(a, "--verbose") == 0) {
            cfg->verbose = true;
            continue;
        }
        if (strncmp(a, "--", 2) != 0) {
            snprintf(err, cap, "unexpected argument '%s'", a);
            return -1;
        }
        const struct wsg_setting *row = wsg_policy_setting_find(a + 2);
        const char *v = NULL;
        bool flag = row && row->kind == WSG_SETTING_BOOL;
        if (!flag) {
            if (i + 1 >= argc) {
                snprintf(err, cap, "%s needs a value", a);
                return -1;
            }
            v = argv[++i];
        }
        char *sep;
        if (strcmp(a, "--listen") == 0) {
            char *h = xstrdup(v);
            sep = strrchr(h, ':');
            if (!sep || sep == h || !sep[1]) {
                snprintf(err, cap, "--listen: expected HOST:PORT, got '%s'", v);
                return -1;
            }
            *sep = '\0';
            if (h[0] == '[' && sep[-1] == ']') {
                sep[-1] = '\0';
                h++;
            }
            cfg->listen_host = h;
            cfg->listen_port = sep + 1;
        } else if (strcmp(a, "--upstream") == 0) {
            if (strncmp(v, "unix:", 5) == 0 && v[5]) {
                cfg->upstream_unix = v + 5;
                continue;
            }
            if (strncmp(v, "http://", 7) != 0) {
                snprintf(err, cap, "--upstream: expected http://HOST:PORT "
                                   "or unix:/path, got '%s'", v);
                return -1;
            }
            char *h = xstrdup(v + 7);
            size_t n = strlen(h);
            if (n && h[n - 1] == '/')
                h[n - 1] = '\0';
            sep = strrchr(h, ':');
            if (!sep || sep == h || !sep[1] || strchr(sep, '/')) {
                snprintf(err, cap, "--upstream: expected http://HOST:PORT, "
                                   "got '%s'", v);
                return -1;
            }
            *sep = '\0';
            if (h[0] == '[' && sep[-1] == ']') {
                sep[-1] = '\0';
                h++;
            }
            cfg->upstream_host = h;
            cfg->upstream_port = sep + 1;
            cfg->upstream_unix = NULL;
        } else if (strcmp(a, "--base-path") == 0) {
            char *b = xstrdup(v);
            size_t n = strlen(b);
            while (n && b[n - 1] == '/')
                b[--n] = '\0';
            if (n && b[0] != '/') {
                snprintf(err, cap, "--base-path must start with '/'");
                return -1;
            }
            cfg->base_path = b;
        } else if (strcmp(a, "--ws-path") == 0) {
            cfg->ws_path = v;
        } else if (strcmp(a, "--max-upload") == 0) {
            if (!parse_size(v, &cfg->max_upload)) {
                snprintf(err, cap, "--max-upload: expected bytes (k/m/g), "
                                   "got '%s'", v);
                return -1;
            }
        } else if (strcmp(a, "--upstream-timeout") == 0) {
            double s = strtod(v, &sep);
            if (*sep || !(s >= 0.001 && s <= 3600)) {
                snprintf(err, cap, "--upstream-timeout: expected 0.001-3600 "
                                   "seconds, got '%s'", v);
                return -1;
            }
            cfg->upstream_timeout_ms = (uint32_t)(s * 1000 + 0.5);
        } else if (strcmp(a, "--pool-idle") == 0) {
            uint64_t n;
            if (!parse_size(v, &n) || n > 100000) {
                snprintf(err, cap, "--pool-idle: expected 0-100000");
                return -1;
            }
            cfg->pool_idle = (uint32_t)n;
        } else if (strcmp(a, "--csp") == 0) {
            cfg->csp = v;
        } else if (row) {
            if (wsg_policy_set(cfg->policy, a + 2, flag ? "true" : v, err,
                               cap) != WSG_OK)
                return -1;
        } else {
            snprintf(err, cap, "unknown option '%s'", a);
            return -1;
        }
    }
    if (!cfg->ws_path) {
        size_t n = strlen(cfg->base_path) + sizeof "/_stcore/stream";
        char *w = malloc(n);
        if (!w)
            return -1;
        snprintf(w, n, "%s/_stcore/stream", cfg->base_path);
        cfg->ws_path = w;
    }
    return wsg_policy_check(cfg->policy, err, cap) == WSG_OK ? 0 : -1;
}

/* Audit events (H11): one JSON line each on stdout. */
static void on_audit(void *ud, const struct wsg_audit_event *ev)
{
    char buf[2048], *p = buf;
    (void)ud;
    size_t n = wsg_audit_json(ev, buf, sizeof buf);
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

static void on_signal(struct wsg_watch *w, unsigned revents, void *ud)
{
    struct relay *r = ud;
    struct signalfd_siginfo si;
    (void)revents;
    if (read(wsg_watch_fd(w), &si, sizeof si) != (ssize_t)sizeof si)
        return;
    r->draining = true;
    wsg_loop_stop(r->loop);
}

int main(int argc, char **argv)
{
    static struct relay_config cfg;
    static struct relay r;
    char err[512] = "";
    if (wsg_policy_new(NULL, &cfg.policy) != WSG_OK)
        return 1;
    int rc = parse_args(argc, argv, &cfg, err, sizeof err);
    if (rc == 1) {
        usage(stdout);
        return 0;
    }
    if (rc < 0) {
        fprintf(stderr, "wsg-relay: %s\ntry 'wsg-relay --help'\n", err);
        return 2;
    }
    signal(SIGPIPE, SIG_IGN);
    struct rlimit rl; /* one descriptor per connection and leg */
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
        rl.rlim_cur = rl.rlim_max;
        setrlimit(RLIMIT_NOFILE, &rl);
    }
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGTERM);
    sigprocmask(SIG_BLOCK, &set, NULL);
    int sfd = signalfd(-1, &set, SFD_NONBLOCK | SFD_CLOEXEC);

    r.cfg = &cfg;
    if (cfg.audit) {
        r.audit = on_audit;
        wsg_policy_set_audit(cfg.policy, on_audit, &r);
    }
    struct wsg_watch *sigw = NULL;
    if (wsg_loop_new(NULL, &r.loop) != WSG_OK ||
        wsg_guard_new(cfg.policy, NULL, &r.guard) != WSG_OK ||
        relay_pool_init(&r) != 0 || relay_front_init(&r) != 0 ||
        relay_ws_init(&r) != 0 || sfd < 0 ||
        wsg_watch_new(r.loop, sfd, WSG_IO_READ, on_signal, &r, &sigw) !=
            WSG_OK) {
        fputs("wsg-relay: start-up failed\n", stderr);
        return 1;
    }
    fflush(stderr);
    rc = wsg_loop_run(r.loop);
    relay_ws_free(&r);
    relay_front_free(&r);
    relay_pool_free(&r);
    wsg_watch_free(sigw);
    wsg_loop_run_once(r.loop, 0);
    wsg_loop_free(r.loop);
    close(sfd);
    wsg_guard_free(r.guard);
    wsg_policy_free(cfg.policy);
    return rc == WSG_OK ? 0 : 1;
}
