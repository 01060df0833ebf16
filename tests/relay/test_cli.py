#!/usr/bin/python3
"""wsg-relay's configuration (issue 4): flags and WSG_* variables with one
spelling, bad values refused with the setting's name and range, unknown
WSG_* names refused, the report (md and json) for the effective settings,
the listen port from WEBSITES_PORT, and --workers N serving one port from N
processes with a clean SIGTERM."""
import json
import os
import signal
import socket
import subprocess
import time

import relaytest as rt

C = rt.Checks("relay cli")
EXE = os.environ.get("WSGUARD_RELAY_CMD") or os.path.join(
    rt.BUILD, "examples", "streamlit-relay", "wsg-relay")


def clean_env(extra=None):
    env = {k: v for k, v in os.environ.items()
           if not k.startswith("WSG_") and k not in ("PORT", "WEBSITES_PORT")}
    env.update(extra or {})
    return env


def run(args, env=None, timeout=10):
    p = subprocess.run([EXE] + args, env=clean_env(env), capture_output=True,
                       text=True, timeout=timeout)
    return p.returncode, p.stdout, p.stderr


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


# -- help, check-config, bad values -----------------------------------------------------
rc, out, err = run(["--help"])
C.check("--help: exit 0, relay and policy settings listed",
        rc == 0 and "--upstream" in out and "--max-upload" in out and "--allow-origin" in out
        and "--identity-header" in out, "rc %r" % rc)
rc, out, err = run(["--check-config"])
C.check("--check-config with defaults: exit 0, 'config ok'", rc == 0 and "config ok" in err,
        "rc %r err %r" % (rc, err))
for args, env, name, rng in [
        (["--max-upload", "12q"], None, "--max-upload", "1-1t bytes"),
        (["--upstream", "ftp://x"], None, "--upstream", "http://HOST:PORT"),
        (["--listen", "nohost"], None, "--listen", "HOST:PORT"),
        (["--workers", "0"], None, "--workers", "1-256"),
        (["--base-path", "app/"], None, "--base-path", "/prefix"),
        (["--max-message", "0"], None, "max-message", "1-1073741824"),
        ([], {"WSG_MAX_UPLOAD": "-5"}, "WSG_MAX_UPLOAD", "1-1t bytes"),
        ([], {"WSG_MSG_RATE": "fast"}, "WSG_MSG_RATE", "0-4294967295")]:
    rc, out, err = run(args + ["--check-config"], env)
    C.check("bad %s: exit 2, the message names it and its range" % name,
            rc == 2 and name in err and rng in err and "config ok" not in err,
            "rc %r err %r" % (rc, err))
rc, out, err = run(["--check-config"], {"WSG_ALOW_ORIGIN": "https://a.example"})
C.check("a misspelt WSG_ variable stops the relay (exit 2, named)",
        rc == 2 and "WSG_ALOW_ORIGIN" in err, "rc %r err %r" % (rc, err))
rc, out, err = run(["--identity-header", "X-MS-CLIENT-PRINCIPAL-NAME", "--check-config"])
C.check("--identity-header without --trusted-proxy: exit 2, says why",
        rc == 2 and "trusted-proxy" in err, "rc %r err %r" % (rc, err))
rc, out, err = run(["--identity-header", "X-MS-CLIENT-PRINCIPAL-NAME", "--trusted-proxy",
                    "169.254.0.0/16", "--check-config"])
C.check("--identity-header with --trusted-proxy: config ok", rc == 0, "rc %r err %r" % (rc, err))

# -- the report: md and json, environment and flags, one spelling ---------------------------
rc, out, err = run(["--report", "json"], {"WSG_ALLOW_ORIGIN": "https://a.example,https://b.example",
                                          "WSG_MSG_RATE": "5"})
try:
    rep = json.loads(out)
except ValueError:
    rep = None
ids = [c.get("id") for c in (rep or {}).get("controls", [])]
C.check("--report json: 15 controls H1..H15 with status, evidence, missing",
        rc == 0 and ids == ["H%d" % i for i in range(1, 16)]
        and all(c.get("status") in ("PASS", "WARN", "FAIL") and "evidence" in c and "missing" in c
                for c in rep["controls"]), "rc %r ids %r" % (rc, ids))
by = {c["id"]: c for c in (rep or {}).get("controls", [])}
C.check("report: WSG_ALLOW_ORIGIN (a list) shows in H2 and passes it",
        "https://a.example" in by.get("H2", {}).get("evidence", "")
        and "https://b.example" in by.get("H2", {}).get("evidence", ""), repr(by.get("H2")))
C.check("report: the relay's CSP default (Streamlit-compatible) and SAMEORIGIN in H10",
        "'unsafe-inline'" in by.get("H10", {}).get("evidence", "")
        and "frame-options=SAMEORIGIN" in by.get("H10", {}).get("evidence", ""), repr(by.get("H10")))
C.check("report: audit on by default (H11 PASS or WARN, never 'no audit callback')",
        "no audit callback" not in by.get("H11", {}).get("evidence", ""), repr(by.get("H11")))
rc, out, err = run(["--report", "json", "--msg-rate", "7"], {"WSG_MSG_RATE": "5"})
C.check("report: a flag overrides its WSG_ variable (msg-rate=7)",
        rc == 0 and "msg-rate=7;" in out, "rc %r" % rc)
rc, out, err = run(["--report", "json", "--no-audit"])
C.check("report: --no-audit shows H11 without an audit callback",
        rc == 0 and "no audit callback" in out, "rc %r" % rc)
rc, out, err = run(["--report", "md", "--trusted-proxy", "169.254.0.0/16", "--require-https"])
C.check("report md: H1 PASS behind a trusted front end with require-https",
        rc == 0 and "| H1 | Encrypted transport only | PASS |" in out, out[:400])
for secret in ["s3cr3t-token-0123456789"]:
    rc, out, err = run(["--report", "md", "--auth-token", secret])
    C.check("report: the auth token is never printed", rc == 0 and secret not in out + err,
            "rc %r" % rc)

# -- where it listens ---------------------------------------------------------------------
d = rt.Double()
try:
    port = free_port()
    p = subprocess.Popen([EXE, "--upstream", "http://127.0.0.1:%d" % d.port],
                         env=clean_env({"WSG_LISTEN": "127.0.0.1:%d" % port}),
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    rt.common.CHILDREN.append(p)
    ok = False
    for _ in range(50):
        try:
            r = rt.http(port, "GET", "/_stcore/health")
            ok = r.status == 200
            break
        except OSError:
            time.sleep(0.1)
    C.check("WSG_LISTEN (an App Setting): the relay serves on the given port", ok, "port %d" % port)
    p.send_signal(signal.SIGTERM)
    try:
        rc = p.wait(10)
    except subprocess.TimeoutExpired:
        p.kill()
        rc = p.wait(5)
    C.check("SIGTERM with nothing open: exit 0", rc == 0, "rc %r" % rc)
    _, err = p.communicate(timeout=5)
    C.check("the report is logged once at start (stderr)", err.count("# wsguard compliance report") == 1,
            err[:300])

    # --workers 2: N processes on one port (SO_REUSEPORT), all serving.
    port = free_port()
    p = subprocess.Popen([EXE, "--listen", "127.0.0.1:%d" % port, "--workers", "2",
                          "--upstream", "http://127.0.0.1:%d" % d.port],
                         env=clean_env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    rt.common.CHILDREN.append(p)
    statuses = []
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and len(statuses) < 20:
        try:
            statuses.append(rt.http(port, "GET", "/_stcore/host-config").status)
        except OSError:
            time.sleep(0.1)
    kids = []
    try:
        with open("/proc/%d/task/%d/children" % (p.pid, p.pid)) as f:
            kids = f.read().split()
    except OSError:
        pass
    C.check("--workers 2: two worker processes", len(kids) == 2, "children %r" % kids)
    C.check("--workers 2: 20 requests on the shared port, all 200",
            statuses == [200] * 20, "%r" % statuses)
    p.send_signal(signal.SIGTERM)
    try:
        rc = p.wait(15)
    except subprocess.TimeoutExpired:
        p.kill()
        rc = p.wait(5)
    alive = [k for k in kids if os.path.exists("/proc/%s" % k)]
    C.check("--workers 2: SIGTERM stops every worker, exit 0", rc == 0 and not alive,
            "rc %r alive %r" % (rc, alive))
    p.communicate(timeout=5)
    rc, out, err = run(["--workers", "2", "--listen", "127.0.0.1:0", "--check-config"])
    C.check("--workers with port 0 refused (exit 2)", rc == 2 and "--workers" in err,
            "rc %r err %r" % (rc, err))
finally:
    d.stop()
raise SystemExit(C.done())
