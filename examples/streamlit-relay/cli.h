/* wsg-relay's command line: its own settings (--listen, --upstream...) and
 * every policy setting (wsg_policy_settings()), each a flag and a WSG_*
 * environment variable (Azure App Settings); flags override the
 * environment. */
#ifndef WSG_RELAY_CLI_H
#define WSG_RELAY_CLI_H

#include <stdbool.h>

#include "relay.h"

enum relay_report { RELAY_REPORT_NONE = 0, RELAY_REPORT_MD, RELAY_REPORT_JSON };

struct relay_cli {
    struct relay_config cfg;     /* cfg.policy: a new policy, filled here */
    enum relay_report report;
    bool check_config;
};

/* The Content-Security-Policy a Streamlit page runs under (inline styles
 * from CSS-in-JS, code evaluation in chart libraries); --csp replaces it. */
#define RELAY_DEFAULT_CSP                                                     \
    "default-src 'self'; script-src 'self' 'unsafe-inline' 'unsafe-eval'; "  \
    "style-src 'self' 'unsafe-inline'; img-src 'self' data: blob: https:; "   \
    "font-src 'self' data:; connect-src 'self' ws: wss:; "                    \
    "media-src 'self' data: blob:; worker-src 'self' blob:; "                 \
    "frame-ancestors 'self'"

/* Parses `envp` then argv. Exits 2 with a message naming the setting on
 * any bad value (or an unknown WSG_* variable), 0 after --help and
 * --version. `c->cfg.policy` must be a new policy. */
void relay_cli_parse(int argc, char **argv, char **envp, struct relay_cli *c);

#endif
