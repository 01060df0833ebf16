#!/usr/bin/python3
"""Interop: Debian's python3-websockets (10.4) client against wsg-echo.

Text, binary, empty, fragmented (iterator of fragments), 1 MiB, over-limit
(1009), ping, many pipelined messages, and the close handshake with 1000 and
with 4000 + reason (the code the server echoes is checked).
"""
import asyncio
import hashlib
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from common import Checks, Echo  # noqa: E402

try:
    import websockets
except ImportError:
    print("FAIL: python3-websockets not importable (run with /usr/bin/python3)")
    print("0 passed, 1 failed")
    sys.exit(1)

MiB = 1 << 20


def short(x):
    return "%s of %d" % (type(x).__name__, len(x)) if isinstance(x, (bytes, str)) else repr(x)


def text_of(n):
    """A str whose UTF-8 encoding is exactly n bytes."""
    s = ("aé€😀" * (n // 10 + 1)).encode()[:n].decode("utf-8", "ignore")
    return s + "x" * (n - len(s.encode()))


async def roundtrip(ck, url, name, msg):
    async with websockets.connect(url, max_size=4 * MiB, ping_interval=None,
                                  open_timeout=5, close_timeout=5) as ws:
        await ws.send(msg)
        got = await asyncio.wait_for(ws.recv(), 10)
        ck.check(name, got == msg and type(got) is type(msg),
                 "sent %s, got %s" % (short(msg), short(got)))
        await ws.close()
        ck.check(name + ": close 1000 echoed", ws.close_code == 1000,
                 "close_code=%s" % ws.close_code)


async def run(ck, url):
    await roundtrip(ck, url, "text", "Hello, wsguard")
    await roundtrip(ck, url, "text utf-8", "κόσμε 😀 한국어 \U0010FFFF")
    await roundtrip(ck, url, "text empty", "")
    await roundtrip(ck, url, "binary 256", bytes(range(256)))
    await roundtrip(ck, url, "binary empty", b"")
    await roundtrip(ck, url, "binary 64 KiB", os.urandom(65536))
    await roundtrip(ck, url, "binary 1 MiB (the default limit)", os.urandom(MiB))
    await roundtrip(ck, url, "text 1 MiB (multi-byte)", text_of(MiB))

    async with websockets.connect(url, ping_interval=None, open_timeout=5) as ws:
        ck.check("no extension negotiated (permessage-deflate offered, declined)",
                 not ws.extensions, "extensions=%r" % ws.extensions)
        await ws.send(iter(["frag1-", "frag2-", "", "frag3"]))
        got = await asyncio.wait_for(ws.recv(), 5)
        ck.check("fragmented text (4 fragments incl. empty)", got == "frag1-frag2-frag3",
                 "got %r" % got)
        parts = [os.urandom(1000) for _ in range(10)]
        await ws.send(iter(parts))
        got = await asyncio.wait_for(ws.recv(), 5)
        ck.check("fragmented binary (10 fragments)", got == b"".join(parts), short(got))
        big = [os.urandom(100_000) for _ in range(10)]
        await ws.send(iter(big))
        got = await asyncio.wait_for(ws.recv(), 10)
        ck.check("fragmented binary 1,000,000 bytes", got == b"".join(big), short(got))
        waiter = await ws.ping(b"ping-data")
        try:
            await asyncio.wait_for(waiter, 5)
            ck.check("ping answered by pong", True)
        except asyncio.TimeoutError:
            ck.check("ping answered by pong", False, "no pong in 5 s")
        msgs = ["m%d" % i for i in range(200)]
        for m in msgs:
            await ws.send(m)
        got = [await asyncio.wait_for(ws.recv(), 5) for _ in msgs]
        ck.check("200 messages sent back to back, echoed in order", got == msgs)

    async with websockets.connect(url, ping_interval=None, open_timeout=5,
                                  close_timeout=5) as ws:
        await ws.send("before close")
        await ws.recv()
        await ws.close(4000, "client done")
        ck.check("close 4000 + reason: server echoes 4000", ws.close_code == 4000,
                 "close_code=%s reason=%r" % (ws.close_code, ws.close_reason))
        print("     server's close reason: %r" % ws.close_reason)

    async with websockets.connect(url, ping_interval=None, open_timeout=5,
                                  close_timeout=5) as ws:
        await ws.close(1000, "bye")
        ck.check("close 1000 + reason: server echoes 1000", ws.close_code == 1000,
                 "close_code=%s reason=%r" % (ws.close_code, ws.close_reason))

    async with websockets.connect(url, ping_interval=None, open_timeout=5,
                                  close_timeout=5, max_size=4 * MiB) as ws:
        await ws.send(os.urandom(MiB + 1))
        code = None
        try:
            await asyncio.wait_for(ws.recv(), 5)
        except websockets.ConnectionClosed as e:
            code = e.rcvd.code if e.rcvd else None
        except asyncio.TimeoutError:
            code = "timeout"
        ck.check("message of 1 MiB + 1 -> server closes 1009", code == 1009,
                 "close code %s" % code)

    # Several concurrent clients.
    async def one(i):
        async with websockets.connect(url, ping_interval=None, open_timeout=5) as ws:
            data = hashlib.sha256(b"%d" % i).digest() * 100
            await ws.send(data)
            return await asyncio.wait_for(ws.recv(), 5) == data
    oks = await asyncio.gather(*[one(i) for i in range(20)], return_exceptions=True)
    ck.check("20 concurrent clients", all(x is True for x in oks),
             "%d ok" % sum(1 for x in oks if x is True))


def main():
    ck = Checks("python3-websockets %s client vs wsg-echo" % websockets.__version__)
    srv = Echo()
    try:
        asyncio.run(asyncio.wait_for(run(ck, srv.url), 120))
    except Exception as e:
        ck.check("session completed without exception", False, "%s: %s" % (type(e).__name__, e))
    finally:
        rc = srv.stop()
        ck.check("wsg-echo alive at the end and exits 0 on SIGTERM", rc == 0,
                 "exit status %s" % rc)
    return ck.done()


if __name__ == "__main__":
    sys.exit(main())
