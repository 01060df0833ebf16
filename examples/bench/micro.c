/* wsg-bench micro: the core's receive and send paths, without I/O.
 *
 * Receive: a buffer of many masked client frames (binary; text that is all
 * ASCII; text that is ASCII but for one 2-byte character in 64; text of
 * mostly multibyte characters) is copied into a work buffer (the core unmasks in place) and
 * fed to a server-role wsg_conn in WSG_DELIVER_MESSAGE mode. The memcpy is
 * timed alone and subtracted: "parse" is parse + unmask + validate.
 * Send: wsg_conn_send (copy), wsg_conn_send_borrowed (server, zero copy)
 * and client-role wsg_conn_send (copy + mask), output consumed. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <wsguard/core.h>

#include "bench.h"

#define MAX_SIZES 32

static uint64_t rng_state = 0x853c49e6748fea9bull;

static uint32_t rng32(void)
{
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 7;
    rng_state ^= rng_state << 17;
    return (uint32_t)(rng_state >> 16);
}

enum variant { V_BINARY, V_PURE, V_ASCII, V_UTF8, V_COUNT };
static const char *const kVariant[V_COUNT] = {"binary", "text-pure",
                                              "text-ascii", "text-utf8"};

/* Valid UTF-8 of exactly `n` bytes. */
static void fill_payload(uint8_t *p, size_t n, enum variant v)
{
    static const char *const multi[] = {"\xc3\xa9", "\xe2\x82\xac",
                                        "\xf0\x9d\x84\x9e", "\xd0\x96",
                                        "\xe4\xb8\xad"};
    size_t i = 0;
    if (v == V_BINARY) {
        for (; i < n; i++)
            p[i] = (uint8_t)rng32();
        return;
    }
    while (i < n) {
        const char *cp = NULL;
        if (v == V_ASCII && (i & 63) == 63)
            cp = multi[0];
        else if (v == V_UTF8 && (rng32() & 7) != 0)
            cp = multi[rng32() % 5];
        size_t k = cp ? strlen(cp) : 1;
        if (!cp || i + k > n) {
            p[i++] = (uint8_t)(' ' + rng32() % 95);
            continue;
        }
        memcpy(p + i, cp, k);
        i += k;
    }
}

struct frames {
    uint8_t *wire, *work;
    size_t wire_len, count, payload;
};

static int build_frames(struct frames *f, size_t size, enum variant v)
{
    size_t per = size + WSG_FRAME_HEADER_MAX;
    size_t target = 4u << 20;
    f->count = target / per < 2 ? 2 : target / per;
    f->wire = malloc(f->count * per);
    f->work = malloc(f->count * per);
    uint8_t *payload = malloc(size ? size : 1);
    if (!f->wire || !f->work || !payload)
        return -1;
    size_t off = 0;
    for (size_t i = 0; i < f->count; i++) {
        uint8_t key[4];
        uint32_t r = rng32();
        memcpy(key, &r, 4);
        fill_payload(payload, size, v);
        off += wsg_frame_header_write(f->wire + off,
                                      v == V_BINARY ? WSG_OP_BINARY
                                                    : WSG_OP_TEXT,
                                      true, 0, size, key);
        memcpy(f->wire + off, payload, size);
        wsg_mask(f->wire + off, size, key, 0);
        off += size;
    }
    free(payload);
    f->wire_len = off;
    f->payload = f->count * size;
    return 0;
}

static void free_frames(struct frames *f)
{
    free(f->wire);
    free(f->work);
}

/* One pass: copy + feed everything. Returns messages seen, -1 on failure. */
static long feed_all(struct wsg_conn *c, struct frames *f, bool copy_only)
{
    memcpy(f->work, f->wire, f->wire_len);
    if (copy_only)
        return 0;
    long msgs = 0;
    size_t off = 0;
    while (off < f->wire_len) {
        size_t consumed = 0;
        struct wsg_event ev;
        int rc = wsg_conn_feed(c, f->work + off, f->wire_len - off, 0,
                               &consumed, &ev);
        if (rc != WSG_OK) {
            fprintf(stderr, "micro: feed failed: %s (%.*s)\n",
                    wsg_err_name(rc),
                    ev.type == WSG_EV_FAIL ? (int)ev.reason_len : 0,
                    ev.type == WSG_EV_FAIL ? ev.reason : "");
            return -1;
        }
        off += consumed;
        if (ev.type == WSG_EV_MESSAGE)
            msgs++;
        else if (ev.type == WSG_EV_NONE && consumed == 0)
            break;
    }
    return msgs;
}

static struct wsg_conn *server_conn(size_t size)
{
    struct wsg_conn_config cfg;
    wsg_conn_config_init_default(&cfg);
    uint64_t lim = size > (1u << 20) ? size : (1u << 20);
    cfg.max_frame = lim;
    cfg.max_message = lim;
    struct wsg_conn *c = NULL;
    int rc = wsg_conn_new(&cfg, &c);
    if (rc != WSG_OK) {
        fprintf(stderr, "micro: wsg_conn_new: %s\n", wsg_err_name(rc));
        return NULL;
    }
    return c;
}

/* Runs passes for about `secs`; returns ns per pass, -1 on failure. */
static double time_passes(struct wsg_conn *c, struct frames *f, double secs,
                          bool copy_only)
{
    long want = copy_only ? 0 : (long)f->count;
    if (feed_all(c, f, copy_only) != want) /* warm-up */
        return -1;
    uint64_t t0 = bench_now_ns(), t;
    uint64_t passes = 0;
    do {
        if (feed_all(c, f, copy_only) != want)
            return -1;
        passes++;
        t = bench_now_ns();
    } while ((double)(t - t0) < secs * 1e9);
    return (double)(t - t0) / (double)passes;
}

static int recv_path(const uint64_t *sizes, size_t n, double secs)
{
    printf("receive path: server role, WSG_DELIVER_MESSAGE, one masked frame "
           "per message, ~4 MiB of frames per pass\n");
    printf("%-10s %-11s %10s %12s %12s %12s %12s\n", "size", "variant",
           "msgs", "Mmsg/s", "parse GB/s", "+copy GB/s", "memcpy GB/s");
    for (size_t i = 0; i < n; i++) {
        for (int v = 0; v < V_COUNT; v++) {
            struct frames f;
            memset(&f, 0, sizeof f);
            struct wsg_conn *c = server_conn(sizes[i]);
            if (!c || build_frames(&f, sizes[i], (enum variant)v) < 0) {
                fprintf(stderr, "micro: setup failed\n");
                wsg_conn_free(c);
                free_frames(&f);
                return 1;
            }
            double copy = time_passes(c, &f, secs / 3, true);
            double all = time_passes(c, &f, secs, false);
            if (all < 0) {
                wsg_conn_free(c);
                free_frames(&f);
                return 1;
            }
            double parse = all - copy;
            if (parse <= 0)
                parse = 1;
            printf("%-10llu %-11s %10zu %12.2f %12.2f %12.2f %12.2f\n",
                   (unsigned long long)sizes[i], kVariant[v], f.count,
                   (double)f.count / all * 1e3,
                   (double)f.payload / parse, (double)f.payload / all,
                   (double)f.wire_len / copy);
            fflush(stdout);
            wsg_conn_free(c);
            free_frames(&f);
        }
    }
    return 0;
}

static void noop_release(void *ud, const void *data)
{
    (void)ud;
    (void)data;
}

enum send_kind { S_COPY, S_BORROWED, S_CLIENT, S_COUNT };
static const char *const kSend[S_COUNT] = {"server copy", "server borrowed",
                                           "client mask"};

static int fill_random(void *ud, uint8_t *buf, size_t len)
{
    (void)ud;
    for (size_t i = 0; i < len; i++)
        buf[i] = (uint8_t)rng32();
    return 0;
}

static int send_path(const uint64_t *sizes, size_t n, double secs)
{
    printf("\nsend path: wsg_conn_send / _send_borrowed of binary messages, "
           "output consumed (no syscalls)\n");
    printf("%-10s %-16s %12s %12s\n", "size", "mode", "Mmsg/s", "GB/s");
    for (size_t i = 0; i < n; i++) {
        size_t size = sizes[i];
        uint8_t *payload = malloc(size ? size : 1);
        if (!payload)
            return 1;
        fill_payload(payload, size, V_BINARY);
        for (int k = 0; k < S_COUNT; k++) {
            struct wsg_conn_config cfg;
            wsg_conn_config_init_default(&cfg);
            cfg.max_output = 2 * size + (1u << 20);
            if (k == S_CLIENT) {
                cfg.role = WSG_ROLE_CLIENT;
                cfg.random.fill = fill_random;
            }
            struct wsg_conn *c = NULL;
            int rc = wsg_conn_new(&cfg, &c);
            if (rc != WSG_OK) {
                fprintf(stderr, "micro: wsg_conn_new: %s\n", wsg_err_name(rc));
                free(payload);
                return 1;
            }
            uint64_t t0 = bench_now_ns(), t, msgs = 0;
            size_t batch = size >= 65536 ? 1 : (65536 / (size + 1)) + 1;
            do {
                for (size_t b = 0; b < batch; b++) {
                    rc = k == S_BORROWED
                             ? wsg_conn_send_borrowed(c, WSG_OP_BINARY,
                                                      payload, size, true,
                                                      true, noop_release, NULL)
                             : wsg_conn_send(c, WSG_OP_BINARY, payload, size);
                    if (rc != WSG_OK) {
                        fprintf(stderr, "micro: send: %s\n", wsg_err_name(rc));
                        wsg_conn_free(c);
                        free(payload);
                        return 1;
                    }
                    struct wsg_iovec iov[8];
                    size_t cnt, sum;
                    do {
                        cnt = wsg_conn_output(c, iov, 8);
                        sum = 0;
                        for (size_t j = 0; j < cnt; j++)
                            sum += iov[j].len;
                        wsg_conn_output_consume(c, sum);
                    } while (cnt);
                }
                msgs += batch;
                t = bench_now_ns();
            } while ((double)(t - t0) < secs * 1e9);
            double ns = (double)(t - t0);
            printf("%-10zu %-16s %12.2f %12.2f\n", size, kSend[k],
                   (double)msgs / ns * 1e3, (double)msgs * (double)size / ns);
            fflush(stdout);
            wsg_conn_free(c);
        }
        free(payload);
    }
    printf("(borrowed: the payload is not copied, so its GB/s is payload "
           "handed over per second)\n");
    return 0;
}

static volatile size_t g_sink; /* keeps the timed calls alive */

/* The two primitives alone, on the same payloads: where the time goes. */
static int primitives(const uint64_t *sizes, size_t n, double secs)
{
    printf("\nprimitives alone (payload already in cache)\n");
    printf("%-10s %13s %14s %14s %14s\n", "size", "wsg_mask GB/s",
           "utf8 pure", "utf8 ascii*", "utf8 multibyte");
    for (size_t i = 0; i < n; i++) {
        size_t size = sizes[i];
        uint8_t *buf[V_COUNT];
        double gbs[V_COUNT + 1];
        for (int v = 0; v < V_COUNT; v++) {
            buf[v] = malloc(size ? size : 1);
            if (!buf[v])
                return 1;
            fill_payload(buf[v], size, (enum variant)v);
        }
        static const uint8_t key[4] = {0x37, 0xfa, 0x21, 0x3d};
        for (int v = V_PURE; v <= V_COUNT; v++) {
            uint64_t t0 = bench_now_ns(), t, bytes = 0;
            size_t reps = 1 + (65536 / (size + 1));
            do {
                for (size_t r = 0; r < reps; r++) {
                    if (v == V_COUNT)
                        g_sink += wsg_mask(buf[0], size, key, 0);
                    else
                        g_sink += wsg_utf8_valid(buf[v], size);
                }
                bytes += reps * size;
                t = bench_now_ns();
            } while ((double)(t - t0) < secs / 4 * 1e9);
            gbs[v] = (double)bytes / (double)(t - t0);
        }
        printf("%-10zu %13.2f %14.2f %14.2f %14.2f\n", size, gbs[V_COUNT],
               gbs[V_PURE], gbs[V_ASCII], gbs[V_UTF8]);
        fflush(stdout);
        for (int v = 0; v < V_COUNT; v++)
            free(buf[v]);
    }
    printf("(wsg_utf8_valid, GB/s; ascii*: one 2-byte character in 64)\n");
    return 0;
}

int bench_micro(int argc, char **argv)
{
    uint64_t sizes[MAX_SIZES] = {16, 64, 256, 1024, 4096, 16384, 65536,
                                 262144, 1048576};
    size_t n = 9;
    double secs = 0.5;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--sizes") == 0 && i + 1 < argc) {
            char *list = argv[++i], *save = NULL;
            n = 0;
            for (char *tok = strtok_r(list, ",", &save); tok;
                 tok = strtok_r(NULL, ",", &save)) {
                if (n == MAX_SIZES || !bench_parse_size(tok, &sizes[n]) ||
                    sizes[n] > (64u << 20)) {
                    fprintf(stderr, "micro: bad size '%s' (max 64m, %d sizes)\n",
                            tok, MAX_SIZES);
                    return 2;
                }
                n++;
            }
            if (n == 0) {
                fprintf(stderr, "micro: --sizes needs a list\n");
                return 2;
            }
        } else if (strcmp(argv[i], "--seconds") == 0 && i + 1 < argc) {
            char *end;
            secs = strtod(argv[++i], &end);
            if (*end || !(secs > 0 && secs <= 600)) {
                fprintf(stderr, "micro: --seconds must be in (0, 600]\n");
                return 2;
            }
        } else {
            fprintf(stderr, "micro: unknown argument '%s'\n", argv[i]);
            return 2;
        }
    }
    printf("wsg-bench micro: %.2f s per figure; GB = 1e9 bytes of payload\n\n",
           secs);
    if (recv_path(sizes, n, secs))
        return 1;
    if (send_path(sizes, n, secs))
        return 1;
    return primitives(sizes, n, secs);
}
