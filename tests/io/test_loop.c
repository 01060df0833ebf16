/* lib/io loop (epoll watches, timer heap, stop, run_once) and the CSPRNG.
 * Everything on one thread; every test bounded by .timeout and by its own
 * run_until deadlines. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <criterion/criterion.h>

#include "io_util.h"

/* ---- timers --------------------------------------------------------------- */

struct torder {
    int fired[16];
    int n;
    uint64_t when[16];
};

struct tslot {
    struct torder *o;
    int id;
    struct wsg_timer *t;
};

static void order_cb(struct wsg_timer *t, void *ud)
{
    struct tslot *sl = ud;
    (void)t;
    cr_assert_lt(sl->o->n, 16);
    sl->o->when[sl->o->n] = wsg_clock_ms();
    sl->o->fired[sl->o->n++] = sl->id;
}

Test(io_loop, timers_fire_in_deadline_order, .timeout = 10)
{
    struct wsg_loop *loop = loop_new();
    /* Armed out of order; id == rank of the deadline. */
    static const int offs[] = {50, 10, 40, 0, 30, 20, 60};
    static const int rank[] = {5, 1, 4, 0, 3, 2, 6};
    struct torder o;
    struct tslot sl[7];
    uint64_t t0 = wsg_clock_ms();

    memset(&o, 0, sizeof o);
    for (int i = 0; i < 7; i++) {
        sl[i].o = &o;
        sl[i].id = rank[i];
        cr_assert_eq(wsg_timer_new(loop, order_cb, &sl[i], &sl[i].t), WSG_OK);
        wsg_timer_start(sl[i].t, t0 + 20 + (uint64_t)offs[i]);
    }
    cr_assert_eq(wsg_loop_run(loop), WSG_OK); /* returns: nothing left */
    cr_assert_eq(o.n, 7);
    for (int i = 0; i < 7; i++) {
        cr_expect_eq(o.fired[i], i, "fire #%d was timer %d", i, o.fired[i]);
        /* never early */
        cr_expect_geq(o.when[i], t0 + 20 + (uint64_t)i * 10);
    }
    for (int i = 0; i < 7; i++)
        wsg_timer_free(sl[i].t);
    wsg_loop_free(loop);
}

struct rearm {
    int count, limit;
    uint64_t last;
};

static void rearm_cb(struct wsg_timer *t, void *ud)
{
    struct rearm *r = ud;
    r->count++;
    r->last = wsg_clock_ms();
    if (r->count < r->limit)
        wsg_timer_start(t, r->last + 5);
}

static void never_cb(struct wsg_timer *t, void *ud)
{
    (void)t;
    (*(int *)ud)++;
}

Test(io_loop, timer_rearm_restart_and_stop, .timeout = 10)
{
    struct wsg_loop *loop = loop_new();
    struct rearm r = {0, 4, 0};
    struct wsg_timer *t, *stopped, *moved;
    int never = 0, moved_n = 0;
    uint64_t t0 = wsg_clock_ms();

    cr_assert_eq(wsg_timer_new(loop, rearm_cb, &r, &t), WSG_OK);
    cr_assert_eq(wsg_timer_new(loop, never_cb, &never, &stopped), WSG_OK);
    cr_assert_eq(wsg_timer_new(loop, never_cb, &moved_n, &moved), WSG_OK);
    wsg_timer_start(t, t0 + 5);
    wsg_timer_start(stopped, t0 + 10);
    wsg_timer_stop(stopped);
    /* Re-arming an armed timer moves it (later, then earlier). */
    wsg_timer_start(moved, t0 + 1000);
    wsg_timer_start(moved, t0 + 30);
    /* UINT64_MAX disarms. */
    struct wsg_timer *dis;
    cr_assert_eq(wsg_timer_new(loop, never_cb, &never, &dis), WSG_OK);
    wsg_timer_start(dis, t0 + 1);
    wsg_timer_start(dis, UINT64_MAX);

    cr_assert_eq(wsg_loop_run(loop), WSG_OK);
    cr_expect_eq(r.count, 4, "re-armed timer fired %d times", r.count);
    cr_expect_eq(never, 0, "a stopped or disarmed timer fired");
    cr_expect_eq(moved_n, 1);
    cr_expect_lt(wsg_clock_ms() - t0, 900, "the moved timer kept its old deadline");
    wsg_timer_free(t);
    wsg_timer_free(stopped);
    wsg_timer_free(moved);
    wsg_timer_free(dis);
    wsg_loop_free(loop);
}

/* A callback that frees its own timer and another due one, and creates a
 * new timer: the freed one must never run (io.h: freeing inside callbacks is
 * safe). */
struct tfree {
    struct wsg_loop *loop;
    struct wsg_timer *self, *victim, *fresh;
    int self_n, victim_n, fresh_n;
};

static void victim_cb(struct wsg_timer *t, void *ud)
{
    struct tfree *f = ud;
    (void)t;
    f->victim_n++;
}

static void fresh_cb(struct wsg_timer *t, void *ud)
{
    struct tfree *f = ud;
    f->fresh_n++;
    wsg_timer_free(t);
    f->fresh = NULL;
}

static void self_free_cb(struct wsg_timer *t, void *ud)
{
    struct tfree *f = ud;
    cr_assert_eq(t, f->self);
    f->self_n++;
    wsg_timer_free(f->victim);
    f->victim = NULL;
    cr_assert_eq(wsg_timer_new(f->loop, fresh_cb, f, &f->fresh), WSG_OK);
    wsg_timer_start(f->fresh, wsg_loop_now(f->loop)); /* due at once */
    wsg_timer_free(t);
    f->self = NULL;
}

Test(io_loop, timer_free_inside_callback, .timeout = 10)
{
    struct wsg_loop *loop = loop_new();
    struct tfree f;
    uint64_t due = wsg_clock_ms() + 10;

    memset(&f, 0, sizeof f);
    f.loop = loop;
    cr_assert_eq(wsg_timer_new(loop, self_free_cb, &f, &f.self), WSG_OK);
    cr_assert_eq(wsg_timer_new(loop, victim_cb, &f, &f.victim), WSG_OK);
    wsg_timer_start(f.self, due);
    wsg_timer_start(f.victim, due + 1); /* same round, later in the heap */
    /* Both due by the time the loop wakes up. */
    usleep(20000);
    cr_assert_geq(wsg_loop_run_once(loop, 0), 1);
    cr_assert_eq(wsg_loop_run(loop), WSG_OK);
    cr_expect_eq(f.self_n, 1);
    cr_expect_eq(f.victim_n, 0, "a timer freed by another callback still ran");
    cr_expect_eq(f.fresh_n, 1);
    cr_expect_null(f.self);
    cr_expect_null(f.fresh);
    wsg_loop_free(loop);
}

/* Many timers: heap order under churn (random deadlines, some stopped). */
struct many {
    uint64_t last_deadline;
    uint64_t deadline[200];
    int idx[200];
    int fired;
    int order_errors;
};

struct mslot {
    struct many *m;
    int i;
};

static void many_cb(struct wsg_timer *t, void *ud)
{
    struct mslot *s = ud;
    (void)t;
    if (s->m->deadline[s->i] < s->m->last_deadline)
        s->m->order_errors++;
    s->m->last_deadline = s->m->deadline[s->i];
    s->m->fired++;
}

Test(io_loop, timer_heap_many_with_stops, .timeout = 10)
{
    struct wsg_loop *loop = loop_new();
    struct many m;
    struct mslot sl[200];
    struct wsg_timer *t[200];
    uint64_t t0 = wsg_clock_ms() + 5;
    unsigned seed = 12345;

    memset(&m, 0, sizeof m);
    for (int i = 0; i < 200; i++) {
        seed = seed * 1103515245u + 12345u;
        m.deadline[i] = t0 + (seed >> 16) % 80;
        sl[i].m = &m;
        sl[i].i = i;
        cr_assert_eq(wsg_timer_new(loop, many_cb, &sl[i], &t[i]), WSG_OK);
        wsg_timer_start(t[i], m.deadline[i]);
    }
    for (int i = 0; i < 200; i += 3)
        wsg_timer_stop(t[i]);
    cr_assert_eq(wsg_loop_run(loop), WSG_OK);
    cr_expect_eq(m.fired, 200 - 67);
    cr_expect_eq(m.order_errors, 0);
    for (int i = 0; i < 200; i++)
        wsg_timer_free(t[i]);
    wsg_loop_free(loop);
}

/* ---- stop, run_once ------------------------------------------------------- */

struct stopper {
    struct wsg_loop *loop;
    int count;
};

static void stop_cb(struct wsg_timer *t, void *ud)
{
    struct stopper *s = ud;
    s->count++;
    if (s->count == 3)
        wsg_loop_stop(s->loop);
    /* Keeps the loop busy; gives up after 100 so a broken stop fails fast. */
    if (s->count < 100)
        wsg_timer_start(t, wsg_loop_now(s->loop) + 2);
}

Test(io_loop, stop_from_callback_returns_run, .timeout = 10)
{
    struct wsg_loop *loop = loop_new();
    struct stopper s = {loop, 0};
    struct wsg_timer *t;

    cr_assert_eq(wsg_timer_new(loop, stop_cb, &s, &t), WSG_OK);
    wsg_timer_start(t, wsg_clock_ms());
    cr_assert_eq(wsg_loop_run(loop), WSG_OK);
    cr_expect_eq(s.count, 3, "wsg_loop_stop did not stop the run (%d)", s.count);
    /* Runs again after a stop (the flag does not stick). */
    s.count = 0;
    cr_assert_eq(wsg_loop_run(loop), WSG_OK);
    cr_expect_eq(s.count, 3);
    wsg_timer_free(t);
    wsg_loop_free(loop);
}

Test(io_loop, run_once_zero_polls, .timeout = 10)
{
    struct wsg_loop *loop = loop_new();
    struct wsg_timer *t;
    int n = 0;
    uint64_t t0;

    /* Empty loop: run returns at once, run_once(0) runs nothing. */
    t0 = wsg_clock_ms();
    cr_assert_eq(wsg_loop_run(loop), WSG_OK);
    cr_assert_eq(wsg_loop_run_once(loop, 0), 0);
    /* A timer far away must not make run_once(0) wait. */
    cr_assert_eq(wsg_timer_new(loop, never_cb, &n, &t), WSG_OK);
    wsg_timer_start(t, wsg_clock_ms() + 5000);
    for (int i = 0; i < 10; i++)
        cr_assert_eq(wsg_loop_run_once(loop, 0), 0);
    cr_expect_lt(wsg_clock_ms() - t0, 200, "run_once(0) blocked");
    cr_expect_eq(n, 0);
    /* A bounded wait returns after about the timeout. */
    t0 = wsg_clock_ms();
    cr_assert_eq(wsg_loop_run_once(loop, 30), 0);
    cr_expect_geq(wsg_clock_ms() - t0, 25);
    cr_expect_lt(wsg_clock_ms() - t0, 1000);
    /* A due timer runs in a run_once(0) round, and now advances. */
    wsg_timer_start(t, wsg_clock_ms());
    cr_assert_eq(wsg_loop_run_once(loop, 0), 1);
    cr_expect_eq(n, 1);
    cr_expect_leq(wsg_loop_now(loop), wsg_clock_ms());
    cr_expect_geq(wsg_loop_now(loop) + 50, wsg_clock_ms());
    wsg_timer_free(t);
    wsg_loop_free(loop);
}

Test(io_loop, invalid_args, .timeout = 10)
{
    struct wsg_loop *loop = NULL;
    struct wsg_loop_config cfg;
    struct wsg_watch *w = NULL;
    struct wsg_timer *t = NULL;

    wsg_loop_config_init_default(&cfg);
    cr_expect_eq(cfg.max_events, 256u);
    cr_expect_eq(cfg.read_buffer, 64u * 1024u);
    cr_expect_eq(wsg_loop_new(&cfg, NULL), WSG_ERR_INVALID_ARG);
    cfg.max_events = 0;
    cr_expect_eq(wsg_loop_new(&cfg, &loop), WSG_ERR_INVALID_ARG);
    cr_expect_null(loop);
    loop = loop_new();
    cr_expect_eq(wsg_watch_new(loop, -1, WSG_IO_READ, NULL, NULL, &w),
                 WSG_ERR_INVALID_ARG);
    cr_expect_eq(wsg_timer_new(loop, NULL, NULL, &t), WSG_ERR_INVALID_ARG);
    cr_expect_eq(wsg_watch_fd(NULL), -1);
    wsg_watch_free(NULL);
    wsg_timer_free(NULL);
    wsg_loop_free(loop);
    wsg_loop_free(NULL);
}

/* ---- watches -------------------------------------------------------------- */

struct wrec {
    int n;
    unsigned rev;
    unsigned all;
    char got[64];
    size_t got_len;
    bool free_self;
    bool read_it;
    struct wsg_watch *other;    /* freed from this callback */
};

static void wrec_cb(struct wsg_watch *w, unsigned rev, void *ud)
{
    struct wrec *r = ud;
    r->n++;
    r->rev = rev;
    r->all |= rev;
    if (r->read_it && (rev & WSG_IO_READ)) {
        ssize_t k = read(wsg_watch_fd(w), r->got + r->got_len,
                         sizeof r->got - r->got_len);
        if (k > 0)
            r->got_len += (size_t)k;
    }
    if (r->other) {
        wsg_watch_free(r->other);
        r->other = NULL;
    }
    if (r->free_self)
        wsg_watch_free(w);
}

Test(io_loop, watch_read_and_write_readiness, .timeout = 10)
{
    struct wsg_loop *loop = loop_new();
    int sv[2];
    struct wsg_watch *w;
    struct wrec r;

    cr_assert_eq(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, sv), 0);
    memset(&r, 0, sizeof r);
    r.read_it = true;
    cr_assert_eq(wsg_watch_new(loop, sv[0], WSG_IO_READ, wrec_cb, &r, &w),
                 WSG_OK);
    cr_assert_eq(wsg_watch_fd(w), sv[0]);
    /* Nothing to read: no callback. */
    cr_expect_eq(wsg_loop_run_once(loop, 20), 0);
    cr_expect_eq(r.n, 0);
    cr_assert_eq(write(sv[1], "hello", 5), 5);
    cr_expect_eq(wsg_loop_run_once(loop, 1000), 1);
    cr_expect_eq(r.n, 1);
    cr_expect_eq(r.rev & (WSG_IO_READ | WSG_IO_WRITE), WSG_IO_READ);
    cr_expect_eq(r.got_len, 5);
    cr_expect_arr_eq(r.got, "hello", 5);

    /* Write interest: a socket with room is writable at once. */
    r.n = 0;
    cr_assert_eq(wsg_watch_set(w, WSG_IO_WRITE), WSG_OK);
    cr_expect_eq(wsg_loop_run_once(loop, 1000), 1);
    cr_expect(r.rev & WSG_IO_WRITE);
    cr_expect_not(r.rev & WSG_IO_READ);

    /* Idle watch (events 0): no callbacks, and run() has nothing to wait
     * for, so it returns. */
    r.n = 0;
    cr_assert_eq(wsg_watch_set(w, 0), WSG_OK);
    cr_assert_eq(write(sv[1], "x", 1), 1);
    cr_expect_eq(wsg_loop_run_once(loop, 20), 0);
    cr_expect_eq(wsg_loop_run(loop), WSG_OK);
    cr_expect_eq(r.n, 0);

    /* Level-triggered: unread data reports again every round. */
    r.read_it = false;
    cr_assert_eq(wsg_watch_set(w, WSG_IO_READ), WSG_OK);
    cr_expect_eq(wsg_loop_run_once(loop, 100), 1);
    cr_expect_eq(wsg_loop_run_once(loop, 100), 1);
    cr_expect_eq(r.n, 2);

    /* Hang-up: the peer closes -> READ (EOF) and ERROR reported. */
    r.read_it = true;
    r.all = 0;
    close(sv[1]);
    run_until(loop, 200, NULL, NULL);
    cr_expect(r.all & WSG_IO_READ);
    cr_expect(r.all & WSG_IO_ERROR, "hang-up not reported as WSG_IO_ERROR "
                                    "(revents 0x%x)", r.all);
    wsg_watch_free(w);
    wsg_loop_run_once(loop, 0);
    close(sv[0]);
    wsg_loop_free(loop);
}

Test(io_loop, watch_free_inside_callbacks, .timeout = 10)
{
    struct wsg_loop *loop = loop_new();
    int a[2], b[2];
    struct wsg_watch *wa, *wb;
    struct wrec ra, rb;

    cr_assert_eq(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, a), 0);
    cr_assert_eq(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, b), 0);
    memset(&ra, 0, sizeof ra);
    memset(&rb, 0, sizeof rb);
    /* Both writable in the same round: whichever runs first frees the
     * other and itself; the other must never be called. */
    ra.free_self = rb.free_self = true;
    cr_assert_eq(wsg_watch_new(loop, a[0], WSG_IO_WRITE, wrec_cb, &ra, &wa),
                 WSG_OK);
    cr_assert_eq(wsg_watch_new(loop, b[0], WSG_IO_WRITE, wrec_cb, &rb, &wb),
                 WSG_OK);
    ra.other = wb;
    rb.other = wa;
    cr_expect_eq(wsg_loop_run_once(loop, 1000), 1);
    cr_expect_eq(ra.n + rb.n, 1, "a watch freed in this round still ran "
                                 "(%d + %d)", ra.n, rb.n);
    /* Nothing left: run returns at once. */
    cr_expect_eq(wsg_loop_run(loop), WSG_OK);
    cr_expect_eq(ra.n + rb.n, 1);
    /* The fds are not owned by the watches: still open. */
    cr_expect_eq(write(a[1], "z", 1), 1);
    cr_expect_eq(write(b[1], "z", 1), 1);
    close(a[0]);
    close(a[1]);
    close(b[0]);
    close(b[1]);
    wsg_loop_free(loop);
}

struct wstop {
    struct wsg_loop *loop;
    int n;
};

static void wstop_cb(struct wsg_watch *w, unsigned rev, void *ud)
{
    struct wstop *s = ud;
    (void)rev;
    if (++s->n == 5)
        wsg_loop_stop(s->loop);
    if (s->n >= 1000)
        wsg_watch_set(w, 0); /* broken stop: end the run anyway */
}

Test(io_loop, stop_from_watch_callback, .timeout = 10)
{
    struct wsg_loop *loop = loop_new();
    int sv[2];
    struct wsg_watch *w;
    struct wstop s = {loop, 0};

    cr_assert_eq(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, sv), 0);
    /* Always writable: only wsg_loop_stop can end this run. */
    cr_assert_eq(wsg_watch_new(loop, sv[0], WSG_IO_WRITE, wstop_cb, &s, &w),
                 WSG_OK);
    cr_assert_eq(wsg_loop_run(loop), WSG_OK);
    cr_expect_eq(s.n, 5);
    wsg_watch_free(w);
    wsg_loop_run_once(loop, 0);
    close(sv[0]);
    close(sv[1]);
    wsg_loop_free(loop);
}

/* ---- rng ------------------------------------------------------------------ */

Test(io_rng, fill_differs_each_call, .timeout = 10)
{
    struct wsg_rng *rng = NULL;
    uint8_t a[64], b[64], zero[64];
    uint8_t big[100000];

    cr_assert_eq(wsg_rng_new(NULL, NULL, &rng), WSG_OK);
    cr_assert_not_null(rng);
    memset(a, 0, sizeof a);
    memset(b, 0, sizeof b);
    memset(zero, 0, sizeof zero);
    cr_assert_eq(wsg_rng_fill(rng, a, sizeof a), WSG_OK);
    cr_assert_eq(wsg_rng_fill(rng, b, sizeof b), WSG_OK);
    cr_expect_arr_neq(a, b, sizeof a);
    cr_expect_arr_neq(a, zero, sizeof a);
    /* Over MBEDTLS_CTR_DRBG_MAX_REQUEST (1024) in one call: all filled
     * (no 1 KiB block repeated or left zero). */
    memset(big, 0, sizeof big);
    cr_assert_eq(wsg_rng_fill(rng, big, sizeof big), WSG_OK);
    size_t zeros = 0;
    for (size_t i = 0; i < sizeof big; i++)
        zeros += big[i] == 0;
    cr_expect_lt(zeros, 1000, "%zu zero bytes in 100000", zeros);
    cr_expect_arr_neq(big, big + 1024, 1024);
    cr_expect_eq(wsg_rng_fill(rng, NULL, 0), WSG_OK);
    cr_expect_eq(wsg_rng_fill(rng, NULL, 4), WSG_ERR_INVALID_ARG);

    /* Two generators give different streams. */
    struct wsg_rng *rng2 = NULL;
    cr_assert_eq(wsg_rng_new(NULL, "other", &rng2), WSG_OK);
    cr_assert_eq(wsg_rng_fill(rng2, b, sizeof b), WSG_OK);
    cr_assert_eq(wsg_rng_fill(rng, a, sizeof a), WSG_OK);
    cr_expect_arr_neq(a, b, sizeof a);
    wsg_rng_free(rng2);
    wsg_rng_free(rng);
    wsg_rng_free(NULL);
}

Test(io_rng, random_plugs_into_core_masks, .timeout = 10)
{
    struct wsg_rng *rng = NULL;
    struct wsg_conn_config cfg;
    struct wsg_conn *c = NULL, *srv = NULL;
    struct wsg_iovec iov[16];
    uint8_t wire[4096];
    size_t wlen = 0, n;
    uint8_t keys[8][4];

    cr_assert_eq(wsg_rng_new(NULL, "test", &rng), WSG_OK);
    wsg_conn_config_init_default(&cfg);
    cfg.role = WSG_ROLE_CLIENT;
    cfg.random = wsg_rng_random(rng);
    cr_assert_not_null(cfg.random.fill);
    /* The plug alone works as the core's callback. */
    uint8_t k1[16] = {0}, k2[16] = {0};
    cr_assert_eq(cfg.random.fill(cfg.random.ud, k1, sizeof k1), 0);
    cr_assert_eq(cfg.random.fill(cfg.random.ud, k2, sizeof k2), 0);
    cr_expect_arr_neq(k1, k2, sizeof k1);

    cr_assert_eq(wsg_conn_new(&cfg, &c), WSG_OK);
    for (int i = 0; i < 8; i++)
        cr_assert_eq(wsg_conn_send(c, WSG_OP_TEXT, "abcdefgh", 8), WSG_OK);
    while ((n = wsg_conn_output(c, iov, 16)) > 0) {
        size_t tot = 0;
        for (size_t i = 0; i < n; i++) {
            cr_assert_leq(wlen + iov[i].len, sizeof wire);
            memcpy(wire + wlen, iov[i].base, iov[i].len);
            wlen += iov[i].len;
            tot += iov[i].len;
        }
        wsg_conn_output_consume(c, tot);
    }
    cr_assert_eq(wlen, 8u * (2 + 4 + 8));
    for (int i = 0; i < 8; i++) {
        const uint8_t *f = wire + i * 14;
        cr_expect_eq(f[0], 0x81);
        cr_expect_eq(f[1], 0x80 | 8, "client frame not masked");
        memcpy(keys[i], f + 2, 4);
        cr_expect_arr_neq(f + 6, "abcdefgh", 8, "payload went out in clear");
    }
    /* Fresh key per frame (T10). */
    for (int i = 0; i < 8; i++)
        for (int j = i + 1; j < 8; j++)
            cr_expect_arr_neq(keys[i], keys[j], 4, "key reused: %d %d", i, j);

    /* And a server conn unmasks them back to the text. */
    wsg_conn_config_init_default(&cfg);
    cr_assert_eq(wsg_conn_new(&cfg, &srv), WSG_OK);
    size_t off = 0;
    int msgs = 0;
    while (off < wlen) {
        struct wsg_event ev;
        size_t used = 0;
        cr_assert_eq(wsg_conn_feed(srv, wire + off, wlen - off, 0, &used, &ev),
                     WSG_OK);
        off += used;
        if (ev.type == WSG_EV_MESSAGE) {
            cr_expect_eq(ev.len, 8);
            cr_expect_arr_eq(ev.data, "abcdefgh", 8);
            msgs++;
        }
        if (!used && ev.type == WSG_EV_NONE)
            break;
    }
    cr_expect_eq(msgs, 8);
    wsg_conn_free(srv);
    wsg_conn_free(c);
    wsg_rng_free(rng);
}

/* A watch whose fd was closed and whose number was reused by a new watched
 * fd: freeing (or setting) the stale watch must not touch the new
 * registration (the loop tracks which watch owns each fd number). */
Test(io_loop, watch_free_after_close_spares_a_reused_fd, .timeout = 10)
{
    struct wsg_loop *loop = loop_new();
    int a[2], b[2];
    struct wsg_watch *wa, *wb;
    struct wrec ra, rb;

    memset(&ra, 0, sizeof ra);
    memset(&rb, 0, sizeof rb);
    cr_assert_eq(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, a), 0);
    cr_assert_eq(wsg_watch_new(loop, a[0], WSG_IO_READ, wrec_cb, &ra, &wa),
                 WSG_OK);
    int old = a[0];
    close(a[0]);
    close(a[1]);
    cr_assert_eq(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, b), 0);
    cr_assert_eq(b[0], old, "fd number not reused (%d vs %d)", b[0], old);
    rb.read_it = true;
    cr_assert_eq(wsg_watch_new(loop, b[0], WSG_IO_READ, wrec_cb, &rb, &wb),
                 WSG_OK);
    cr_expect_eq(wsg_watch_set(wa, 0), WSG_ERR_IO, "stale watch modified");
    wsg_watch_free(wa); /* the stale watch of the closed fd */
    cr_assert_eq(write(b[1], "y", 1), 1);
    run_until(loop, 100, int_pos, &rb.n);
    cr_expect_eq(ra.n, 0);
    cr_expect_eq(rb.n, 1, "the new watch on the reused fd number was "
                          "unregistered by freeing the stale one");
    struct wsg_watch *dup = NULL;
    cr_expect_eq(wsg_watch_new(loop, b[0], WSG_IO_READ, wrec_cb, &ra, &dup),
                 WSG_ERR_IO, "a second watch on a live fd");
    cr_expect_null(dup);
    wsg_watch_free(wb);
    wsg_loop_run_once(loop, 0);
    close(b[0]);
    close(b[1]);
    wsg_loop_free(loop);
}

static void *only_malloc(size_t n, void *ud)
{
    (void)ud;
    return malloc(n);
}

/* An allocator without free is refused everywhere, as in core and
 * handshake, instead of being silently replaced by libc. */
Test(io_loop, incomplete_allocator_is_refused, .timeout = 10)
{
    struct wsg_allocator half = {.malloc = only_malloc};
    struct wsg_loop_config cfg;
    struct wsg_loop *loop = (struct wsg_loop *)&cfg; /* poisoned */
    struct wsg_rng *rng = (struct wsg_rng *)&cfg;

    wsg_loop_config_init_default(&cfg);
    cfg.alloc = &half;
    cr_assert_eq(wsg_loop_new(&cfg, &loop), WSG_ERR_INVALID_ARG);
    cr_assert_null(loop);
    cr_assert_eq(wsg_rng_new(&half, NULL, &rng), WSG_ERR_INVALID_ARG);
    cr_assert_null(rng);

    cfg.alloc = NULL;
    cr_assert_eq(wsg_loop_new(&cfg, &loop), WSG_OK);
    struct wsg_server_config sc;
    struct wsg_server *srv = NULL;
    wsg_server_config_init_default(&sc);
    sc.host = "127.0.0.1";
    sc.port = "0";
    sc.alloc = &half;
    cr_assert_eq(wsg_server_new(loop, &sc, &srv), WSG_ERR_INVALID_ARG);
    cr_assert_null(srv);
    wsg_loop_free(loop);
}
