/* The compliance report (H14): each control of shared/HARDENING.md with
 * PASS / WARN / FAIL, the settings that make it so and what is missing.
 * snprintf contract; no allocation, no clock, no global. Secrets are
 * never read into the text: auth-token shows as "set", the HMAC key as
 * "loaded".
 *
 * Rules (p: the policy, d: the deployment facts):
 *  H1  PASS  d.tls; or d.trusted_front_end + trusted-proxy + require-https.
 *            Either PASS turns WARN when hsts-max-age is 0.
 *      WARN  require-https without TLS here or a named trusted front end;
 *            or a trusted front end without require-https.
 *      FAIL  otherwise (plain ws:// accepted).
 *  H2  PASS  allow-origin and allow-host, allow-no-origin off.
 *      WARN  allow-origin without allow-host, or allow-no-origin on.
 *      FAIL  no allow-origin (no Origin check at all).
 *  H3  PASS  auth-token, a loaded HMAC key or auth-identity-header, at the
 *            handshake.
 *      WARN  the same, but only after the upgrade (auth-first-message).
 *      FAIL  none.
 *  H4  PASS  always: the core enforces RFC 6455 (tests/conformance).
 *  H5  PASS  max-message and max-frame at most 16 MiB; WARN above.
 *  H6  PASS  a per-connection rate (msg-rate or byte-rate), max-conns-per-ip
 *            and max-conns. WARN some of them. FAIL none.
 *  H7  PASS  handshake-, close-timeout (always set), ping-interval and
 *            pong-timeout. WARN ping-interval or pong-timeout 0.
 *  H8  PASS  permessage-deflate is never negotiated (not built, or built
 *            and off: no setting turns it on).
 *  H9  PASS  subprotocol allowlist, binary-only/text-only or a validator.
 *      WARN  none of them.
 *  H10 PASS  every header: hsts-max-age > 0, csp, frame-options,
 *            referrer-policy, permissions-policy (and nosniff, always).
 *            WARN some missing. FAIL none.
 *  H11 PASS  an audit callback. WARN none.
 *  H12 PASS  always (max-output and the size limits are never off); the
 *            evidence gives the per-connection memory bound.
 *  H13 PASS  always (library behaviour).
 *  H14 PASS  a version is given (plus this report). WARN without one.
 *  H15 PASS  d.fuzzed. WARN otherwise.
 */
#include <stdio.h>
#include <string.h>

#include "policy/policy_internal.h"

#define EV_MAX 3072u        /* evidence or missing text per control */
#define LIST_SHOWN 8u       /* list entries shown, then "(+N more)" */
#define H5_MAX (UINT64_C(16) << 20)

enum status { PASS, WARN, FAIL };
static const char *const status_word[] = {"PASS", "WARN", "FAIL"};

struct sb {
    char b[EV_MAX];
    size_t n;
    bool full;
};

static void sb_add(struct sb *s, const char *t)
{
    for (; *t != '\0' && !s->full; t++) {
        if (s->n + 4 >= EV_MAX) {       /* keep room for "..." */
            memcpy(s->b + s->n, "...", 4);
            s->n += 3;
            s->full = true;
            return;
        }
        s->b[s->n++] = *t;
    }
    s->b[s->n] = '\0';
}

/* "; " between items. */
static void sb_item(struct sb *s, const char *t)
{
    if (s->n > 0)
        sb_add(s, "; ");
    sb_add(s, t);
}

/* "name=value" with the value as wsg_policy_get gives it (lists cut to
 * LIST_SHOWN entries; secrets as set / not set). */
static void sb_setting(struct sb *s, const struct wsg_policy *p,
                       const char *name)
{
    const struct wsg_setting *r = wsg_policy_setting_find(name);
    char v[1100];
    size_t len = wsg_policy_get(p, name, v, sizeof(v));

    if (s->n > 0)
        sb_add(s, "; ");
    sb_add(s, name);
    sb_add(s, "=");
    if (r != NULL && r->secret) {
        sb_add(s, len > 0 ? "set" : "not set");
        return;
    }
    if (r != NULL && r->kind == WSG_SETTING_LIST && len > 0) {
        size_t k = 0, shown = 0;
        char more[40];
        for (const char *c = v; *c != '\0'; c++)
            if (*c == ',' && ++shown == LIST_SHOWN) {
                k = (size_t)(c - v);
                break;
            }
        if (k != 0) {
            size_t total = 1;
            for (const char *c = v; *c != '\0'; c++)
                total += *c == ',';
            v[k] = '\0';
            snprintf(more, sizeof(more), " (+%zu more)", total - LIST_SHOWN);
            sb_add(s, v);
            sb_add(s, more);
            return;
        }
    }
    if (len >= sizeof(v))
        memcpy(v + sizeof(v) - 4, "...", 4);
    sb_add(s, len > 0 ? v : "(none)");
}

struct ctl {
    enum status st;
    struct sb ev, miss;
};

static void h1(const struct wsg_policy *p, const struct wsg_deployment *d,
               struct ctl *c)
{
    bool front = d->trusted_front_end && p->trusted_count > 0;

    sb_item(&c->ev, d->tls ? "TLS terminated in this process"
                           : "no TLS in this process");
    if (d->trusted_front_end)
        sb_item(&c->ev, front ? "trusted front end (X-Forwarded-Proto / "
                                "X-ARR-SSL) named by trusted-proxy"
                              : "front end said trusted, but no "
                                "trusted-proxy names it");
    sb_setting(&c->ev, p, "require-https");
    sb_setting(&c->ev, p, "https-redirect");
    sb_setting(&c->ev, p, "hsts-max-age");
    if (d->tls || (front && p->require_https)) {
        c->st = PASS;
        if (p->headers.hsts_max_age == 0) {
            c->st = WARN;
            sb_item(&c->miss, "hsts-max-age above 0");
        }
    } else if (p->require_https) {
        c->st = WARN;
        sb_item(&c->miss, "TLS here, or a trusted front end (trusted-proxy) "
                          "that terminates TLS");
    } else if (front) {
        c->st = WARN;
        sb_item(&c->miss, "require-https=true");
    } else {
        c->st = FAIL;
        sb_item(&c->miss, "TLS here, or a trusted front end (trusted-proxy) "
                          "with require-https=true");
    }
}

static void h2(const struct wsg_policy *p, struct ctl *c)
{
    sb_setting(&c->ev, p, "allow-origin");
    sb_setting(&c->ev, p, "allow-host");
    sb_setting(&c->ev, p, "allow-no-origin");
    if (p->origin_count == 0) {
        c->st = FAIL;
        sb_item(&c->ev, "no Origin check");
        sb_item(&c->miss, "allow-origin (and allow-host)");
        return;
    }
    sb_item(&c->ev, "exact scheme/host/port match; null and file:// "
                    "refused with 403");
    c->st = PASS;
    if (p->allow_host.count == 0) {
        c->st = WARN;
        sb_item(&c->miss, "allow-host (DNS rebinding)");
    }
    if (p->allow_no_origin) {
        c->st = WARN;
        sb_item(&c->miss, "allow-no-origin=false");
    }
}

static void h3(const struct wsg_policy *p, struct ctl *c)
{
    int methods = 0;

    sb_setting(&c->ev, p, "auth-token");
    if (p->auth_token != NULL) {
        sb_setting(&c->ev, p, "auth-token-from");
        if (p->auth_from != WSG__TOKEN_BEARER)
            sb_setting(&c->ev, p, "auth-token-name");
        methods++;
    }
    if (p->auth_hmac_key_file != NULL) {
        sb_setting(&c->ev, p, "auth-hmac-key-file");
        sb_item(&c->ev, p->hmac_key != NULL ? "HMAC key loaded"
                                            : "HMAC key NOT loaded");
    }
    if (p->hmac_key != NULL) {
        sb_setting(&c->ev, p, "auth-leeway");
        methods++;
    }
    if (p->auth_identity_header != NULL) {
        sb_setting(&c->ev, p, "auth-identity-header");
        sb_item(&c->ev, "from trusted proxies only");
        methods++;
    }
    sb_setting(&c->ev, p, "auth-first-message");
    if (methods == 0) {
        c->st = FAIL;
        sb_item(&c->miss, "auth-token, auth-hmac-key-file (key loaded) or "
                          "auth-identity-header");
        return;
    }
    sb_item(&c->ev, "constant-time comparison; 401 with WWW-Authenticate");
    c->st = PASS;
    if (p->auth_first_message_ms != 0) {
        c->st = WARN;
        sb_item(&c->miss, "authentication before the upgrade "
                          "(auth-first-message=0)");
    }
}

static void h5(const struct wsg_policy *p, struct ctl *c)
{
    sb_setting(&c->ev, p, "max-message");
    sb_setting(&c->ev, p, "max-frame");
    sb_setting(&c->ev, p, "max-fragments");
    sb_item(&c->ev, "checked from the frame header before buffering "
                    "(core), close 1009; HTTP request line 8 KiB, header "
                    "block 16 KiB");
    c->st = PASS;
    if (p->max_message > H5_MAX || p->max_frame > H5_MAX) {
        c->st = WARN;
        sb_item(&c->miss, "max-message and max-frame at most 16777216");
    }
}

static void h6(const struct wsg_policy *p, struct ctl *c)
{
    int have = 0;

    sb_setting(&c->ev, p, "msg-rate");
    sb_setting(&c->ev, p, "msg-burst");
    sb_setting(&c->ev, p, "byte-rate");
    sb_setting(&c->ev, p, "byte-burst");
    sb_setting(&c->ev, p, "control-rate");
    sb_setting(&c->ev, p, "rate-action");
    sb_setting(&c->ev, p, "max-conns");
    sb_setting(&c->ev, p, "max-conns-per-ip");
    sb_setting(&c->ev, p, "conn-rate-per-ip");
    sb_setting(&c->ev, p, "conn-rate-window");
    sb_setting(&c->ev, p, "addr-table-memory");
    if (p->msg_rate != 0 || p->byte_rate != 0)
        have++;
    else
        sb_item(&c->miss, "msg-rate or byte-rate");
    if (p->max_conns_per_ip != 0)
        have++;
    else
        sb_item(&c->miss, "max-conns-per-ip");
    if (p->max_conns != 0)
        have++;
    else
        sb_item(&c->miss, "max-conns");
    c->st = have == 3 ? PASS : have > 0 ? WARN : FAIL;
}

static void h7(const struct wsg_policy *p, struct ctl *c)
{
    sb_setting(&c->ev, p, "handshake-timeout");
    sb_setting(&c->ev, p, "idle-timeout");
    if (p->idle_timeout_ms != 0)
        sb_setting(&c->ev, p, "idle-direction");
    sb_setting(&c->ev, p, "ping-interval");
    sb_setting(&c->ev, p, "pong-timeout");
    sb_setting(&c->ev, p, "close-timeout");
    sb_item(&c->ev, "seconds");
    c->st = PASS;
    if (p->ping_interval_ms == 0) {
        c->st = WARN;
        sb_item(&c->miss, "ping-interval and pong-timeout above 0");
    } else if (p->pong_timeout_ms == 0) {
        c->st = WARN;
        sb_item(&c->miss, "pong-timeout above 0");
    }
}

static void h9(const struct wsg_policy *p, struct ctl *c)
{
    sb_setting(&c->ev, p, "subprotocol");
    sb_setting(&c->ev, p, "binary-only");
    sb_setting(&c->ev, p, "text-only");
    sb_item(&c->ev, p->validate != NULL ? "message validator set"
                                        : "no message validator");
    if (p->subprotocol.count != 0 || p->binary_only || p->text_only ||
        p->validate != NULL) {
        c->st = PASS;
    } else {
        c->st = WARN;
        sb_item(&c->miss, "subprotocol, binary-only or text-only, or a "
                          "validator (wsg_policy_set_validator)");
    }
}

static void h10(const struct wsg_policy *p, const struct wsg_deployment *d,
                struct ctl *c)
{
    static const char *const names[] = {"csp", "frame-options",
                                        "referrer-policy",
                                        "permissions-policy"};
    const char *vals[] = {p->headers.csp, p->headers.frame_options,
                          p->headers.referrer_policy,
                          p->headers.permissions_policy};
    bool hsts = p->headers.hsts_max_age != 0;
    int have = hsts + p->headers.nosniff;

    sb_setting(&c->ev, p, "hsts-max-age");
    if (!hsts)
        sb_item(&c->miss, "hsts-max-age");
    for (size_t i = 0; i < 4; i++) {
        sb_setting(&c->ev, p, names[i]);
        if (vals[i] != NULL && vals[i][0] != '\0')
            have++;
        else
            sb_item(&c->miss, names[i]);
    }
    if (p->headers.nosniff)
        sb_item(&c->ev, "X-Content-Type-Options: nosniff");
    sb_item(&c->ev, "on every response, refusals included");
    if (!d->tls && !d->trusted_front_end && hsts)
        sb_item(&c->ev, "HSTS is honoured over HTTPS only");
    c->st = have == 6 ? PASS : have > 0 ? WARN : FAIL;
}

static void h11(const struct wsg_policy *p, struct ctl *c)
{
    if (p->audit != NULL) {
        c->st = PASS;
        sb_item(&c->ev, "audit callback set: one JSON line per open, "
                        "close and refusal with its control id; no "
                        "payloads, tokens or cookies");
    } else {
        c->st = WARN;
        sb_item(&c->ev, "no audit callback");
        sb_item(&c->miss, "an audit callback (wsg_policy_set_audit; "
                          "wsg-echo --audit)");
    }
    sb_setting(&c->ev, p, "trusted-proxy");
    sb_setting(&c->ev, p, "client-ip-header");
    sb_item(&c->ev, p->trusted_count != 0
                        ? "client address from X-Forwarded-For via "
                          "trusted proxies only"
                        : "client address: the socket peer");
}

static void h12(const struct wsg_policy *p, struct ctl *c)
{
    char t[160];

    sb_setting(&c->ev, p, "max-output");
    sb_setting(&c->ev, p, "max-message");
    sb_setting(&c->ev, p, "addr-table-memory");
    snprintf(t, sizeof(t),
             "memory per connection at most %llu bytes (max-message + "
             "max-output + 64 KiB control slack; idle about 2 KiB)",
             (unsigned long long)(p->max_message + p->max_output + 65536u));
    sb_item(&c->ev, t);
    sb_item(&c->ev, "backpressure past max-output, then close 1008");
    c->st = PASS;
}

static void fill(const struct wsg_policy *p, const struct wsg_deployment *d,
                 int id, struct ctl *c)
{
    c->ev.n = c->miss.n = 0;
    c->ev.full = c->miss.full = false;
    c->ev.b[0] = c->miss.b[0] = '\0';
    c->st = PASS;
    switch (id) {
    case WSG_H1: h1(p, d, c); break;
    case WSG_H2: h2(p, c); break;
    case WSG_H3: h3(p, c); break;
    case WSG_H4:
        sb_item(&c->ev, "core enforces every RFC 6455 MUST (masking, RSV "
                        "bits, opcodes, control frames, fragmentation, "
                        "UTF-8 fail-fast, close codes); strict, no "
                        "setting relaxes it; tests/conformance");
        break;
    case WSG_H5: h5(p, c); break;
    case WSG_H6: h6(p, c); break;
    case WSG_H7: h7(p, c); break;
    case WSG_H8:
        sb_item(&c->ev, d->deflate_available
                            ? "permessage-deflate built but off (never "
                              "negotiated)"
                            : "permessage-deflate not built");
        break;
    case WSG_H9: h9(p, c); break;
    case WSG_H10: h10(p, d, c); break;
    case WSG_H11: h11(p, c); break;
    case WSG_H12: h12(p, c); break;
    case WSG_H13:
        sb_item(&c->ev, "every refusal is an HTTP status (401, 403, 426, "
                        "429, 503) or a close code (1002, 1003, 1007, 1008, "
                        "1009, 1011) with a short reason; nothing is "
                        "delivered before it is validated");
        break;
    case WSG_H14:
        if (d->version != NULL) {
            sb_add(&c->ev, "wsguard ");
            sb_add(&c->ev, d->version);
            sb_item(&c->ev, "CHANGELOG.md; this report");
        } else {
            c->st = WARN;
            sb_item(&c->ev, "this report");
            sb_item(&c->miss, "the wsguard version");
        }
        break;
    default:
        if (d->fuzzed) {
            sb_item(&c->ev, "fuzz harnesses (fuzz/), conformance suite "
                            "(tests/conformance)");
        } else {
            c->st = WARN;
            sb_item(&c->ev, "no fuzz harnesses shipped");
            sb_item(&c->miss, "fuzz harnesses");
        }
        break;
    }
}

/* ---- rendering ---------------------------------------------------------- */

static void put(struct wsg__out *o, const char *s)
{
    wsg__out_put(o, s);
}

static void putc_(struct wsg__out *o, char ch)
{
    wsg__out_putn(o, &ch, 1);
}

/* A Markdown table cell: '|' escaped, control bytes as spaces, bytes
 * >= 0x80 as '?' (as in JSON below). */
static void put_md(struct wsg__out *o, const char *s)
{
    for (; *s != '\0'; s++) {
        if (*s == '|')
            put(o, "\\|");
        else
            putc_(o, (unsigned char)*s < 0x20 ? ' '
                     : (unsigned char)*s >= 0x80 ? '?' : *s);
    }
}

/* A JSON string (RFC 8259 §7). Settings are printable ASCII except file
 * paths: bytes >= 0x80 become '?' so the output is always valid UTF-8. */
static void put_json(struct wsg__out *o, const char *s)
{
    static const char hex[] = "0123456789abcdef";

    put(o, "\"");
    for (; s != NULL && *s != '\0'; s++) {
        unsigned char ch = (unsigned char)*s;
        if (ch == '"' || ch == '\\') {
            putc_(o, '\\');
            putc_(o, (char)ch);
        } else if (ch < 0x20 || ch == 0x7F) {
            char u[7] = {'\\', 'u', '0', '0', hex[ch >> 4], hex[ch & 15], 0};
            put(o, u);
        } else {
            putc_(o, ch >= 0x80 ? '?' : (char)ch);
        }
    }
    put(o, "\"");
}

static const char *yn(bool b) { return b ? "yes" : "no"; }
static const char *tf(bool b) { return b ? "true" : "false"; }

size_t wsg_policy_report(const struct wsg_policy *p,
                         const struct wsg_deployment *d,
                         enum wsg_report_format fmt, char *out, size_t cap)
{
    static const struct wsg_deployment none = {false, false, false, false,
                                               NULL};
    struct wsg__out o;
    struct ctl c;
    unsigned count[3] = {0, 0, 0};
    bool json = fmt == WSG_REPORT_JSON;
    char line[128];

    wsg__out_init(&o, out, cap);
    if (p == NULL)
        return 0;
    if (d == NULL)
        d = &none;
    if (json) {
        put(&o, "{\"wsguard\":");
        if (d->version != NULL)
            put_json(&o, d->version);
        else
            put(&o, "null");
        snprintf(line, sizeof(line),
                 ",\n \"deployment\":{\"tls\":%s,\"trusted_front_end\":%s,"
                 "\"deflate_available\":%s,\"fuzzed\":%s},\n \"controls\":[",
                 tf(d->tls), tf(d->trusted_front_end),
                 tf(d->deflate_available), tf(d->fuzzed));
        put(&o, line);
    } else {
        put(&o, "# wsguard compliance report\n\nwsguard ");
        put_md(&o, d->version != NULL ? d->version : "(version unknown)");
        put(&o, "; controls H1-H15 of shared/HARDENING.md.\n\n");
        snprintf(line, sizeof(line),
                 "Deployment: TLS in this process: %s; trusted front end: "
                 "%s; permessage-deflate built: %s; fuzz harnesses: %s.\n\n",
                 yn(d->tls), yn(d->trusted_front_end),
                 yn(d->deflate_available), yn(d->fuzzed));
        put(&o, line);
        put(&o, "| id | control | status | evidence | missing |\n"
                "| --- | --- | --- | --- | --- |\n");
    }
    for (int id = WSG_H1; id <= WSG_H15; id++) {
        fill(p, d, id, &c);
        count[c.st]++;
        if (json) {
            put(&o, id == WSG_H1 ? "\n  {\"id\":" : ",\n  {\"id\":");
            put_json(&o, wsg_control_id(id));
            put(&o, ",\"title\":");
            put_json(&o, wsg_control_title(id));
            put(&o, ",\"status\":");
            put_json(&o, status_word[c.st]);
            put(&o, ",\"evidence\":");
            put_json(&o, c.ev.b);
            put(&o, ",\"missing\":");
            put_json(&o, c.miss.b);
            put(&o, "}");
        } else {
            put(&o, "| ");
            put(&o, wsg_control_id(id));
            put(&o, " | ");
            put_md(&o, wsg_control_title(id));
            put(&o, " | ");
            put(&o, status_word[c.st]);
            put(&o, " | ");
            put_md(&o, c.ev.b);
            put(&o, " | ");
            put_md(&o, c.miss.n > 0 ? c.miss.b : "-");
            put(&o, " |\n");
        }
    }
    if (json)
        snprintf(line, sizeof(line),
                 "\n ],\n \"summary\":{\"pass\":%u,\"warn\":%u,\"fail\":%u}}\n",
                 count[PASS], count[WARN], count[FAIL]);
    else
        snprintf(line, sizeof(line), "\n%u PASS, %u WARN, %u FAIL\n",
                 count[PASS], count[WARN], count[FAIL]);
    put(&o, line);
    return wsg__out_end(&o);
}
