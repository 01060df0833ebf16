/* wsg-relay's command line. Two tables, one spelling: the relay's own
 * settings below and the policy's (wsg_policy_settings()). Each is a flag
 * ("--max-upload 10m") and an environment variable ("WSG_MAX_UPLOAD");
 * the environment is applied first, flags override it. An unknown WSG_*
 * variable is an error: a typo in a security setting must not pass
 * silently. */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <wsguard/version.h>
#include <wsguard/wsguard.h>

#include "cli.h"
#include "opts.h"
#include "policy_opts.h"

enum own_id {
    O_LISTEN, O_UPSTREAM, O_BASE_PATH, O_WS_PATH, O_OWN_PREFIX, O_MAX_UPLOAD,
    O_MAX_MESSAGE_DOWN, O_CLIENT_BINARY_ONLY, O_IDENTITY_HEADER,
    O_UPSTREAM_TIMEOUT, O_DRAIN_TIMEOUT, O_POOL_IDLE, O_WORKERS, O_NO_AUDIT,
    O_VERBOSE, O_COUNT
};

struct own_setting {
    const char *name;
    bool has_arg;
    const char *def;
    const char *range;
    const char *help;
};

static const struct own_setting OWN[O_COUNT] = {
    [O_LISTEN] = {"listen", true, "0.0.0.0:$WEBSITES_PORT, else $PORT, else 8080",
                  "HOST:PORT or [IPv6]:PORT (port 0: any free port)", "address for browsers"},
    [O_UPSTREAM] = {"upstream", true, "http://127.0.0.1:8501",
                    "http://HOST:PORT or unix:/PATH", "the Streamlit server"},
    [O_BASE_PATH] = {"base-path", true, "none",
                     "/prefix (Streamlit's server.baseUrlPath)",
                     "path prefix of every route"},
    [O_WS_PATH] = {"ws-path", true, "<base-path>/_stcore/stream",
                   "an absolute path", "the only path that may upgrade"},
    [O_OWN_PREFIX] = {"own-prefix", true, "/_wsguard/",
                      "an absolute path ending in '/'",
                      "the relay's health and metrics endpoints"},
    [O_MAX_UPLOAD] = {"max-upload", true, "200m", "1-1t bytes",
                      "request body limit (413)"},
    [O_MAX_MESSAGE_DOWN] = {"max-message-down", true, "200000000",
                            "1-4g bytes",
                            "Streamlit -> browser message limit (streamed)"},
    [O_CLIENT_BINARY_ONLY] = {"client-binary-only", false, "false",
                              "true|false",
                              "refuse text messages from browsers (1003)"},
    [O_IDENTITY_HEADER] = {"identity-header", true, "none",
                           "a header name, e.g. X-MS-CLIENT-PRINCIPAL-NAME",
                           "identity from the trusted front end: required "
                           "(H3) and passed as X-Streamlit-User"},
    [O_UPSTREAM_TIMEOUT] = {"upstream-timeout", true, "30",
                            "0.1-3600 seconds",
                            "connect + response head deadline (504)"},
    [O_DRAIN_TIMEOUT] = {"drain-timeout", true, "10", "0-3600 seconds",
                         "SIGTERM: time given to open connections"},
    [O_POOL_IDLE] = {"pool-idle", true, "32", "0-4096",
                     "idle upstream connections kept per worker"},
    [O_WORKERS] = {"workers", true, "1", "1-256",
                   "event loops (processes sharing the port)"},
    [O_NO_AUDIT] = {"no-audit", false, "false", "true|false",
                    "no audit JSON lines on stdout"},
    [O_VERBOSE] = {"verbose", false, "false", "true|false",
                   "diagnostics on stderr"},
};

enum { OPT_HELP = 256, OPT_VERSION, OPT_REPORT, OPT_CHECK, OPT_OWN = 512,
       OPT_SETTING = 1024 };

static char upstream_buf[512], listen_buf[300], ws_path_buf[1100];

__attribute__((noreturn)) static void die(const char *msg)
{
    fprintf(stderr, "wsg-relay: %s\n", msg);
    exit(2);
}

/* "max-upload" -> "WSG_MAX_UPLOAD". */
static void env_name(const char *name, char *out, size_t cap)
{
    size_t o = snprintf(out, cap, "WSG_");

    for (; *name && o + 1 < cap; name++)
        out[o++] = *name == '-' ? '_'
                   : (*name >= 'a' && *name <= 'z') ? (char)(*name - 32)
                                                     : *name;
    out[o] = '\0';
}

static bool parse_size(const char *s, uint64_t lo, uint64_t hi, uint64_t *out)
{
    char num[32];
    size_t n = strlen(s);
    uint64_t mul = 1;

    if (n == 0 || n >= sizeof(num))
        return false;
    memcpy(num, s, n + 1);
    switch (num[n - 1]) {
    case 'k': case 'K': mul = 1024u; break;
    case 'm': case 'M': mul = 1024u * 1024u; break;
    case 'g': case 'G': mul = 1024u * 1024u * 1024u; break;
    case 't': case 'T': mul = 1024ull * 1024u * 1024u * 1024u; break;
    default: break;
    }
    if (mul != 1)
        num[n - 1] = '\0';
    if (!opts_parse_u64(num, 0, UINT64_MAX / mul, out))
        return false;
    *out *= mul;
    return *out >= lo && *out <= hi;
}

static bool host_port(const char *s, char *buf, size_t cap, const char **host,
                      const char **port)
{
    const char *colon;
    uint64_t v;

    if (strlen(s) >= cap)
        return false;
    strcpy(buf, s);
    if (buf[0] == '[') {
        char *end = strchr(buf, ']');
        if (end == NULL || end[1] != ':')
            return false;
        *end = '\0';
        *host = buf + 1;
        *port = end + 2;
    } else {
        colon = strrchr(buf, ':');
        if (colon == NULL || strchr(buf, ':') != colon)
            return false;
        buf[colon - buf] = '\0';
        *host = buf;
        *port = colon + 1;
    }
    return **host != '\0' && opts_parse_u64(*port, 0, 65535, &v);
}

static bool abs_path(const char *s)
{
    return s[0] == '/' && strpbrk(s, "?# \t\r\n\\") == NULL &&
           strstr(s, "..") == NULL;
}

static void own_set(struct relay_cli *c, enum own_id id, const char *v,
                    const char *spelled)
{
    struct relay_config *cfg = &c->cfg;
    uint64_t n, ms;
    char err[512];

#define BAD() opts_bad_value(spelled, v, OWN[id].range)
    switch (id) {
    case O_LISTEN:
        if (!host_port(v, listen_buf, sizeof(listen_buf), &cfg->listen_host,
                       &cfg->listen_port))
            BAD();
        break;
    case O_UPSTREAM:
        if (strncmp(v, "unix:", 5) == 0 && v[5] == '/' && strlen(v) < 108 + 5) {
            cfg->upstream_unix = v + 5;
        } else if (strncmp(v, "http://", 7) == 0 &&
                   host_port(v + 7, upstream_buf, sizeof(upstream_buf),
                             &cfg->upstream_host, &cfg->upstream_port)) {
            cfg->upstream_unix = NULL;
        } else {
            BAD();
        }
        break;
    case O_BASE_PATH:
        if (v[0] == '\0' || strcmp(v, "/") == 0) {
            cfg->base_path = "";
            break;
        }
        if (!abs_path(v) || v[strlen(v) - 1] == '/')
            BAD();
        cfg->base_path = v;
        break;
    case O_WS_PATH:
        if (!abs_path(v))
            BAD();
        cfg->ws_path = v;
        break;
    case O_OWN_PREFIX:
        if (!abs_path(v) || v[strlen(v) - 1] != '/')
            BAD();
        cfg->own_prefix = v;
        break;
    case O_MAX_UPLOAD:
        if (!parse_size(v, 1, 1ull << 40, &cfg->max_upload))
            BAD();
        break;
    case O_MAX_MESSAGE_DOWN:
        if (!parse_size(v, 1, 1ull << 32, &cfg->max_message_down))
            BAD();
        break;
    case O_CLIENT_BINARY_ONLY:
        cfg->client_binary_only = strcmp(v, "false") != 0;
        if (strcmp(v, "true") != 0 && strcmp(v, "false") != 0)
            BAD();
        /* The policy's H9 setting, so the report and the guard agree. */
        if (wsg_policy_set(cfg->policy, "binary-only", v, err, sizeof(err)) !=
            WSG_OK)
            die(err);
        break;
    case O_IDENTITY_HEADER:
        /* H3: the identity is required and believed only from
         * trusted-proxy peers (the guard); then X-Streamlit-User. */
        if (wsg_policy_set(cfg->policy, "auth-identity-header", v, err,
                           sizeof(err)) != WSG_OK)
            BAD();
        cfg->identity_header = v;
        break;
    case O_UPSTREAM_TIMEOUT:
        if (!opts_parse_seconds(v, 100, 3600000, &ms))
            BAD();
        cfg->upstream_timeout_ms = (uint32_t)ms;
        break;
    case O_DRAIN_TIMEOUT:
        if (!opts_parse_seconds(v, 0, 3600000, &ms))
            BAD();
        cfg->drain_timeout_ms = (uint32_t)ms;
        break;
    case O_POOL_IDLE:
        if (!opts_parse_u64(v, 0, 4096, &n))
            BAD();
        cfg->pool_idle = (uint32_t)n;
        break;
    case O_WORKERS:
        if (!opts_parse_u64(v, 1, 256, &n))
            BAD();
        cfg->workers = (unsigned)n;
        break;
    case O_NO_AUDIT:
        if (strcmp(v, "true") != 0 && strcmp(v, "false") != 0)
            BAD();
        cfg->audit = strcmp(v, "true") != 0;
        break;
    case O_VERBOSE:
        if (strcmp(v, "true") != 0 && strcmp(v, "false") != 0)
            BAD();
        cfg->verbose = strcmp(v, "true") == 0;
        break;
    case O_COUNT:
        break;
    }
#undef BAD
}

static void defaults(struct relay_cli *c, char **envp)
{
    struct relay_config *cfg = &c->cfg;
    const char *port = "8080";
    char err[512];

    for (char **e = envp; e && *e; e++) {
        if (strncmp(*e, "WEBSITES_PORT=", 14) == 0 && (*e)[14])
            port = *e + 14;
    }
    if (strcmp(port, "8080") == 0)
        for (char **e = envp; e && *e; e++)
            if (strncmp(*e, "PORT=", 5) == 0 && (*e)[5])
                port = *e + 5;
    cfg->listen_host = "0.0.0.0";
    cfg->listen_port = port;
    cfg->upstream_host = "127.0.0.1";
    cfg->upstream_port = "8501";
    cfg->base_path = "";
    cfg->own_prefix = "/_wsguard/";
    cfg->max_upload = 200ull << 20;
    cfg->max_message_down = 200000000u;
    cfg->upstream_timeout_ms = 30000;
    cfg->drain_timeout_ms = 10000;
    cfg->pool_idle = 32;
    cfg->workers = 1;
    cfg->audit = true;
    cfg->csp = RELAY_DEFAULT_CSP;
    /* H10 defaults a Streamlit page runs under; --csp and
     * --frame-options replace them. */
    if (wsg_policy_set(cfg->policy, "csp", RELAY_DEFAULT_CSP, err,
                       sizeof(err)) != WSG_OK ||
        wsg_policy_set(cfg->policy, "frame-options", "SAMEORIGIN", err,
                       sizeof(err)) != WSG_OK)
        die(err);
}

static void usage(FILE *f)
{
    size_t n;
    const struct wsg_setting *t = wsg_policy_settings(&n);

    fprintf(f,
        "usage: wsg-relay [options]\n"
        "The hardened relay in front of a Streamlit app: plain HTTP is\n"
        "proxied, WebSocket upgrades go through the wsguard policy and are\n"
        "relayed message by message to a WebSocket of the relay's own.\n"
        "\n"
        "  --report [md|json]     print the compliance report (H14) and exit\n"
        "  --check-config         validate the settings, print \"config ok\"\n"
        "  --help, --version\n"
        "\nRelay settings (each also WSG_<NAME>, e.g. WSG_UPSTREAM):\n");
    for (int i = 0; i < O_COUNT; i++)
        fprintf(f, "  --%s%s\n      %s (default: %s; range: %s)\n",
                OWN[i].name, OWN[i].has_arg ? " VALUE" : "", OWN[i].help,
                OWN[i].def, OWN[i].range);
    fprintf(f, "\nPolicy settings (WSG_<NAME>; lists comma-separated). The\n"
               "relay's defaults for csp and frame-options suit Streamlit\n"
               "pages (see the README):\n");
    for (size_t i = 0; i < n; i++)
        fprintf(f, "  --%s%s%s  [%s] %s (default: %s)\n", t[i].name,
                t[i].kind == WSG_SETTING_BOOL ? "" : " VALUE",
                t[i].kind == WSG_SETTING_LIST ? " (repeatable)" : "",
                wsg_control_id(t[i].control), t[i].help,
                t[i].def[0] ? t[i].def : "none");
    fprintf(f, "\nSIGTERM: stop accepting, 1001 to every browser, wait up to\n"
               "--drain-timeout, exit. Exit status: 0 after a clean stop, 1\n"
               "on a runtime error, 2 on bad usage or a bad setting.\n");
}

/* The environment: the relay's WSG_* names here, the rest to the policy
 * (which refuses unknown WSG_* names). */
static void load_env(struct relay_cli *c, char **envp)
{
    size_t count = 0, k = 0;
    char **rest, err[512], name[64];

    for (char **e = envp; e && *e; e++)
        count++;
    rest = calloc(count + 1, sizeof(*rest));
    if (rest == NULL)
        die("out of memory");
    for (char **e = envp; e && *e; e++) {
        bool own = false;
        for (int i = 0; i < O_COUNT && !own; i++) {
            size_t len;
            env_name(OWN[i].name, name, sizeof(name));
            len = strlen(name);
            if (strncmp(*e, name, len) == 0 && (*e)[len] == '=') {
                own_set(c, (enum own_id)i, *e + len + 1, name);
                own = true;
            }
        }
        if (!own)
            rest[k++] = *e;
    }
    if (wsg_policy_load_env(c->cfg.policy, rest, err, sizeof(err)) != WSG_OK)
        die(err);
    free(rest);
}

void relay_cli_parse(int argc, char **argv, char **envp, struct relay_cli *c)
{
    static const struct option fixed[] = {
        {"help", no_argument, NULL, OPT_HELP},
        {"version", no_argument, NULL, OPT_VERSION},
        {"report", optional_argument, NULL, OPT_REPORT},
        {"check-config", no_argument, NULL, OPT_CHECK},
    };
    const size_t nfixed = sizeof(fixed) / sizeof(fixed[0]);
    size_t n;
    struct option *opts;
    bool *seen;
    char err[512];
    int opt, idx;

    opts_init("wsg-relay");
    (void)wsg_policy_settings(&n);
    opts = calloc(nfixed + O_COUNT + n + 1, sizeof(*opts));
    seen = calloc(n + 1, sizeof(*seen));
    if (opts == NULL || seen == NULL)
        die("out of memory");
    defaults(c, envp);
    memcpy(opts, fixed, sizeof(fixed));
    for (int i = 0; i < O_COUNT; i++) {
        opts[nfixed + (size_t)i].name = OWN[i].name;
        opts[nfixed + (size_t)i].has_arg =
            OWN[i].has_arg ? required_argument : no_argument;
        opts[nfixed + (size_t)i].val = OPT_OWN + i;
    }
    policy_opts_fill(opts + nfixed + O_COUNT, OPT_SETTING);
    load_env(c, envp);

    opterr = 0;
    while ((opt = getopt_long(argc, argv, "", opts, &idx)) != -1) {
        switch (policy_opts_apply(c->cfg.policy, opt, OPT_SETTING, optarg,
                                  seen, err, sizeof(err))) {
        case 1:
            continue;
        case -1:
            die(err);
        default:
            break;
        }
        if (opt >= OPT_OWN && opt < OPT_OWN + O_COUNT) {
            int i = opt - OPT_OWN;
            char flag[80];
            snprintf(flag, sizeof(flag), "--%s", OWN[i].name);
            own_set(c, (enum own_id)i, OWN[i].has_arg ? optarg : "true", flag);
            continue;
        }
        switch (opt) {
        case OPT_CHECK:
            c->check_config = true;
            break;
        case OPT_REPORT:
            c->report = policy_opts_report(argc, argv, optarg) == 2
                            ? RELAY_REPORT_JSON : RELAY_REPORT_MD;
            break;
        case OPT_HELP:
            usage(stdout);
            exit(0);
        case OPT_VERSION:
            printf("wsg-relay %s\n", WSG_VERSION_STRING);
            exit(0);
        default: {
            bool needs = optopt >= OPT_OWN && optopt != OPT_REPORT;
            opts_bad_option(argv[optind - 1], needs);
        }
        }
    }
    if (optind < argc)
        opts_die("unexpected argument '%s'", argv[optind]);
    if (c->cfg.ws_path == NULL) {
        snprintf(ws_path_buf, sizeof(ws_path_buf), "%s/_stcore/stream",
                 c->cfg.base_path);
        c->cfg.ws_path = ws_path_buf;
    }
    {
        /* The CSP the proxy adds to pages is the policy's (one spelling). */
        static char csp[1100];
        if (wsg_policy_get(c->cfg.policy, "csp", csp, sizeof(csp)) <
            sizeof(csp))
            c->cfg.csp = csp;
    }
    free(seen);
    free(opts);
}
