/* wsg-echo's command line. Every policy setting is a flag named as in the
 * settings table ("--max-message 4096"; bool settings take no value; lists
 * repeat) and an environment variable ("WSG_MAX_MESSAGE"); the environment
 * is applied first, flags override it (a list given as a flag replaces the
 * environment's list). */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <wsguard/version.h>
#include <wsguard/wsguard.h>

#include "cli.h"
#include "opts.h"
#include "policy_opts.h"

extern char **environ;

enum {
    OPT_HOST = 256, OPT_PORT, OPT_PATH, OPT_VERBOSE, OPT_HELP, OPT_VERSION,
    OPT_REPORT, OPT_CHECK, OPT_AUDIT, OPT_SETTING = 1024
};

static const struct option own[] = {
    {"host", required_argument, NULL, OPT_HOST},
    {"port", required_argument, NULL, OPT_PORT},
    {"path", required_argument, NULL, OPT_PATH},
    {"verbose", no_argument, NULL, OPT_VERBOSE},
    {"help", no_argument, NULL, OPT_HELP},
    {"version", no_argument, NULL, OPT_VERSION},
    {"report", optional_argument, NULL, OPT_REPORT},
    {"check-config", no_argument, NULL, OPT_CHECK},
    {"audit", no_argument, NULL, OPT_AUDIT},
};
#define OWN_COUNT (sizeof(own) / sizeof(own[0]))

static void usage(FILE *f)
{
    size_t n;
    const struct wsg_setting *t = wsg_policy_settings(&n);

    fprintf(f,
        "usage: wsg-echo [options]\n"
        "A WebSocket echo server (RFC 6455): every text or binary message is\n"
        "sent back as the same type, behind the wsguard policy.\n"
        "\n"
        "  --host ADDR            address to listen on (default 127.0.0.1)\n"
        "  --port N               TCP port, 0-65535; 0 picks a free port\n"
        "                         (default 9001)\n"
        "  --path PATH            accept only this path (others: 404);\n"
        "                         default: any path\n"
        "  --report [md|json]     print the compliance report (H14) for the\n"
        "                         settings given and exit (default md)\n"
        "  --check-config         validate the settings (and read the key\n"
        "                         file), print \"config ok\" to stderr, exit\n"
        "  --audit                audit events (H11) as JSON lines on stdout\n"
        "  --verbose              log connections to stderr\n"
        "  --help                 this text\n"
        "  --version              print the version\n"
        "\n"
        "Policy settings: each is also an environment variable WSG_<NAME>\n"
        "(upper case, '-' as '_'; lists comma-separated); flags override\n"
        "the environment. Timeouts are in seconds (decimals allowed), sizes\n"
        "in bytes (k/m/g suffixes allowed).\n");
    for (int c = WSG_H1; c <= WSG_H15; c++) {
        bool head = false;
        for (size_t i = 0; i < n; i++) {
            if (t[i].control != c)
                continue;
            if (!head)
                fprintf(f, "\n%s %s:\n", wsg_control_id(c),
                        wsg_control_title(c));
            head = true;
            fprintf(f, "  --%s%s%s\n      %s (default: %s; %s: %s)\n",
                    t[i].name,
                    t[i].kind == WSG_SETTING_BOOL ? "" : " VALUE",
                    t[i].kind == WSG_SETTING_LIST ? " (repeatable)" : "",
                    t[i].help, t[i].def[0] ? t[i].def : "none",
                    t[i].kind == WSG_SETTING_LIST ? "each" : "range",
                    t[i].range);
        }
    }
    fprintf(f,
        "\nSIGINT/SIGTERM: close every connection with 1001 and exit.\n"
        "Exit status: 0 after a clean shutdown, 1 on a runtime error,\n"
        "2 on bad usage or a bad setting.\n");
}

__attribute__((noreturn)) static void setting_error(const char *msg)
{
    fprintf(stderr, "wsg-echo: %s\n", msg);
    exit(2);
}

void echo_cli_parse(int argc, char **argv, struct echo_cli *c)
{
    size_t n, count;
    struct option *opts;
    bool *seen;
    char err[512];
    uint64_t v;
    int opt, idx;

    c->host = "127.0.0.1";
    c->port = "9001";
    (void)wsg_policy_settings(&n);
    count = OWN_COUNT + n + 1;
    opts = calloc(count, sizeof(*opts));
    seen = calloc(n + 1, sizeof(*seen));
    if (opts == NULL || seen == NULL)
        setting_error("out of memory");
    memcpy(opts, own, sizeof(own));
    policy_opts_fill(opts + OWN_COUNT, OPT_SETTING);

    /* The environment first: only WSG_* names are settings. */
    if (wsg_policy_load_env(c->policy, environ, err, sizeof(err)) != WSG_OK)
        setting_error(err);

    opterr = 0;
    while ((opt = getopt_long(argc, argv, "", opts, &idx)) != -1) {
        switch (policy_opts_apply(c->policy, opt, OPT_SETTING, optarg, seen,
                                  err, sizeof(err))) {
        case 1:
            continue;
        case -1:
            setting_error(err);
        default:
            break;
        }
        switch (opt) {
        case OPT_HOST:
            if (!*optarg)
                opts_bad_value("--host", optarg, "an IP address or host name");
            c->host = optarg;
            break;
        case OPT_PORT:
            if (!opts_parse_u64(optarg, 0, 65535, &v))
                opts_bad_value("--port", optarg, "0-65535");
            c->port = optarg;
            break;
        case OPT_PATH:
            if (optarg[0] != '/' || strpbrk(optarg, "?# \t\r\n"))
                opts_bad_value("--path", optarg,
                               "an absolute path starting with '/', no query");
            c->path = optarg;
            break;
        case OPT_VERBOSE:
            c->verbose = true;
            break;
        case OPT_AUDIT:
            c->audit = true;
            break;
        case OPT_CHECK:
            c->check_config = true;
            break;
        case OPT_REPORT:
            c->report = policy_opts_report(argc, argv, optarg) == 2
                            ? ECHO_REPORT_JSON : ECHO_REPORT_MD;
            break;
        case OPT_HELP:
            usage(stdout);
            exit(0);
        case OPT_VERSION:
            printf("wsg-echo %s\n", WSG_VERSION_STRING);
            exit(0);
        default: {
            bool needs = optopt >= OPT_HOST && optopt < OPT_SETTING + (int)n &&
                         optopt != OPT_REPORT;
            opts_bad_option(argv[optind - 1], needs);
        }
        }
    }
    if (optind < argc)
        opts_die("unexpected argument '%s'", argv[optind]);
    free(seen);
    free(opts);
}
