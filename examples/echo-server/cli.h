/* wsg-echo's command line: its own flags plus every policy setting
 * (wsg_policy_settings()) as a flag and a WSG_* environment variable. */
#ifndef WSG_ECHO_CLI_H
#define WSG_ECHO_CLI_H

#include <stdbool.h>

#include <wsguard/policy.h>

enum echo_report { ECHO_REPORT_NONE = 0, ECHO_REPORT_MD, ECHO_REPORT_JSON };

struct echo_cli {
    const char *host, *port, *path;
    bool verbose, audit, check_config;
    enum echo_report report;
    struct wsg_policy *policy;  /* env first, then the flags */
};

/* Parses argv (and environ): exits 2 on bad usage with the message on
 * stderr, 0 after --help / --version. `c->policy` must be a new policy. */
void echo_cli_parse(int argc, char **argv, struct echo_cli *c);

#endif
