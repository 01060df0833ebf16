#!/usr/bin/python3
"""valgrind over a full echo session: wsg-echo and wsg-client under memcheck.

Runs wsg-echo under valgrind, drives it with Debian's python3-websockets
(text, binary, fragmented, 1 MiB, ping, a protocol violation, a refused
handshake, a connection still open at shutdown) and with wsg-client (itself
under valgrind), then stops the server with SIGTERM. Passes only if both
programs exit cleanly and valgrind reports no error and no leak.

Usage: valgrind_session.py BUILD_DIR
"""
import asyncio
import os
import re
import signal
import socket
import subprocess
import sys
import time

try:
    import websockets
except ImportError:
    sys.exit("valgrind_session: needs Debian's python3-websockets "
             "(run with /usr/bin/python3)")

VG = ["valgrind", "--leak-check=full", "--show-leak-kinds=definite,indirect",
      "--errors-for-leak-kinds=definite,indirect", "--error-exitcode=99",
      "--track-fds=no"]

checks = []


def check(name, ok, detail=""):
    checks.append((name, ok))
    show = detail and (not ok or len(detail) < 80)
    print(("ok   " if ok else "FAIL ") + name + (": " + detail if show else ""))


def start_echo(build):
    exe = os.path.join(build, "examples/echo-server/wsg-echo")
    p = subprocess.Popen(VG + [exe, "--host", "127.0.0.1", "--port", "0",
                               "--max-message", str(2 << 20)],
                         stderr=subprocess.PIPE, text=True)
    deadline = time.time() + 60
    port = None
    lines = []
    while time.time() < deadline:
        line = p.stderr.readline()
        if not line:
            break
        lines.append(line)
        m = re.search(r"ws://127\.0\.0\.1:(\d+)", line)
        if m:
            port = int(m.group(1))
            break
    if port is None:
        p.kill()
        sys.exit("wsg-echo did not start: " + "".join(lines))
    return p, port


async def session(port):
    url = f"ws://127.0.0.1:{port}/"
    async with websockets.connect(url, max_size=4 << 20) as ws:
        await ws.send("hello, valgrind")
        check("text echo", await ws.recv() == "hello, valgrind")
        blob = bytes(range(256)) * 7
        await ws.send(blob)
        check("binary echo", await ws.recv() == blob)
        await ws.send(["frag", "mented ", "text"])
        check("fragmented echo", await ws.recv() == "fragmented text")
        big = os.urandom(1 << 20)
        await ws.send(big)
        check("1 MiB echo", await ws.recv() == big)
        pong = await ws.ping(b"p")
        await asyncio.wait_for(pong, 10)
        check("ping answered", True)
        await ws.close(4000, "bye")
        check("close echoed", ws.close_code == 4000, str(ws.close_code))

    # A protocol violation: an unmasked frame from a client.
    s = socket.create_connection(("127.0.0.1", port), timeout=20)
    s.sendall(b"GET / HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\n"
              b"Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
              b"Sec-WebSocket-Version: 13\r\n\r\n" + b"\x81\x02hi")
    data = b""
    try:
        while True:
            chunk = s.recv(4096)
            if not chunk:
                break
            data += chunk
    except socket.timeout:
        pass
    s.close()
    check("unmasked frame closed with 1002", b"\x88" in data and b"\x03\xea" in data)

    # A refused handshake.
    s = socket.create_connection(("127.0.0.1", port), timeout=20)
    s.sendall(b"GET / HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\n"
              b"Connection: Upgrade\r\nSec-WebSocket-Version: 13\r\n\r\n")
    data = s.recv(4096)
    s.close()
    check("missing key refused with 400", data.startswith(b"HTTP/1.1 400"))


async def open_conn(port):
    ws = await websockets.connect(f"ws://127.0.0.1:{port}/")
    await ws.send("still here")
    await ws.recv()
    return ws


def main():
    build = sys.argv[1] if len(sys.argv) > 1 else os.environ.get("WSGUARD_BUILD_DIR", "build")
    echo, port = start_echo(build)
    try:
        asyncio.run(asyncio.wait_for(session(port), 120))

        client = os.path.join(build, "examples/client/wsg-client")
        r = subprocess.run(VG + [client, f"ws://127.0.0.1:{port}/", "--send", "one",
                                 "--send", "two", "--timeout", "60"],
                           capture_output=True, text=True, timeout=120)
        check("wsg-client under valgrind", r.returncode == 0 and
              "ERROR SUMMARY: 0 errors" in r.stderr,
              f"exit {r.returncode} {r.stderr.strip()[-600:]}")
        check("wsg-client got both echoes", "one" in r.stdout and "two" in r.stdout)

        async def shutdown():
            ws = await open_conn(port)
            echo.send_signal(signal.SIGTERM)
            try:
                await asyncio.wait_for(ws.wait_closed(), 30)
            except asyncio.TimeoutError:
                pass
            return ws.close_code
        code = asyncio.run(shutdown())
        check("open connection got 1001 at shutdown", code == 1001, str(code))
        rc = echo.wait(timeout=60)
        err = echo.stderr.read()
        # Without -q valgrind always prints its summary: its absence means
        # the program did not run under memcheck at all.
        check("wsg-echo exited cleanly under valgrind",
              rc == 0 and "ERROR SUMMARY: 0 errors" in err,
              f"exit {rc}; {err.strip()[-1500:]}")
        check("no leak in wsg-echo", "definitely lost" not in err or
              "definitely lost: 0 bytes" in err, err.strip()[-800:])
    finally:
        if echo.poll() is None:
            echo.kill()
            echo.wait()
    failed = sum(1 for _, ok in checks if not ok)
    print(f"valgrind: {len(checks) - failed} passed, {failed} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
