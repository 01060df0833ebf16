/* wsg-relay's upstream probe (examples/streamlit-relay/probe.c), on a real
 * loop against a scripted upstream in the same process: the status of a
 * 200 or a 503 head, 0 for garbage, a refused connect, a silent upstream
 * (after the deadline) and an early close; the request it sends. */
#include <criterion/criterion.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <wsguard/io.h>

#include "relay_int.h"

struct script {
    const char *reply;  /* sent once the request head is in; NULL: none */
    bool refuse;        /* bound, not listening: connect refused */
    bool close_now;     /* accept, then close without reading */
    int lfd, cfd;
    char req[1024];
    size_t req_len;
    struct wsg_watch *lw, *cw;
    struct wsg_loop *loop;
};

static int got_status, got_calls;

static void done(void *ud, int status)
{
    (void)ud;
    got_status = status;
    got_calls++;
}

static void on_conn(struct wsg_watch *w, unsigned revents, void *ud)
{
    struct script *s = ud;
    (void)revents;
    ssize_t n = recv(s->cfd, s->req + s->req_len,
                     sizeof s->req - 1 - s->req_len, 0);
    if (n > 0)
        s->req_len += (size_t)n;
    if (s->reply && strstr(s->req, "\r\n\r\n")) {
        size_t len = strlen(s->reply);
        cr_assert_eq(send(s->cfd, s->reply, len, MSG_NOSIGNAL), (ssize_t)len);
        s->reply = NULL;
    }
    if (n == 0)
        wsg_watch_set(w, 0);
}

static void on_listen(struct wsg_watch *w, unsigned revents, void *ud)
{
    struct script *s = ud;
    (void)w;
    (void)revents;
    int fd = accept4(s->lfd, NULL, NULL, SOCK_NONBLOCK);
    cr_assert_geq(fd, 0);
    if (s->close_now) {
        close(fd);
        return;
    }
    s->cfd = fd;
    cr_assert_eq(wsg_watch_new(s->loop, fd, WSG_IO_READ, on_conn, s, &s->cw),
                 WSG_OK);
}

/* One probe against `s`; returns the status, *took_ms the time to done. */
static int run(struct script *s, uint32_t timeout_ms, uint64_t *took_ms)
{
    cr_assert_eq(wsg_loop_new(NULL, &s->loop), WSG_OK);
    struct sockaddr_in a;
    memset(&a, 0, sizeof a);
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t al = sizeof a;
    s->lfd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
    s->cfd = -1;
    cr_assert_geq(s->lfd, 0);
    cr_assert_eq(bind(s->lfd, (struct sockaddr *)&a, sizeof a), 0);
    cr_assert_eq(getsockname(s->lfd, (struct sockaddr *)&a, &al), 0);
    if (!s->refuse) {
        cr_assert_eq(listen(s->lfd, 4), 0);
        cr_assert_eq(wsg_watch_new(s->loop, s->lfd, WSG_IO_READ, on_listen, s,
                                   &s->lw), WSG_OK);
    }
    char port[16];
    snprintf(port, sizeof port, "%u", (unsigned)ntohs(a.sin_port));
    struct relay_config cfg;
    memset(&cfg, 0, sizeof cfg);
    cfg.upstream_host = "127.0.0.1";
    cfg.upstream_port = port;
    static struct relay r;
    memset(&r, 0, sizeof r);
    r.cfg = &cfg;
    r.loop = s->loop;
    memcpy(&r.up_addr, &a, sizeof a);
    r.up_addrlen = sizeof a;
    got_status = -1;
    got_calls = 0;
    uint64_t t0 = wsg_clock_ms();
    cr_assert_not_null(relay_upstream_probe(&r, "/_stcore/health", timeout_ms,
                                            done, NULL));
    cr_expect_eq(got_calls, 0, "never called from inside the call");
    for (int i = 0; i < 500 && got_calls == 0; i++)
        wsg_loop_run_once(s->loop, 10);
    *took_ms = wsg_clock_ms() - t0;
    for (int i = 0; i < 5; i++)
        wsg_loop_run_once(s->loop, 5);
    cr_expect_eq(got_calls, 1, "done called exactly once");
    wsg_watch_free(s->cw);
    wsg_watch_free(s->lw);
    if (s->cfd >= 0)
        close(s->cfd);
    close(s->lfd);
    wsg_loop_run_once(s->loop, 0);
    wsg_loop_free(s->loop);
    return got_status;
}

Test(probe, status_200_and_request)
{
    struct script s = {.reply = "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"};
    uint64_t ms;
    cr_expect_eq(run(&s, 2000, &ms), 200);
    char want[128];
    cr_expect(strncmp(s.req, "GET /_stcore/health HTTP/1.1\r\nHost: 127.0.0.1:",
                      46) == 0, "%s", s.req);
    snprintf(want, sizeof want, "Connection: close\r\n\r\n");
    cr_expect(strstr(s.req, want), "%s", s.req);
}

Test(probe, status_503)
{
    struct script s = {.reply = "HTTP/1.1 503 Service Unavailable\r\n"
                                "Content-Length: 11\r\n\r\nunavailable"};
    uint64_t ms;
    cr_expect_eq(run(&s, 2000, &ms), 503);
}

Test(probe, head_in_pieces_then_close)
{
    struct script s = {.reply = "HTTP/1.1 204 No Content\r\nX: y\r\n\r\n"};
    uint64_t ms;
    cr_expect_eq(run(&s, 2000, &ms), 204);
}

Test(probe, garbage_is_0)
{
    struct script s = {.reply = "NOT HTTP\r\n\r\n"};
    uint64_t ms;
    cr_expect_eq(run(&s, 2000, &ms), 0);
}

Test(probe, bare_lf_is_0)
{
    struct script s = {.reply = "HTTP/1.1 200 OK\nContent-Length: 0\n\n"};
    uint64_t ms;
    cr_expect_eq(run(&s, 2000, &ms), 0);
}

Test(probe, refused_is_0)
{
    struct script s = {.refuse = true};
    uint64_t ms;
    cr_expect_eq(run(&s, 2000, &ms), 0);
    cr_expect_lt(ms, 1000);
}

Test(probe, closed_without_answer_is_0)
{
    struct script s = {.close_now = true};
    uint64_t ms;
    cr_expect_eq(run(&s, 2000, &ms), 0);
    cr_expect_lt(ms, 1000);
}

Test(probe, silent_is_0_at_the_deadline)
{
    struct script s = {.reply = NULL};
    uint64_t ms;
    cr_expect_eq(run(&s, 300, &ms), 0);
    cr_expect_geq(ms, 290);
    cr_expect_lt(ms, 2000);
}

Test(probe, bad_path_refused)
{
    static struct relay r;
    struct relay_config cfg;
    memset(&cfg, 0, sizeof cfg);
    r.cfg = &cfg;
    cr_expect_null(relay_upstream_probe(&r, "no-slash", 10, done, NULL));
    cr_expect_null(relay_upstream_probe(&r, "/a b", 10, done, NULL));
    cr_expect_null(relay_upstream_probe(&r, "/a\r\nX: y", 10, done, NULL));
    cr_expect_null(relay_upstream_probe(&r, "/", 10, NULL, NULL));
}
