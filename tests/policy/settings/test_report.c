#define _POSIX_C_SOURCE 200809L
/* The compliance report (H14): golden Markdown and JSON for a bare and a
 * hardened policy, JSON checked by /usr/bin/python3's json module, the
 * snprintf contract, and no secret in any output. Regenerate the golden
 * files with WSGUARD_UPDATE_GOLDEN=1 (then review the diff). */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "policy/policy_internal.h"

#define TOKEN "0123456789abcdef-very-secret"
#define KEY "HMACKEY-0123456789abcdef0123456789"

static char err[256];

static uint16_t validator(void *ud, enum wsg_opcode op, const uint8_t *d,
                          size_t len, const char **reason)
{
    (void)ud, (void)op, (void)d, (void)len, (void)reason;
    return 0;
}

static void audit(void *ud, const struct wsg_audit_event *ev)
{
    (void)ud, (void)ev;
}

static struct wsg_policy *bare(void)
{
    struct wsg_policy *p;
    cr_assert_eq(wsg_policy_new(NULL, &p), WSG_OK);
    return p;
}

static struct wsg_policy *hardened(void)
{
    static const char *const kv[][2] = {
        {"require-https", "true"}, {"https-redirect", "true"},
        {"allow-origin", "https://app.example.com"},
        {"allow-origin", "https://*.example.com"},
        {"allow-host", "app.example.com"}, {"auth-token", TOKEN},
        {"auth-hmac-key-file", "/etc/wsg/hmac.key"},
        {"auth-identity-header", "X-Auth-User"},
        {"max-message", "64k"}, {"max-frame", "16k"},
        {"max-fragments", "64"}, {"msg-rate", "100"}, {"msg-burst", "200"},
        {"byte-rate", "1m"}, {"control-rate", "5"},
        {"max-conns", "10000"}, {"max-conns-per-ip", "20"},
        {"conn-rate-per-ip", "30"}, {"idle-timeout", "300"},
        {"idle-direction", "in"}, {"subprotocol", "chat.v1"},
        {"text-only", "true"}, {"trusted-proxy", "10.0.0.0/8"},
        {"client-ip-header", "X-Client-IP"}, {"max-output", "256k"},
    };
    struct wsg_policy *p = bare();

    for (size_t i = 0; i < sizeof(kv) / sizeof(kv[0]); i++)
        cr_assert_eq(wsg_policy_set(p, kv[i][0], kv[i][1], err, sizeof(err)),
                     WSG_OK, "%s", err);
    cr_assert_eq(wsg_policy_set_hmac_key(p, (const uint8_t *)KEY,
                                         strlen(KEY)), WSG_OK);
    wsg_policy_set_validator(p, validator, NULL);
    wsg_policy_set_audit(p, audit, NULL);
    cr_assert_eq(wsg_policy_check(p, err, sizeof(err)), WSG_OK, "%s", err);
    return p;
}

static const struct wsg_deployment bare_dep = {false, false, false, false,
                                               "0.1.0"};
static const struct wsg_deployment hard_dep = {false, true, false, true,
                                               "0.1.0"};

static char *render(const struct wsg_policy *p, const struct wsg_deployment *d,
                    enum wsg_report_format f)
{
    size_t n = wsg_policy_report(p, d, f, NULL, 0);
    char *s = malloc(n + 1);

    cr_assert_gt(n, 0);
    cr_assert_not_null(s);
    cr_assert_eq(wsg_policy_report(p, d, f, s, n + 1), n);
    cr_assert_eq(strlen(s), n);
    return s;
}

static void golden(const char *name, const char *got)
{
    const char *dir = getenv("WSGUARD_GOLDEN_DIR");
    char path[1024], *want;
    FILE *f;
    long n;

    cr_assert_not_null(dir, "WSGUARD_GOLDEN_DIR not set");
    snprintf(path, sizeof(path), "%s/%s", dir, name);
    if (getenv("WSGUARD_UPDATE_GOLDEN") != NULL) {
        cr_assert_not_null(f = fopen(path, "wb"));
        fputs(got, f);
        fclose(f);
    }
    cr_assert_not_null(f = fopen(path, "rb"), "%s", path);
    fseek(f, 0, SEEK_END);
    n = ftell(f);
    rewind(f);
    want = calloc((size_t)n + 1, 1);
    cr_assert_eq(fread(want, 1, (size_t)n, f), (size_t)n);
    fclose(f);
    cr_assert_str_eq(got, want, "%s differs (WSGUARD_UPDATE_GOLDEN=1 to "
                     "regenerate)", name);
    free(want);
}

/* The status of control `id` in a Markdown report. */
static const char *md_status(const char *md, const char *id)
{
    static char st[5];
    char pat[16];
    const char *l;

    snprintf(pat, sizeof(pat), "\n| %s | ", id);
    cr_assert_not_null(l = strstr(md, pat), "%s", id);
    l = strstr(l + strlen(pat), " | ");
    cr_assert_not_null(l);
    memcpy(st, l + 3, 4);
    st[4] = '\0';
    return st;
}

/* Renders Markdown and asserts control `id` has status `want`. */
static void expect_md_status(const struct wsg_policy *p,
                             const struct wsg_deployment *d, const char *id,
                             const char *want)
{
    char *md = render(p, d, WSG_REPORT_MARKDOWN);
    cr_assert_str_eq(md_status(md, id), want, "%s", id);
    free(md);
}

Test(report, golden_bare)
{
    struct wsg_policy *p = bare();
    char *md = render(p, &bare_dep, WSG_REPORT_MARKDOWN);
    char *js = render(p, &bare_dep, WSG_REPORT_JSON);

    golden("bare.md", md);
    golden("bare.json", js);
    cr_assert_str_eq(md_status(md, "H1"), "FAIL");
    cr_assert_str_eq(md_status(md, "H2"), "FAIL");
    cr_assert_str_eq(md_status(md, "H3"), "FAIL");
    cr_assert_str_eq(md_status(md, "H4"), "PASS");
    cr_assert_str_eq(md_status(md, "H6"), "FAIL");
    cr_assert_str_eq(md_status(md, "H11"), "WARN");
    free(md);
    free(js);
    wsg_policy_free(p);
}

Test(report, golden_hardened)
{
    struct wsg_policy *p = hardened();
    char *md = render(p, &hard_dep, WSG_REPORT_MARKDOWN);
    char *js = render(p, &hard_dep, WSG_REPORT_JSON);

    golden("hardened.md", md);
    golden("hardened.json", js);
    cr_assert(strstr(md, "\n15 PASS, 0 WARN, 0 FAIL\n") != NULL, "%s", md);
    cr_assert(strstr(js, "\"summary\":{\"pass\":15,\"warn\":0,\"fail\":0}")
              != NULL);
    free(md);
    free(js);
    wsg_policy_free(p);
}

/* Each control switched off again turns its line from PASS. */
Test(report, controls_follow_settings)
{
    static const struct { const char *id, *name, *value; } off[] = {
        {"H2", "allow-origin", ""}, {"H2", "allow-host", ""},
        {"H5", "max-message", "1g"}, {"H6", "max-conns", "0"},
        {"H7", "ping-interval", "0"}, {"H9", "subprotocol", ""},
        {"H10", "csp", ""}, {"H10", "hsts-max-age", "0"},
    };

    for (size_t i = 0; i < sizeof(off) / sizeof(off[0]); i++) {
        struct wsg_policy *p = hardened();
        char *md;
        cr_assert_eq(wsg_policy_set(p, off[i].name, off[i].value, err,
                                    sizeof(err)), WSG_OK, "%s", err);
        if (strcmp(off[i].name, "subprotocol") == 0) {
            wsg_policy_set(p, "text-only", "false", err, sizeof(err));
            wsg_policy_set_validator(p, NULL, NULL);
        }
        md = render(p, &hard_dep, WSG_REPORT_MARKDOWN);
        cr_assert_str_neq(md_status(md, off[i].id), "PASS", "%s=%s",
                          off[i].name, off[i].value);
        free(md);
        wsg_policy_free(p);
    }
    /* H1 depends on the deployment */
    struct wsg_policy *p = hardened();
    struct wsg_deployment d = hard_dep;
    d.trusted_front_end = false;
    expect_md_status(p, &d, "H1", "WARN");
    d.tls = true;
    expect_md_status(p, &d, "H1", "PASS");
    d.fuzzed = false;
    expect_md_status(p, &d, "H15", "WARN");
    wsg_policy_set_audit(p, NULL, NULL);
    expect_md_status(p, &d, "H11", "WARN");
    wsg_policy_free(p);
}

Test(report, no_secrets)
{
    struct wsg_policy *p = hardened();

    for (int f = 0; f < 2; f++) {
        char *s = render(p, &hard_dep, (enum wsg_report_format)f);
        cr_assert_null(strstr(s, TOKEN));
        cr_assert_null(strstr(s, "very-secret"));
        cr_assert_null(strstr(s, "HMACKEY"));
        cr_assert(strstr(s, "auth-token=set") != NULL);
        free(s);
    }
    wsg_policy_free(p);
}

static const char checker[] =
    "import json,sys\n"
    "d=json.loads(sys.stdin.buffer.read().decode('utf-8'))\n"
    "c=d['controls']\n"
    "assert isinstance(d['wsguard'],str)\n"
    "assert set(d['deployment'])=={'tls','trusted_front_end',"
    "'deflate_available','fuzzed'}\n"
    "assert [x['id'] for x in c]==['H%d'%i for i in range(1,16)]\n"
    "for x in c:\n"
    "  assert set(x)=={'id','title','status','evidence','missing'},x\n"
    "  assert x['status'] in ('PASS','WARN','FAIL')\n"
    "  assert x['title'] and x['evidence']\n"
    "  assert (x['missing']=='')==(x['status']=='PASS'),x\n"
    "s=d['summary']\n"
    "for k in ('pass','warn','fail'):\n"
    "  assert s[k]==sum(x['status']==k.upper() for x in c)\n"
    "print(len(c))\n";

static void python_check(const char *js)
{
    char cmd[2048], path[] = "/tmp/wsg-report-check-XXXXXX", line[32] = "";
    int fd = mkstemp(path);
    FILE *f;

    cr_assert_geq(fd, 0);
    cr_assert_eq(write(fd, checker, sizeof(checker) - 1),
                 (ssize_t)(sizeof(checker) - 1));
    close(fd);
    snprintf(cmd, sizeof(cmd), "/usr/bin/python3 %s > %s.out", path, path);
    cr_assert_not_null(f = popen(cmd, "w"));
    fputs(js, f);
    cr_assert_eq(pclose(f), 0, "python rejected:\n%s", js);
    snprintf(cmd, sizeof(cmd), "%s.out", path);
    cr_assert_not_null(f = fopen(cmd, "r"));
    cr_assert_not_null(fgets(line, sizeof(line), f));
    fclose(f);
    remove(cmd);
    remove(path);
    cr_assert_str_eq(line, "15\n");
}

Test(report, json_parses)
{
    struct wsg_policy *p = hardened();
    char *js;

    python_check(js = render(p, &hard_dep, WSG_REPORT_JSON));
    free(js);
    wsg_policy_free(p);
    p = bare();
    python_check(js = render(p, &bare_dep, WSG_REPORT_JSON));
    free(js);
    /* quotes, backslashes and non-ASCII bytes in a path; no version */
    cr_assert_eq(wsg_policy_set(p, "auth-hmac-key-file",
                                "/k/\"q\"\\b/\xc3\xa9|x", err, sizeof(err)),
                 WSG_OK, "%s", err);
    struct wsg_deployment d = {0};
    js = render(p, &d, WSG_REPORT_JSON);
    cr_assert(strstr(js, "\"wsguard\":null") != NULL);
    free(js);
    cr_assert_eq(wsg_policy_set(p, "csp", "a \"b\" \\c", err, sizeof(err)),
                 WSG_OK);
    js = render(p, &bare_dep, WSG_REPORT_JSON);
    python_check(js);
    cr_assert(strstr(js, "a \\\"b\\\" \\\\c") != NULL);
    free(js);
    char *md = render(p, NULL, WSG_REPORT_MARKDOWN);
    cr_assert(strstr(md, "/k/\"q\"\\b/??\\|x") != NULL, "%s", md);
    free(md);
    wsg_policy_free(p);
}

Test(report, snprintf_contract)
{
    struct wsg_policy *p = hardened();

    for (int f = 0; f < 2; f++) {
        char *full = render(p, &hard_dep, (enum wsg_report_format)f);
        size_t n = strlen(full);
        size_t caps[] = {0, 1, 2, 17, n / 2, n - 1, n, n + 1, n + 64};
        char *buf = malloc(n + 128);

        for (size_t i = 0; i < sizeof(caps) / sizeof(caps[0]); i++) {
            size_t cap = caps[i];
            memset(buf, 0xA5, n + 128);
            cr_assert_eq(wsg_policy_report(p, &hard_dep,
                                           (enum wsg_report_format)f, buf,
                                           cap), n, "cap %zu", cap);
            for (size_t k = cap; k < n + 128; k++)
                cr_assert_eq((unsigned char)buf[k], 0xA5,
                             "cap %zu: byte %zu written", cap, k);
            if (cap > 0) {
                size_t w = cap - 1 < n ? cap - 1 : n;
                cr_assert_eq(buf[w], '\0');
                cr_assert_eq(memcmp(buf, full, w), 0);
            }
        }
        free(buf);
        free(full);
    }
    cr_assert_eq(wsg_policy_report(NULL, &hard_dep, WSG_REPORT_JSON, NULL,
                                   0), 0);
    wsg_policy_free(p);
}
