/* wsg-relay's upstream leg: the WebSocket request the relay makes to
 * Streamlit for an accepted browser upgrade (issue 4, T15): the same
 * target, Host, Origin and subprotocol list, the browser's Cookie,
 * User-Agent and Accept-Language, X-Streamlit-User from a trusted front
 * end's identity, nothing else of the browser's (no X-Forwarded-*, no
 * client-sent X-Streamlit-User); a Sec-WebSocket-Key of lib/io's own. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bridge.h"
#include "headers.h"

#define UPSTREAM_CONNECT_MS 10000u

static void copy_span(char **p, const char *s, size_t n, const char **out)
{
    memcpy(*p, s, n);
    (*p)[n] = '\0';
    *out = *p;
    *p += n + 1;
}

/* X-Streamlit-User: base64 of {"email":"<subject>"} (STREAMLIT.md), from
 * the identity a trusted front end asserted (the guard's subject). */
static void streamlit_user(const char *subject, char *out, size_t cap)
{
    static const char b64[] =
        "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    char json[300];
    size_t n = 0, o = 0;

    n += (size_t)snprintf(json, sizeof(json), "{\"email\":\"");
    for (const char *c = subject; *c != '\0' && n < sizeof(json) - 8; c++) {
        unsigned char u = (unsigned char)*c;
        if (u < 0x20 || u == 0x7f)
            continue; /* never in a header value anyway */
        if (u == '"' || u == '\\')
            json[n++] = '\\';
        json[n++] = (char)u;
    }
    json[n++] = '"';
    json[n++] = '}';
    for (size_t i = 0; i < n && o + 5 < cap; i += 3) {
        uint32_t v = (uint32_t)(unsigned char)json[i] << 16;
        if (i + 1 < n)
            v |= (uint32_t)(unsigned char)json[i + 1] << 8;
        if (i + 2 < n)
            v |= (uint32_t)(unsigned char)json[i + 2];
        out[o++] = b64[(v >> 18) & 63];
        out[o++] = b64[(v >> 12) & 63];
        out[o++] = i + 1 < n ? b64[(v >> 6) & 63] : '=';
        out[o++] = i + 2 < n ? b64[v & 63] : '=';
    }
    out[o] = '\0';
}

/* The upstream request from the browser's: copies, NUL-terminated. */
static int plan_request(struct relay_bridge_req *b,
                        const struct relay_config *cfg,
                        const struct wsg_hs_request *rq, const char *subject,
                        struct wsg_client_config *cc)
{
    size_t need = rq->target.len + rq->path.len + rq->host.len +
                  rq->origin.len + rq->protocols.len + 8 + RELAY_BRIDGE_MAX_PROTOCOLS;
    char *p;
    const char *target, *host, *origin = NULL;

    for (size_t i = 0; i < rq->header_count; i++)
        need += rq->headers[i].value_len + 1;
    b->strings = p = malloc(need);
    if (p == NULL)
        return WSG_ERR_NOMEM;
    copy_span(&p, rq->target.ptr, rq->target.len, &target);
    copy_span(&p, rq->path.ptr, rq->path.len, &b->path);
    copy_span(&p, rq->host.ptr, rq->host.len, &host);
    if (rq->origin.ptr != NULL)
        copy_span(&p, rq->origin.ptr, rq->origin.len, &origin);
    if (rq->protocols.ptr != NULL) {
        struct wsg_span t;
        size_t pos = 0;
        while (b->protocol_count < RELAY_BRIDGE_MAX_PROTOCOLS &&
               wsg_http_list_next(rq->protocols, &pos, &t))
            copy_span(&p, t.ptr, t.len, &b->protocols[b->protocol_count++]);
    }
    /* Cookie (ARRAffinity, the XSRF cookie, st.context) and User-Agent;
     * never X-Forwarded-*, X-Streamlit-User or credentials of the
     * browser's own beyond what Streamlit itself reads (T15). */
    for (size_t i = 0; i < rq->header_count && b->header_count < 8; i++) {
        static const char *const pass[] = {"Cookie", "User-Agent",
                                           "Accept-Language"};
        const struct wsg_header *h = &rq->headers[i];
        for (size_t k = 0; k < sizeof(pass) / sizeof(pass[0]); k++) {
            if (relay_name_is(h->name, h->name_len, pass[k])) {
                struct wsg_header *o = &b->headers[b->header_count++];
                o->name = pass[k];
                o->name_len = strlen(pass[k]);
                copy_span(&p, h->value, h->value_len, &o->value);
                o->value_len = h->value_len;
                break;
            }
        }
    }
    if (cfg->identity_header != NULL && subject != NULL && subject[0] != '\0' &&
        b->header_count < 8) {
        struct wsg_header *o = &b->headers[b->header_count++];
        streamlit_user(subject, b->user, sizeof(b->user));
        o->name = "X-Streamlit-User";
        o->name_len = strlen(o->name);
        o->value = b->user;
        o->value_len = strlen(b->user);
    }
    cc->hs.target = target;
    cc->hs.host = host;
    cc->hs.origin = origin;
    cc->hs.protocols = b->protocols;
    cc->hs.protocol_count = b->protocol_count;
    cc->hs.headers = b->headers;
    cc->hs.header_count = b->header_count;
    return WSG_OK;
}

int relay_bridge_connect(struct wsg_loop *loop, const struct relay_config *cfg,
                         const struct wsg_hs_request *rq, const char *subject,
                         const struct wsg_session_callbacks *cb, void *ud,
                         struct relay_bridge_req *req, struct wsg_session **out)
{
    struct wsg_client_config cc;
    int rc;

    wsg_client_config_init_default(&cc);
    cc.host = cfg->upstream_host != NULL ? cfg->upstream_host : "127.0.0.1";
    cc.port = cfg->upstream_port != NULL ? cfg->upstream_port : "8501";
    cc.unix_path = cfg->upstream_unix;
    cc.timeout_ms = cfg->upstream_timeout_ms != 0 ? cfg->upstream_timeout_ms
                                                  : UPSTREAM_CONNECT_MS;
    cc.ping_interval_ms = 25000;
    cc.pong_timeout_ms = 30000;
    cc.conn.delivery = WSG_DELIVER_STREAM;
    cc.conn.max_message = cfg->max_message_down;
    cc.conn.max_frame = cfg->max_message_down;
    cc.conn.max_fragments = UINT32_MAX;
    cc.conn.max_output = RELAY_BRIDGE_LEG_MAX_OUTPUT;
    cc.pause_output = RELAY_BRIDGE_PAUSE_AT;
    cc.cb = *cb;
    cc.cb.ud = ud;
    rc = plan_request(req, cfg, rq, subject, &cc);
    if (rc == WSG_OK)
        rc = wsg_client_connect(loop, &cc, out);
    return rc;
}
