/* wsg-embed: the sans-I/O core in a loop of your own.
 *
 * A deliberately small blocking echo server (one client at a time) that
 * shows the whole contract: feed received bytes to the handshake, then to
 * the connection; handle one event at a time; write what the connection
 * lends out. The README quotes serve() below. Real servers use lib/io (or
 * their own event loop) instead of blocking calls.
 *
 * Usage: wsg-embed [PORT]   (listens on 127.0.0.1, default 9002; handles one
 * connection, then exits) */
#include <wsguard/wsguard.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

static uint64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

static int flush(int fd, struct wsg_conn *c)
{
    struct wsg_iovec iov[16];
    size_t n;
    while ((n = wsg_conn_output(c, iov, 16)) > 0) {
        ssize_t w = writev(fd, (const struct iovec *)(const void *)iov, (int)n);
        if (w < 0)
            return -1;
        wsg_conn_output_consume(c, (size_t)w);
    }
    return 0;
}

/* -- serve(): everything an embedder writes ------------------------------ */
static int serve(int fd)
{
    uint8_t buf[65536];
    struct wsg_hs_server *hs;
    struct wsg_conn *c;
    struct wsg_conn_config cfg;
    const uint8_t *out;
    size_t len = 0, used = 0, outlen;
    ssize_t r;
    int rc = 0;

    wsg_hs_server_new(NULL, NULL, &hs);          /* default limits */
    while (rc == 0 && (r = read(fd, buf, sizeof buf)) > 0) {
        len = (size_t)r;
        rc = wsg_hs_server_feed(hs, buf, len, &used);
    }
    if (rc != 1) {                               /* refuse: 400, 426, ... */
        if (wsg_hs_server_refuse(hs, wsg_hs_server_status(hs) ? wsg_hs_server_status(hs) : 400,
                                 wsg_hs_server_reason(hs), NULL, 0, &out, &outlen) == WSG_OK)
            (void)!write(fd, out, outlen);
        wsg_hs_server_free(hs);
        return -1;
    }
    wsg_hs_server_accept(hs, NULL, &out, &outlen);   /* 101 */
    (void)!write(fd, out, outlen);
    wsg_hs_server_free(hs);

    wsg_conn_config_init_default(&cfg);          /* server role, 1 MiB */
    if (wsg_conn_new(&cfg, &c) != WSG_OK)
        return -1;
    uint8_t *p = buf + used;                     /* bytes after the head */
    len -= used;
    while (!wsg_conn_should_close_transport(c)) {
        while (len > 0) {
            struct wsg_event ev;
            wsg_conn_feed(c, p, len, now_ms(), &used, &ev);
            p += used, len -= used;
            if (ev.type == WSG_EV_MESSAGE)
                wsg_conn_send(c, ev.opcode, ev.data, ev.len);  /* echo */
            else if (ev.type == WSG_EV_NONE)
                break;
        }
        if (flush(fd, c) < 0 || wsg_conn_should_close_transport(c))
            break;
        if ((r = read(fd, buf, sizeof buf)) <= 0)
            break;                               /* 1006: no close */
        p = buf, len = (size_t)r;
    }
    printf("closed: sent %u, received %u\n", wsg_conn_close_sent(c),
           wsg_conn_close_received(c));
    wsg_conn_free(c);
    return 0;
}
/* ------------------------------------------------------------------------ */

int main(int argc, char **argv)
{
    int port = argc > 1 ? atoi(argv[1]) : 9002;
    int one = 1, ls = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in sa = {.sin_family = AF_INET,
                             .sin_port = htons((uint16_t)port)};
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    setsockopt(ls, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    if (port <= 0 || port > 65535 || bind(ls, (struct sockaddr *)&sa, sizeof sa) < 0 ||
        listen(ls, 1) < 0) {
        perror("wsg-embed: bind 127.0.0.1");
        return 1;
    }
    fprintf(stderr, "wsg-embed listening on ws://127.0.0.1:%d/\n", port);
    int fd = accept(ls, NULL, NULL);
    int rc = fd < 0 ? -1 : serve(fd);
    if (fd >= 0)
        close(fd);
    close(ls);
    return rc == 0 ? 0 : 1;
}
