/* wsg-client: a command-line WebSocket client on wsguard (like wscat).
 *
 * Interactive: stdin lines go out as text messages, received messages are
 * printed to stdout. Scripted: --send/--send-file, then one echo per sent
 * message (or --count N), then a close with 1000. The exit status says what
 * went wrong (see usage()). */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <wsguard/io.h>
#include <wsguard/version.h>
#include <wsguard/wsguard.h>

#include "opts.h"
#include "url.h"

enum {
    EXIT_OK = 0,
    EXIT_CONNECT = 1,
    EXIT_USAGE = 2,
    EXIT_HANDSHAKE = 3,
    EXIT_PROTOCOL = 4,
    EXIT_CLOSED = 5,
    EXIT_TIMEOUT = 6
};

#define MAX_SENDS 1024
#define MAX_HEADERS 64
#define MAX_PROTOCOLS 32
#define MAX_FILE (1024u * 1024u * 1024u)
#define LINE_MAX_BYTES (1024u * 1024u)

struct msg {
    enum wsg_opcode op;
    uint8_t *data;
    size_t len;
};

struct client {
    struct wsg_loop *loop;
    struct wsg_session *s;
    struct wsg_timer *deadline;
    struct wsg_watch *in;
    struct msg sends[MAX_SENDS];
    size_t nsends;
    uint64_t count;          /* exit after this many received; 0: auto */
    uint64_t received;
    bool scripted;
    bool raw;
    bool quiet;
    uint16_t close_code;
    const char *close_reason;
    bool we_closed;          /* we sent Close before the server did */
    bool timed_out;
    int status;
    bool done;
    char *line;              /* interactive input, one line at a time */
    size_t line_len;
    bool stdin_eof;
};

static void usage(FILE *f)
{
    fprintf(f,
        "usage: wsg-client [options] URL\n"
        "A WebSocket client. URL: ws://host[:port]/path?query\n"
        "(wss:// is not supported yet).\n"
        "\n"
        "Without --send/--send-file it is interactive: each stdin line is\n"
        "sent as a text message and received messages are printed to\n"
        "stdout (text as is, binary as a hex summary unless --raw).\n"
        "\n"
        "  --send TEXT          send TEXT as a text message (repeatable)\n"
        "  --send-file PATH     send the file's contents (repeatable): as\n"
        "                       text (must be valid UTF-8) unless --binary\n"
        "  --binary             --send-file sends binary messages\n"
        "  --count N            exit after N received messages (default:\n"
        "                       one per sent message when scripted)\n"
        "  -H, --header 'Name: value'  extra request header (repeatable)\n"
        "  --subprotocol NAME   offer a subprotocol (repeatable)\n"
        "  --origin URL         send an Origin header\n"
        "  --timeout SECONDS    bound connect+handshake and the whole run,\n"
        "                       1-86400 (default: 10 s for connect+handshake,\n"
        "                       no bound on the run)\n"
        "  --close CODE[:REASON] the close code (and reason) we send,\n"
        "                       1000-4999 sendable codes (default 1000)\n"
        "  --raw                write binary messages to stdout as raw bytes\n"
        "  --quiet              do not print received messages\n"
        "  --help, --version\n"
        "\n"
        "When the server closes, 'closed: CODE REASON' goes to stderr.\n"
        "Exit status:\n"
        "  0  ok (closed cleanly, or by the server with 1000)\n"
        "  1  connection failed or lost without a close handshake\n"
        "  2  usage error\n"
        "  3  handshake refused or invalid (HTTP status printed)\n"
        "  4  protocol error (the server broke RFC 6455)\n"
        "  5  closed by the server with a code other than 1000\n"
        "  6  timeout\n");
}

static uint8_t *read_file(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    uint8_t *buf = NULL;
    size_t cap = 0, n = 0;

    if (!f)
        return NULL;
    for (;;) {
        size_t r;
        if (n == cap) {
            uint8_t *nb;
            if (cap >= MAX_FILE) {
                errno = EFBIG;
                goto fail;
            }
            cap = cap ? cap * 2 : 65536;
            nb = realloc(buf, cap);
            if (!nb)
                goto fail;
            buf = nb;
        }
        r = fread(buf + n, 1, cap - n, f);
        n += r;
        if (r == 0) {
            if (ferror(f))
                goto fail;
            break;
        }
    }
    fclose(f);
    *len = n;
    return buf ? buf : malloc(1);
fail:
    free(buf);
    fclose(f);
    return NULL;
}

/* ---- output ----------------------------------------------------------------- */

static void print_message(struct client *c, const struct wsg_event *ev)
{
    if (c->quiet)
        return;
    if (ev->opcode == WSG_OP_TEXT) {
        fwrite(ev->data, 1, ev->len, stdout);
        fputc('\n', stdout);
    } else if (c->raw) {
        fwrite(ev->data, 1, ev->len, stdout);
    } else {
        size_t show = ev->len < 32 ? ev->len : 32;
        printf("<binary %zu bytes:", ev->len);
        for (size_t i = 0; i < show; i++)
            printf(" %02x", ev->data[i]);
        printf("%s>\n", show < ev->len ? " ..." : "");
    }
    fflush(stdout);
}

static void finish(struct client *c, int status)
{
    if (!c->done) {
        c->done = true;
        c->status = status;
    }
}

static void start_close(struct client *c)
{
    if (!c->s || !wsg_session_is_open(c->s))
        return;
    if (wsg_session_close(c->s, c->close_code, c->close_reason) == WSG_OK)
        c->we_closed = true;
}

/* ---- session callbacks -------------------------------------------------------- */

static void on_stdin(struct wsg_watch *w, unsigned rev, void *ud);

static void on_open(void *ud, struct wsg_session *s)
{
    struct client *c = ud;

    for (size_t i = 0; i < c->nsends; i++) {
        int rc = wsg_session_send(s, c->sends[i].op, c->sends[i].data,
                                  c->sends[i].len);
        if (rc != WSG_OK) {
            fprintf(stderr, "wsg-client: cannot send message %zu: %s\n",
                    i + 1, wsg_strerror(rc));
            wsg_session_abort(s, rc);
            finish(c, EXIT_USAGE);
            return;
        }
    }
    if (c->scripted) {
        if (c->count == 0)
            c->count = c->nsends;
        return;
    }
    /* Interactive: read stdin from now on. A regular file or /dev/null
     * cannot be watched by epoll: it is read at once, to the end. */
    if (wsg_watch_new(c->loop, STDIN_FILENO, WSG_IO_READ, on_stdin, c,
                      &c->in) != WSG_OK) {
        c->in = NULL;
        while (!c->stdin_eof)
            on_stdin(NULL, WSG_IO_READ, c);
    }
}

static void on_message(void *ud, struct wsg_session *s,
                       const struct wsg_event *ev)
{
    struct client *c = ud;

    (void)s;
    print_message(c, ev);
    c->received++;
    if (c->count && c->received >= c->count)
        start_close(c);
}

static int exit_for_err(int err)
{
    switch (err) {
    case WSG_ERR_PROTOCOL:
    case WSG_ERR_MASKING:
    case WSG_ERR_INVALID_UTF8:
    case WSG_ERR_TOO_BIG:
        return EXIT_PROTOCOL;
    case WSG_ERR_TIMEOUT:
        return EXIT_TIMEOUT;
    case WSG_ERR_HANDSHAKE:
    case WSG_ERR_HTTP:
        return EXIT_HANDSHAKE;
    default:
        return EXIT_CONNECT;
    }
}

static int before_open(const struct wsg_close_info *ci)
{
    int status = exit_for_err(ci->err);

    if (status == EXIT_HANDSHAKE) {
        if (ci->http_status)
            fprintf(stderr, "wsg-client: handshake refused: HTTP %d %s (%s)\n",
                    ci->http_status, wsg_http_status_text(ci->http_status),
                    ci->detail);
        else
            fprintf(stderr, "wsg-client: handshake failed: %s\n", ci->detail);
    } else if (status == EXIT_TIMEOUT) {
        fprintf(stderr, "wsg-client: timeout: %s\n", ci->detail);
    } else {
        status = EXIT_CONNECT;
        fprintf(stderr, "wsg-client: connection failed: %s\n", ci->detail);
    }
    return status;
}

static void on_close(void *ud, struct wsg_session *s,
                     const struct wsg_close_info *ci)
{
    struct client *c = ud;
    int status;

    (void)s;
    c->s = NULL;
    if (ci->opened && ci->code != WSG_CLOSE_ABNORMAL)
        fprintf(stderr, "closed: %u %s\n", (unsigned)ci->code, ci->reason);
    if (c->timed_out) {
        status = EXIT_TIMEOUT;
    } else if (!ci->opened) {
        status = before_open(ci);
    } else if (exit_for_err(ci->err) == EXIT_PROTOCOL) {
        fprintf(stderr, "wsg-client: protocol error: %s\n", ci->detail);
        status = EXIT_PROTOCOL;
    } else if (ci->code != WSG_CLOSE_ABNORMAL) {
        /* A Close arrived: the server's code decides, unless it only
         * answered ours. */
        status = !c->we_closed && ci->code != WSG_CLOSE_NORMAL ? EXIT_CLOSED
                                                               : EXIT_OK;
        if (ci->err == WSG_ERR_TIMEOUT && c->we_closed)
            status = EXIT_TIMEOUT;
    } else if (ci->err == WSG_ERR_TIMEOUT) {
        fprintf(stderr, "wsg-client: timeout: %s\n", ci->detail);
        status = EXIT_TIMEOUT;
    } else {
        fprintf(stderr, "wsg-client: connection lost: %s\n", ci->detail);
        status = EXIT_CONNECT;
    }
    finish(c, status);
    wsg_loop_stop(c->loop);
}

/* ---- interactive input ---------------------------------------------------------- */

static void send_line(struct client *c, const char *line, size_t len)
{
    int rc;

    if (!c->s)
        return;
    if (!wsg_utf8_valid((const uint8_t *)line, len)) {
        fprintf(stderr, "wsg-client: line is not valid UTF-8; not sent\n");
        return;
    }
    rc = wsg_session_send(c->s, WSG_OP_TEXT, line, len);
    if (rc != WSG_OK)
        fprintf(stderr, "wsg-client: cannot send: %s\n", wsg_strerror(rc));
}

static void on_stdin(struct wsg_watch *w, unsigned rev, void *ud)
{
    struct client *c = ud;
    char buf[65536];
    ssize_t n;

    (void)rev;
    n = read(STDIN_FILENO, buf, sizeof buf);
    if (n < 0 && (errno == EAGAIN || errno == EINTR))
        return;
    if (n <= 0) {
        if (c->line_len)
            send_line(c, c->line, c->line_len);
        c->line_len = 0;
        c->stdin_eof = true;
        wsg_watch_free(c->in);
        c->in = NULL;
        /* With --count, keep waiting for the messages; else we are done. */
        if (!c->count || c->received >= c->count)
            start_close(c);
        return;
    }
    for (ssize_t i = 0; i < n; i++) {
        if (buf[i] == '\n') {
            size_t len = c->line_len;
            if (len && c->line[len - 1] == '\r')
                len--;
            send_line(c, c->line, len);
            c->line_len = 0;
        } else if (c->line_len < LINE_MAX_BYTES) {
            c->line[c->line_len++] = buf[i];
        }
    }
    /* Backpressure: stop reading stdin while the socket is behind. */
    if (c->in && c->s && wsg_session_pending(c->s) > 4u * 1024u * 1024u)
        wsg_watch_set(c->in, 0);
}

static void on_drain(void *ud, struct wsg_session *s)
{
    struct client *c = ud;
    (void)s;
    if (c->in)
        wsg_watch_set(c->in, WSG_IO_READ);
}

static void on_deadline(struct wsg_timer *t, void *ud)
{
    struct client *c = ud;
    (void)t;
    fprintf(stderr, "wsg-client: timeout: the run took longer than --timeout\n");
    c->timed_out = true;
    if (c->s)
        wsg_session_abort(c->s, WSG_ERR_TIMEOUT);
    else
        wsg_loop_stop(c->loop);
    finish(c, EXIT_TIMEOUT);
}

/* ---- main --------------------------------------------------------------------- */

enum {
    OPT_SEND = 256, OPT_SEND_FILE, OPT_BINARY, OPT_COUNT, OPT_SUBPROTOCOL,
    OPT_ORIGIN, OPT_TIMEOUT, OPT_CLOSE, OPT_RAW, OPT_QUIET, OPT_HELP,
    OPT_VERSION
};

static void parse_header(const char *arg, struct wsg_header *h)
{
    const char *colon = strchr(arg, ':');
    const char *v;

    if (!colon || colon == arg)
        opts_die("invalid value for -H: '%s' (expected 'Name: value')", arg);
    for (const char *p = arg; p < colon; p++)
        if (*p <= ' ' || *p >= 127 || strchr("()<>@,;:\\\"/[]?={}", *p))
            opts_die("invalid header name in -H '%s'", arg);
    if (strpbrk(arg, "\r\n"))
        opts_die("CR or LF in -H '%s'", arg);
    v = colon + 1;
    while (*v == ' ' || *v == '\t')
        v++;
    h->name = arg;
    h->name_len = (size_t)(colon - arg);
    h->value = v;
    h->value_len = strlen(v);
}

int main(int argc, char **argv)
{
    static const struct option opts[] = {
        {"send", required_argument, NULL, OPT_SEND},
        {"send-file", required_argument, NULL, OPT_SEND_FILE},
        {"binary", no_argument, NULL, OPT_BINARY},
        {"count", required_argument, NULL, OPT_COUNT},
        {"header", required_argument, NULL, 'H'},
        {"subprotocol", required_argument, NULL, OPT_SUBPROTOCOL},
        {"origin", required_argument, NULL, OPT_ORIGIN},
        {"timeout", required_argument, NULL, OPT_TIMEOUT},
        {"close", required_argument, NULL, OPT_CLOSE},
        {"raw", no_argument, NULL, OPT_RAW},
        {"quiet", no_argument, NULL, OPT_QUIET},
        {"help", no_argument, NULL, OPT_HELP},
        {"version", no_argument, NULL, OPT_VERSION},
        {NULL, 0, NULL, 0},
    };
    static struct client c;
    static struct wsg_header headers[MAX_HEADERS];
    static const char *protocols[MAX_PROTOCOLS];
    static const char *files[MAX_SENDS];
    static bool is_file[MAX_SENDS];
    static const char *texts[MAX_SENDS];
    struct wsg_client_config cfg;
    struct wsg_url url;
    size_t nheaders = 0, nprotocols = 0, nitems = 0;
    const char *origin = NULL;
    uint64_t v, timeout_s = 0;
    bool binary = false;
    char close_reason[128];
    struct sigaction sa;
    int opt, rc, stdin_flags = -1;

    c.close_code = WSG_CLOSE_NORMAL;
    opts_init("wsg-client");
    opterr = 0;
    while ((opt = getopt_long(argc, argv, "H:", opts, NULL)) != -1) {
        switch (opt) {
        case OPT_SEND:
        case OPT_SEND_FILE:
            if (nitems == MAX_SENDS)
                opts_die("too many messages (at most %s)", "1024");
            is_file[nitems] = opt == OPT_SEND_FILE;
            (is_file[nitems] ? files : texts)[nitems] = optarg;
            nitems++;
            break;
        case OPT_BINARY:
            binary = true;
            break;
        case OPT_COUNT:
            if (!opts_parse_u64(optarg, 1, 1000000000, &c.count))
                opts_bad_value("--count", optarg, "1-1000000000");
            break;
        case 'H':
            if (nheaders == MAX_HEADERS)
                opts_die("too many -H headers (at most %s)", "64");
            parse_header(optarg, &headers[nheaders++]);
            break;
        case OPT_SUBPROTOCOL:
            if (nprotocols == MAX_PROTOCOLS)
                opts_die("too many --subprotocol (at most %s)", "32");
            if (!*optarg || strpbrk(optarg, ", \t\r\n\""))
                opts_bad_value("--subprotocol", optarg, "an HTTP token");
            protocols[nprotocols++] = optarg;
            break;
        case OPT_ORIGIN:
            if (!*optarg || strpbrk(optarg, "\r\n"))
                opts_die("invalid value for --origin: '%s'", optarg);
            origin = optarg;
            break;
        case OPT_TIMEOUT:
            if (!opts_parse_u64(optarg, 1, 86400, &timeout_s))
                opts_bad_value("--timeout", optarg, "1-86400 seconds");
            break;
        case OPT_CLOSE: {
            const char *colon = strchr(optarg, ':');
            char num[16];
            size_t nl = colon ? (size_t)(colon - optarg) : strlen(optarg);
            if (nl == 0 || nl >= sizeof num)
                opts_bad_value("--close", optarg,
                               "CODE[:REASON], CODE 1000-4999 sendable");
            memcpy(num, optarg, nl);
            num[nl] = '\0';
            if (!opts_parse_u64(num, 1000, 4999, &v) ||
                !wsg_close_code_is_sendable((uint16_t)v))
                opts_bad_value("--close", optarg,
                               "1000-1003, 1007-1014, 3000-4999");
            c.close_code = (uint16_t)v;
            if (colon) {
                if (strlen(colon + 1) > 123 ||
                    !wsg_utf8_valid((const uint8_t *)colon + 1,
                                    strlen(colon + 1)))
                    opts_die("invalid --close reason '%s' (allowed: up to "
                              "123 bytes of UTF-8)", colon + 1);
                snprintf(close_reason, sizeof close_reason, "%s", colon + 1);
                c.close_reason = close_reason;
            }
            break;
        }
        case OPT_RAW:
            c.raw = true;
            break;
        case OPT_QUIET:
            c.quiet = true;
            break;
        case OPT_HELP:
            usage(stdout);
            return EXIT_OK;
        case OPT_VERSION:
            printf("wsg-client %s\n", WSG_VERSION_STRING);
            return EXIT_OK;
        default:
            opts_bad_option(argv[optind - 1], optopt != 0);
        }
    }
    if (optind != argc - 1)
        opts_die("%s", optind >= argc ? "missing URL" : "too many arguments");
    rc = wsg_url_parse(argv[optind], &url);
    if (rc == WSG_URL_TLS) {
        fprintf(stderr, "wsg-client: TLS not supported yet (wss:// URL)\n");
        return EXIT_USAGE;
    }
    if (rc != WSG_URL_OK) {
        fprintf(stderr, "wsg-client: invalid URL '%s': %s\n", argv[optind],
                wsg_url_error(rc));
        return EXIT_USAGE;
    }

    /* Messages, read before connecting so that bad files are usage errors. */
    for (size_t i = 0; i < nitems; i++) {
        struct msg *m = &c.sends[c.nsends++];
        if (is_file[i]) {
            m->data = read_file(files[i], &m->len);
            if (!m->data) {
                fprintf(stderr, "wsg-client: cannot read --send-file '%s': "
                        "%s\n", files[i], strerror(errno));
                return EXIT_USAGE;
            }
            m->op = binary ? WSG_OP_BINARY : WSG_OP_TEXT;
        } else {
            m->len = strlen(texts[i]);
            m->data = malloc(m->len + 1);
            if (!m->data)
                return EXIT_CONNECT;
            memcpy(m->data, texts[i], m->len + 1);
            m->op = WSG_OP_TEXT;
        }
        if (m->op == WSG_OP_TEXT && !wsg_utf8_valid(m->data, m->len)) {
            fprintf(stderr, "wsg-client: %s '%s' is not valid UTF-8 (use "
                    "--binary to send it as binary)\n",
                    is_file[i] ? "--send-file" : "--send",
                    is_file[i] ? files[i] : texts[i]);
            return EXIT_USAGE;
        }
    }
    c.scripted = c.nsends > 0;

    memset(&sa, 0, sizeof sa);
    sa.sa_handler = SIG_IGN;
    sigaction(SIGPIPE, &sa, NULL);

    rc = wsg_loop_new(NULL, &c.loop);
    if (rc != WSG_OK) {
        fprintf(stderr, "wsg-client: %s\n", wsg_strerror(rc));
        return EXIT_CONNECT;
    }
    wsg_client_config_init_default(&cfg);
    cfg.host = url.host;
    cfg.port = url.port;
    cfg.hs.host = url.host_header;
    cfg.hs.target = url.target;
    cfg.hs.origin = origin;
    cfg.hs.protocols = protocols;
    cfg.hs.protocol_count = nprotocols;
    cfg.hs.headers = headers;
    cfg.hs.header_count = nheaders;
    if (timeout_s)
        cfg.timeout_ms = (uint32_t)(timeout_s * 1000u);
    /* Accept what we may send: big files and big echoes. */
    cfg.conn.max_message = 64u * 1024u * 1024u;
    cfg.conn.max_frame = 64u * 1024u * 1024u;
    for (size_t i = 0; i < c.nsends; i++) {
        if (c.sends[i].len > cfg.conn.max_message)
            cfg.conn.max_message = cfg.conn.max_frame = c.sends[i].len;
        if (cfg.conn.max_output < c.sends[i].len * 2 + 65536)
            cfg.conn.max_output = c.sends[i].len * 2 + 65536;
    }
    cfg.cb.on_open = on_open;
    cfg.cb.on_message = on_message;
    cfg.cb.on_drain = on_drain;
    cfg.cb.on_close = on_close;
    cfg.cb.ud = &c;

    if (!c.scripted) {
        c.line = malloc(LINE_MAX_BYTES);
        if (!c.line)
            return EXIT_CONNECT;
        stdin_flags = fcntl(STDIN_FILENO, F_GETFL);
        if (stdin_flags >= 0)
            fcntl(STDIN_FILENO, F_SETFL, stdin_flags | O_NONBLOCK);
    }
    if (timeout_s) {
        if (wsg_timer_new(c.loop, on_deadline, &c, &c.deadline) == WSG_OK)
            wsg_timer_start(c.deadline, wsg_clock_ms() + timeout_s * 1000u);
    }
    rc = wsg_client_connect(c.loop, &cfg, &c.s);
    if (rc != WSG_OK) {
        fprintf(stderr, "wsg-client: cannot connect to %s port %s: %s\n",
                url.host, url.port,
                rc == WSG_ERR_IO ? "name resolution failed" : wsg_strerror(rc));
        finish(&c, rc == WSG_ERR_INVALID_ARG ? EXIT_USAGE : EXIT_CONNECT);
    } else {
        wsg_loop_run(c.loop);
        if (c.s) { /* stopped by the run deadline: finish the teardown */
            wsg_session_abort(c.s, WSG_ERR_TIMEOUT);
            wsg_loop_run_once(c.loop, 0);
        }
    }
    wsg_watch_free(c.in);
    wsg_timer_free(c.deadline);
    wsg_loop_run_once(c.loop, 0);
    wsg_loop_free(c.loop);
    for (size_t i = 0; i < c.nsends; i++)
        free(c.sends[i].data);
    free(c.line);
    if (stdin_flags >= 0)
        fcntl(STDIN_FILENO, F_SETFL, stdin_flags);
    return c.done ? c.status : EXIT_CONNECT;
}
