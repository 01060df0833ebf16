/* wsg-echo: the reference WebSocket echo server on wsguard.
 *
 * Echoes every text or binary message as the same type. SIGINT/SIGTERM:
 * a clean shutdown (1001 to every open connection, bounded wait); a second
 * signal exits at once. */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <unistd.h>

#include <wsguard/io.h>
#include <wsguard/version.h>
#include <wsguard/wsguard.h>

#include "opts.h"

#define MiB (1024u * 1024u)
#define MAX_LIMIT (1024u * MiB) /* 1 GiB */
#define SHUTDOWN_MS 3000u

struct echo {
    struct wsg_loop *loop;
    struct wsg_server *srv;
    struct wsg_watch *sigw;
    int sigfd;
    const char *path;
    const char *subprotocol;
    bool verbose;
    int signals;
};

static void usage(FILE *f)
{
    fprintf(f,
        "usage: wsg-echo [options]\n"
        "A WebSocket echo server (RFC 6455): every text or binary message is\n"
        "sent back as the same type.\n"
        "\n"
        "  --host ADDR            address to listen on (default 127.0.0.1)\n"
        "  --port N               TCP port, 0-65535; 0 picks a free port\n"
        "                         (default 9001)\n"
        "  --max-message BYTES    largest message, 1-%u (default %u)\n"
        "  --max-frame BYTES      largest frame payload, 1-%u (default %u)\n"
        "  --max-fragments N      frames per message, 1-1000000 (default 1024)\n"
        "  --path PATH            accept only this path (others: 404);\n"
        "                         default: any path\n"
        "Timeouts are in seconds, decimals allowed (e.g. 0.5):\n"
        "  --handshake-timeout S  upgrade deadline, 0.1-600 (default 10)\n"
        "  --close-timeout S      close handshake deadline, 0.1-600\n"
        "                         (default 5)\n"
        "  --ping-interval S      send a Ping after S seconds without\n"
        "                         input, 0-86400; 0: never (default 25)\n"
        "  --pong-timeout S       no Pong within S seconds of a Ping: close\n"
        "                         1011, 0-86400; 0: no deadline (default 30)\n"
        "  --idle-timeout S       no message for S seconds: close 1001,\n"
        "                         0-86400; 0: off (default 0)\n"
        "  --subprotocol NAME     select NAME when the client offers it\n"
        "  --verbose              log connections to stderr\n"
        "  --help                 this text\n"
        "  --version              print the version\n"
        "\n"
        "SIGINT/SIGTERM: close every connection with 1001 and exit.\n"
        "Exit status: 0 after a clean shutdown, 1 on a runtime error,\n"
        "2 on bad usage.\n",
        MAX_LIMIT, MiB, MAX_LIMIT, MiB);
}

/* ---- server callbacks ------------------------------------------------------ */

static bool path_matches(const struct wsg_span *p, const char *want)
{
    size_t n = strlen(want);
    return p->ptr && p->len == n && memcmp(p->ptr, want, n) == 0;
}

static int on_upgrade(void *ud, struct wsg_session *s, struct wsg_upgrade *up)
{
    struct echo *e = ud;
    (void)s;
    if (e->path && !path_matches(&up->request->path, e->path)) {
        up->refuse_reason = "no WebSocket endpoint at this path";
        return 404;
    }
    if (e->subprotocol && up->request->protocols.ptr &&
        wsg_http_list_has(up->request->protocols, e->subprotocol))
        up->accept.subprotocol = e->subprotocol;
    return WSG_UPGRADE_ACCEPT;
}

static void on_refuse(void *ud, const struct wsg_refusal *r)
{
    struct echo *e = ud;
    if (e->verbose)
        fprintf(stderr, "wsg-echo: %s refused: %d %s\n", r->peer, r->status,
                r->reason);
}

static void on_open(void *ud, struct wsg_session *s)
{
    struct echo *e = ud;
    if (e->verbose)
        fprintf(stderr, "wsg-echo: %s open\n", wsg_session_peer(s));
}

static void on_message(void *ud, struct wsg_session *s,
                       const struct wsg_event *ev)
{
    int rc;
    (void)ud;
    /* ev->data lives until the callback returns: the core copies it. */
    rc = wsg_session_send(s, ev->opcode, ev->data, ev->len);
    if (rc != WSG_OK && rc != WSG_ERR_STATE)
        wsg_session_close(s, WSG_CLOSE_INTERNAL_ERROR, "cannot echo");
}

static void on_close(void *ud, struct wsg_session *s,
                     const struct wsg_close_info *ci)
{
    struct echo *e = ud;
    if (e->verbose)
        fprintf(stderr, "wsg-echo: %s closed: %s, peer %u '%s', sent %u (%s)\n",
                wsg_session_peer(s), wsg_err_name(ci->err), ci->code,
                ci->reason, ci->code_sent, ci->detail);
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
        if (e->verbose)
            fprintf(stderr, "wsg-echo: signal %u: shutting down\n",
                    si.ssi_signo);
        wsg_server_shutdown(e->srv, WSG_CLOSE_GOING_AWAY,
                            "server shutting down", SHUTDOWN_MS);
    }
}

/* ---- main ------------------------------------------------------------------ */

enum {
    OPT_HOST = 256, OPT_PORT, OPT_MAX_MESSAGE, OPT_MAX_FRAME,
    OPT_MAX_FRAGMENTS, OPT_PATH, OPT_HS_TIMEOUT, OPT_CLOSE_TIMEOUT,
    OPT_PING_INTERVAL, OPT_PONG_TIMEOUT, OPT_IDLE_TIMEOUT, OPT_SUBPROTOCOL, OPT_VERBOSE, OPT_HELP, OPT_VERSION
};

int main(int argc, char **argv)
{
    static const struct option opts[] = {
        {"host", required_argument, NULL, OPT_HOST},
        {"port", required_argument, NULL, OPT_PORT},
        {"max-message", required_argument, NULL, OPT_MAX_MESSAGE},
        {"max-frame", required_argument, NULL, OPT_MAX_FRAME},
        {"max-fragments", required_argument, NULL, OPT_MAX_FRAGMENTS},
        {"path", required_argument, NULL, OPT_PATH},
        {"handshake-timeout", required_argument, NULL, OPT_HS_TIMEOUT},
        {"close-timeout", required_argument, NULL, OPT_CLOSE_TIMEOUT},
        {"ping-interval", required_argument, NULL, OPT_PING_INTERVAL},
        {"pong-timeout", required_argument, NULL, OPT_PONG_TIMEOUT},
        {"idle-timeout", required_argument, NULL, OPT_IDLE_TIMEOUT},
        {"subprotocol", required_argument, NULL, OPT_SUBPROTOCOL},
        {"verbose", no_argument, NULL, OPT_VERBOSE},
        {"help", no_argument, NULL, OPT_HELP},
        {"version", no_argument, NULL, OPT_VERSION},
        {NULL, 0, NULL, 0},
    };
    struct echo e;
    struct wsg_server_config cfg;
    const char *host = "127.0.0.1", *port = "9001";
    uint64_t v, max_message = MiB, max_frame = MiB, max_fragments = 1024;
    uint64_t hs_timeout = 10000, close_timeout = 5000;
    uint64_t ping_interval = 25000, pong_timeout = 30000, idle_timeout = 0;
    struct sigaction sa;
    sigset_t mask;
    int opt, rc, status = 0;

    memset(&e, 0, sizeof e);
    e.sigfd = -1;
    opts_init("wsg-echo");
    opterr = 0;
    while ((opt = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        switch (opt) {
        case OPT_HOST:
            if (!*optarg)
                opts_bad_value("--host", optarg, "an IP address or host name");
            host = optarg;
            break;
        case OPT_PORT:
            if (!opts_parse_u64(optarg, 0, 65535, &v))
                opts_bad_value("--port", optarg, "0-65535");
            port = optarg;
            break;
        case OPT_MAX_MESSAGE:
            if (!opts_parse_u64(optarg, 1, MAX_LIMIT, &max_message))
                opts_bad_value("--max-message", optarg, "1-1073741824 bytes");
            break;
        case OPT_MAX_FRAME:
            if (!opts_parse_u64(optarg, 1, MAX_LIMIT, &max_frame))
                opts_bad_value("--max-frame", optarg, "1-1073741824 bytes");
            break;
        case OPT_MAX_FRAGMENTS:
            if (!opts_parse_u64(optarg, 1, 1000000, &max_fragments))
                opts_bad_value("--max-fragments", optarg, "1-1000000");
            break;
        case OPT_PATH:
            if (optarg[0] != '/' || strpbrk(optarg, "?# \t\r\n"))
                opts_bad_value("--path", optarg,
                          "an absolute path starting with '/', no query");
            e.path = optarg;
            break;
        case OPT_HS_TIMEOUT:
            if (!opts_parse_seconds(optarg, 100, 600000, &hs_timeout))
                opts_bad_value("--handshake-timeout", optarg,
                               "0.1-600 seconds");
            break;
        case OPT_CLOSE_TIMEOUT:
            if (!opts_parse_seconds(optarg, 100, 600000, &close_timeout))
                opts_bad_value("--close-timeout", optarg, "0.1-600 seconds");
            break;
        case OPT_PING_INTERVAL:
            if (!opts_parse_seconds(optarg, 0, 86400000, &ping_interval))
                opts_bad_value("--ping-interval", optarg, "0-86400 seconds");
            break;
        case OPT_PONG_TIMEOUT:
            if (!opts_parse_seconds(optarg, 0, 86400000, &pong_timeout))
                opts_bad_value("--pong-timeout", optarg, "0-86400 seconds");
            break;
        case OPT_IDLE_TIMEOUT:
            if (!opts_parse_seconds(optarg, 0, 86400000, &idle_timeout))
                opts_bad_value("--idle-timeout", optarg, "0-86400 seconds");
            break;
        case OPT_SUBPROTOCOL:
            if (!*optarg || strpbrk(optarg, ", \t\r\n\"") )
                opts_bad_value("--subprotocol", optarg, "an HTTP token");
            e.subprotocol = optarg;
            break;
        case OPT_VERBOSE:
            e.verbose = true;
            break;
        case OPT_HELP:
            usage(stdout);
            return 0;
        case OPT_VERSION:
            printf("wsg-echo %s\n", WSG_VERSION_STRING);
            return 0;
        default:
            opts_bad_option(argv[optind - 1],
                            optopt >= OPT_HOST && optopt <= OPT_SUBPROTOCOL);
        }
    }
    if (optind < argc)
        opts_die("unexpected argument '%s'", argv[optind]);

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
        return 1;
    }

    rc = wsg_loop_new(NULL, &e.loop);
    if (rc != WSG_OK) {
        fprintf(stderr, "wsg-echo: cannot create the loop: %s\n",
                wsg_strerror(rc));
        return 1;
    }
    wsg_server_config_init_default(&cfg);
    cfg.host = host;
    cfg.port = port;
    cfg.handshake_timeout_ms = (uint32_t)hs_timeout;
    cfg.ping_interval_ms = (uint32_t)ping_interval;
    cfg.pong_timeout_ms = (uint32_t)pong_timeout;
    cfg.idle_timeout_ms = (uint32_t)idle_timeout;
    cfg.conn.max_message = max_message;
    cfg.conn.max_frame = max_frame;
    cfg.conn.max_fragments = (uint32_t)max_fragments;
    cfg.conn.close_timeout_ms = (uint32_t)close_timeout;
    /* Room for one echo of the largest message past the pause threshold
     * (half of max_output): sends are then never refused. */
    if (cfg.conn.max_output < 2 * (max_message + 64) + 4096)
        cfg.conn.max_output = (size_t)(2 * (max_message + 64) + 4096);
    cfg.cb.on_upgrade = on_upgrade;
    cfg.cb.on_refuse = on_refuse;
    cfg.cb.on_open = on_open;
    cfg.cb.on_message = on_message;
    cfg.cb.on_close = on_close;
    cfg.cb.ud = &e;
    cfg.on_shutdown = on_shutdown;

    rc = wsg_server_new(e.loop, &cfg, &e.srv);
    if (rc != WSG_OK) {
        fprintf(stderr, "wsg-echo: cannot listen on %s port %s: %s%s%s\n",
                host, port, wsg_strerror(rc), errno ? ": " : "",
                errno ? strerror(errno) : "");
        wsg_loop_free(e.loop);
        return 1;
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
            (unsigned)wsg_server_port(e.srv), e.path ? e.path : "/");
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
    close(e.sigfd);
    return status;
}
