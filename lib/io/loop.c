/* The epoll loop: fd watches (level-triggered), one-shot timers in a binary
 * min-heap of CLOCK_MONOTONIC ms deadlines, and deferred work that runs
 * after each round's events. Objects freed during a dispatch are buried in
 * a graveyard and freed once the round's event array is no longer read.
 * The loop remembers which watch owns each fd number's registration, so a
 * watch whose fd was closed (and the number reused) never touches the new
 * registration. */
#include <errno.h>
#include <string.h>
#include <sys/epoll.h>
#include <time.h>
#include <unistd.h>

#include "io/io_internal.h"

struct wsg_watch {
    struct wsg_loop *loop;
    int fd;
    unsigned events;
    bool dead;
    bool stale;             /* fd closed, number re-registered by another
                               watch: no epoll_ctl on it any more */
    void (*cb)(struct wsg_watch *w, unsigned revents, void *ud);
    void *ud;
    struct wsg_watch *next; /* graveyard */
};

struct wsg_timer {
    struct wsg_loop *loop;
    uint64_t deadline;
    size_t idx;             /* heap index; SIZE_MAX when not armed */
    void (*cb)(struct wsg_timer *t, void *ud);
    void *ud;
};

struct wsg_loop {
    struct wsg_allocator alloc;
    int epfd;
    struct epoll_event *evs;
    uint32_t max_events;
    uint8_t *rbuf;
    size_t rbuf_len;
    struct wsg_timer **heap;
    size_t heap_len, heap_cap;
    size_t timers;          /* live timers: heap_cap >= timers always, so
                               arming never allocates */
    size_t active;          /* live watches with events != 0 */
    size_t watches;         /* live watches */
    struct wsg_watch *graveyard;
    struct wsg_watch **byfd;  /* fd number -> the watch registered on it */
    size_t byfd_len;
    struct wsg__defer *dq_head, *dq_tail;
    uint64_t now;
    bool stop;
};

/* ---- clock ---------------------------------------------------------------- */

uint64_t wsg_clock_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

/* ---- loop ----------------------------------------------------------------- */

void wsg_loop_config_init_default(struct wsg_loop_config *cfg)
{
    memset(cfg, 0, sizeof *cfg);
    cfg->max_events = 256;
    cfg->read_buffer = 64 * 1024;
}

int wsg_loop_new(const struct wsg_loop_config *cfg, struct wsg_loop **out)
{
    struct wsg_loop_config def;
    struct wsg_allocator a;
    struct wsg_loop *loop;

    if (!out)
        return WSG_ERR_INVALID_ARG;
    *out = NULL;
    if (!cfg) {
        wsg_loop_config_init_default(&def);
        cfg = &def;
    }
    if (cfg->max_events == 0 || cfg->max_events > 65536 ||
        cfg->read_buffer < 1024 || cfg->read_buffer > (64u << 20))
        return WSG_ERR_INVALID_ARG;
    if (!wsg__alloc_init(&a, cfg->alloc))
        return WSG_ERR_INVALID_ARG; /* malloc or free missing */
    loop = wsg__zalloc(&a, sizeof *loop);
    if (!loop)
        return WSG_ERR_NOMEM;
    loop->alloc = a;
    loop->max_events = cfg->max_events;
    loop->rbuf_len = cfg->read_buffer;
    loop->evs = wsg__alloc(&a, sizeof *loop->evs * cfg->max_events);
    loop->rbuf = wsg__alloc(&a, cfg->read_buffer);
    if (!loop->evs || !loop->rbuf) {
        wsg__free(&a, loop->evs);
        wsg__free(&a, loop->rbuf);
        wsg__free(&a, loop);
        return WSG_ERR_NOMEM;
    }
    loop->epfd = epoll_create1(EPOLL_CLOEXEC);
    if (loop->epfd < 0) {
        wsg__free(&a, loop->evs);
        wsg__free(&a, loop->rbuf);
        wsg__free(&a, loop);
        return WSG_ERR_IO;
    }
    loop->now = wsg_clock_ms();
    *out = loop;
    return WSG_OK;
}

static void bury_flush(struct wsg_loop *loop)
{
    while (loop->graveyard) {
        struct wsg_watch *w = loop->graveyard;
        loop->graveyard = w->next;
        wsg__free(&loop->alloc, w);
    }
}

void wsg_loop_free(struct wsg_loop *loop)
{
    if (!loop)
        return;
    bury_flush(loop);
    /* Leftover timers are the caller's bug; free them anyway. */
    for (size_t i = 0; i < loop->heap_len; i++)
        wsg__free(&loop->alloc, loop->heap[i]);
    wsg__free(&loop->alloc, loop->heap);
    wsg__free(&loop->alloc, loop->byfd);
    close(loop->epfd);
    wsg__free(&loop->alloc, loop->evs);
    wsg__free(&loop->alloc, loop->rbuf);
    wsg__free(&loop->alloc, loop);
}

const struct wsg_allocator *wsg__loop_alloc(const struct wsg_loop *loop)
{
    return &loop->alloc;
}

uint8_t *wsg__loop_rbuf(struct wsg_loop *loop, size_t *len)
{
    *len = loop->rbuf_len;
    return loop->rbuf;
}

uint64_t wsg_loop_now(const struct wsg_loop *loop) { return loop->now; }

void wsg_loop_stop(struct wsg_loop *loop) { loop->stop = true; }

/* ---- deferred work -------------------------------------------------------- */

void wsg__defer_queue(struct wsg_loop *loop, struct wsg__defer *d)
{
    if (d->queued)
        return;
    d->queued = true;
    d->next = NULL;
    d->prev = loop->dq_tail;
    if (loop->dq_tail)
        loop->dq_tail->next = d;
    else
        loop->dq_head = d;
    loop->dq_tail = d;
}

void wsg__defer_cancel(struct wsg_loop *loop, struct wsg__defer *d)
{
    if (!d->queued)
        return;
    if (d->prev)
        d->prev->next = d->next;
    else
        loop->dq_head = d->next;
    if (d->next)
        d->next->prev = d->prev;
    else
        loop->dq_tail = d->prev;
    d->prev = d->next = NULL;
    d->queued = false;
}

/* Runs queued work, including work queued meanwhile, a bounded number of
 * times so that a callback that keeps re-queuing cannot spin here. */
static int run_deferred(struct wsg_loop *loop)
{
    int n = 0;
    for (int i = 0; i < 100000 && loop->dq_head; i++) {
        struct wsg__defer *d = loop->dq_head;
        wsg__defer_cancel(loop, d);
        d->cb(d);
        n++;
    }
    return n;
}

/* ---- watches -------------------------------------------------------------- */

static uint32_t to_epoll(unsigned ev)
{
    uint32_t e = 0;
    if (ev & WSG_IO_READ)
        e |= EPOLLIN | EPOLLRDHUP;
    if (ev & WSG_IO_WRITE)
        e |= EPOLLOUT;
    return e;
}

/* Makes room for fd in loop->byfd. */
static int byfd_reserve(struct wsg_loop *loop, int fd)
{
    size_t need = (size_t)fd + 1, cap;
    struct wsg_watch **t;

    if (need <= loop->byfd_len)
        return WSG_OK;
    cap = loop->byfd_len ? loop->byfd_len : 64;
    while (cap < need)
        cap *= 2;
    t = wsg__zalloc(&loop->alloc, cap * sizeof *t);
    if (!t)
        return WSG_ERR_NOMEM;
    if (loop->byfd_len)
        memcpy(t, loop->byfd, loop->byfd_len * sizeof *t);
    wsg__free(&loop->alloc, loop->byfd);
    loop->byfd = t;
    loop->byfd_len = cap;
    return WSG_OK;
}

int wsg_watch_new(struct wsg_loop *loop, int fd, unsigned events,
                  void (*cb)(struct wsg_watch *w, unsigned revents, void *ud),
                  void *ud, struct wsg_watch **out)
{
    struct wsg_watch *w;
    struct epoll_event ev;

    if (!loop || fd < 0 || !cb || !out)
        return WSG_ERR_INVALID_ARG;
    *out = NULL;
    if (byfd_reserve(loop, fd) != WSG_OK)
        return WSG_ERR_NOMEM;
    w = wsg__zalloc(&loop->alloc, sizeof *w);
    if (!w)
        return WSG_ERR_NOMEM;
    w->loop = loop;
    w->fd = fd;
    w->events = events & (WSG_IO_READ | WSG_IO_WRITE);
    w->cb = cb;
    w->ud = ud;
    memset(&ev, 0, sizeof ev);
    ev.events = to_epoll(w->events);
    ev.data.ptr = w;
    if (epoll_ctl(loop->epfd, EPOLL_CTL_ADD, fd, &ev) != 0) {
        /* EEXIST: another live watch has this fd. */
        wsg__free(&loop->alloc, w);
        return WSG_ERR_IO;
    }
    /* The ADD succeeded, so a previous watch on this number lost its
     * registration when its fd was closed: it must not DEL or MOD ours. */
    if (loop->byfd[fd])
        loop->byfd[fd]->stale = true;
    loop->byfd[fd] = w;
    loop->watches++;
    if (w->events)
        loop->active++;
    *out = w;
    return WSG_OK;
}

int wsg_watch_set(struct wsg_watch *w, unsigned events)
{
    struct epoll_event ev;

    if (!w || w->dead)
        return WSG_ERR_INVALID_ARG;
    if (w->stale)
        return WSG_ERR_IO; /* its fd was closed */
    events &= WSG_IO_READ | WSG_IO_WRITE;
    if (events == w->events)
        return WSG_OK;
    memset(&ev, 0, sizeof ev);
    ev.events = to_epoll(events);
    ev.data.ptr = w;
    if (epoll_ctl(w->loop->epfd, EPOLL_CTL_MOD, w->fd, &ev) != 0)
        return WSG_ERR_IO;
    if (w->events && !events)
        w->loop->active--;
    else if (!w->events && events)
        w->loop->active++;
    w->events = events;
    return WSG_OK;
}

int wsg_watch_fd(const struct wsg_watch *w) { return w ? w->fd : -1; }

void wsg_watch_free(struct wsg_watch *w)
{
    struct wsg_loop *loop;

    if (!w || w->dead)
        return;
    loop = w->loop;
    /* The fd may be closed already (then it left the epoll set by itself);
     * a stale watch's number belongs to another watch now. */
    if (!w->stale) {
        epoll_ctl(loop->epfd, EPOLL_CTL_DEL, w->fd, NULL);
        loop->byfd[w->fd] = NULL;
    }
    if (w->events)
        loop->active--;
    loop->watches--;
    w->dead = true;
    w->next = loop->graveyard;
    loop->graveyard = w;
}

/* ---- timers --------------------------------------------------------------- */

static void heap_swap(struct wsg_loop *loop, size_t a, size_t b)
{
    struct wsg_timer *t = loop->heap[a];
    loop->heap[a] = loop->heap[b];
    loop->heap[b] = t;
    loop->heap[a]->idx = a;
    loop->heap[b]->idx = b;
}

static void heap_up(struct wsg_loop *loop, size_t i)
{
    while (i > 0) {
        size_t p = (i - 1) / 2;
        if (loop->heap[p]->deadline <= loop->heap[i]->deadline)
            break;
        heap_swap(loop, p, i);
        i = p;
    }
}

static void heap_down(struct wsg_loop *loop, size_t i)
{
    for (;;) {
        size_t l = 2 * i + 1, r = l + 1, m = i;
        if (l < loop->heap_len &&
            loop->heap[l]->deadline < loop->heap[m]->deadline)
            m = l;
        if (r < loop->heap_len &&
            loop->heap[r]->deadline < loop->heap[m]->deadline)
            m = r;
        if (m == i)
            break;
        heap_swap(loop, i, m);
        i = m;
    }
}

static void heap_remove(struct wsg_loop *loop, struct wsg_timer *t)
{
    size_t i = t->idx, last = loop->heap_len - 1;

    if (i != last) {
        heap_swap(loop, i, last);
        loop->heap_len--;
        heap_down(loop, i);
        heap_up(loop, i);
    } else {
        loop->heap_len--;
    }
    t->idx = SIZE_MAX;
}

int wsg_timer_new(struct wsg_loop *loop,
                  void (*cb)(struct wsg_timer *t, void *ud), void *ud,
                  struct wsg_timer **out)
{
    struct wsg_timer *t;

    if (!loop || !cb || !out)
        return WSG_ERR_INVALID_ARG;
    if (loop->timers == loop->heap_cap) {
        size_t cap = loop->heap_cap ? loop->heap_cap * 2 : 64;
        struct wsg_timer **h = wsg__alloc(&loop->alloc, cap * sizeof *h);
        if (!h)
            return WSG_ERR_NOMEM;
        if (loop->heap_len)
            memcpy(h, loop->heap, loop->heap_len * sizeof *h);
        wsg__free(&loop->alloc, loop->heap);
        loop->heap = h;
        loop->heap_cap = cap;
    }
    t = wsg__zalloc(&loop->alloc, sizeof *t);
    if (!t)
        return WSG_ERR_NOMEM;
    loop->timers++;
    t->loop = loop;
    t->idx = SIZE_MAX;
    t->deadline = UINT64_MAX;
    t->cb = cb;
    t->ud = ud;
    *out = t;
    return WSG_OK;
}

void wsg_timer_stop(struct wsg_timer *t)
{
    if (t && t->idx != SIZE_MAX)
        heap_remove(t->loop, t);
}

void wsg_timer_start(struct wsg_timer *t, uint64_t deadline_ms)
{
    struct wsg_loop *loop;

    if (!t)
        return;
    if (deadline_ms == UINT64_MAX) {
        wsg_timer_stop(t);
        return;
    }
    loop = t->loop;
    if (t->idx != SIZE_MAX) {
        uint64_t old = t->deadline;
        t->deadline = deadline_ms;
        if (deadline_ms < old)
            heap_up(loop, t->idx);
        else
            heap_down(loop, t->idx);
        return;
    }
    t->deadline = deadline_ms;
    t->idx = loop->heap_len;
    loop->heap[loop->heap_len++] = t;
    heap_up(loop, t->idx);
}

void wsg_timer_free(struct wsg_timer *t)
{
    if (!t)
        return;
    wsg_timer_stop(t);
    t->loop->timers--;
    wsg__free(&t->loop->alloc, t);
}

static int run_timers(struct wsg_loop *loop)
{
    int n = 0;
    /* Bounded: a timer re-armed in the past runs again next round. */
    size_t budget = loop->heap_len;
    while (budget-- > 0 && loop->heap_len &&
           loop->heap[0]->deadline <= loop->now) {
        struct wsg_timer *t = loop->heap[0];
        heap_remove(loop, t);
        t->cb(t, t->ud);
        n++;
    }
    return n;
}

/* ---- running -------------------------------------------------------------- */

static int wait_timeout(struct wsg_loop *loop, int timeout_ms)
{
    uint64_t next, now;
    int t;

    if (loop->dq_head)
        return 0;
    if (!loop->heap_len)
        return timeout_ms;
    next = loop->heap[0]->deadline;
    now = wsg_clock_ms();
    if (next <= now)
        return 0;
    t = next - now > 3600000u ? 3600000 : (int)(next - now);
    if (timeout_ms >= 0 && timeout_ms < t)
        t = timeout_ms;
    return t;
}

int wsg_loop_run_once(struct wsg_loop *loop, int timeout_ms)
{
    int n, ran = 0;

    n = epoll_wait(loop->epfd, loop->evs, (int)loop->max_events,
                   wait_timeout(loop, timeout_ms));
    if (n < 0) {
        if (errno != EINTR)
            return WSG_ERR_IO;
        n = 0;
    }
    loop->now = wsg_clock_ms();
    for (int i = 0; i < n; i++) {
        struct wsg_watch *w = loop->evs[i].data.ptr;
        uint32_t e = loop->evs[i].events;
        unsigned rev = 0;

        if (w->dead)
            continue;
        if (e & (EPOLLIN | EPOLLRDHUP | EPOLLHUP))
            rev |= WSG_IO_READ;
        if (e & EPOLLOUT)
            rev |= WSG_IO_WRITE;
        if (e & (EPOLLERR | EPOLLHUP))
            rev |= WSG_IO_ERROR;
        w->cb(w, rev, w->ud);
        ran++;
    }
    ran += run_timers(loop);
    ran += run_deferred(loop);
    bury_flush(loop);
    return ran;
}

int wsg_loop_run(struct wsg_loop *loop)
{
    loop->stop = false;
    while (!loop->stop) {
        int rc;
        if (!loop->active && !loop->heap_len && !loop->dq_head)
            break;
        rc = wsg_loop_run_once(loop, -1);
        if (rc < 0)
            return rc;
    }
    loop->stop = false;
    return WSG_OK;
}
