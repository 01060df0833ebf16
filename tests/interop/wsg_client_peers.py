#!/usr/bin/python3
"""Interop: wsg-client against a python3-websockets (10.4) server and a
Tornado (6.2) WebSocket server, both written here and run in threads on
127.0.0.1.

Each server has the same routes:
  /echo       text echoed; a binary message answered with the text
              "binary <len> <sha256>" (so the check does not depend on how
              the client prints binary)
  /hdr        first sends "x-test=<value of the X-Test request header>"
  /sub        first sends "subprotocol=<selected>" (server supports chat.v1)
  /push3      sends "one", "two", "three"
  /close4001  after the first message, closes with 4001 "go away"
  /silent     never answers
  /forbidden  refuses the upgrade with 403
Checks wsg-client's output and exit status (0 ok, 1 connect failed, 2 usage,
3 handshake refused, 5 closed with non-1000, 6 timeout), and the close code
the server received from it.
"""
import asyncio
import hashlib
import http
import logging
import os
import subprocess
import sys
import tempfile
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from common import CHILDREN, Checks, client_cmd, free_port, need_exe, wait_port  # noqa: E402

import websockets  # noqa: E402
import tornado  # noqa: E402
import tornado.web  # noqa: E402
import tornado.websocket  # noqa: E402

SUBPROTOS = ["chat.v1"]
logging.getLogger("tornado.access").setLevel(logging.ERROR)


def describe_binary(b):
    return "binary %d %s" % (len(b), hashlib.sha256(b).hexdigest())


# ------------------------------------------------------------ websockets server
class WsServer:
    name = "python3-websockets %s" % websockets.__version__

    def __init__(self):
        self.closes = []      # (path, close code received from the client)
        self.port = free_port()
        self.loop = asyncio.new_event_loop()
        self.ready = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()
        self.ready.wait(10)

    async def handler(self, ws, path):
        try:
            if path == "/hdr":
                await ws.send("x-test=%s" % ws.request_headers.get("X-Test"))
            elif path == "/sub":
                await ws.send("subprotocol=%s" % ws.subprotocol)
            elif path == "/push3":
                for m in ("one", "two", "three"):
                    await ws.send(m)
            async for m in ws:
                if path == "/close4001":
                    await ws.close(4001, "go away")
                    break
                if path == "/silent":
                    continue
                await ws.send(describe_binary(m) if isinstance(m, bytes) else m)
        except websockets.ConnectionClosed:
            pass
        await ws.wait_closed()
        self.closes.append((path, ws.close_code))

    @staticmethod
    async def process_request(path, headers):
        if path == "/forbidden":
            return (http.HTTPStatus.FORBIDDEN, [("Content-Type", "text/plain")], b"forbidden\n")
        return None

    def _run(self):
        asyncio.set_event_loop(self.loop)

        async def main():
            self.stop = asyncio.get_running_loop().create_future()
            async with websockets.serve(self.handler, "127.0.0.1", self.port,
                                        subprotocols=SUBPROTOS, compression=None,
                                        process_request=self.process_request,
                                        ping_interval=None, close_timeout=2):
                self.ready.set()
                await self.stop
        self.loop.run_until_complete(main())

    def shutdown(self):
        self.loop.call_soon_threadsafe(lambda: self.stop.done() or self.stop.set_result(None))
        self.thread.join(10)


# ------------------------------------------------------------ tornado server
class TornadoServer:
    name = "Tornado %s" % tornado.version

    def __init__(self):
        self.closes = []
        self.port = free_port()
        self.ready = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()
        self.ready.wait(10)

    def _run(self):
        outer = self

        class Forbidden(tornado.web.RequestHandler):
            def get(self):
                self.set_status(403)
                self.finish("forbidden\n")

        class Handler(tornado.websocket.WebSocketHandler):
            def initialize(self, route):
                self.route = route

            def check_origin(self, origin):
                return True

            def select_subprotocol(self, subprotocols):
                for s in subprotocols:
                    if s in SUBPROTOS:
                        return s
                return None

            def open(self):
                if self.route == "/hdr":
                    self.write_message("x-test=%s" % self.request.headers.get("X-Test"))
                elif self.route == "/sub":
                    self.write_message("subprotocol=%s" % self.selected_subprotocol)
                elif self.route == "/push3":
                    for m in ("one", "two", "three"):
                        self.write_message(m)

            def on_message(self, m):
                if self.route == "/close4001":
                    self.close(4001, "go away")
                elif self.route != "/silent":
                    self.write_message(describe_binary(m) if isinstance(m, bytes) else m)

            def on_close(self):
                outer.closes.append((self.route, self.close_code))

        routes = [(r"/forbidden", Forbidden)] + [
            (r, Handler, {"route": r}) for r in
            ("/echo", "/hdr", "/sub", "/push3", "/close4001", "/silent")]
        self.loop = asyncio.new_event_loop()
        asyncio.set_event_loop(self.loop)

        async def main():
            app = tornado.web.Application(routes, websocket_ping_interval=None)
            self.server = app.listen(self.port, address="127.0.0.1")
            self.stop = asyncio.get_running_loop().create_future()
            self.ready.set()
            await self.stop
            self.server.stop()
        self.loop.run_until_complete(main())

    def shutdown(self):
        self.loop.call_soon_threadsafe(lambda: self.stop.done() or self.stop.set_result(None))
        self.thread.join(10)


# ------------------------------------------------------------ the checks
def run_client(args, timeout=15):
    cmd = client_cmd() + args
    t = time.monotonic()
    p = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE)
    CHILDREN.append(p)
    try:
        out, err = p.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        p.kill()
        out, err = p.communicate()
        return None, out.decode("utf-8", "replace"), err.decode("utf-8", "replace"), timeout
    return (p.returncode, out.decode("utf-8", "replace"), err.decode("utf-8", "replace"),
            time.monotonic() - t)


def detail(rc, out, err):
    return "exit %s, stdout %r, stderr %r" % (rc, out[-300:], err[-300:])


def wait_close_recorded(srv, path, before, timeout=3):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        new = [c for p, c in srv.closes[before:] if p == path]
        if new:
            return new[0]
        time.sleep(0.02)
    return "none recorded"


def matrix(ck, srv, tmp):
    base = "ws://127.0.0.1:%d" % srv.port
    tag = srv.name.split()[0]

    n0 = len(srv.closes)
    rc, out, err, _ = run_client([base + "/echo", "--send", "hello", "--send", "κόσμε 😀"])
    ck.check("%s: text --send x2 echoed, exit 0" % tag,
             rc == 0 and out.splitlines() == ["hello", "κόσμε 😀"], detail(rc, out, err))
    code = wait_close_recorded(srv, "/echo", n0)
    ck.check("%s: client closed with 1000" % tag, code == 1000, "server saw %s" % code)

    data = os.urandom(100_000)
    path = os.path.join(tmp, "blob.bin")
    with open(path, "wb") as f:
        f.write(data)
    rc, out, err, _ = run_client([base + "/echo", "--send-file", path, "--binary"])
    ck.check("%s: --send-file --binary arrives as one binary message" % tag,
             rc == 0 and describe_binary(data) in out.splitlines(), detail(rc, out, err))

    rc, out, err, _ = run_client([base + "/hdr", "-H", "X-Test: yes-123", "--count", "1"])
    ck.check("%s: -H header sent" % tag, rc == 0 and out.splitlines() == ["x-test=yes-123"],
             detail(rc, out, err))

    rc, out, err, _ = run_client([base + "/sub", "--subprotocol", "chat.v1", "--count", "1"])
    ck.check("%s: --subprotocol chat.v1 negotiated" % tag,
             rc == 0 and out.splitlines() == ["subprotocol=chat.v1"], detail(rc, out, err))

    rc, out, err, _ = run_client([base + "/push3", "--count", "3"])
    ck.check("%s: --count 3 receives 3 server messages" % tag,
             rc == 0 and out.splitlines() == ["one", "two", "three"], detail(rc, out, err))

    rc, out, err, _ = run_client([base + "/forbidden", "--send", "x"])
    ck.check("%s: 403 refusal -> exit 3" % tag, rc == 3, detail(rc, out, err))

    rc, out, err, _ = run_client([base + "/close4001", "--send", "hi"])
    ck.check("%s: server closes 4001 -> exit 5, 'closed: 4001 go away' on stderr" % tag,
             rc == 5 and "closed: 4001 go away" in err, detail(rc, out, err))

    rc, out, err, dt = run_client([base + "/silent", "--send", "x", "--timeout", "1"])
    ck.check("%s: no answer with --timeout 1 -> exit 6 within 5 s" % tag,
             rc == 6 and dt < 5, detail(rc, out, err) + " after %.1f s" % dt)


def main():
    ck = Checks("wsg-client vs python3-websockets and Tornado servers")
    need_exe(client_cmd(), "wsg-client")
    servers = []
    try:
        with tempfile.TemporaryDirectory() as tmp:
            for cls in (WsServer, TornadoServer):
                srv = cls()
                servers.append(srv)
                ck.check("%s server started" % srv.name, wait_port(srv.port))
                matrix(ck, srv, tmp)
            rc, out, err, _ = run_client(["ws://127.0.0.1:%d/" % free_port(), "--send", "x"])
            ck.check("nothing listening -> exit 1", rc == 1, detail(rc, out, err))
            rc, out, err, _ = run_client([])
            ck.check("no URL -> exit 2 (usage)", rc == 2, detail(rc, out, err))
            rc, out, err, _ = run_client(["ws://127.0.0.1:1/", "--no-such-flag"])
            ck.check("unknown flag -> exit 2 (usage)", rc == 2, detail(rc, out, err))
    except Exception as e:
        ck.check("session completed without exception", False, "%s: %s" % (type(e).__name__, e))
    finally:
        for s in servers:
            s.shutdown()
    return ck.done()


if __name__ == "__main__":
    sys.exit(main())
