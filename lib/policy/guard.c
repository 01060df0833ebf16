/* The guard: the upgrade decision (H1, H2, H3, H6, H9, H10, H11). Checks
 * run in a fixed order and the first refusal wins:
 *   H1 transport, H6 global cap, H6 per address, H2 Host, H2 Origin,
 *   H3 authentication, H9 subprotocol.
 * Per-connection checks are in guard_conn.c. */
#include <string.h>

#include "guard_internal.h"

#define RETRY_GLOBAL_S 1u   /* Retry-After for 503 (RFC 9110 10.2.3) */
#define QUERY_TOKEN_MAX 512 /* a percent-decoded query token */


/* The peer's wall clock in ms (audit timestamps): unix_ms when the caller
 * has one, else whole seconds. */
static uint64_t peer_unix_ms(const struct wsg_guard_peer *peer)
{
    return peer->unix_ms != 0 ? peer->unix_ms : peer->unix_s * 1000u;
}

static const char WWW_AUTH[] = "Bearer realm=\"wsguard\"";

/* ---- small string helpers ------------------------------------------------ */

static int lower(int c)
{
    return (c >= 'A' && c <= 'Z') ? c + 32 : c;
}

static bool span_ieq(const char *a, size_t alen, const char *b)
{
    size_t blen = strlen(b);

    if (alen != blen)
        return false;
    for (size_t i = 0; i < alen; i++)
        if (lower((unsigned char)a[i]) != lower((unsigned char)b[i]))
            return false;
    return true;
}

static bool is_ows(char c)
{
    return c == ' ' || c == '\t';
}

static struct wsg_span trim(const char *s, size_t n)
{
    while (n > 0 && is_ows(*s)) {
        s++;
        n--;
    }
    while (n > 0 && is_ows(s[n - 1]))
        n--;
    return (struct wsg_span){s, n};
}

void wsg__copy_span(char *dst, size_t cap, const char *s, size_t n)
{
    if (s == NULL)
        n = 0;
    if (n >= cap)
        n = cap - 1;
    if (n > 0)
        memcpy(dst, s, n);
    dst[n] = '\0';
}

static size_t put_u32(char *out, uint32_t v)
{
    char d[10];
    size_t n = 0, k = 0;

    do {
        d[k++] = (char)('0' + v % 10u);
        v /= 10u;
    } while (v != 0);
    while (k > 0)
        out[n++] = d[--k];
    out[n] = '\0';
    return n;
}

/* ---- guard ------------------------------------------------------------------ */

int wsg_guard_new(const struct wsg_policy *p,
                  const struct wsg_allocator *alloc, struct wsg_guard **out)
{
    struct wsg_allocator a;
    struct wsg_guard *g;

    if (out != NULL)
        *out = NULL;
    if (p == NULL || out == NULL || !wsg__alloc_init(&a, alloc))
        return WSG_ERR_INVALID_ARG;
    g = wsg__zalloc(&a, sizeof(*g));
    if (g == NULL)
        return WSG_ERR_NOMEM;
    g->p = p;
    g->alloc = a;
    if (p->max_conns_per_ip != 0 || p->conn_rate_per_ip != 0) {
        struct wsg_addr_table_config tc;
        int rc;

        wsg_addr_table_config_init_default(&tc);
        if (p->addr_table_memory != 0)
            tc.memory_budget = (size_t)p->addr_table_memory;
        tc.max_conns_per_addr = p->max_conns_per_ip;
        tc.new_conns_per_window = p->conn_rate_per_ip;
        if (p->conn_rate_window_ms != 0)
            tc.window_ms = p->conn_rate_window_ms;
        tc.alloc = &g->alloc;
        rc = wsg_addr_table_new(&tc, &g->table);
        if (rc != WSG_OK) {
            wsg__free(&a, g);
            return rc;
        }
    }
    *out = g;
    return WSG_OK;
}

void wsg_guard_free(struct wsg_guard *g)
{
    if (g == NULL)
        return;
    wsg_addr_table_free(g->table);
    wsg__free(&g->alloc, g);
}

void wsg_guard_get_stats(const struct wsg_guard *g, struct wsg_guard_stats *st)
{
    if (st == NULL)
        return;
    if (g == NULL) {
        memset(st, 0, sizeof(*st));
        return;
    }
    *st = g->stats;
    st->open = g->conns;
}

void wsg_guard_conn_config(const struct wsg_guard *g,
                           struct wsg_conn_config *cfg)
{
    const struct wsg_policy *p;

    if (g == NULL || cfg == NULL)
        return;
    p = g->p;
    /* Zero in the policy keeps the core default (the core refuses 0). */
    if (p->max_frame != 0)
        cfg->max_frame = p->max_frame;
    if (p->max_message != 0)
        cfg->max_message = p->max_message;
    if (p->max_fragments != 0)
        cfg->max_fragments = p->max_fragments;
    if (p->max_output != 0)
        cfg->max_output = (size_t)p->max_output;
    if (p->close_timeout_ms != 0)
        cfg->close_timeout_ms = p->close_timeout_ms;
}

/* ---- H1 --------------------------------------------------------------------- */

static bool peer_trusted(const struct wsg_policy *p, const struct wsg_addr *a)
{
    for (size_t i = 0; i < p->trusted_count; i++)
        if (wsg_cidr_contains(&p->trusted[i], a))
            return true;
    return false;
}

/* X-Forwarded-Proto from a trusted front end: every element of every such
 * header must be "https" (a chain that saw plain http anywhere is not
 * HTTPS). */
static bool forwarded_https(const struct wsg_hs_request *req)
{
    bool seen = false;

    for (size_t i = 0; i < req->header_count; i++) {
        const struct wsg_header *h = &req->headers[i];
        struct wsg_span list = {h->value, h->value_len}, tok;
        size_t pos = 0;

        if (!span_ieq(h->name, h->name_len, "X-Forwarded-Proto"))
            continue;
        while (wsg_http_list_next(list, &pos, &tok)) {
            if (!span_ieq(tok.ptr, tok.len, "https"))
                return false;
            seen = true;
        }
    }
    return seen;
}

bool wsg__guard_is_https(const struct wsg_policy *p,
                         const struct wsg_hs_request *req,
                         const struct wsg_guard_peer *peer)
{
    if (peer->tls)
        return true;
    if (!peer_trusted(p, &peer->addr))
        return false;
    if (forwarded_https(req))
        return true;
    /* Azure App Service: X-ARR-SSL is set only for TLS clients. */
    return wsg_hs_request_header(req, "X-ARR-SSL").ptr != NULL;
}

/* ---- H2 --------------------------------------------------------------------- */

bool wsg__guard_host_ok(const struct wsg_policy *p,
                        const struct wsg_hs_request *req)
{
    if (p->allow_host.count == 0)
        return true;
    if (req->host.ptr == NULL)
        return false;
    for (size_t i = 0; i < p->allow_host.count; i++)
        if (wsg_host_match(p->allow_host.items[i], req->host.ptr,
                           req->host.len))
            return true;
    return false;
}

/* NULL if allowed, else the reason. */
static const char *origin_refusal(const struct wsg_policy *p,
                                  const struct wsg_hs_request *req)
{
    struct wsg_origin o;

    if (p->origin_count == 0 && p->allow_origin.count == 0)
        return NULL;
    if (req->origin.ptr == NULL)
        return p->allow_no_origin ? NULL : "origin required";
    /* "null", file:, data: and anything malformed fail to parse. */
    if (wsg_origin_parse(req->origin.ptr, req->origin.len, false, &o) !=
        WSG_OK)
        return "origin not allowed";
    for (size_t i = 0; i < p->origin_count; i++)
        if (wsg_origin_match(&p->origins[i], &o))
            return NULL;
    return "origin not allowed";
}

/* ---- H3 --------------------------------------------------------------------- */

bool wsg__guard_token_ok(const struct wsg_policy *p, const char *tok,
                         size_t len, uint64_t unix_s, char *subject)
{
    bool ok = false;

    if (tok == NULL || len == 0)
        return false;
    if (p->auth_token != NULL && p->auth_token[0] != '\0' &&
        wsg_ct_equal(tok, len, p->auth_token, strlen(p->auth_token)))
        ok = true;
    if (!ok && p->hmac_key != NULL && p->hmac_key_len > 0 &&
        wsg_token_verify(p->hmac_key, p->hmac_key_len, tok, len, unix_s,
                         p->auth_leeway_s, subject) == WSG_TOKEN_OK)
        return true;
    if (ok && subject != NULL)
        subject[0] = '\0';
    return ok;
}

/* "Authorization: Bearer <token>" (RFC 6750 2.1). */
static struct wsg_span bearer_token(const struct wsg_hs_request *req)
{
    struct wsg_span h = wsg_hs_request_header(req, "Authorization");
    struct wsg_span none = {NULL, 0};

    if (h.ptr == NULL || h.len < 7 || !span_ieq(h.ptr, 6, "Bearer") ||
        !is_ows(h.ptr[6]))
        return none;
    h = trim(h.ptr + 7, h.len - 7);
    return h.len > 0 ? h : none;
}

/* The first cookie named `name` of all Cookie headers (RFC 6265 4.2.1);
 * a DQUOTE-wrapped value loses its quotes. */
static struct wsg_span cookie_token(const struct wsg_hs_request *req,
                                    const char *name)
{
    size_t nlen = strlen(name);

    for (size_t i = 0; i < req->header_count; i++) {
        const struct wsg_header *h = &req->headers[i];
        size_t pos = 0;

        if (!span_ieq(h->name, h->name_len, "Cookie"))
            continue;
        while (pos < h->value_len) {
            size_t end = pos;
            struct wsg_span pair;
            const char *eq;

            while (end < h->value_len && h->value[end] != ';')
                end++;
            pair = trim(h->value + pos, end - pos);
            pos = end + 1;
            eq = pair.len > 0 ? memchr(pair.ptr, '=', pair.len) : NULL;
            if (eq == NULL || (size_t)(eq - pair.ptr) != nlen ||
                memcmp(pair.ptr, name, nlen) != 0)
                continue;
            pair.len -= nlen + 1;
            pair.ptr = eq + 1;
            if (pair.len >= 2 && pair.ptr[0] == '"' &&
                pair.ptr[pair.len - 1] == '"') {
                pair.ptr++;
                pair.len -= 2;
            }
            return pair;
        }
    }
    return (struct wsg_span){NULL, 0};
}

static int hexval(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    c = (char)lower((unsigned char)c);
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    return -1;
}

/* The first query parameter named `name`, percent-decoded into `buf`
 * ('+' stays '+': tokens are not form data). Length, or 0 if absent,
 * malformed or longer than `cap`. */
static size_t query_token(const struct wsg_hs_request *req, const char *name,
                          char *buf, size_t cap)
{
    const char *q = req->query.ptr;
    size_t qlen = req->query.len, nlen = strlen(name), pos = 0;

    if (q == NULL)
        return 0;
    while (pos < qlen) {
        size_t end = pos, n = 0;

        while (end < qlen && q[end] != '&')
            end++;
        if (end - pos > nlen && q[pos + nlen] == '=' &&
            memcmp(q + pos, name, nlen) == 0) {
            for (size_t i = pos + nlen + 1; i < end; i++) {
                char c = q[i];

                if (c == '%') {
                    int hi = i + 2 < end ? hexval(q[i + 1]) : -1;
                    int lo = hi >= 0 ? hexval(q[i + 2]) : -1;

                    if (lo < 0)
                        return 0;
                    c = (char)(hi * 16 + lo);
                    i += 2;
                }
                if (n >= cap)
                    return 0;
                buf[n++] = c;
            }
            return n;
        }
        pos = end + 1;
    }
    return 0;
}

/* Identity from a trusted front end: printable ASCII, 1-128 bytes. */
static bool identity_ok(const struct wsg_policy *p,
                        const struct wsg_hs_request *req,
                        const struct wsg_guard_peer *peer, char *subject)
{
    struct wsg_span v;

    if (p->auth_identity_header == NULL || p->auth_identity_header[0] == '\0'
        || !peer_trusted(p, &peer->addr))
        return false;
    v = wsg_hs_request_header(req, p->auth_identity_header);
    if (v.ptr == NULL)
        return false;
    v = trim(v.ptr, v.len);
    if (v.len == 0 || v.len > 128)
        return false;
    for (size_t i = 0; i < v.len; i++)
        if ((unsigned char)v.ptr[i] < 0x21 || (unsigned char)v.ptr[i] > 0x7e)
            return false;
    wsg__copy_span(subject, 129, v.ptr, v.len);
    return true;
}

static bool auth_configured(const struct wsg_policy *p)
{
    return (p->auth_token != NULL && p->auth_token[0] != '\0') ||
           (p->hmac_key != NULL && p->hmac_key_len > 0) ||
           (p->auth_identity_header != NULL &&
            p->auth_identity_header[0] != '\0');
}

/* Any one configured method suffices. */
static bool auth_ok(const struct wsg_policy *p,
                    const struct wsg_hs_request *req,
                    const struct wsg_guard_peer *peer, char *subject)
{
    const char *name = p->auth_name != NULL && p->auth_name[0] != '\0'
                           ? p->auth_name
                           : "wsg_token";
    char buf[QUERY_TOKEN_MAX];
    struct wsg_span t = {NULL, 0};

    if (!auth_configured(p))
        return true;
    switch (p->auth_from) {
    case WSG__TOKEN_BEARER:
        t = bearer_token(req);
        break;
    case WSG__TOKEN_COOKIE:
        t = cookie_token(req, name);
        break;
    case WSG__TOKEN_QUERY:
        t.len = query_token(req, name, buf, sizeof(buf));
        t.ptr = t.len > 0 ? buf : NULL;
        break;
    }
    if (t.ptr != NULL &&
        wsg__guard_token_ok(p, t.ptr, t.len, peer->unix_s, subject))
        return true;
    return identity_ok(p, req, peer, subject);
}

/* ---- H9 --------------------------------------------------------------------- */

/* The first offered subprotocol that is in the allowlist, as the
 * allowlist's string; NULL if none. */
static const char *pick_subprotocol(const struct wsg_policy *p,
                                    const struct wsg_hs_request *req)
{
    struct wsg_span tok;
    size_t pos = 0;

    if (req->protocols.ptr == NULL)
        return NULL;
    while (wsg_http_list_next(req->protocols, &pos, &tok))
        for (size_t i = 0; i < p->subprotocol.count; i++) {
            const char *s = p->subprotocol.items[i];

            if (strlen(s) == tok.len && memcmp(s, tok.ptr, tok.len) == 0)
                return s;
        }
    return NULL;
}

/* ---- the verdict ------------------------------------------------------------ */

/* H10 headers into v; the HSTS value is copied into v->scratch[0..48). */
void wsg__guard_security_headers(const struct wsg_policy *p,
                                 struct wsg_guard_verdict *v)
{
    struct wsg_security_headers h = p->headers;
    size_t n = wsg_security_headers_list(&h, v->headers, 8);

    for (size_t i = 0; i < n; i++)
        if (v->headers[i].value == h.hsts_value) {
            memcpy(v->scratch, h.hsts_value, sizeof(h.hsts_value));
            v->headers[i].value = v->scratch;
        }
    v->header_count = n;
}

static void add_header(struct wsg_guard_verdict *v, const char *name,
                       const char *value)
{
    size_t max = sizeof(v->headers) / sizeof(v->headers[0]);

    if (v->header_count >= max)
        return;
    v->headers[v->header_count].name = name;
    v->headers[v->header_count].name_len = strlen(name);
    v->headers[v->header_count].value = value;
    v->headers[v->header_count].value_len = strlen(value);
    v->header_count++;
}

static void retry_after(struct wsg_guard_verdict *v, uint32_t s)
{
    char *buf = v->scratch + 48;

    put_u32(buf, s == 0 ? 1u : s);
    add_header(v, "Retry-After", buf);
}


static void first_protocol(const struct wsg_hs_request *req, char *out,
                           size_t cap)
{
    struct wsg_span tok;
    size_t pos = 0;

    out[0] = '\0';
    if (req->protocols.ptr != NULL &&
        wsg_http_list_next(req->protocols, &pos, &tok))
        wsg__copy_span(out, cap, tok.ptr, tok.len);
}

void wsg__guard_refuse(struct wsg_guard *g, const struct wsg_guard_peer *peer,
                       const struct wsg__upgrade_ctx *cx,
                       struct wsg_guard_verdict *v, int status, int control,
                       const char *reason)
{
    struct wsg_audit_event ev;

    v->status = status;
    v->control = control;
    v->reason = reason;
    v->subprotocol = NULL;
    v->subject[0] = '\0';
    g->stats.refused[control & 15]++;
    if (g->p->audit == NULL)
        return;
    memset(&ev, 0, sizeof(ev));
    ev.time_ms = peer_unix_ms(peer);
    ev.event = "refuse";
    ev.control = control;
    ev.client = v->client;
    ev.peer = peer->text;
    ev.path = cx->path;
    ev.status = status;
    ev.reason = reason;
    ev.subprotocol = cx->proto[0] != '\0' ? cx->proto : NULL;
    g->p->audit(g->p->audit_ud, &ev);
}

static int accept_conn(struct wsg_guard *g, const struct wsg_guard_peer *peer,
                       const struct wsg__upgrade_ctx *cx, uint64_t now_ms,
                       struct wsg_addr client, bool slot, bool authed,
                       struct wsg_guard_verdict *v,
                       struct wsg_guard_conn **out)
{
    const struct wsg_policy *p = g->p;
    struct wsg_guard_conn *gc = wsg__zalloc(&g->alloc, sizeof(*gc));
    uint64_t msg_burst, byte_burst;

    if (gc == NULL) {
        if (slot)
            wsg_addr_table_release(g->table, &client);
        v->status = 503;
        v->control = 0;
        v->reason = "out of memory";
        return WSG_ERR_NOMEM;
    }
    gc->g = g;
    gc->client = client;
    gc->slot = slot;
    memcpy(gc->client_text, v->client, sizeof(gc->client_text));
    memcpy(gc->subject, v->subject, sizeof(gc->subject));
    wsg__copy_span(gc->peer, sizeof(gc->peer), peer->text,
              peer->text != NULL ? strlen(peer->text) : 0);
    memcpy(gc->path, cx->path, sizeof(gc->path));
    gc->subprotocol = v->subprotocol;
    gc->unix_ms = peer_unix_ms(peer);
    gc->opened_ms = gc->last_in_ms = gc->last_out_ms = now_ms;
    /* A zero burst with a rate means "burst = one second's worth". */
    msg_burst = p->msg_burst != 0 ? p->msg_burst : p->msg_rate;
    byte_burst = p->byte_burst != 0 ? p->byte_burst : p->byte_rate;
    wsg_bucket_init(&gc->msgs, p->msg_rate, msg_burst, now_ms);
    wsg_bucket_init(&gc->bytes, p->byte_rate, byte_burst, now_ms);
    wsg_bucket_init(&gc->control, p->control_rate, p->control_rate, now_ms);
    gc->authed = authed || p->auth_first_message_ms == 0;
    gc->auth_deadline_ms = wsg__sat_add(now_ms, p->auth_first_message_ms);
    g->conns++;
    g->stats.accepted++;
    *out = gc;

    v->status = 0;
    v->control = 0;
    v->reason = NULL;
    if (p->audit != NULL) {
        struct wsg_audit_event ev;

        memset(&ev, 0, sizeof(ev));
        ev.time_ms = peer_unix_ms(peer);
        ev.event = "open";
        ev.client = gc->client_text;
        ev.subject = gc->subject[0] != '\0' ? gc->subject : NULL;
        ev.peer = peer->text;
        ev.path = gc->path;
        ev.subprotocol = gc->subprotocol;
        p->audit(p->audit_ud, &ev);
    }
    return WSG_OK;
}

int wsg_guard_upgrade(struct wsg_guard *g, const struct wsg_hs_request *req,
                      const struct wsg_guard_peer *peer, uint64_t now_ms,
                      struct wsg_guard_verdict *v,
                      struct wsg_guard_conn **out)
{
    const struct wsg_policy *p;
    struct wsg__upgrade_ctx cx;
    struct wsg_addr client;
    bool slot = false, authed;
    const char *why;

    if (out != NULL)
        *out = NULL;
    if (v == NULL)
        return WSG_ERR_INVALID_ARG;
    memset(v, 0, sizeof(*v));
    if (g == NULL || req == NULL || peer == NULL || out == NULL)
        return WSG_ERR_INVALID_ARG;
    p = g->p;
    wsg__copy_span(cx.path, sizeof(cx.path), req->path.ptr, req->path.len);
    first_protocol(req, cx.proto, sizeof(cx.proto));
    client = wsg_client_addr(&peer->addr, p->trusted, p->trusted_count, req,
                             p->client_ip_header);
    wsg_addr_format(&client, v->client, sizeof(v->client));
    wsg__guard_security_headers(p, v);

    /* H1: a WebSocket upgrade is never redirected (clients do not follow
     * redirects on the upgrade, RFC 6455 4.1): 403 even with
     * redirect_https. */
    if (p->require_https && !wsg__guard_is_https(p, req, peer)) {
        wsg__guard_refuse(g, peer, &cx, v, 403, WSG_H1, "https required");
        return WSG_OK;
    }
    /* H6: global cap, then the per-address table (its window counts
     * refused attempts too). */
    if (p->max_conns != 0 && g->conns >= p->max_conns) {
        retry_after(v, RETRY_GLOBAL_S);
        wsg__guard_refuse(g, peer, &cx, v, 503, WSG_H6, "server busy");
        return WSG_OK;
    }
    if (g->table != NULL) {
        uint32_t ra = 1;
        enum wsg_admit a = wsg_addr_table_admit(g->table, &client, now_ms,
                                                &ra);

        if (a == WSG_ADMIT_TABLE_FULL) {
            retry_after(v, RETRY_GLOBAL_S);
            wsg__guard_refuse(g, peer, &cx, v, 503, WSG_H6, "server busy");
            return WSG_OK;
        }
        if (a != WSG_ADMIT_OK) {
            retry_after(v, ra);
            wsg__guard_refuse(g, peer, &cx, v, 429, WSG_H6,
                   a == WSG_ADMIT_TOO_FAST ? "too many new connections"
                                           : "too many connections");
            return WSG_OK;
        }
        slot = true;
    }
    /* H2 (T9): Host against DNS rebinding, then Origin (CSWSH). */
    why = wsg__guard_host_ok(p, req) ? origin_refusal(p, req) : "host not allowed";
    if (why != NULL) {
        if (slot)
            wsg_addr_table_release(g->table, &client);
        wsg__guard_refuse(g, peer, &cx, v, 403, WSG_H2, why);
        return WSG_OK;
    }
    /* H3. With post-connect auth on, a request without a valid token is
     * let in and must send one as its first message (guard_conn.c); one
     * with a valid token is done. */
    authed = auth_ok(p, req, peer, v->subject);
    if (!authed && p->auth_first_message_ms == 0) {
        if (slot)
            wsg_addr_table_release(g->table, &client);
        add_header(v, "WWW-Authenticate", WWW_AUTH);
        wsg__guard_refuse(g, peer, &cx, v, 401, WSG_H3, "authentication required");
        return WSG_OK;
    }
    /* H9: with an allowlist, one offered entry must be on it. Without a
     * subprotocol RFC 6455 4.2.2 would let us go on, but the endpoint said
     * which ones it speaks: 403. */
    if (p->subprotocol.count > 0) {
        v->subprotocol = pick_subprotocol(p, req);
        if (v->subprotocol == NULL) {
            if (slot)
                wsg_addr_table_release(g->table, &client);
            wsg__guard_refuse(g, peer, &cx, v, 403, WSG_H9, "no allowed subprotocol");
            return WSG_OK;
        }
    }
    return accept_conn(g, peer, &cx, now_ms, client, slot, authed, v, out);
}
