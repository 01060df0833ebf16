/* Socket helpers and the plain TCP transport. Sends use sendmsg with
 * MSG_NOSIGNAL, so a peer that resets never raises SIGPIPE and the library
 * needs no signal handler. */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/uio.h>
#ifdef __linux__
#include <linux/sockios.h>
#endif

#include "io/io_internal.h"

void wsg__addr_format(const struct sockaddr *sa, socklen_t len, char *buf,
                      size_t cap)
{
    char ip[INET6_ADDRSTRLEN];

    (void)len;
    if (sa->sa_family == AF_INET) {
        const struct sockaddr_in *in = (const struct sockaddr_in *)sa;
        inet_ntop(AF_INET, &in->sin_addr, ip, sizeof ip);
        snprintf(buf, cap, "%s:%u", ip, (unsigned)ntohs(in->sin_port));
    } else if (sa->sa_family == AF_INET6) {
        const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *)sa;
        inet_ntop(AF_INET6, &in6->sin6_addr, ip, sizeof ip);
        snprintf(buf, cap, "[%s]:%u", ip, (unsigned)ntohs(in6->sin6_port));
    } else if (sa->sa_family == AF_UNIX) {
        snprintf(buf, cap, "unix");
    } else {
        snprintf(buf, cap, "unknown");
    }
}

void wsg__sock_nodelay(int fd)
{
    int one = 1;
    (void)setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
}

void wsg__sock_keepalive(int fd, uint32_t user_timeout_ms)
{
    int one = 1, idle = 60, intvl = 10, cnt = 5;
    unsigned int uto = user_timeout_ms;

    /* A peer that vanished without FIN or RST is found in about
     * 60 + 5 x 10 s even when nothing is being sent (RFC 1122 4.2.3.6). */
    (void)setsockopt(fd, SOL_SOCKET, SO_KEEPALIVE, &one, sizeof one);
    (void)setsockopt(fd, IPPROTO_TCP, TCP_KEEPIDLE, &idle, sizeof idle);
    (void)setsockopt(fd, IPPROTO_TCP, TCP_KEEPINTVL, &intvl, sizeof intvl);
    (void)setsockopt(fd, IPPROTO_TCP, TCP_KEEPCNT, &cnt, sizeof cnt);
#ifdef TCP_USER_TIMEOUT
    /* Unacknowledged data older than this fails the socket (RFC 5482). */
    if (uto)
        (void)setsockopt(fd, IPPROTO_TCP, TCP_USER_TIMEOUT, &uto, sizeof uto);
#else
    (void)uto;
#endif
}

size_t wsg__sock_outq(int fd)
{
#ifdef SIOCOUTQ
    int n = 0;
    if (ioctl(fd, SIOCOUTQ, &n) == 0 && n >= 0)
        return (size_t)n;
#else
    (void)fd;
#endif
    return SIZE_MAX;
}

/* ---- plain TCP transport -------------------------------------------------- */

static int tcp_read(void *ctx, int fd, uint8_t *buf, size_t len, size_t *got,
                    unsigned *want)
{
    (void)ctx;
    *got = 0;
    for (;;) {
        ssize_t n = recv(fd, buf, len, 0);
        if (n > 0) {
            *got = (size_t)n;
            return WSG_OK;
        }
        if (n == 0)
            return WSG_ERR_PEER_CLOSED;
        if (errno == EINTR)
            continue;
        if (errno == EAGAIN || errno == EWOULDBLOCK) {
            *want = WSG_IO_READ;
            return WSG_ERR_AGAIN;
        }
        if (errno == ECONNRESET)
            return WSG_ERR_PEER_CLOSED;
        return WSG_ERR_IO;
    }
}

#define TCP_IOV_MAX 64

static int tcp_writev(void *ctx, int fd, const struct wsg_iovec *iov,
                      size_t n, size_t *put, unsigned *want)
{
    struct iovec v[TCP_IOV_MAX];
    struct msghdr msg;

    (void)ctx;
    *put = 0;
    if (n > TCP_IOV_MAX)
        n = TCP_IOV_MAX;
    for (size_t i = 0; i < n; i++) {
        v[i].iov_base = (void *)(uintptr_t)iov[i].base;
        v[i].iov_len = iov[i].len;
    }
    memset(&msg, 0, sizeof msg);
    msg.msg_iov = v;
    msg.msg_iovlen = n;
    for (;;) {
        ssize_t w = sendmsg(fd, &msg, MSG_NOSIGNAL);
        if (w >= 0) {
            *put = (size_t)w;
            return WSG_OK;
        }
        if (errno == EINTR)
            continue;
        if (errno == EAGAIN || errno == EWOULDBLOCK) {
            *want = WSG_IO_WRITE;
            return WSG_ERR_AGAIN;
        }
        if (errno == EPIPE || errno == ECONNRESET)
            return WSG_ERR_PEER_CLOSED;
        return WSG_ERR_IO;
    }
}

static const struct wsg_transport_ops tcp_ops = {
    tcp_read, tcp_writev, NULL, NULL, NULL,
};

const struct wsg_transport_ops *wsg_transport_tcp(void) { return &tcp_ops; }
