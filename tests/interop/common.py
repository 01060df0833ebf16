"""Shared helpers for the interop tests: locate and start the programs under
test, count checks, clean up children on exit.

Environment:
  WSGUARD_BUILD_DIR   meson build dir (set by `meson test`)
  WSGUARD_ECHO_CMD    override the echo server command (e.g. the harness's
                  reference server tests/conformance/refserver.py)
  WSGUARD_CLIENT_CMD  override the client command
"""
import atexit
import os
import shlex
import signal
import socket
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "common"))
from server_proc import ServerProcess  # noqa: E402
BUILD = os.environ.get("WSGUARD_BUILD_DIR") or os.path.join(HERE, "..", "..", "build")
CHILDREN = []


def _cleanup():
    for p in CHILDREN:
        if p.poll() is None:
            try:
                p.kill()
                p.wait(5)
            except Exception:
                pass


atexit.register(_cleanup)
signal.signal(signal.SIGTERM, lambda *a: sys.exit(1))


def echo_cmd():
    if os.environ.get("WSGUARD_ECHO_CMD"):
        return shlex.split(os.environ["WSGUARD_ECHO_CMD"])
    return [os.path.join(BUILD, "examples/echo-server/wsg-echo")]


def client_cmd():
    if os.environ.get("WSGUARD_CLIENT_CMD"):
        return shlex.split(os.environ["WSGUARD_CLIENT_CMD"])
    return [os.path.join(BUILD, "examples/client/wsg-client")]


def need_exe(cmd, what):
    if not (os.access(cmd[0], os.X_OK)):
        print("FAIL: %s not found at %s (build it first)" % (what, cmd[0]))
        print("0 passed, 1 failed")
        sys.exit(1)


class Echo(ServerProcess):
    """wsg-echo on 127.0.0.1 with --port 0 (tests/common/server_proc.py);
    exits the test with FAIL when it reports no port."""

    def __init__(self, args=()):
        cmd = echo_cmd()
        need_exe(cmd, "wsg-echo")
        super().__init__(cmd, args, children=CHILDREN)
        if self.port is None:
            print("FAIL: wsg-echo did not report its port:\n" + "\n".join(self.lines[-20:]))
            print("0 passed, 1 failed")
            sys.exit(1)


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


class Checks:
    def __init__(self, title):
        self.title = title
        self.results = []
        print("== " + title)

    def check(self, name, ok, detail=""):
        self.results.append((name, bool(ok)))
        line = ("PASS " if ok else "FAIL ") + name
        if detail and (not ok or os.environ.get("WSG_VERBOSE")):
            line += ": " + detail
        elif detail and ok:
            line += " (%s)" % detail if len(detail) < 80 else ""
        print(line, flush=True)
        return ok

    def done(self):
        npass = sum(1 for _, ok in self.results if ok)
        nfail = len(self.results) - npass
        if nfail:
            print("failed: " + ", ".join(n for n, ok in self.results if not ok))
        print("%s: %d passed, %d failed" % (self.title, npass, nfail))
        print("%d passed, %d failed" % (npass, nfail))
        return 1 if nfail or not self.results else 0


def wait_port(port, timeout=10):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
            return True
        except OSError:
            time.sleep(0.05)
    return False
