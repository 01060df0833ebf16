"""Shared helpers for the end-to-end control tests (suite 'controls').

Each script starts wsg-echo with policy flags (issue 3), drives it with a
real client (python3-websockets for well-behaved ones, the raw framing of
tests/conformance/wsproto.py for hostile ones), and reads the audit events
(--audit: one JSON object per line on stdout).

Environment: WSGUARD_BUILD_DIR, WSGUARD_SOURCE_DIR (set by meson). Our own
names never start with WSG_: that is wsg-echo's settings namespace.
"""
import asyncio
import base64
import hashlib
import json
import os
import re
import signal
import socket
import subprocess
import sys
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
SRC = os.environ.get("WSGUARD_SOURCE_DIR") or os.path.join(HERE, "..", "..")
sys.path.insert(0, os.path.join(SRC, "tests", "interop"))
sys.path.insert(0, os.path.join(SRC, "tests", "conformance"))

import common  # noqa: E402
import wsproto  # noqa: E402
from common import Checks  # noqa: E402,F401

try:
    import websockets  # noqa: E402
    import websockets.exceptions as wsexc  # noqa: E402
except ImportError:  # pragma: no cover
    print("FAIL: python3-websockets not importable (run with /usr/bin/python3)")
    print("0 passed, 1 failed")
    sys.exit(1)


def clean_env(extra=None):
    """The environment without any WSG_* setting (wsg-echo reads them)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("WSG_")}
    # Under AddressSanitizer, freed memory sits in a quarantine that RSS
    # counts; without it the memory figures (H12) mean the same as in a
    # normal build. Harmless when the program is not sanitized.
    asan = env.get("ASAN_OPTIONS", "")
    env["ASAN_OPTIONS"] = (asan + ":" if asan else "") + "quarantine_size_mb=0"
    if extra:
        env.update(extra)
    return env


class Server:
    """wsg-echo on 127.0.0.1, --port 0, stdout (audit) and stderr captured."""

    def __init__(self, args=(), audit=True, env=None, expect_start=True):
        cmd = common.echo_cmd()
        common.need_exe(cmd, "wsg-echo")
        # CONTROLS_MUTATE_OFF=1: start every server without its policy flags,
        # to show that each test fails when its control is switched off.
        self.args = [] if os.environ.get("CONTROLS_MUTATE_OFF") else list(args)
        full = cmd + ["--host", "127.0.0.1", "--port", "0"]
        full += (["--audit"] if audit else []) + self.args
        self.cmd = full
        self.out = []   # stdout lines
        self.err = []   # stderr lines
        self.port = None
        self.proc = subprocess.Popen(full, stdin=subprocess.DEVNULL,
                                     stdout=subprocess.PIPE,
                                     stderr=subprocess.PIPE, text=True,
                                     errors="replace",
                                     env=clean_env(None if os.environ.get(
                                         "CONTROLS_MUTATE_OFF") else env))
        common.CHILDREN.append(self.proc)
        ready = threading.Event()
        self._cv = threading.Condition()

        def drain_err():
            for line in self.proc.stderr:
                self.err.append(line.rstrip("\n"))
                m = re.search(r"listening on ws://127\.0\.0\.1:(\d+)", line)
                if m and self.port is None:
                    self.port = int(m.group(1))
                    ready.set()
            ready.set()

        def drain_out():
            for line in self.proc.stdout:
                with self._cv:
                    self.out.append(line.rstrip("\n"))
                    self._cv.notify_all()

        threading.Thread(target=drain_err, daemon=True).start()
        threading.Thread(target=drain_out, daemon=True).start()
        ready.wait(10)
        if self.port is None and expect_start:
            self.stop()
            print("FAIL: wsg-echo %s did not report its port:\n%s"
                  % (" ".join(self.args), "\n".join(self.err[-20:])))
            print("0 passed, 1 failed")
            sys.exit(1)
        self.url = "ws://127.0.0.1:%s/" % self.port

    # -- audit ------------------------------------------------------------------
    def events(self):
        evs = []
        with self._cv:
            lines = list(self.out)
        for ln in lines:
            try:
                evs.append(json.loads(ln))
            except ValueError:
                evs.append({"event": "<not json>", "raw": ln})
        return evs

    def mark(self):
        with self._cv:
            return len(self.out)

    def wait_event(self, pred, timeout=5.0, since=0):
        """The first event (from line `since` on) matching pred, waiting at
        most timeout s."""
        deadline = time.monotonic() + timeout
        with self._cv:
            while True:
                for ln in self.out[since:]:
                    try:
                        ev = json.loads(ln)
                    except ValueError:
                        continue
                    if pred(ev):
                        return ev
                left = deadline - time.monotonic()
                if left <= 0:
                    return None
                self._cv.wait(min(left, 0.2))

    def find(self, event, since=0, **kw):
        return [e for e in self.events()[since:] if e.get("event") == event
                and all(e.get(k) == v for k, v in kw.items())]

    def text(self):
        return "\n".join(self.out + self.err)

    def rss_kib(self):
        try:
            with open("/proc/%d/status" % self.proc.pid) as f:
                for ln in f:
                    if ln.startswith("VmRSS:"):
                        return int(ln.split()[1])
        except OSError:
            pass
        return None

    def stop(self):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)
        time.sleep(0.05)  # let the drain threads take the last lines
        return self.proc.returncode


# -- raw HTTP upgrade (any headers, any Host) -------------------------------------

class Reply:
    def __init__(self, status, headers, client, raw, local=None):
        self.local = local       # our "ip:port": the audit's "peer"
        self.status = status
        self.headers = headers   # lower-case name -> [values]
        self.client = client     # wsproto.RawClient on 101 (framing ready)
        self.raw = raw

    def h(self, name):
        v = self.headers.get(name.lower())
        return v[0] if v else None

    def close(self):
        if self.client:
            self.client.close()


def upgrade(port, headers=(), path="/", host=None, timeout=5.0):
    """Sends an upgrade request with exactly the given extra headers.
    Returns a Reply; status 0 if no complete response head came."""
    rc = wsproto.RawClient("ws://127.0.0.1:%d%s" % (port, path), timeout)
    local = "%s:%d" % rc.sock.getsockname()[:2]
    key = base64.b64encode(os.urandom(16)).decode()
    req = wsproto.handshake_request(path, host or "127.0.0.1:%d" % port, key,
                                    headers)
    rc.send(req)
    deadline = time.monotonic() + timeout
    while b"\r\n\r\n" not in rc.buf:
        if len(rc.buf) > 65536 or not rc._fill(deadline):
            raw = bytes(rc.buf)
            rc.close()
            return Reply(0, {}, None, raw, local)
    head, _, rest = bytes(rc.buf).partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    m = re.match(r"HTTP/1\.1 (\d{3})", lines[0])
    status = int(m.group(1)) if m else -1
    hdrs = {}
    for ln in lines[1:]:
        name, _, val = ln.partition(":")
        hdrs.setdefault(name.strip().lower(), []).append(val.strip())
    if status == 101:
        want = base64.b64encode(hashlib.sha1(key.encode() + wsproto.GUID)
                                .digest()).decode()
        if hdrs.get("sec-websocket-accept") != [want]:
            status = -101
        rc.buf = bytearray(rest)
        return Reply(status, hdrs, rc, head, local)
    rc.close()
    return Reply(status, hdrs, None, head, local)


def echo_once(client, payload=b"hello", op=wsproto.OP_BINARY, timeout=3.0):
    """Sends one message on a RawClient and returns the next event."""
    client.send(wsproto.frame(op, payload))
    try:
        return client.next_event(time.monotonic() + timeout)
    except wsproto.ProtocolViolation as e:
        return ("violation", str(e))


def close_event(client, timeout=5.0):
    """Reads until a close frame or EOF: ('close', code, reason) or ('eof',)."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            ev = client.next_event(deadline)
        except wsproto.ProtocolViolation as e:
            return ("violation", str(e))
        if ev[0] in ("close", "eof", "reset", "timeout"):
            return ev


# -- python3-websockets client ------------------------------------------------------

def ws_run(coro, timeout=15.0):
    return asyncio.run(asyncio.wait_for(coro, timeout))


async def ws_try(url, **kw):
    """Opens with websockets; returns ('open', ws) or ('status', code, headers)
    or ('error', text)."""
    try:
        ws = await websockets.connect(url, open_timeout=5, close_timeout=2,
                                      ping_interval=None, **kw)
        return ("open", ws)
    except wsexc.InvalidStatusCode as e:
        return ("status", e.status_code, getattr(e, "headers", None))
    except Exception as e:  # noqa: BLE001
        return ("error", "%s: %s" % (type(e).__name__, e))


def ws_handshake(url, **kw):
    """Status of a websockets handshake (101 on success), the subprotocol."""
    async def go():
        r = await ws_try(url, **kw)
        if r[0] == "open":
            ws = r[1]
            sub = ws.subprotocol
            await ws.close()
            return 101, sub
        if r[0] == "status":
            return r[1], None
        return r[1], None
    return ws_run(go())


def closed_code(e):
    rcvd = getattr(e, "rcvd", None)
    if rcvd is not None:
        return rcvd.code, rcvd.reason
    return getattr(e, "code", None), getattr(e, "reason", "")


# -- assertions shared by every script ----------------------------------------------

def check_no_secret(c, srv, secrets, label):
    text = srv.text()
    leaked = [s for s in secrets if s and s in text]
    c.check("%s: no secret in audit/log" % label, not leaked,
            "leaked: %r" % leaked)


def check_refused(c, srv, label, rep, status, control, reason_has=None,
                  since=0):
    """A refusal: the status, a 'refuse' event for this connection (its
    peer address) with the control id, and no 'open' event for it (never
    handed to the application)."""
    c.check("%s: status %d" % (label, status), rep.status == status,
            "got %r" % rep.status)
    # The guard audits before the response is written: once the refusal is
    # here its event is in the pipe. Without the refusal (a control switched
    # off) a short look is enough.
    ev = srv.wait_event(lambda e: e.get("event") == "refuse"
                        and e.get("peer") == rep.local,
                        3 if rep.status == status else 0.5, since)
    ok = ev is not None and ev.get("control") == control
    if ok and reason_has:
        ok = reason_has in (ev.get("reason") or "")
    c.check("%s: audit refuse %s" % (label, control), ok, "event %r" % ev)
    time.sleep(0.05)
    opens = srv.find("open", since, peer=rep.local)
    c.check("%s: never opened" % label, not opens, "open events: %r" % opens)


def finish(c):
    sys.exit(c.done())
