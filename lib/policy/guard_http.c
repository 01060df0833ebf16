/* The guard's answer to plain HTTP requests at a WebSocket endpoint: the
 * security headers (H10) on every response, and the https redirect (H1)
 * for page loads. Upgrades are never redirected (guard.c). */
#include <string.h>

#include "guard_internal.h"

/* "https://" Host target into v->location; false if it does not fit. */
static bool make_location(const struct wsg_hs_request *req,
                          struct wsg_guard_verdict *v)
{
    static const char scheme[] = "https://";
    size_t s = sizeof(scheme) - 1;

    /* The handshake checked both: Host holds only host characters, the
     * target no CR, LF or space, so neither can split the header. */
    if (req->host.ptr == NULL ||
        s + req->host.len + req->target.len >= sizeof(v->location))
        return false;
    memcpy(v->location, scheme, s);
    memcpy(v->location + s, req->host.ptr, req->host.len);
    memcpy(v->location + s + req->host.len, req->target.ptr,
           req->target.len);
    v->location[s + req->host.len + req->target.len] = '\0';
    return true;
}

int wsg_guard_http(struct wsg_guard *g, const struct wsg_hs_request *req,
                   const struct wsg_guard_peer *peer, int status,
                   struct wsg_guard_verdict *v)
{
    const struct wsg_policy *p;
    struct wsg__upgrade_ctx cx;
    struct wsg_addr client;
    size_t n;

    if (v == NULL)
        return WSG_ERR_INVALID_ARG;
    memset(v, 0, sizeof(*v));
    if (g == NULL || peer == NULL || status < 300 || status > 599)
        return WSG_ERR_INVALID_ARG;
    p = g->p;
    wsg__guard_security_headers(p, v);
    v->status = status;
    if (req == NULL || !p->redirect_https ||
        wsg__guard_is_https(p, req, peer))
        return WSG_OK;

    client = wsg_client_addr(&peer->addr, p->trusted, p->trusted_count, req,
                             p->client_ip_header);
    wsg_addr_format(&client, v->client, sizeof(v->client));
    wsg__copy_span(cx.path, sizeof(cx.path), req->path.ptr, req->path.len);
    cx.proto[0] = '\0';
    if (!wsg__guard_host_ok(p, req)) {
        wsg__guard_refuse(g, peer, &cx, v, 403, WSG_H2, "host not allowed");
        return WSG_OK;
    }
    if (!make_location(req, v)) {
        wsg__guard_refuse(g, peer, &cx, v, 403, WSG_H1, "https required");
        return WSG_OK;
    }
    n = v->header_count;
    if (n < sizeof(v->headers) / sizeof(v->headers[0])) {
        v->headers[n].name = "Location";
        v->headers[n].name_len = strlen("Location");
        v->headers[n].value = v->location;
        v->headers[n].value_len = strlen(v->location);
        v->header_count = n + 1;
    }
    wsg__guard_refuse(g, peer, &cx, v, 301, WSG_H1, "redirect to https");
    return WSG_OK;
}
