/* wsg-bench load: a WebSocket load generator for an echo server.
 *
 * N client connections (core + handshake public APIs on a small epoll
 * loop of its own, so the figures do not depend on lib/io), each keeping D
 * messages in flight. Every payload is derived from (connection, sequence
 * number) and every echo is checked byte for byte. Masking keys and
 * handshake keys come from lib/io's CSPRNG (wsg_rng), drawn in blocks. Bounded in time, connections and
 * memory; stops by itself. */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#include <wsguard/core.h>
#include <wsguard/handshake.h>
#include <wsguard/io.h>

#include "bench.h"
#include "load.h"

#define READ_BUF (256u << 10)
#define CONNECT_TIMEOUT_NS 10000000000ull
#define DRAIN_TIMEOUT_NS 5000000000ull
#define CLOSE_TIMEOUT_NS 2000000000ull

/* ---- connections ---- */

enum cstate { C_CONNECTING, C_HANDSHAKE, C_OPEN, C_CLOSING, C_DONE };

struct bconn {
    unsigned id;
    int fd;
    enum cstate st;
    struct wsg_hs_client *hs;
    size_t req_off;
    struct wsg_conn *c;
    uint64_t next_seq, recv_seq; /* sent, and next expected echo */
    uint64_t *sent_ns;           /* ring of `depth` send times */
    unsigned inflight;
    uint32_t epoll_mask;
    bool errored;
};

struct load {
    struct opts o;
    int ep;
    struct bconn *conns;
    struct brng rng;
    uint8_t *rbuf;
    uint8_t *pattern; /* size + 256 bytes; text: printable ASCII */
    uint8_t *scratch; /* one message */
    bool sending;     /* inside the measured window */
    uint64_t t_start, t_end;
    uint64_t msgs_window, bytes_window, msgs_total;
    uint64_t mismatches, errors, server_closes, open_count;
    struct hist lat;
};

static uint64_t payload_offset(const struct bconn *b, uint64_t seq)
{
    return (seq * 131u + b->id * 17u) % 251u;
}

/* Writes the 16 hex digits of `seq` into out[0..min(16,n)). */
static void seq_hex(uint64_t seq, uint8_t *out, size_t n)
{
    static const char hex[] = "0123456789abcdef";
    for (size_t i = 0; i < 16 && i < n; i++)
        out[i] = (uint8_t)hex[(seq >> (60 - 4 * i)) & 15];
}

/* Reports "what: detail" (detail may be NULL) once per connection. */
static void conn_error(struct load *L, struct bconn *b, const char *what,
                       const char *detail)
{
    if (!b->errored) {
        fprintf(stderr, "load: connection %u: %s%s%s\n", b->id, what,
                detail ? ": " : "", detail ? detail : "");
        L->errors++;
    }
    b->errored = true;
}

static void conn_finish(struct load *L, struct bconn *b)
{
    if (b->st == C_DONE)
        return;
    if (b->st == C_OPEN || b->st == C_CLOSING)
        L->open_count--;
    b->st = C_DONE;
    if (b->fd >= 0) {
        epoll_ctl(L->ep, EPOLL_CTL_DEL, b->fd, NULL);
        close(b->fd);
        b->fd = -1;
    }
    wsg_hs_client_free(b->hs);
    b->hs = NULL;
    wsg_conn_free(b->c);
    b->c = NULL;
}

static void set_mask(struct load *L, struct bconn *b, uint32_t mask)
{
    if (b->fd < 0 || mask == b->epoll_mask)
        return;
    struct epoll_event ev = {.events = mask, .data.u32 = b->id};
    epoll_ctl(L->ep, EPOLL_CTL_MOD, b->fd, &ev);
    b->epoll_mask = mask;
}

/* Writes what the core has queued; EPOLLOUT while some is left. */
static int flush(struct load *L, struct bconn *b)
{
    for (;;) {
        struct wsg_iovec wi[16];
        struct iovec iov[16];
        size_t n = wsg_conn_output(b->c, wi, 16);
        if (n == 0)
            break;
        for (size_t i = 0; i < n; i++) {
            iov[i].iov_base = (void *)(uintptr_t)wi[i].base;
            iov[i].iov_len = wi[i].len;
        }
        struct msghdr mh = {.msg_iov = iov, .msg_iovlen = n};
        ssize_t w = sendmsg(b->fd, &mh, MSG_NOSIGNAL);
        if (w < 0) {
            if (errno == EAGAIN || errno == EWOULDBLOCK)
                break;
            if (errno == EINTR)
                continue;
            conn_error(L, b, "write", strerror(errno));
            return -1;
        }
        wsg_conn_output_consume(b->c, (size_t)w);
    }
    set_mask(L, b, EPOLLIN | (wsg_conn_output_pending(b->c) ? EPOLLOUT : 0u));
    return 0;
}

static int send_one(struct load *L, struct bconn *b)
{
    size_t size = (size_t)L->o.size;
    uint64_t seq = b->next_seq;
    memcpy(L->scratch, L->pattern + payload_offset(b, seq), size);
    seq_hex(seq, L->scratch, size);
    int rc = wsg_conn_send(b->c, L->o.text ? WSG_OP_TEXT : WSG_OP_BINARY,
                           L->scratch, size);
    if (rc != WSG_OK) {
        conn_error(L, b, "send", wsg_strerror(rc));
        return -1;
    }
    b->sent_ns[seq % L->o.depth] = bench_now_ns();
    b->next_seq++;
    b->inflight++;
    return 0;
}

static void on_echo(struct load *L, struct bconn *b, const struct wsg_event *ev)
{
    uint64_t now = bench_now_ns();
    size_t size = (size_t)L->o.size;
    if (b->inflight == 0) {
        L->mismatches++;
        conn_error(L, b, "echo of a message that was never sent", NULL);
        return;
    }
    uint64_t seq = b->recv_seq++;
    b->inflight--;
    uint8_t head[16];
    seq_hex(seq, head, size);
    size_t k = size < 16 ? size : 16;
    enum wsg_opcode want = L->o.text ? WSG_OP_TEXT : WSG_OP_BINARY;
    if (ev->opcode != want || ev->len != size ||
        (size > 0 &&
         (memcmp(ev->data, head, k) != 0 ||
          memcmp(ev->data + k, L->pattern + payload_offset(b, seq) + k,
                 size - k) != 0))) {
        if (L->mismatches++ < 10)
            fprintf(stderr,
                    "load: connection %u: echo %llu differs (opcode %d, "
                    "%zu bytes, expected %zu)\n",
                    b->id, (unsigned long long)seq, (int)ev->opcode, ev->len,
                    size);
    }
    uint64_t sent = b->sent_ns[seq % L->o.depth];
    L->msgs_total++;
    if (L->sending && now <= L->t_end) {
        L->msgs_window++;
        L->bytes_window += size;
        hist_add(&L->lat, now - sent);
    }
    if (L->sending && now < L->t_end)
        send_one(L, b);
}

static void start_sending(struct load *L, struct bconn *b)
{
    for (unsigned i = 0; i < L->o.depth && b->st == C_OPEN; i++)
        if (send_one(L, b) < 0)
            return;
    flush(L, b);
}

/* Feeds received WebSocket bytes to the core. */
static void feed(struct load *L, struct bconn *b, uint8_t *data, size_t len)
{
    size_t off = 0;
    while (off < len || len == 0) {
        size_t consumed = 0;
        struct wsg_event ev;
        int rc = wsg_conn_feed(b->c, data + off, len - off, 0, &consumed, &ev);
        off += consumed;
        switch (ev.type) {
        case WSG_EV_MESSAGE:
            on_echo(L, b, &ev);
            break;
        case WSG_EV_CLOSE:
            if (b->st == C_OPEN) {
                L->server_closes++;
                fprintf(stderr,
                        "load: connection %u: server closed with %u %.*s\n",
                        b->id, ev.close_code, (int)ev.reason_len,
                        ev.reason ? ev.reason : "");
                b->errored = true;
                L->errors++;
                L->open_count--;
                b->st = C_CLOSING;
            }
            break;
        case WSG_EV_FAIL:
            fprintf(stderr, "load: connection %u: protocol failure from the "
                            "server: %s (%.*s)\n",
                    b->id, wsg_err_name(ev.err), (int)ev.reason_len,
                    ev.reason ? ev.reason : "");
            b->errored = true;
            L->errors++;
            flush(L, b);
            conn_finish(L, b);
            return;
        default:
            break;
        }
        if (rc != WSG_OK || ev.type == WSG_EV_NONE)
            break;
    }
    if (b->st != C_DONE)
        flush(L, b);
}

static void on_handshake_bytes(struct load *L, struct bconn *b, uint8_t *data,
                               size_t len)
{
    size_t consumed = 0;
    int rc = wsg_hs_client_feed(b->hs, data, len, &consumed);
    if (rc == 0)
        return;
    if (rc < 0) {
        char msg[300];
        snprintf(msg, sizeof msg, "%s (HTTP status %d)",
                 wsg_hs_client_reason(b->hs), wsg_hs_client_status(b->hs));
        conn_error(L, b, "handshake refused", msg);
        conn_finish(L, b);
        return;
    }
    wsg_hs_client_free(b->hs);
    b->hs = NULL;
    struct wsg_conn_config cfg;
    wsg_conn_config_init_default(&cfg);
    cfg.role = WSG_ROLE_CLIENT;
    cfg.random.fill = brng_fill;
    cfg.random.ud = &L->rng;
    uint64_t lim = L->o.size > (1u << 20) ? L->o.size : (1u << 20);
    cfg.max_frame = lim;
    cfg.max_message = lim;
    cfg.max_output = (size_t)L->o.depth * ((size_t)L->o.size + 14) + (1u << 20);
    rc = wsg_conn_new(&cfg, &b->c);
    if (rc != WSG_OK) {
        conn_error(L, b, "wsg_conn_new", wsg_strerror(rc));
        conn_finish(L, b);
        return;
    }
    b->st = C_OPEN;
    L->open_count++;
    if (L->sending)
        start_sending(L, b);
    if (consumed < len)
        feed(L, b, data + consumed, len - consumed);
}

static void on_readable(struct load *L, struct bconn *b)
{
    for (int i = 0; i < 4 && b->st != C_DONE; i++) {
        ssize_t r = recv(b->fd, L->rbuf, READ_BUF, 0);
        if (r < 0) {
            if (errno == EINTR)
                continue;
            if (errno != EAGAIN && errno != EWOULDBLOCK) {
                conn_error(L, b, "read", strerror(errno));
                conn_finish(L, b);
            }
            return;
        }
        if (r == 0) {
            if (b->st != C_CLOSING)
                conn_error(L, b, "server closed the TCP connection", NULL);
            conn_finish(L, b);
            return;
        }
        if (b->st == C_HANDSHAKE)
            on_handshake_bytes(L, b, L->rbuf, (size_t)r);
        else
            feed(L, b, L->rbuf, (size_t)r);
        if (b->st == C_CLOSING && b->c &&
            wsg_conn_should_close_transport(b->c)) {
            conn_finish(L, b);
            return;
        }
        if ((size_t)r < READ_BUF)
            return;
    }
}

static void on_writable(struct load *L, struct bconn *b)
{
    if (b->st == C_CONNECTING) {
        int err = 0;
        socklen_t el = sizeof err;
        getsockopt(b->fd, SOL_SOCKET, SO_ERROR, &err, &el);
        if (err) {
            conn_error(L, b, "connect", strerror(err));
            conn_finish(L, b);
            return;
        }
        b->st = C_HANDSHAKE;
    }
    if (b->st == C_HANDSHAKE) {
        const uint8_t *req;
        size_t len;
        wsg_hs_client_request(b->hs, &req, &len);
        while (b->req_off < len) {
            ssize_t w = send(b->fd, req + b->req_off, len - b->req_off,
                             MSG_NOSIGNAL);
            if (w < 0) {
                if (errno == EAGAIN || errno == EINTR)
                    return;
                conn_error(L, b, "write", strerror(errno));
                conn_finish(L, b);
                return;
            }
            b->req_off += (size_t)w;
        }
        set_mask(L, b, EPOLLIN);
        return;
    }
    if (b->c && flush(L, b) < 0)
        conn_finish(L, b);
}

static int open_conn(struct load *L, struct bconn *b, const struct addrinfo *ai)
{
    b->fd = socket(ai->ai_family, ai->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC,
                   ai->ai_protocol);
    if (b->fd < 0) {
        conn_error(L, b, "socket", strerror(errno));
        return -1;
    }
    int one = 1;
    setsockopt(b->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    if (connect(b->fd, ai->ai_addr, ai->ai_addrlen) < 0 &&
        errno != EINPROGRESS) {
        conn_error(L, b, "connect", strerror(errno));
        close(b->fd);
        b->fd = -1;
        b->st = C_DONE;
        return -1;
    }
    struct wsg_hs_client_opts ho;
    wsg_hs_client_opts_init_default(&ho);
    ho.host = L->o.hosthdr;
    ho.target = L->o.target;
    ho.random.fill = brng_fill;
    ho.random.ud = &L->rng;
    int rc = wsg_hs_client_new(&ho, NULL, &b->hs);
    if (rc != WSG_OK) {
        conn_error(L, b, "handshake setup", wsg_strerror(rc));
        conn_finish(L, b);
        return -1;
    }
    b->st = C_CONNECTING;
    b->epoll_mask = EPOLLIN | EPOLLOUT;
    struct epoll_event ev = {.events = b->epoll_mask, .data.u32 = b->id};
    if (epoll_ctl(L->ep, EPOLL_CTL_ADD, b->fd, &ev) < 0) {
        conn_error(L, b, "epoll_ctl", strerror(errno));
        conn_finish(L, b);
        return -1;
    }
    return 0;
}

/* One epoll round; returns -1 on an epoll failure. */
static int poll_once(struct load *L, int timeout_ms)
{
    struct epoll_event evs[256];
    int n = epoll_wait(L->ep, evs, 256, timeout_ms);
    if (n < 0)
        return errno == EINTR ? 0 : -1;
    for (int i = 0; i < n; i++) {
        struct bconn *b = &L->conns[evs[i].data.u32];
        if (b->st == C_DONE)
            continue;
        if (evs[i].events & (EPOLLOUT | EPOLLERR))
            on_writable(L, b);
        if (b->st != C_DONE && (evs[i].events & (EPOLLIN | EPOLLHUP | EPOLLERR)))
            on_readable(L, b);
    }
    return 0;
}

static void report(const struct load *L, double secs)
{
    const struct opts *o = &L->o;
    printf("wsg-bench load: ws://%s%s, %u connections, depth %u, %llu-byte "
           "%s messages, %.1f s\n",
           o->hosthdr, o->target, o->connections, o->depth,
           (unsigned long long)o->size, o->text ? "text" : "binary", secs);
    printf("  echoes      %llu in the window (%llu in all)\n",
           (unsigned long long)L->msgs_window,
           (unsigned long long)L->msgs_total);
    printf("  throughput  %.0f messages/s, %.2f MB/s of payload each way\n",
           (double)L->msgs_window / secs, (double)L->bytes_window / secs / 1e6);
    printf("  latency     p50 %.1f us  p90 %.1f us  p99 %.1f us  "
           "p99.9 %.1f us  max %.1f us\n",
           (double)hist_percentile(&L->lat, 50) / 1e3,
           (double)hist_percentile(&L->lat, 90) / 1e3,
           (double)hist_percentile(&L->lat, 99) / 1e3,
           (double)hist_percentile(&L->lat, 99.9) / 1e3,
           (double)L->lat.max / 1e3);
    printf("  mismatches  %llu\n", (unsigned long long)L->mismatches);
    printf("  errors      %llu (server closes %llu)\n",
           (unsigned long long)L->errors,
           (unsigned long long)L->server_closes);
}

static void cleanup(struct load *L)
{
    if (L->conns)
        for (unsigned i = 0; i < L->o.connections; i++) {
            conn_finish(L, &L->conns[i]);
            free(L->conns[i].sent_ns);
        }
    free(L->conns);
    free(L->rbuf);
    free(L->pattern);
    free(L->scratch);
    if (L->ep >= 0)
        close(L->ep);
    brng_free(&L->rng);
}

int bench_load(int argc, char **argv)
{
    static struct load L; /* the histogram is 15 KiB: not on the stack */
    memset(&L, 0, sizeof L);
    L.ep = -1;
    if (!load_parse_args(argc, argv, &L.o))
        return 2;
    signal(SIGPIPE, SIG_IGN);
    hist_init(&L.lat);

    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 &&
        rl.rlim_cur < L.o.connections + 16 && rl.rlim_max != rl.rlim_cur) {
        rl.rlim_cur = rl.rlim_max;
        setrlimit(RLIMIT_NOFILE, &rl);
    }

    struct addrinfo hints, *ai = NULL;
    memset(&hints, 0, sizeof hints);
    hints.ai_socktype = SOCK_STREAM;
    int gai = getaddrinfo(L.o.host, L.o.port, &hints, &ai);
    if (gai != 0) {
        fprintf(stderr, "load: %s:%s: %s\n", L.o.host, L.o.port,
                gai_strerror(gai));
        return 2;
    }
    size_t size = (size_t)L.o.size;
    L.ep = epoll_create1(EPOLL_CLOEXEC);
    L.conns = calloc(L.o.connections, sizeof *L.conns);
    L.rbuf = malloc(READ_BUF);
    L.pattern = malloc(size + 256);
    L.scratch = malloc(size ? size : 1);
    if (L.ep < 0 || !L.conns || !L.rbuf || !L.pattern || !L.scratch ||
        brng_init(&L.rng) != 0) {
        fprintf(stderr, "load: setup failed (memory, epoll or CSPRNG)\n");
        freeaddrinfo(ai);
        cleanup(&L);
        return 2;
    }
    uint8_t seed[8];
    brng_fill(&L.rng, seed, 8);
    uint64_t x;
    memcpy(&x, seed, 8);
    x |= 1;
    for (size_t i = 0; i < size + 256; i++) {
        x ^= x << 13, x ^= x >> 7, x ^= x << 17;
        L.pattern[i] = L.o.text ? (uint8_t)(' ' + (x >> 32) % 95)
                                : (uint8_t)(x >> 32);
    }

    /* connect and handshake everyone, then start the clock */
    for (unsigned i = 0; i < L.o.connections; i++) {
        struct bconn *b = &L.conns[i];
        b->id = i;
        b->fd = -1;
        b->sent_ns = calloc(L.o.depth, sizeof *b->sent_ns);
        if (!b->sent_ns) {
            fprintf(stderr, "load: out of memory\n");
            freeaddrinfo(ai);
            cleanup(&L);
            return 2;
        }
        open_conn(&L, b, ai);
    }
    freeaddrinfo(ai);
    uint64_t t0 = bench_now_ns();
    for (;;) {
        unsigned pending = 0;
        for (unsigned i = 0; i < L.o.connections; i++)
            pending += L.conns[i].st == C_CONNECTING ||
                       L.conns[i].st == C_HANDSHAKE;
        if (pending == 0 || bench_now_ns() - t0 > CONNECT_TIMEOUT_NS)
            break;
        if (poll_once(&L, 100) < 0)
            break;
    }
    unsigned opened = (unsigned)L.open_count;
    for (unsigned i = 0; i < L.o.connections; i++)
        if (L.conns[i].st == C_CONNECTING || L.conns[i].st == C_HANDSHAKE) {
            conn_error(&L, &L.conns[i], "connect/handshake timed out", NULL);
            conn_finish(&L, &L.conns[i]);
        }
    if (opened == 0) {
        fprintf(stderr, "load: no connection could be opened\n");
        cleanup(&L);
        return 2;
    }
    if (opened < L.o.connections)
        fprintf(stderr, "load: only %u of %u connections opened\n", opened,
                L.o.connections);

    L.sending = true;
    L.t_start = bench_now_ns();
    L.t_end = L.t_start + (uint64_t)(L.o.duration * 1e9);
    for (unsigned i = 0; i < L.o.connections; i++)
        if (L.conns[i].st == C_OPEN)
            start_sending(&L, &L.conns[i]);
    while (bench_now_ns() < L.t_end && L.open_count > 0)
        if (poll_once(&L, 50) < 0)
            break;
    uint64_t t_stop = bench_now_ns();
    double secs = (double)((t_stop < L.t_end ? t_stop : L.t_end) - L.t_start) / 1e9;

    /* collect what is in flight, then close cleanly */
    for (;;) {
        unsigned inflight = 0;
        for (unsigned i = 0; i < L.o.connections; i++)
            if (L.conns[i].st == C_OPEN)
                inflight += L.conns[i].inflight;
        if (inflight == 0 || bench_now_ns() - t_stop > DRAIN_TIMEOUT_NS)
            break;
        if (poll_once(&L, 50) < 0)
            break;
    }
    L.sending = false;
    for (unsigned i = 0; i < L.o.connections; i++) {
        struct bconn *b = &L.conns[i];
        if (b->st != C_OPEN)
            continue;
        if (b->inflight) {
            conn_error(&L, b, "echoes still missing after the drain", NULL);
        }
        wsg_conn_close(b->c, WSG_CLOSE_NORMAL, "bench done", 10, 0);
        b->st = C_CLOSING;
        L.open_count--;
        flush(&L, b);
    }
    uint64_t tc = bench_now_ns();
    for (;;) {
        unsigned closing = 0;
        for (unsigned i = 0; i < L.o.connections; i++)
            closing += L.conns[i].st == C_CLOSING;
        if (closing == 0 || bench_now_ns() - tc > CLOSE_TIMEOUT_NS)
            break;
        if (poll_once(&L, 50) < 0)
            break;
    }
    report(&L, secs > 0 ? secs : 1e-9);
    int status = (L.mismatches || L.errors) ? 1 : 0;
    cleanup(&L);
    return status;
}
