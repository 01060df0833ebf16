/* Settings from the environment (H14): WSG_ + the setting name in upper
 * case, dashes as underscores ("WSG_MAX_MESSAGE"), as Azure App Settings
 * pass them. Every WSG_ variable must name a setting: a typo is refused,
 * not ignored. A list variable replaces the list, it does not append. */
#include <stdio.h>
#include <string.h>

#include "policy/policy_internal.h"

/* Row of the setting whose variable is e[0..n), or -1. */
static long env_row(const char *e, size_t n)
{
    size_t count;
    const struct wsg_setting *t = wsg_policy_settings(&count);

    for (size_t j = 0; j < count; j++)
        if (strlen(t[j].env) == n && memcmp(t[j].env, e, n) == 0)
            return (long)j;
    return -1;
}

int wsg_policy_load_env(struct wsg_policy *p, char *const *envp, char *err,
                        size_t err_cap)
{
    const struct wsg_setting *t = wsg_policy_settings(NULL);

    if (p == NULL)
        return WSG_ERR_INVALID_ARG;
    for (size_t k = 0; envp != NULL && envp[k] != NULL; k++) {
        const char *e = envp[k], *eq = strchr(e, '=');
        size_t n = eq != NULL ? (size_t)(eq - e) : strlen(e);
        long i;
        int rc;

        if (strncmp(e, "WSG_", 4) != 0)
            continue;
        if ((i = env_row(e, n)) < 0) {
            char q[WSG__QUOTE_MAX + 8], name[WSG__QUOTE_MAX + 1];
            size_t c = n < WSG__QUOTE_MAX ? n : WSG__QUOTE_MAX;
            memcpy(name, e, c);
            name[c] = '\0';
            wsg__quote(name, q, sizeof(q));
            if (err != NULL && err_cap > 0)
                snprintf(err, err_cap, "unknown setting %s in the environment",
                         q);
            return WSG_ERR_INVALID_ARG;
        }
        rc = wsg__policy_set_row(p, (size_t)i, t[i].env,
                                 eq != NULL ? eq + 1 : NULL, true, err,
                                 err_cap);
        if (rc != WSG_OK)
            return rc;
    }
    return WSG_OK;
}
