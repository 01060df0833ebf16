/* The policy's settings as command-line options (policy_opts.h). */
#include <string.h>

#include "opts.h"
#include "policy_opts.h"

size_t policy_opts_fill(struct option *out, int base)
{
    size_t n;
    const struct wsg_setting *t = wsg_policy_settings(&n);

    for (size_t i = 0; i < n; i++) {
        out[i].name = t[i].name;
        out[i].has_arg =
            t[i].kind == WSG_SETTING_BOOL ? no_argument : required_argument;
        out[i].flag = NULL;
        out[i].val = base + (int)i;
    }
    return n;
}

int policy_opts_apply(struct wsg_policy *p, int opt, int base,
                      const char *arg, bool *seen, char *err, size_t cap)
{
    size_t n, i;
    const struct wsg_setting *t = wsg_policy_settings(&n);
    const char *val;

    if (opt < base || (size_t)(opt - base) >= n)
        return 0;
    i = (size_t)(opt - base);
    val = t[i].kind == WSG_SETTING_BOOL ? "true" : arg;
    /* A list given as flags replaces the environment's list. */
    if (t[i].kind == WSG_SETTING_LIST && !seen[i] &&
        wsg_policy_set(p, t[i].name, "", err, cap) != WSG_OK)
        return -1;
    seen[i] = true;
    return wsg_policy_set(p, t[i].name, val, err, cap) == WSG_OK ? 1 : -1;
}

int policy_opts_report(int argc, char **argv, const char *arg)
{
    if (arg == NULL && optind < argc &&
        (strcmp(argv[optind], "md") == 0 || strcmp(argv[optind], "json") == 0))
        arg = argv[optind++];
    if (arg == NULL || strcmp(arg, "md") == 0)
        return 1;
    if (strcmp(arg, "json") == 0)
        return 2;
    opts_bad_value("--report", arg, "md|json");
}
