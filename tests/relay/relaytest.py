"""Shared helpers for the relay tests (suite 'relay', real processes).

- Double: tests/relay/streamlit_double.py as a child process (127.0.0.1,
  free port or a Unix socket), its record file read back as JSON objects.
- Relay: wsg-relay as a child process (its CLI is the relay's to define;
  adjust start_args when it lands).
- HttpConn / http(): a raw HTTP/1.1 client (exact headers, keep-alive,
  Content-Length / chunked / close-delimited bodies, HEAD, 1xx/204/304),
  over TCP or a Unix socket, every read bounded by a deadline.
- Checks (tests/interop/common.py): PASS/FAIL lines, "N passed, M failed".
- payload() & co. come from the double itself, so a test recomputes exactly
  the bytes the double sends.
- For the WebSocket tests: RawWs (a raw, possibly hostile client that reads
  any answer), FakeUpstream (a scripted upstream recording what reaches
  it), audit event waits (events, new_events, ev_is), metric(), rss_kb()
  and reset_hwm() for memory bounds, guarded() to run a section.

Environment: WSGUARD_BUILD_DIR, WSGUARD_SOURCE_DIR (set by meson),
WSGUARD_DOUBLE_SCRIPT, WSGUARD_RELAY_CMD (overrides).
"""
import asyncio
import atexit
import base64
import hashlib
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import traceback

HERE = os.path.dirname(os.path.abspath(__file__))
SRC = os.environ.get("WSGUARD_SOURCE_DIR") or os.path.join(HERE, "..", "..")
sys.path.insert(0, os.path.join(SRC, "tests", "interop"))
sys.path.insert(0, os.path.join(SRC, "tests", "conformance"))
sys.path.insert(0, HERE)

import common  # noqa: E402  (atexit cleanup of CHILDREN, SIGTERM -> exit)
import wsproto  # noqa: E402  (raw RFC 6455 framing, tests/conformance)
from common import Checks  # noqa: E402,F401
from streamlit_double import (  # noqa: E402,F401
    XSRF_COOKIE, hello_seed, media_content, payload, send_seed,
    static_main_js, text_payload)

BUILD = common.BUILD
PYTHON = "/usr/bin/python3"
# WSGUARD_DOUBLE_SCRIPT: another double (e.g. a mutated copy, to see the
# self-test fail).
DOUBLE = os.environ.get("WSGUARD_DOUBLE_SCRIPT") or os.path.join(HERE, "streamlit_double.py")
SUBPROTOCOLS = ["streamlit", "PLACEHOLDER_AUTH_TOKEN"]

try:
    import websockets  # noqa: E402,F401
    import websockets.exceptions  # noqa: E402,F401
except ImportError:  # pragma: no cover
    print("FAIL: python3-websockets not importable (run with /usr/bin/python3)")
    print("0 passed, 1 failed")
    sys.exit(1)


TEMP_DIRS = []


@atexit.register
def _remove_temp_dirs():
    for path in TEMP_DIRS:
        shutil.rmtree(path, ignore_errors=True)


def fail_exit(msg):
    print("FAIL: " + msg)
    print("0 passed, 1 failed")
    sys.exit(1)


# -- child processes ----------------------------------------------------------------

class Proc:
    """`cmd` as a child; waits (bounded) for `ready` (a regex; .found is its
    last matching group) on its stderr. stdout lines in .out, stderr lines in .err."""

    def __init__(self, cmd, ready, wait=10.0, env=None):
        self.cmd = list(cmd)
        self.out, self.err = [], []
        self.found = None
        self._cv = threading.Condition()
        self.proc = subprocess.Popen(self.cmd, stdin=subprocess.DEVNULL,
                                     stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                     text=True, errors="replace", env=env)
        common.CHILDREN.append(self.proc)
        ev = threading.Event()
        rx = re.compile(ready)

        def drain(stream, lines, look):
            for line in stream:
                with self._cv:
                    lines.append(line.rstrip("\n"))
                    self._cv.notify_all()
                m = rx.search(line) if look else None
                if m and self.found is None:
                    self.found = m.group(m.lastindex or 0)
                    ev.set()
            ev.set()
        threading.Thread(target=drain, args=(self.proc.stderr, self.err, True), daemon=True).start()
        threading.Thread(target=drain, args=(self.proc.stdout, self.out, False), daemon=True).start()
        ev.wait(wait)

    def stop(self, timeout=5.0):
        """SIGTERM, then SIGKILL; returns the exit status."""
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout)
        time.sleep(0.05)   # let the drain threads take the last lines
        return self.proc.returncode

    def text(self):
        with self._cv:
            return "\n".join(self.out + self.err)


class Double(Proc):
    """The Streamlit double. `unix=True` listens on a fresh socket path.
    port= a fixed TCP port (0: a free one; a restart on the same port).
    Attributes: port (None on a Unix socket), unix, base, url, ws_url, record."""

    def __init__(self, *extra, base_path="", unix=False, record=True, wait=10.0, port=0):
        self.tmp = tempfile.mkdtemp(prefix="relaytest-")
        TEMP_DIRS.append(self.tmp)   # removed at exit (records stay readable)
        self.record = os.path.join(self.tmp, "record.jsonl") if record else None
        self.unix = os.path.join(self.tmp, "double.sock") if unix else None
        self.base = ("/" + base_path.strip("/")) if base_path.strip("/") else ""
        args = [PYTHON, DOUBLE]
        args += ["--unix", self.unix] if unix else ["--host", "127.0.0.1", "--port", str(int(port))]
        if self.base:
            args += ["--base-path", self.base]
        if self.record:
            args += ["--record", self.record]
        super().__init__(args + [str(a) for a in extra],
                         r"listening on (?:http://127\.0\.0\.1:(\d+)|unix:(\S+))", wait)
        if self.found is None:
            self.stop()
            fail_exit("the double did not start: %s\n%s" % (" ".join(self.cmd), self.text()))
        self.port = None if unix else int(self.found)
        hostport = "127.0.0.1:%d" % self.port if self.port else "localhost"
        self.url = "http://%s%s" % (hostport, self.base)
        self.ws_url = "ws://%s%s/_stcore/stream" % (hostport, self.base)

    def addr(self):
        """What HttpConn takes: a port or a Unix socket path."""
        return self.unix or self.port

    def records(self, kind=None):
        if not self.record or not os.path.exists(self.record):
            return []
        out = []
        with open(self.record) as f:
            for line in f:
                try:
                    r = json.loads(line)
                except ValueError:
                    r = {"kind": "<not json>", "raw": line}
                if kind is None or r.get("kind") == kind:
                    out.append(r)
        return out

    def wait_record(self, pred, timeout=5.0, kind=None):
        """The first record satisfying pred, polling for at most timeout s."""
        deadline = time.monotonic() + timeout
        while True:
            for r in self.records(kind):
                if pred(r):
                    return r
            if time.monotonic() >= deadline:
                return None
            time.sleep(0.05)


class Relay(Proc):
    """wsg-relay in front of `upstream` (a Double). Provisional CLI:
    --listen 127.0.0.1:0 --upstream URL, ready line
    "listening on http://127.0.0.1:PORT" on stderr."""

    def __init__(self, upstream, *extra, wait=10.0, env=None):
        exe = os.environ.get("WSGUARD_RELAY_CMD") or os.path.join(
            BUILD, "examples", "streamlit-relay", "wsg-relay")
        if not os.access(exe, os.X_OK):
            fail_exit("wsg-relay not found at %s (build it first)" % exe)
        up = "unix:" + upstream.unix if upstream.unix else "http://127.0.0.1:%d" % upstream.port
        env = dict(env if env is not None else
                   {k: v for k, v in os.environ.items() if not k.startswith("WSG_")})
        super().__init__([exe, "--listen", "127.0.0.1:0", "--upstream", up] + [str(a) for a in extra],
                         r"listening on http://127\.0\.0\.1:(\d+)", wait, env)
        if self.found is None:
            self.stop()
            fail_exit("wsg-relay did not report its port:\n" + self.text())
        self.port = int(self.found)
        self.url = "http://127.0.0.1:%d%s" % (self.port, upstream.base)
        self.ws_url = "ws://127.0.0.1:%d%s/_stcore/stream" % (self.port, upstream.base)

    def addr(self):
        return self.port

    def events(self):
        """Audit JSON lines from stdout."""
        with self._cv:
            lines = list(self.out)
        evs = []
        for ln in lines:
            try:
                evs.append(json.loads(ln))
            except ValueError:
                pass
        return evs


class Chromium:
    """Headless Chromium on `url` in its own process group (killed by stop()).
    The double's page reports back through the WebSocket (?report=1)."""
    EXE = os.environ.get("WSGUARD_CHROMIUM", "/usr/bin/chromium")

    def __init__(self, url):
        self.profile = tempfile.mkdtemp(prefix="relaytest-chromium-")
        self.proc = None
        if not os.access(self.EXE, os.X_OK):
            return
        self.proc = subprocess.Popen(
            [self.EXE, "--headless", "--no-sandbox", "--disable-gpu",
             "--disable-background-networking", "--disable-component-update",
             "--disable-sync", "--no-first-run", "--no-default-browser-check",
             "--disable-dev-shm-usage", "--user-data-dir=" + self.profile, url],
            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL, start_new_session=True)
        common.CHILDREN.append(self.proc)

    def stop(self):
        if self.proc is not None and self.proc.poll() is None:
            for sig in (signal.SIGTERM, signal.SIGKILL):
                try:
                    os.killpg(self.proc.pid, sig)
                    self.proc.wait(5)
                    break
                except (subprocess.TimeoutExpired, ProcessLookupError):
                    continue
        shutil.rmtree(self.profile, ignore_errors=True)


# -- raw HTTP/1.1 ---------------------------------------------------------------------

class Response:
    def __init__(self):
        self.status = 0
        self.reason = ""
        self.headers = []      # [(name, value)] as received
        self.body = b""
        self.chunked = False
        self.error = None      # "timeout", "eof", ... when incomplete

    def all(self, name):
        return [v for n, v in self.headers if n.lower() == name.lower()]

    def h(self, name):
        v = self.all(name)
        return v[0] if v else None

    def __repr__(self):
        return "<%s %s %s, %d body bytes%s>" % (self.status, self.reason, self.headers,
                                                 len(self.body), ", " + self.error if self.error else "")


class HttpConn:
    """One connection to `addr` (a port on 127.0.0.1, or a Unix socket path)."""
    MAX_BODY = 512 * 1024 * 1024

    def __init__(self, addr, timeout=5.0):
        self.timeout = timeout
        if isinstance(addr, str):
            self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            self.sock.settimeout(timeout)
            self.sock.connect(addr)
            self.host = "localhost"
        else:
            self.sock = socket.create_connection(("127.0.0.1", addr), timeout=timeout)
            self.host = "127.0.0.1:%d" % addr
        self.buf = bytearray()
        self.eof = False

    def close(self):
        try:
            self.sock.close()
        except OSError:
            pass

    def send(self, data):
        try:
            self.sock.sendall(data)
            return True
        except OSError:
            return False

    def request(self, method, target, headers=(), body=b"", host=True, chunks=None):
        """Sends a request (Host added unless host=False or given; Content-Length
        added for a body unless chunks= is set, then chunked) and reads the
        response."""
        hdrs = list(headers)
        names = {n.lower() for n, _ in hdrs}
        if host and "host" not in names:
            hdrs.insert(0, ("Host", self.host))
        if chunks is not None:
            hdrs.append(("Transfer-Encoding", "chunked"))
            body = b"".join(b"%x\r\n%s\r\n" % (len(c), c) for c in chunks if c) + b"0\r\n\r\n"
        elif body and "content-length" not in names:
            hdrs.append(("Content-Length", str(len(body))))
        head = "%s %s HTTP/1.1\r\n" % (method, target)
        head += "".join("%s: %s\r\n" % (n, v) for n, v in hdrs) + "\r\n"
        self.send(head.encode("latin-1") + body)
        return self.read_response(method)

    def _fill(self, deadline):
        if self.eof:
            return False
        left = deadline - time.monotonic()
        if left <= 0:
            return False
        self.sock.settimeout(left)
        try:
            data = self.sock.recv(262144)
        except socket.timeout:
            return False
        except OSError:
            data = b""
        if not data:
            self.eof = True
            return False
        self.buf += data
        return True

    def _line(self, deadline, limit=65536):
        while b"\r\n" not in self.buf:
            if len(self.buf) > limit or not self._fill(deadline):
                return None
        line, _, rest = bytes(self.buf).partition(b"\r\n")
        self.buf = bytearray(rest)
        return line

    def _take(self, n, deadline):
        while len(self.buf) < n:
            if not self._fill(deadline):
                return None
        data = bytes(self.buf[:n])
        del self.buf[:n]
        return data

    def read_response(self, method="GET", timeout=None):
        """One response (1xx interim responses other than 101 skipped)."""
        deadline = time.monotonic() + (timeout or self.timeout)
        while True:
            r = self._read_one(method, deadline)
            if not (100 <= r.status < 200) or r.status == 101:
                return r

    def _read_one(self, method, deadline):
        r = Response()
        while b"\r\n\r\n" not in self.buf:
            if len(self.buf) > 65536 or not self._fill(deadline):
                r.error = "eof" if self.eof else "timeout"
                return r
        head, _, rest = bytes(self.buf).partition(b"\r\n\r\n")
        self.buf = bytearray(rest)
        lines = head.decode("latin-1").split("\r\n")
        m = re.match(r"HTTP/1\.[01] (\d{3}) ?(.*)", lines[0])
        if not m:
            r.error = "bad status line %r" % lines[0]
            return r
        r.status, r.reason = int(m.group(1)), m.group(2)
        for ln in lines[1:]:
            name, _, value = ln.partition(":")
            r.headers.append((name.strip(), value.strip()))
        if method == "HEAD" or r.status in (204, 304) or 100 <= r.status < 200:
            return r
        te = ",".join(r.all("Transfer-Encoding")).lower()
        if "chunked" in te:
            r.chunked = True
            body = bytearray()
            while True:
                line = self._line(deadline)
                if line is None:
                    r.error = "chunk size"
                    break
                size = int(line.split(b";")[0].strip() or b"0", 16)
                if size == 0:
                    while True:   # trailers up to the empty line
                        t = self._line(deadline)
                        if t is None or t == b"":
                            break
                    break
                data = self._take(size + 2, deadline)
                if data is None or len(body) + size > self.MAX_BODY:
                    r.error = "chunk data"
                    break
                body += data[:size]
            r.body = bytes(body)
        elif r.h("Content-Length") is not None:
            data = self._take(int(r.h("Content-Length")), deadline)
            r.body = data if data is not None else bytes(self.buf)
            if data is None:
                r.error = "eof" if self.eof else "timeout"
        else:
            while self._fill(deadline) and len(self.buf) <= self.MAX_BODY:
                pass
            r.body, self.buf = bytes(self.buf), bytearray()
            if not self.eof:
                r.error = "timeout"
        return r

    def closed_by_peer(self, timeout=2.0):
        """True when the peer closes the connection within timeout."""
        deadline = time.monotonic() + timeout
        while self._fill(deadline):
            pass
        return self.eof


def http(addr, method, target, headers=(), body=b"", timeout=5.0, **kw):
    """One request on a new connection, then close it."""
    c = HttpConn(addr, timeout)
    try:
        return c.request(method, target, headers, body, **kw)
    finally:
        c.close()


def cookie_value(resp, name=XSRF_COOKIE):
    """The value a response's Set-Cookie gives `name`, or None."""
    for v in resp.all("Set-Cookie"):
        k, _, rest = v.partition("=")
        if k.strip() == name:
            return rest.split(";")[0]
    return None


def multipart(files, boundary="----relaytestboundary7MA4YWxkTrZu0gW"):
    """(content_type, body) for [(field, filename, bytes)]."""
    out = bytearray()
    for field, filename, data in files:
        out += ("--%s\r\nContent-Disposition: form-data; name=\"%s\"; filename=\"%s\"\r\n"
                "Content-Type: application/octet-stream\r\n\r\n" % (boundary, field, filename)).encode()
        out += data + b"\r\n"
    out += ("--%s--\r\n" % boundary).encode()
    return "multipart/form-data; boundary=" + boundary, bytes(out)


# -- WebSocket (python3-websockets 10.4) ------------------------------------------------

def run(coro, timeout=30.0):
    """Runs a coroutine with an overall bound; asyncio.TimeoutError if late."""
    return asyncio.run(asyncio.wait_for(coro, timeout))


def ws_connect(url, unix=None, subprotocols=SUBPROTOCOLS, **kw):
    """websockets.connect with the browser's subprotocol list, no compression
    (Streamlit has it off) and no 1 MiB message cap; unix= a socket path."""
    kw.setdefault("max_size", None)
    kw.setdefault("compression", None)
    kw.setdefault("open_timeout", 5)
    kw.setdefault("close_timeout", 2)
    if unix:
        return websockets.unix_connect(unix, url, subprotocols=subprotocols, **kw)
    return websockets.connect(url, subprotocols=subprotocols, **kw)


def cmd(obj):
    """A control message for the double."""
    return b"CMD:" + json.dumps(obj).encode()


# -- WebSocket through the relay (test_ws.py, test_ws_hostile.py) -------------------

def sha(b):
    """sha256 hex digest."""
    return hashlib.sha256(b).hexdigest()


def events(rl, pred, count=1, timeout=3.0):
    """The relay's audit events matching pred, waiting (bounded) for count."""
    deadline = time.monotonic() + timeout
    while True:
        evs = [e for e in rl.events() if pred(e)]
        if len(evs) >= count or time.monotonic() > deadline:
            return evs
        time.sleep(0.05)


def new_events(rl, n_ev, pred, count=1, timeout=3.0):
    """Like events(), among the events after the first n_ev."""
    deadline = time.monotonic() + timeout
    while True:
        evs = [e for e in rl.events()[n_ev:] if pred(e)]
        if len(evs) >= count or time.monotonic() > deadline:
            return evs
        time.sleep(0.05)


def ev_is(kind, **kw):
    """A predicate: audit event `kind` with these field values."""
    return lambda e: e.get("event") == kind and all(e.get(k) == v for k, v in kw.items())


def msgs_with(d, digest):
    """The double's ws_msg records of a message with this sha256."""
    return [m for m in d.records("ws_msg") if m.get("sha256") == digest]


def ws_count(d):
    """WebSockets the double opened (its record)."""
    return len(d.records("ws_open"))


def header_map(pairs):
    """[(name, value)] -> {lower-case name: [values]}."""
    out = {}
    for k, v in pairs:
        out.setdefault(k.lower(), []).append(v)
    return out


def accept_for(key):
    """Sec-WebSocket-Accept for a key (RFC 6455 4.2.2)."""
    return base64.b64encode(hashlib.sha1(key.encode() + wsproto.GUID).digest()).decode()


def key_of(head):
    """The Sec-WebSocket-Key of a request head (bytes), or ""."""
    for ln in head.decode("latin-1").split("\r\n"):
        n, _, v = ln.partition(":")
        if n.strip().lower() == "sec-websocket-key":
            return v.strip()
    return ""


def rss_kb(pid, field="VmRSS"):
    try:
        with open("/proc/%d/status" % pid) as f:
            for line in f:
                if line.startswith(field + ":"):
                    return int(line.split()[1])
    except OSError:
        pass
    return -1


def reset_hwm(pid):
    """Resets VmHWM (Linux: clear_refs 5); False when not possible."""
    try:
        with open("/proc/%d/clear_refs" % pid, "w") as f:
            f.write("5")
        return True
    except OSError:
        return False


def metric(text, name, label=None):
    """The value of one Prometheus sample (name and exact label set), or None."""
    rx = r"^%s%s (\d+)$" % (re.escape(name), re.escape(label) if label else "")
    m = re.search(rx, text, re.M)
    return int(m.group(1)) if m else None


class RawWs(wsproto.RawClient):
    """A raw client (tests/conformance/wsproto.py) whose upgrade may be
    anything and whose answer is read whatever its status."""

    def __init__(self, port, path="/_stcore/stream", timeout=5.0):
        super().__init__("ws://127.0.0.1:%d%s" % (port, path), timeout)
        self.status, self.headers, self.key = 0, {}, None

    def upgrade(self, headers=(), host=None, extra=b"", head=None, timeout=5.0):
        """Sends the upgrade request (or `head` verbatim) and `extra` in one
        write; reads the answer's head. Returns its status (0: none)."""
        if head is None:
            self.key = base64.b64encode(os.urandom(16)).decode()
            lines = ["GET %s HTTP/1.1" % self.resource, "Host: %s" % (host or self.hosthdr),
                     "Upgrade: websocket", "Connection: Upgrade",
                     "Sec-WebSocket-Key: " + self.key, "Sec-WebSocket-Version: 13"]
            lines += ["%s: %s" % h for h in headers]
            head = ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")
        self.send(head + extra)
        deadline = time.monotonic() + timeout
        while b"\r\n\r\n" not in self.buf:
            if len(self.buf) > 65536 or not self._fill(deadline):
                return 0
        top, _, rest = bytes(self.buf).partition(b"\r\n\r\n")
        self.buf = bytearray(rest)
        lines = top.decode("latin-1").split("\r\n")
        m = re.match(r"HTTP/1\.1 (\d{3})", lines[0])
        self.status = int(m.group(1)) if m else -1
        self.headers = header_map([(ln.partition(":")[0].strip(), ln.partition(":")[2].strip())
                                   for ln in lines[1:]])
        return self.status

    def h(self, name):
        v = self.headers.get(name.lower())
        return v[0] if v else None

    def body_then_eof(self, timeout=3.0):
        """Skips the answer's body (Content-Length); True when the peer
        then closes the connection within timeout."""
        n = int(self.h("Content-Length") or 0)
        deadline = time.monotonic() + timeout
        while len(self.buf) < n and self._fill(deadline):
            pass
        del self.buf[:n]
        while not self.buf and self._fill(deadline):
            pass
        return not self.buf and self.eof in ("eof", "reset")

    def accept_ok(self):
        return self.key is not None and self.headers.get("sec-websocket-accept") == [accept_for(self.key)]

    def until(self, timeout=5.0, want=("close",)):
        """Events up to the first of kind `want` (pings answered, messages
        kept in .got); returns it, or ("timeout",)/("eof",)/("reset",)."""
        deadline = time.monotonic() + timeout
        self.got = getattr(self, "got", [])
        while True:
            try:
                ev = self.next_event(deadline)
            except wsproto.ProtocolViolation as e:
                return ("violation", str(e))
            if ev[0] in want or ev[0] in ("eof", "reset", "timeout"):
                return ev
            if ev[0] == "ping":
                self.send(wsproto.frame(wsproto.OP_PONG, ev[1]))
            elif ev[0] == "message":
                self.got.append(ev)

    def close_code(self, timeout=5.0):
        ev = self.until(timeout)
        if ev[0] == "close":
            self.send(wsproto.frame(wsproto.OP_CLOSE, wsproto.close_payload(ev[1] or 1000)))
            return ev[1]
        return ev[0]


def raw_ws(port, headers=(), **kw):
    """A raw client through the 101 (status checked by the caller)."""
    rc = RawWs(port)
    rc.upgrade(headers, **kw)
    return rc


class FakeUpstream:
    """A scripted 'Streamlit': reads one request head per connection,
    answers reply(head) and keeps the connection open, recording every
    byte received after the head."""

    def __init__(self):
        self.s = socket.socket()
        self.s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.s.bind(("127.0.0.1", 0))
        self.s.listen(16)
        self.port = self.s.getsockname()[1]
        self.unix, self.base = None, ""
        self.reply = lambda head: b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n"
        self.conns = []   # [head, bytearray after]
        self.stopping = False
        self.threads = [threading.Thread(target=self.run, daemon=True)]
        self.threads[0].start()

    def run(self):
        self.s.settimeout(0.2)
        while not self.stopping:
            try:
                c = self.s.accept()[0]
            except OSError:
                continue
            rec = [b"", bytearray(), c]
            self.conns.append(rec)
            t = threading.Thread(target=self.serve, args=(rec,), daemon=True)
            self.threads.append(t)
            t.start()

    def serve(self, rec):
        c = rec[2]
        c.settimeout(0.2)
        buf = b""
        t_end = time.monotonic() + 15
        try:
            while b"\r\n\r\n" not in buf and time.monotonic() < t_end:
                try:
                    data = c.recv(65536)
                except socket.timeout:
                    continue
                if not data:
                    return
                buf += data
            head, _, rest = buf.partition(b"\r\n\r\n")
            rec[0] = head
            rec[1] += rest
            c.sendall(self.reply(head))
            while not self.stopping and time.monotonic() < t_end:
                try:
                    data = c.recv(65536)
                except socket.timeout:
                    continue
                if not data:
                    return
                rec[1] += data
        except OSError:
            pass

    def close(self):
        self.stopping = True
        for t in self.threads:
            t.join(1)
        for rec in self.conns:
            rec[2].close()
        self.s.close()


def guarded(checks, fn, *args):
    """Runs one test section; an exception (a relay gone wrong) is a FAIL
    line on `checks`, and the caller's other sections still run."""
    try:
        fn(*args)
    except Exception:   # noqa: BLE001
        checks.check("%s: ran to the end" % fn.__name__, False, traceback.format_exc()[-800:])


def quiet_asan_quarantine(mb=8):
    """Under AddressSanitizer freed memory sits in quarantine (256 MB by
    default) and every byte streamed through a relay would count as RSS
    growth: `mb` MB unless ASAN_OPTIONS sets it (children inherit it). A
    memory check's slack must exceed `mb` (the quarantine fills up)."""
    asan = os.environ.get("ASAN_OPTIONS", "")
    if "quarantine_size_mb" not in asan:
        os.environ["ASAN_OPTIONS"] = (asan + ":" if asan else "") + "quarantine_size_mb=%d" % mb


def check_secrets_never_logged(C, relays, secrets):
    """H11: no relay's stdout or stderr names a secret (the subprotocol
    credential, a session id, a cookie value), and stdout holds only JSON
    audit events."""
    leaks = []
    for rl in relays:
        text = rl.text()
        for s in secrets:
            if s in text:
                leaks.append((rl.proc.pid, s))
    C.check("audit: %d relays' stdout/stderr never name PLACEHOLDER_AUTH_TOKEN, the session id "
            "(3rd entry) or a cookie value" % len(relays), relays and not leaks, str(leaks))
    C.check("audit: every stdout line is a JSON event",
            all(all(ln.startswith("{") for ln in rl.out) for rl in relays),
            str([ln for rl in relays for ln in rl.out if not ln.startswith("{")][:3]))
