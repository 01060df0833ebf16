/* Glue between a policy (wsguard/policy.h) and the POSIX adapter: the
 * server's time limits from the policy's settings, and the files a policy
 * names (lib/policy reads no files; this layer may). Public API only: the
 * policy is read through wsg_policy_get, as any embedder would. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <wsguard/guard.h>
#include <wsguard/io.h>
#include <wsguard/policy.h>

#define KEY_MIN 32u    /* wsg_policy_set_hmac_key's range */
#define KEY_MAX 1024u

/* A COUNT or SIZE setting ("1048576"). */
static uint64_t get_u64(const struct wsg_policy *p, const char *name)
{
    char buf[32];
    uint64_t v = 0;

    if (wsg_policy_get(p, name, buf, sizeof(buf)) >= sizeof(buf))
        return 0;
    for (const char *s = buf; *s >= '0' && *s <= '9'; s++)
        v = v * 10u + (uint64_t)(*s - '0');
    return v;
}

/* A SECONDS setting ("10", "0.5", "2.125") in ms, capped to 32 bits. */
static uint32_t get_ms(const struct wsg_policy *p, const char *name)
{
    char buf[32];
    uint64_t whole = 0, frac = 0, scale = 1;
    const char *s = buf;

    if (wsg_policy_get(p, name, buf, sizeof(buf)) >= sizeof(buf))
        return 0;
    for (; *s >= '0' && *s <= '9' && whole < UINT32_MAX; s++)
        whole = whole * 10u + (uint64_t)(*s - '0');
    if (*s == '.')
        for (s++; *s >= '0' && *s <= '9' && scale < 1000u; s++, scale *= 10u)
            frac = frac * 10u + (uint64_t)(*s - '0');
    whole = whole * 1000u + frac * (1000u / scale);
    return whole > UINT32_MAX ? UINT32_MAX : (uint32_t)whole;
}

int wsg_server_config_from_policy(struct wsg_server_config *cfg,
                                  const struct wsg_policy *p)
{
    uint64_t v;

    if (cfg == NULL || p == NULL)
        return WSG_ERR_INVALID_ARG;
    /* H7: the io layer's clocks. The idle timeout is the guard's (it knows
     * the direction to count), so the session's own stays off. */
    if ((v = get_ms(p, "handshake-timeout")) != 0)
        cfg->handshake_timeout_ms = (uint32_t)v;
    cfg->ping_interval_ms = get_ms(p, "ping-interval");
    cfg->pong_timeout_ms = get_ms(p, "pong-timeout");
    cfg->idle_timeout_ms = 0;
    if ((v = get_ms(p, "close-timeout")) != 0)
        cfg->conn.close_timeout_ms = (uint32_t)v;
    /* H6: the guard answers 503 at max-conns; the adapter must still
     * accept the requests past it to say so (rather than leave them in the
     * backlog), within a bound of its own: a quarter more, at least 64. */
    if ((v = get_u64(p, "max-conns")) != 0) {
        uint64_t room = v + (v / 4 > 64 ? v / 4 : 64);
        cfg->max_connections = room > UINT32_MAX ? UINT32_MAX : (uint32_t)room;
    }
    /* H5, H12: the core limits (wsg_guard_conn_config sets the same per
     * connection). */
    if ((v = get_u64(p, "max-message")) != 0)
        cfg->conn.max_message = v;
    if ((v = get_u64(p, "max-frame")) != 0)
        cfg->conn.max_frame = v;
    if ((v = get_u64(p, "max-fragments")) != 0)
        cfg->conn.max_fragments = v > UINT32_MAX ? UINT32_MAX : (uint32_t)v;
    if ((v = get_u64(p, "max-output")) != 0)
        cfg->conn.max_output = (size_t)v;
    return WSG_OK;
}

static int fail(char *err, size_t cap, const char *path, const char *what)
{
    if (err != NULL && cap > 0)
        snprintf(err, cap, "--auth-hmac-key-file: %s: %s", path, what);
    return WSG_ERR_INVALID_ARG;
}

/* The key is the file's bytes, trailing CR/LF removed, 32-1024 bytes. */
static int load_key(struct wsg_policy *p, const char *path, char *err,
                    size_t cap)
{
    uint8_t buf[KEY_MAX + 3];
    size_t len = 0;
    struct stat st;
    int fd, rc;

    fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
    if (fd < 0)
        return fail(err, cap, path, strerror(errno));
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        close(fd);
        return fail(err, cap, path, "not a regular file");
    }
    while (len < sizeof(buf)) {
        ssize_t n = read(fd, buf + len, sizeof(buf) - len);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            rc = errno;
            close(fd);
            memset(buf, 0, sizeof(buf));
            return fail(err, cap, path, strerror(rc));
        }
        if (n == 0)
            break;
        len += (size_t)n;
    }
    close(fd);
    while (len > 0 && (buf[len - 1] == '\n' || buf[len - 1] == '\r'))
        len--;
    if (len < KEY_MIN || len > KEY_MAX) {
        memset(buf, 0, sizeof(buf));
        return fail(err, cap, path, "expected a key of 32-1024 bytes");
    }
    rc = wsg_policy_set_hmac_key(p, buf, len);
    memset(buf, 0, sizeof(buf));
    if (rc != WSG_OK)
        return fail(err, cap, path, wsg_strerror(rc));
    return WSG_OK;
}

int wsg_policy_load_files(struct wsg_policy *p, char *err, size_t cap)
{
    char path[4096];
    size_t n;

    if (p == NULL)
        return WSG_ERR_INVALID_ARG;
    n = wsg_policy_get(p, "auth-hmac-key-file", path, sizeof(path));
    if (n >= sizeof(path))
        return fail(err, cap, "(path)", "too long");
    if (n == 0)
        return WSG_OK;
    return load_key(p, path, err, cap);
}

/* ---- the guard at the io layer's callbacks ------------------------------- */

void wsg_guard_peer_fill(struct wsg_guard_peer *out, const char *peer_text,
                         bool tls)
{
    struct timespec wall;

    if (out == NULL)
        return;
    memset(out, 0, sizeof(*out));
    if (peer_text == NULL ||
        wsg_addr_parse(peer_text, strlen(peer_text), true, &out->addr) !=
            WSG_OK)
        memset(&out->addr, 0, sizeof(out->addr));
    out->text = peer_text;
    out->tls = tls;
    clock_gettime(CLOCK_REALTIME, &wall);
    out->unix_s = (uint64_t)wall.tv_sec;
    out->unix_ms = (uint64_t)wall.tv_sec * 1000u +
                   (uint64_t)wall.tv_nsec / 1000000u;
}

void wsg_guard_amend_refusal(struct wsg_guard *g, struct wsg_http_answer *ans,
                             bool tls, struct wsg_guard_verdict *v)
{
    struct wsg_guard_peer peer;

    if (g == NULL || ans == NULL || v == NULL)
        return;
    wsg_guard_peer_fill(&peer, ans->peer, tls);
    if (wsg_guard_http(g, ans->request, &peer, ans->status, v) != WSG_OK)
        return;
    ans->status = v->status;
    if (v->control != 0)
        ans->reason = v->reason;
    ans->headers = v->headers;
    ans->header_count = v->header_count;
}

int wsg_refusal_control(const struct wsg_refusal *r)
{
    if (r == NULL || r->err == WSG_ERR_POLICY)
        return 0;
    if (r->status == 414 || r->status == 431)
        return WSG_H5;
    if (r->err == WSG_ERR_TIMEOUT)
        return WSG_H7;
    if (r->err == WSG_ERR_HTTP)
        return WSG_H4;
    return 0;
}
