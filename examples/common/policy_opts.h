/* The policy's settings (wsg_policy_settings()) as command-line options,
 * for every program that takes them (wsg-echo, wsg-relay): one spelling
 * for flags, WSG_* variables and the report. */
#ifndef WSG_EXAMPLES_POLICY_OPTS_H
#define WSG_EXAMPLES_POLICY_OPTS_H

#include <getopt.h>
#include <stdbool.h>
#include <stddef.h>

#include <wsguard/policy.h>

/* Writes one getopt_long option per setting at `out` (bool settings take no
 * value; val = base + index). Returns how many (wsg_policy_settings()'s
 * count). */
size_t policy_opts_fill(struct option *out, int base);

/* Applies option `opt` from getopt_long if it is a setting's (base ..
 * base + count - 1): a bool setting becomes "true"; a list given as flags
 * replaces the environment's list (`seen`: one flag per setting, zeroed
 * before parsing). Returns 1 when applied, 0 when `opt` is not a setting's,
 * -1 on a bad value with the message in `err`. */
int policy_opts_apply(struct wsg_policy *p, int opt, int base,
                      const char *arg, bool *seen, char *err, size_t cap);

/* The value of --report: "--report json" as well as "--report=json" (takes
 * argv[optind] when it is md or json). 1: md, 2: json; exits 2 on any
 * other value. */
int policy_opts_report(int argc, char **argv, const char *arg);

#endif
