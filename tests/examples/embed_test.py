#!/usr/bin/python3
"""wsg-embed (the README's embedding example) against python3-websockets.

The README quotes examples/embed/embed.c; this test keeps that code honest:
a text and a binary round trip, then a clean close handshake seen from both
sides.
"""
import asyncio
import os
import select
import socket
import subprocess
import sys
import time

try:
    import websockets
except ImportError:
    sys.exit("embed_test: needs Debian's python3-websockets (/usr/bin/python3)")

build = os.environ.get("WSGUARD_BUILD_DIR", "build")
exe = os.path.join(build, "examples/embed/wsg-embed")
results = []


def check(name, ok, detail=""):
    results.append(ok)
    print(("ok   " if ok else "FAIL ") + name + (f": {detail}" if detail else ""))


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


async def session(port):
    async with websockets.connect(f"ws://127.0.0.1:{port}/") as ws:
        await ws.send("hello embed")
        check("text echo", await ws.recv() == "hello embed")
        await ws.send(b"\x00\xffbin")
        check("binary echo", await ws.recv() == b"\x00\xffbin")
    check("client saw close 1000", ws.close_code == 1000, str(ws.close_code))


def main():
    port = free_port()
    p = subprocess.Popen([exe, str(port)], stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE, text=True)
    try:
        # Wait for the "listening" line: a probe connection would use up
        # wsg-embed's single accept.
        ready, _, _ = select.select([p.stderr], [], [], 10)
        line = p.stderr.readline() if ready else ""
        check("wsg-embed started", "listening" in line, line.strip())
        asyncio.run(asyncio.wait_for(session(port), 20))
        out, err = p.communicate(timeout=10)
        check("wsg-embed exited 0", p.returncode == 0, err.strip())
        check("server saw the close handshake",
              "closed: sent 1000, received 1000" in out, out.strip())
    finally:
        if p.poll() is None:
            p.kill()
            p.wait()
    failed = results.count(False)
    print(f"embed: {len(results) - failed} passed, {failed} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
