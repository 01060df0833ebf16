/* wsg-relay's own endpoints under --own-prefix (default /_wsguard/):
 *   health   200 "ok" while Streamlit's <base>/_stcore/health answers 200
 *            (one probe answers every request for HEALTH_CACHE_MS; a
 *            request after that waits for a fresh probe, at most
 *            PROBE_DEADLINE_MS); 503 otherwise and while draining. For App
 *            Service's health check (which counts redirects as unhealthy:
 *            never one here).
 *   metrics  Prometheus text format 0.0.4: connections by state, refusals
 *            and violations by control id, messages and bytes by
 *            direction, close codes, HTTP responses by class. Only for
 *            clients on loopback or inside --trusted-proxy (H11): the
 *            figures say who is refused and why.
 * The probe (probe.c) is a one-shot GET on a connection of its own, never
 * one of the pool's, so a busy pool cannot make the relay look dead. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <wsguard/guard.h>
#include <wsguard/io.h>

#include "bridge.h"
#include "relay_int.h"

#define HEALTH_CACHE_MS 2000u    /* one probe serves this long */
#define PROBE_DEADLINE_MS 3000u
#define MAX_WAITING 64

struct ep_state {
    struct relay *r;
    struct relay_probe *probe;  /* in flight; NULL: none */
    char path[1100];            /* <base>/_stcore/health */
    int last_status;            /* of the last finished probe; 0: none */
    uint64_t last_probe_ms;     /* when it finished */
    struct relay_conn *waiting[MAX_WAITING]; /* health requests */
    size_t nwaiting;
};

static void health_answer(struct relay_conn *c, int status)
{
    if (status == 200)
        relay_respond(c, 200, NULL, "ok\n", 3);
    else
        relay_respond(c, 503, NULL, "upstream not healthy\n", 21);
}

static void probe_done(void *ud, int status)
{
    struct ep_state *ep = ud;
    size_t n = ep->nwaiting;

    ep->probe = NULL;
    ep->last_status = status;
    ep->last_probe_ms = wsg_loop_now(ep->r->loop);
    ep->nwaiting = 0;
    for (size_t i = 0; i < n; i++)
        health_answer(ep->waiting[i], ep->r->draining ? 503 : status);
}

int relay_endpoints_init(struct relay *r)
{
    struct ep_state *ep = calloc(1, sizeof(*ep));

    if (ep == NULL)
        return -1;
    ep->r = r;
    snprintf(ep->path, sizeof(ep->path), "%s/_stcore/health",
             r->cfg->base_path);
    r->ep = ep;
    return 0;
}

void relay_endpoints_free(struct relay *r)
{
    struct ep_state *ep = r->ep;

    if (ep == NULL)
        return;
    if (ep->probe != NULL)
        relay_probe_cancel(ep->probe);
    free(ep);
    r->ep = NULL;
}

void relay_endpoint_cancel(struct relay *r, struct relay_conn *c)
{
    struct ep_state *ep = r->ep;

    if (ep == NULL)
        return;
    for (size_t i = 0; i < ep->nwaiting; i++)
        if (ep->waiting[i] == c) {
            ep->waiting[i] = ep->waiting[--ep->nwaiting];
            break;
        }
}

/* Fresh enough: answer now; else wait for a probe (one at a time). */
static void health(struct relay *r, struct relay_conn *c)
{
    struct ep_state *ep = r->ep;
    uint64_t now = wsg_loop_now(r->loop);

    if (r->draining) {
        relay_respond(c, 503, NULL, "draining\n", 9);
        return;
    }
    if (ep->last_probe_ms != 0 && now - ep->last_probe_ms < HEALTH_CACHE_MS) {
        health_answer(c, ep->last_status);
        return;
    }
    if (ep->nwaiting == MAX_WAITING) {
        health_answer(c, ep->last_status); /* the last known state */
        return;
    }
    ep->waiting[ep->nwaiting++] = c;
    if (ep->probe == NULL) {
        ep->probe = relay_upstream_probe(r, ep->path, PROBE_DEADLINE_MS,
                                         probe_done, ep);
        if (ep->probe == NULL)
            probe_done(ep, 0);
    }
}

/* ---- metrics ------------------------------------------------------------------ */

struct text {
    char *p;
    size_t len, cap;
    bool oom;
};

static void put(struct text *t, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void put(struct text *t, const char *fmt, ...)
{
    va_list ap;
    int n;

    for (;;) {
        if (t->oom)
            return;
        va_start(ap, fmt);
        n = vsnprintf(t->p + t->len, t->cap - t->len, fmt, ap);
        va_end(ap);
        if (n < 0) {
            t->oom = true;
            return;
        }
        if ((size_t)n < t->cap - t->len) {
            t->len += (size_t)n;
            return;
        }
        char *q = realloc(t->p, t->cap * 2 + (size_t)n);
        if (q == NULL) {
            t->oom = true;
            return;
        }
        t->p = q;
        t->cap = t->cap * 2 + (size_t)n;
    }
}

static bool metrics_allowed(const struct relay *r, const char *client)
{
    static const char *const loop[] = {"127.0.0.0/8", "::1"};
    struct wsg_addr a;
    struct wsg_cidr net;

    if (client == NULL ||
        wsg_addr_parse(client, strlen(client), true, &a) != WSG_OK)
        return false;
    for (size_t i = 0; i < 2; i++)
        if (wsg_cidr_parse(loop[i], strlen(loop[i]), &net) == WSG_OK &&
            wsg_cidr_contains(&net, &a))
            return true;
    for (size_t i = 0; i < r->trusted_count; i++)
        if (wsg_cidr_contains(&r->trusted[i], &a))
            return true;
    return false;
}

static void metrics(struct relay *r, struct relay_conn *c)
{
    static const char *const cls[] = {"", "1xx", "2xx", "3xx", "4xx", "5xx"};
    static const char *const codes[] = {"1000", "1001", "1008_1009",
                                        "1011_1012", "other"};
    const struct relay_bridge_stats *b =
        r->ws != NULL ? relay_bridge_get_stats(r->ws) : NULL;
    const struct ep_state *ep = r->ep;
    struct wsg_guard_stats g;
    struct text t = {malloc(8192), 0, 8192, false};

    memset(&g, 0, sizeof(g));
    if (r->guard != NULL)
        wsg_guard_get_stats(r->guard, &g);
    if (t.p == NULL) {
        relay_respond(c, 503, NULL, "out of memory\n", 14);
        return;
    }
    put(&t, "# HELP wsg_relay_connections Browser connections held now.\n"
            "# TYPE wsg_relay_connections gauge\n"
            "wsg_relay_connections{kind=\"http\"} %llu\n"
            "wsg_relay_connections{kind=\"websocket\"} %llu\n",
        (unsigned long long)r->st.conns_open,
        (unsigned long long)(b ? b->open_now : 0));
    put(&t, "# HELP wsg_relay_http_responses_total HTTP responses by class.\n"
            "# TYPE wsg_relay_http_responses_total counter\n");
    for (int i = 1; i <= 5; i++)
        put(&t, "wsg_relay_http_responses_total{class=\"%s\"} %llu\n", cls[i],
            (unsigned long long)r->st.responses[i]);
    put(&t, "# HELP wsg_relay_refusals_total Requests and upgrades refused, "
            "by hardening control.\n"
            "# TYPE wsg_relay_refusals_total counter\n");
    for (int i = WSG_H1; i <= WSG_H15; i++)
        if (g.refused[i] != 0)
            put(&t, "wsg_relay_refusals_total{control=\"%s\"} %llu\n",
                wsg_control_id(i), (unsigned long long)g.refused[i]);
    put(&t, "wsg_relay_refusals_total{control=\"path\"} %llu\n"
            "wsg_relay_refusals_total{control=\"upload\"} %llu\n",
        (unsigned long long)r->st.refused_path,
        (unsigned long long)r->st.refused_upload);
    put(&t, "# HELP wsg_relay_violations_total Open WebSockets closed by a "
            "control.\n# TYPE wsg_relay_violations_total counter\n");
    for (int i = WSG_H1; i <= WSG_H15; i++) {
        uint64_t n = g.violations[i];
        if (n != 0)
            put(&t, "wsg_relay_violations_total{control=\"%s\"} %llu\n",
                wsg_control_id(i), (unsigned long long)n);
    }
    if (b != NULL) {
        put(&t, "# HELP wsg_relay_ws_messages_total WebSocket messages "
                "relayed.\n# TYPE wsg_relay_ws_messages_total counter\n"
                "wsg_relay_ws_messages_total{direction=\"to_upstream\"} %llu\n"
                "wsg_relay_ws_messages_total{direction=\"to_browser\"} %llu\n",
            (unsigned long long)b->messages_to_up,
            (unsigned long long)b->messages_to_down);
        put(&t, "# HELP wsg_relay_ws_bytes_total WebSocket payload bytes "
                "relayed.\n# TYPE wsg_relay_ws_bytes_total counter\n"
                "wsg_relay_ws_bytes_total{direction=\"to_upstream\"} %llu\n"
                "wsg_relay_ws_bytes_total{direction=\"to_browser\"} %llu\n",
            (unsigned long long)b->bytes_to_up,
            (unsigned long long)b->bytes_to_down);
        put(&t, "# HELP wsg_relay_ws_closes_total Browser WebSockets closed, "
                "by close code.\n# TYPE wsg_relay_ws_closes_total counter\n");
        for (int i = 0; i < 5; i++)
            put(&t, "wsg_relay_ws_closes_total{code=\"%s\"} %llu\n", codes[i],
                (unsigned long long)b->closes_by_code[i]);
        put(&t, "# TYPE wsg_relay_ws_upstream_failures_total counter\n"
                "wsg_relay_ws_upstream_failures_total %llu\n",
            (unsigned long long)b->upstream_failed);
    }
    put(&t, "# HELP wsg_relay_http_bytes_total HTTP bytes to and from "
            "browsers.\n# TYPE wsg_relay_http_bytes_total counter\n"
            "wsg_relay_http_bytes_total{direction=\"from_browser\"} %llu\n"
            "wsg_relay_http_bytes_total{direction=\"to_browser\"} %llu\n"
            "# TYPE wsg_relay_upstream_errors_total counter\n"
            "wsg_relay_upstream_errors_total %llu\n"
            "# HELP wsg_relay_upstream_healthy 1 if Streamlit's health "
            "answered 200 at the last probe.\n"
            "# TYPE wsg_relay_upstream_healthy gauge\n"
            "wsg_relay_upstream_healthy %d\n",
        (unsigned long long)r->st.bytes_in,
        (unsigned long long)r->st.bytes_out,
        (unsigned long long)r->st.upstream_errors,
        ep != NULL && ep->last_status == 200 ? 1 : 0);
    if (t.oom)
        relay_respond(c, 503, NULL, "out of memory\n", 14);
    else
        relay_respond(c, 200, "text/plain; version=0.0.4; charset=utf-8", t.p,
                      t.len);
    free(t.p);
}

/* ---- dispatch ------------------------------------------------------------------ */

static bool path_is(const struct relay *r, const struct relay_request *req,
                    const char *name)
{
    size_t pl = strlen(r->cfg->own_prefix), nl = strlen(name);

    return req->path.len == pl + nl &&
           memcmp(req->path.ptr, r->cfg->own_prefix, pl) == 0 &&
           memcmp(req->path.ptr + pl, name, nl) == 0;
}

int relay_endpoint(struct relay *r, struct relay_conn *c,
                   const struct relay_request *req)
{
    bool get = strcmp(req->method, "GET") == 0 ||
               strcmp(req->method, "HEAD") == 0;

    if (path_is(r, req, "health")) {
        if (!get)
            relay_respond(c, 405, NULL, "use GET\n", 8);
        else
            health(r, c);
        return 0;
    }
    if (path_is(r, req, "metrics")) {
        if (!metrics_allowed(r, req->client))
            relay_respond(c, 403, NULL, "metrics: loopback or trusted "
                          "proxies only\n", 42);
        else if (!get)
            relay_respond(c, 405, NULL, "use GET\n", 8);
        else
            metrics(r, c);
        return 0;
    }
    return -1;
}
