/* wsguard policy: the building blocks of the hardening controls
 * (shared/HARDENING.md, ids H1-H15).
 *
 * Like the core, everything here is sans-I/O: no file descriptor, no clock
 * (time is `now_ms`, passed in), no global, allocation only through the
 * optional allocator. This header holds the pieces each control is made of;
 * the policy object that ties them into one opt-in configuration builds on
 * them (issue 3).
 *
 *   addresses   IPv4/IPv6 addresses and CIDRs; the client address behind
 *               trusted proxies (X-Forwarded-For, X-Client-IP)      H3 H6 H11
 *   origins     Origin / Host normalisation and allowlists            H2
 *   tokens      HMAC-SHA256 signed tokens with expiry, constant time  H3
 *   rates       token buckets; a per-address table in fixed memory    H6
 *   audit       one event struct, rendered as one JSON line           H11
 *   headers     security headers for every HTTP response              H10
 */
#ifndef WSGUARD_POLICY_H
#define WSGUARD_POLICY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <wsguard/core.h>
#include <wsguard/err.h>
#include <wsguard/export.h>
#include <wsguard/handshake.h>

#ifdef __cplusplus
extern "C" {
#endif

/* ---- controls ----------------------------------------------------------- */

/* The hardening controls, numbered as in shared/HARDENING.md. */
enum wsg_control {
    WSG_H1 = 1, WSG_H2, WSG_H3, WSG_H4, WSG_H5, WSG_H6, WSG_H7, WSG_H8,
    WSG_H9, WSG_H10, WSG_H11, WSG_H12, WSG_H13, WSG_H14, WSG_H15
};

/* "H1".."H15", or "H?" for anything else. Static storage. */
WSG_API const char *wsg_control_id(int control);
/* "Encrypted transport only", ... (the HARDENING.md titles). */
WSG_API const char *wsg_control_title(int control);

/* ---- addresses (H3, H6, H11) -------------------------------------------- */

/* An IPv4 or IPv6 address. IPv4 is kept as an IPv4-mapped IPv6 address
 * (::ffff:a.b.c.d), so one comparison serves both families. */
struct wsg_addr {
    uint8_t b[16];
};

/* A network: address plus prefix length (0-128, on the mapped form). */
struct wsg_cidr {
    struct wsg_addr net;
    uint8_t bits;
};

/* Parses "192.0.2.7", "2001:db8::1", "[2001:db8::1]", and with
 * `allow_port` also "192.0.2.7:443" and "[2001:db8::1]:443" (the port,
 * 0-65535 without leading zeros, is ignored). An unbracketed string that
 * parses as IPv6 never takes a port ("::1:80" is an address). No zone ids,
 * no leading zeros in IPv4 octets, brackets only around IPv6. Returns
 * WSG_OK or WSG_ERR_INVALID_ARG. */
WSG_API int wsg_addr_parse(const char *s, size_t len, bool allow_port,
                           struct wsg_addr *out);

/* Longest text form of an address, with its NUL. */
#define WSG_ADDR_STRLEN 46

/* Writes the canonical text form ("192.0.2.7", "2001:db8::1", RFC 5952)
 * with a NUL into `out` (WSG_ADDR_STRLEN bytes are always enough). Returns
 * the length; if `cap` is too small, writes "" (when cap > 0) and returns
 * 0. */
WSG_API size_t wsg_addr_format(const struct wsg_addr *a, char *out,
                               size_t cap);

/* Parses "10.0.0.0/8", "2001:db8::/32" or a bare address (a /32 or
 * /128). Host bits past the prefix are refused. Returns WSG_OK or
 * WSG_ERR_INVALID_ARG. */
WSG_API int wsg_cidr_parse(const char *s, size_t len, struct wsg_cidr *out);
WSG_API bool wsg_cidr_contains(const struct wsg_cidr *c,
                               const struct wsg_addr *a);

/* The client address (H11: "client address through trusted proxies
 * only"). If `peer` is not inside one of the `trusted` networks, the
 * answer is `peer`. Otherwise, when `client_header` (e.g. "X-Client-IP") is
 * set and present exactly once with a valid address, that address;
 * otherwise the right-most address of X-Forwarded-For (all such headers,
 * in order) that is not trusted, walking left over trusted hops; if every
 * hop is trusted, the left-most one. Elements are trimmed, may carry a
 * port or brackets, and empty ones are skipped (RFC 9110 5.6.1); a
 * malformed element ("unknown", obfuscated ids) stops the walk at the last
 * good address. NULL `peer` gives ::, NULL `req` the peer. Never fails. */
WSG_API struct wsg_addr wsg_client_addr(const struct wsg_addr *peer,
                                        const struct wsg_cidr *trusted,
                                        size_t trusted_count,
                                        const struct wsg_hs_request *req,
                                        const char *client_header);

/* ---- origins (H2) ------------------------------------------------------- */

/* An origin normalised for exact comparison (RFC 6454): scheme and host in
 * lower case, the default port made explicit (http 80, https 443, ws 80,
 * wss 443). `host` holds an IPv6 literal with its brackets. */
struct wsg_origin {
    char scheme[8];   /* "http", "https", "ws", "wss" */
    char host[256];
    uint16_t port;
};

/* Parses an Origin header value or an allowlist entry: scheme "://" host
 * [":" port], nothing after it (a single trailing "/" is allowed in
 * allowlist entries only, when `entry` is true). For allowlist entries the
 * host may start with "*." (any subdomain, at least one label, never the
 * bare domain). "null", file:, data:, userinfo, paths, queries, empty
 * ports, port 0, ports with leading zeros and ports over 65535 are refused
 * with WSG_ERR_INVALID_ARG. A wildcard needs two labels after it ("*.com"
 * is refused). Host names: letters, digits, '-', '.', labels of 1-63
 * bytes, at most 253 bytes; IPv6 hosts match only exactly. */
WSG_API int wsg_origin_parse(const char *s, size_t len, bool entry,
                             struct wsg_origin *out);

/* True if `o` (a parsed Origin) matches the allowlist entry `pattern`:
 * same scheme and port, and the same host or, for "*.x.y", a host ending
 * in ".x.y" with at least one more label. */
WSG_API bool wsg_origin_match(const struct wsg_origin *pattern,
                              const struct wsg_origin *o);

/* Host header check against DNS rebinding: `host` (the Host header value,
 * with or without port) matches an allowlist entry (a host name, "*.x.y",
 * or host:port), case-insensitively. A trailing dot is ignored. */
WSG_API bool wsg_host_match(const char *entry, const char *host,
                            size_t host_len);

/* ---- tokens (H3) -------------------------------------------------------- */

/* Signed token format (documented in README):
 *   v1.<subject>.<expiry>.<signature>
 * subject: 1-128 bytes of [A-Za-z0-9_@:+=-]; expiry: seconds since the
 * Unix epoch in decimal (no leading zeros, at most 12 digits); signature:
 * base64url without padding of HMAC-SHA256(key, "v1.<subject>.<expiry>").
 * The whole token is at most 300 bytes. */
#define WSG_TOKEN_MAX 300

enum wsg_token_result {
    WSG_TOKEN_OK = 0,
    WSG_TOKEN_MALFORMED,  /* not the format above */
    WSG_TOKEN_BAD_SIGNATURE,
    WSG_TOKEN_EXPIRED
};

/* Verifies `token` with `key` at `now_s` (Unix seconds; the caller's
 * clock), allowing `leeway_s` of clock skew. The signature is compared in
 * constant time. On WSG_TOKEN_OK, copies the subject (NUL-terminated) into
 * `subject` (at least 129 bytes) when not NULL. */
WSG_API enum wsg_token_result wsg_token_verify(const uint8_t *key,
                                               size_t key_len,
                                               const char *token, size_t len,
                                               uint64_t now_s,
                                               uint32_t leeway_s,
                                               char *subject);

/* Makes a token (for tests and tools). Returns the length written (without
 * the NUL) or 0 if the subject is invalid, the key empty, the expiry over
 * 12 digits, `out` NULL or `cap` too small. Verification checks format,
 * then signature, then expiry: EXPIRED is only said of genuine tokens. */
WSG_API size_t wsg_token_sign(const uint8_t *key, size_t key_len,
                              const char *subject, uint64_t expiry_s,
                              char *out, size_t cap);

/* Constant-time comparison of two byte strings (lengths compared in the
 * open; contents without early exit). */
WSG_API bool wsg_ct_equal(const void *a, size_t alen, const void *b,
                          size_t blen);

/* ---- rates (H6) --------------------------------------------------------- */

/* A token bucket: `rate` tokens per second, at most `burst` stored.
 * Integer arithmetic in millitokens; time in ms from the caller. rate 0:
 * unlimited (every take succeeds). */
struct wsg_bucket {
    uint64_t rate;        /* tokens per second */
    uint64_t burst;       /* bucket size in tokens */
    uint64_t level;       /* millitokens */
    uint64_t last_ms;
};

WSG_API void wsg_bucket_init(struct wsg_bucket *b, uint64_t rate,
                             uint64_t burst, uint64_t now_ms);
/* Takes `n` tokens if available and returns true; else takes none. */
WSG_API bool wsg_bucket_take(struct wsg_bucket *b, uint64_t n,
                             uint64_t now_ms);
/* Milliseconds until `n` tokens are available (0 if now; UINT64_MAX if
 * never, n > burst). For Retry-After. */
WSG_API uint64_t wsg_bucket_wait_ms(const struct wsg_bucket *b, uint64_t n,
                                    uint64_t now_ms);

/* Per-address state in a fixed memory budget: open connections and a
 * new-connection window per client address. When full, the least recently
 * used entry without open connections is evicted; if every entry has open
 * connections, new addresses are refused (the caller answers 503). An
 * attacker with many addresses cannot grow it. */
struct wsg_addr_table;

struct wsg_addr_table_config {
    size_t memory_budget;         /* bytes, all included; default 4 MiB */
    uint32_t max_conns_per_addr;  /* 0: unlimited; default 0 */
    uint32_t new_conns_per_window;/* 0: unlimited; default 0 */
    uint32_t window_ms;           /* default 10000 */
    const struct wsg_allocator *alloc;
};

WSG_API void wsg_addr_table_config_init_default(
    struct wsg_addr_table_config *cfg);

/* Allocates everything up front (memory_budget bytes at most; 56 bytes an
 * entry: 74,896 entries in the default 4 MiB). Returns WSG_OK,
 * WSG_ERR_INVALID_ARG (NULL argument, budget too small for 64 entries, an
 * allocator without malloc or free, window_ms 0 with a window limit) or
 * WSG_ERR_NOMEM. */
WSG_API int wsg_addr_table_new(const struct wsg_addr_table_config *cfg,
                               struct wsg_addr_table **out);
WSG_API void wsg_addr_table_free(struct wsg_addr_table *t);

enum wsg_admit {
    WSG_ADMIT_OK = 0,
    WSG_ADMIT_TOO_MANY_CONNS,  /* concurrent cap for the address (429) */
    WSG_ADMIT_TOO_FAST,        /* new connections per window (429) */
    WSG_ADMIT_TABLE_FULL       /* every entry holds open connections, or
                                  (crafted hash collisions) every entry in
                                  the bounded probe window does (503) */
};

/* Counts a new connection from `a` at `now_ms`. On WSG_ADMIT_OK the
 * caller must call wsg_addr_table_release() when it closes. On refusal,
 * *retry_after_s (if not NULL) is a hint in seconds for Retry-After: the
 * rest of the window for TOO_FAST, 1 otherwise. */
WSG_API enum wsg_admit wsg_addr_table_admit(struct wsg_addr_table *t,
                                            const struct wsg_addr *a,
                                            uint64_t now_ms,
                                            uint32_t *retry_after_s);
WSG_API void wsg_addr_table_release(struct wsg_addr_table *t,
                                    const struct wsg_addr *a);
/* Entries in use, and the fixed capacity. */
WSG_API size_t wsg_addr_table_count(const struct wsg_addr_table *t);
WSG_API size_t wsg_addr_table_capacity(const struct wsg_addr_table *t);

/* ---- audit (H11) -------------------------------------------------------- */

/* One audit event. Strings are NUL-terminated or NULL (left out). Never
 * put payloads, tokens, cookies, Authorization or subprotocol entries
 * other than the first here: the renderer does not know what is secret. */
struct wsg_audit_event {
    uint64_t time_ms;          /* Unix time in ms (rendered as RFC 3339) */
    const char *event;         /* "open", "close", "refuse", "violation" */
    int control;               /* WSG_H*; 0: none */
    const char *client;        /* client address (through trusted proxies) */
    const char *subject;       /* who authenticated (signed token's subject
                                  or the trusted identity header); NULL:
                                  none or a static token */
    const char *peer;          /* socket peer "ip:port" */
    const char *path;
    int status;                /* HTTP status; 0: none */
    uint16_t close_code;       /* 0: none */
    const char *reason;
    const char *subprotocol;   /* the first entry only */
    uint64_t duration_ms;
    uint64_t bytes_in, bytes_out, messages_in, messages_out;
    uint64_t messages_dropped; /* by rate-action drop (H6) */
    const char *detail;        /* free text, short */
};

/* Renders one JSON object and "\n" into `out` (fields in a fixed order;
 * absent and zero optional fields left out; strings escaped per RFC 8259,
 * invalid UTF-8 replaced by U+FFFD, control characters as \u00XX; every
 * string cut to 256 bytes). Returns the length written without the NUL, or
 * the length needed if `cap` is too small (like snprintf). */
WSG_API size_t wsg_audit_json(const struct wsg_audit_event *ev, char *out,
                              size_t cap);

/* ---- security headers (H10) --------------------------------------------- */

struct wsg_security_headers {
    uint32_t hsts_max_age;          /* seconds; 0: no HSTS; default 31536000 */
    bool hsts_include_subdomains;   /* default false */
    const char *csp;                /* Content-Security-Policy; NULL: none;
                                       default "default-src 'self'; connect-src 'self'; frame-ancestors 'none'" */
    const char *frame_options;      /* X-Frame-Options; default "DENY" */
    const char *referrer_policy;    /* default "no-referrer" */
    const char *permissions_policy; /* default "camera=(), microphone=(), geolocation=()" */
    bool nosniff;                   /* X-Content-Type-Options: nosniff; default true */
    char hsts_value[48];            /* scratch: the HSTS value, written by
                                       wsg_security_headers_list */
};

WSG_API void wsg_security_headers_init_default(struct wsg_security_headers *h);

/* Fills up to `max` headers (pointers into `h` and static strings; valid
 * while `h` is and until the next call on it). Returns the number filled.
 * Values with CR, LF or NUL are skipped, as are NULL and empty ones. Writes
 * the HSTS value into `h->hsts_value`, so `h` is not const: to list from a
 * shared policy, copy the struct first. */
WSG_API size_t wsg_security_headers_list(struct wsg_security_headers *h,
                                         struct wsg_header *out, size_t max);

/* ---- the policy: every control as one configuration (H14) ---------------
 *
 * One opaque object holds every setting. Every setting has one name, used
 * alike for command-line flags ("--max-message"), environment variables
 * ("WSG_MAX_MESSAGE": "WSG_" + upper case, '-' as '_'; lists
 * comma-separated) and the compliance report, from one table
 * (wsg_policy_settings()). A new policy has safe defaults and every
 * opt-in control off: with it, the engine behaves as with no policy. */

enum wsg_setting_kind {
    WSG_SETTING_BOOL,     /* "true"/"false"/"1"/"0"/"yes"/"no"/"on"/"off";
                             as a flag, present means true */
    WSG_SETTING_SIZE,     /* bytes: decimal, optional k/m/g (1024-based) */
    WSG_SETTING_COUNT,    /* unsigned decimal */
    WSG_SETTING_SECONDS,  /* decimal seconds, up to 3 decimals ("0.5") */
    WSG_SETTING_STRING,
    WSG_SETTING_LIST,     /* repeatable; comma-separated in the environment */
    WSG_SETTING_CHOICE    /* one of a fixed set of words */
};

/* One row of the settings table. */
struct wsg_setting {
    const char *name;       /* "max-message" */
    const char *env;        /* "WSG_MAX_MESSAGE" */
    enum wsg_setting_kind kind;
    int control;            /* WSG_H* it belongs to */
    const char *def;        /* default, as text ("" for none) */
    const char *range;      /* "1-1073741824", "close|drop", ... */
    const char *help;       /* one line */
    bool secret;            /* never printed (auth-token): the report says
                               "set" / "not set" */
};

/* The table, in report order. Static storage. */
WSG_API const struct wsg_setting *wsg_policy_settings(size_t *count);
/* The row named `name` (without leading dashes), or NULL. */
WSG_API const struct wsg_setting *wsg_policy_setting_find(const char *name);

struct wsg_policy;

/* A policy with the defaults. Returns WSG_OK, WSG_ERR_INVALID_ARG,
 * WSG_ERR_NOMEM. */
WSG_API int wsg_policy_new(const struct wsg_allocator *alloc,
                           struct wsg_policy **out);
WSG_API void wsg_policy_free(struct wsg_policy *p);

/* Sets one setting from text (lists append; "" clears a list). On error
 * returns WSG_ERR_INVALID_ARG (unknown name, bad value) or WSG_ERR_NOMEM
 * and writes a message naming the setting and the allowed range into
 * `err` (e.g. "--max-message: expected 1-1073741824 bytes, got '12q'"). */
WSG_API int wsg_policy_set(struct wsg_policy *p, const char *name,
                           const char *value, char *err, size_t err_cap);

/* Applies every WSG_* variable of `envp` (NULL-terminated "NAME=value"
 * strings) that names a setting; an unknown WSG_* name is an error (a typo
 * in a security setting must not pass silently). Same errors as set. */
WSG_API int wsg_policy_load_env(struct wsg_policy *p, char *const *envp,
                                char *err, size_t err_cap);

/* The current value of a setting as text (lists comma-joined; secrets as
 * "set" or ""). Returns the length (snprintf-like) or 0 for an unknown
 * name. */
WSG_API size_t wsg_policy_get(const struct wsg_policy *p, const char *name,
                              char *out, size_t cap);

/* Checks the settings together (e.g. text-only and binary-only both set,
 * a burst below the rate, an allowlist entry that does not parse, a
 * trusted-proxy header without a trusted proxy). Returns WSG_OK or
 * WSG_ERR_INVALID_ARG with a message. */
WSG_API int wsg_policy_check(const struct wsg_policy *p, char *err,
                             size_t err_cap);

/* Audit events (H11) go to this callback; NULL: none. */
WSG_API void wsg_policy_set_audit(struct wsg_policy *p,
                                  void (*cb)(void *ud,
                                             const struct wsg_audit_event *ev),
                                  void *ud);

/* A per-message validator (H9): returns 0 to accept, or a close code
 * (1003, 1007 or 1008) with a short reason in *reason. */
WSG_API void wsg_policy_set_validator(
    struct wsg_policy *p,
    uint16_t (*validate)(void *ud, enum wsg_opcode op, const uint8_t *data,
                         size_t len, const char **reason),
    void *ud);

/* The HMAC key for signed tokens (H3), copied. The `auth-hmac-key-file`
 * setting only names the file: lib/policy reads no files, the program (or
 * lib/io's wsg_policy_load_files) reads it and calls this. */
WSG_API int wsg_policy_set_hmac_key(struct wsg_policy *p, const uint8_t *key,
                                    size_t len);

/* ---- the compliance report (H14) ----------------------------------------- */

/* Facts about the deployment that the policy cannot know by itself. */
struct wsg_deployment {
    bool tls;                 /* TLS terminated in this process */
    bool trusted_front_end;   /* trusted proxies configured and they set
                                 X-Forwarded-Proto / X-ARR-SSL */
    bool deflate_available;   /* permessage-deflate built in */
    bool fuzzed;              /* fuzz harnesses shipped (H15) */
    const char *version;      /* wsguard version, for H14 */
};

enum wsg_report_format { WSG_REPORT_MARKDOWN = 0, WSG_REPORT_JSON };

/* Renders the report: every control H1-H15 with PASS, WARN or FAIL, the
 * settings that make it so (evidence) and what is missing. JSON: an object
 * whose "controls" list holds, per control, "id", "title", "status",
 * "evidence" and "missing". Secrets are never printed. Returns the length
 * (snprintf-like: the full length needed; writes at most `cap` bytes
 * including a NUL). */
WSG_API size_t wsg_policy_report(const struct wsg_policy *p,
                                 const struct wsg_deployment *d,
                                 enum wsg_report_format fmt, char *out,
                                 size_t cap);

#ifdef __cplusplus
}
#endif
#endif
