#!/usr/bin/python3
"""wsg-echo's policy interface: --report md|json for a bare and a hardened
command line, --check-config with bad values (exit 2, the setting named),
a WSG_* environment setting (WSG_MAX_MESSAGE=100: a 200-byte message gets
1009), and --audit lines that parse as JSON and carry no token."""
import asyncio
import json
import os
import re
import subprocess
import sys
import tempfile
import time

import websockets
import websockets.exceptions as wsexc

BUILD = os.environ.get("WSGUARD_BUILD_DIR") or os.path.join(
    os.path.dirname(os.path.abspath(__file__)), "..", "..", "build")
EXE = os.path.join(BUILD, "examples", "echo-server", "wsg-echo")
TOKEN = "s3cret-token-0123456789abcdef"
BAD_TOKEN = "wrong-token-zyxwvutsrqponmlk"

passed, failed = 0, []


def check(name, ok, info=""):
    global passed
    if ok:
        passed += 1
        print("PASS", name)
    else:
        failed.append(name)
        print("FAIL", name, info)


def env(extra=None):
    e = {k: v for k, v in os.environ.items() if not k.startswith("WSG_")}
    e.update(extra or {})
    return e


def run(args, extra_env=None):
    p = subprocess.run([EXE] + args, env=env(extra_env), capture_output=True,
                       text=True, timeout=20)
    return p.returncode, p.stdout, p.stderr


KEY = tempfile.NamedTemporaryFile("w", suffix=".key", delete=False)
KEY.write("k" * 40 + "\n")
KEY.close()
SHORT = tempfile.NamedTemporaryFile("w", suffix=".key", delete=False)
SHORT.write("short\n")
SHORT.close()

HARDENED = ["--allow-origin", "https://app.example.com",
            "--allow-host", "app.example.com", "--auth-token", TOKEN,
            "--auth-hmac-key-file", KEY.name, "--max-conns", "1000",
            "--max-conns-per-ip", "10", "--msg-rate", "100",
            "--msg-burst", "200", "--byte-rate", "1m", "--byte-burst", "2m",
            "--control-rate", "50", "--subprotocol", "chat.v1",
            "--binary-only", "--trusted-proxy", "10.0.0.0/8",
            "--require-https", "--audit"]

# ---- --report ----------------------------------------------------------------
IDS = ["H%d" % i for i in range(1, 16)]
for tag, args in (("bare", []), ("hardened", HARDENED)):
    rc, out, err = run(["--report", "json"] + args)
    try:
        doc = json.loads(out)
        ctl = doc["controls"]
    except (ValueError, KeyError, TypeError) as ex:
        doc, ctl = None, []
        check("report json %s parses" % tag, False, repr(ex) + err)
    check("report json %s: exit 0, 15 controls H1-H15" % tag,
          rc == 0 and [c.get("id") for c in ctl] == IDS, (rc, err))
    st = {c["id"]: c.get("status") for c in ctl}
    check("report json %s: statuses PASS/WARN/FAIL with the fields" % tag,
          all(c.get("status") in ("PASS", "WARN", "FAIL") and
              all(k in c for k in ("title", "evidence", "missing"))
              for c in ctl), ctl)
    if tag == "bare":
        check("report bare: H2, H3, H6 FAIL; H4, H5 PASS",
              [st.get(i) for i in ("H2", "H3", "H6", "H4", "H5")] ==
              ["FAIL", "FAIL", "FAIL", "PASS", "PASS"], st)
    else:
        check("report hardened: every control PASS",
              all(st.get(i) == "PASS" for i in IDS), st)
        check("report hardened json: no token", TOKEN not in out)
    rc, md, err = run(["--report"] + args)
    rows = re.findall(r"^\| (H\d+) \|", md, re.M)
    check("report md %s: exit 0, 15 rows" % tag, rc == 0 and rows == IDS,
          (rc, rows, err))
    check("report md %s: statuses agree with json" % tag,
          all(re.search(r"^\| %s \|[^|]*\| %s \|" % (i, st.get(i)), md, re.M)
              for i in IDS), md)
    check("report md %s: no token" % tag, TOKEN not in md)

rc, out, err = run(["--report=json"])
check("--report=json is JSON too", rc == 0 and out.lstrip().startswith("{"))

# ---- --check-config ------------------------------------------------------------
rc, out, err = run(["--check-config"] + HARDENED)
check("check-config hardened: exit 0, 'config ok'",
      rc == 0 and "config ok" in err and out == "", (rc, out, err))
rc, out, err = run(["--check-config", "--max-message", "12q"])
check("check-config --max-message 12q: exit 2, names the setting",
      rc == 2 and "--max-message" in err and "1-1073741824" in err, (rc, err))
rc, out, err = run(["--check-config"], {"WSG_MAX_FRAME": "zz"})
check("check-config WSG_MAX_FRAME=zz: exit 2, names it",
      rc == 2 and "WSG_MAX_FRAME" in err, (rc, err))
rc, out, err = run(["--check-config"], {"WSG_MAX_MESAGE": "10"})
check("check-config unknown WSG_ name (typo): exit 2",
      rc == 2 and "WSG_MAX_MESAGE" in err, (rc, err))
rc, out, err = run(["--check-config", "--auth-hmac-key-file", SHORT.name])
check("check-config short key file: exit 2, names the setting",
      rc == 2 and "auth-hmac-key-file" in err, (rc, err))
rc, out, err = run(["--check-config", "--auth-hmac-key-file", "/nonexistent/k"])
check("check-config missing key file: exit 2",
      rc == 2 and "auth-hmac-key-file" in err, (rc, err))
rc, out, err = run(["--check-config", "--text-only", "--binary-only"])
check("check-config text-only + binary-only: exit 2", rc == 2, (rc, err))
rc, out, err = run(["--check-config", "--max-message", "300"],
                   {"WSG_MAX_MESSAGE": "zz1"})
check("flags apply after the environment (bad env still refused)", rc == 2)
rc, out, err = run(["--report", "json", "--allow-origin", "https://b.example"],
                   {"WSG_ALLOW_ORIGIN": "https://a.example"})
check("a list flag replaces the environment's list",
      rc == 0 and "https://b.example" in out and "https://a.example" not in out,
      out[:300])


# ---- a running server ------------------------------------------------------------
class Server:
    def __init__(self, args, extra_env=None):
        self.p = subprocess.Popen(
            [EXE, "--host", "127.0.0.1", "--port", "0"] + args,
            env=env(extra_env), stdout=subprocess.PIPE,
            stderr=subprocess.PIPE, text=True)
        line = self.p.stderr.readline()
        m = re.search(r":(\d+)/", line)
        if not m:
            self.p.kill()
            raise SystemExit("wsg-echo did not start: %r" % line)
        self.url = "ws://127.0.0.1:%s/" % m.group(1)

    def stop(self):
        self.p.terminate()
        try:
            out, _ = self.p.communicate(timeout=10)
        except subprocess.TimeoutExpired:
            self.p.kill()
            out, _ = self.p.communicate()
        return self.p.returncode, out


async def size_case(url):
    async with websockets.connect(url, open_timeout=5) as ws:
        await ws.send(b"x" * 50)
        small = await asyncio.wait_for(ws.recv(), 5)
        await ws.send(b"y" * 200)
        try:
            await asyncio.wait_for(ws.recv(), 5)
            return small, None
        except wsexc.ConnectionClosed as ex:
            return small, ex.rcvd.code if ex.rcvd else None


srv = Server([], {"WSG_MAX_MESSAGE": "100"})
try:
    small, code = asyncio.run(size_case(srv.url))
finally:
    srv.stop()
check("WSG_MAX_MESSAGE=100: 50 bytes echoed", small == b"x" * 50)
check("WSG_MAX_MESSAGE=100: 200 bytes closed with 1009", code == 1009, code)


async def audit_case(url):
    hdr = {"Authorization": "Bearer " + TOKEN}
    async with websockets.connect(url, open_timeout=5,
                                  extra_headers=hdr) as ws:
        await ws.send("hello")
        echoed = await asyncio.wait_for(ws.recv(), 5)
    status = None
    try:
        async with websockets.connect(
                url, open_timeout=5,
                extra_headers={"Authorization": "Bearer " + BAD_TOKEN}):
            pass
    except wsexc.InvalidStatusCode as ex:
        status = ex.status_code
    return echoed, status


srv = Server(["--audit", "--auth-token", TOKEN])
try:
    echoed, status = asyncio.run(audit_case(srv.url))
    time.sleep(0.3)
finally:
    rc, out = srv.stop()
check("audit: token accepted and echoed", echoed == "hello", echoed)
check("audit: bad token refused with 401", status == 401, status)
lines = [ln for ln in out.split("\n") if ln]
events = []
for ln in lines:
    try:
        events.append(json.loads(ln))
    except ValueError:
        events.append(None)
check("audit: every stdout line is one JSON object",
      lines and all(isinstance(e, dict) for e in events), lines)
names = [e.get("event") for e in events if isinstance(e, dict)]
check("audit: open, close and refuse events", all(
    n in names for n in ("open", "close", "refuse")), names)
ref = [e for e in events if isinstance(e, dict) and e.get("event") == "refuse"]
check("audit: refuse carries H3 and 401",
      ref and ref[0].get("control") == "H3" and ref[0].get("status") == 401,
      ref)
check("audit: no token, good or bad, anywhere",
      TOKEN not in out and BAD_TOKEN not in out and "Bearer" not in out)

os.unlink(KEY.name)
os.unlink(SHORT.name)
print("%d passed, %d failed" % (passed, len(failed)))
if failed:
    print("failed: " + ", ".join(failed))
sys.exit(1 if failed else 0)
