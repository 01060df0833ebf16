#!/usr/bin/python3
"""Reference echo server (Debian python3-websockets) with wsg-echo's command
line, to validate the conformance harness itself:
  conformance.py --server-bin tests/conformance/refserver.py
Not as strict as wsg-echo (no fragment-count limit, some close codes and
fail-fast differ): some cases are expected to fail against it."""
import argparse
import asyncio
import signal
import sys

import websockets


async def echo(ws, path=None):
    try:
        async for m in ws:
            await ws.send(m)
    except websockets.ConnectionClosed:
        pass


async def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--port", type=int, default=9001)
    ap.add_argument("--max-message", type=int, default=1 << 20)
    ap.add_argument("--max-frame", type=int, default=1 << 20)
    ap.add_argument("--path")
    a = ap.parse_args()
    stop = asyncio.get_running_loop().create_future()
    for s in (signal.SIGTERM, signal.SIGINT):
        asyncio.get_running_loop().add_signal_handler(s, stop.set_result, None)
    async with websockets.serve(echo, a.host, a.port, max_size=a.max_message,
                                ping_interval=None, compression=None,
                                close_timeout=1) as srv:
        port = srv.sockets[0].getsockname()[1]
        print("refserver listening on ws://%s:%d/" % (a.host, port),
              file=sys.stderr, flush=True)
        await stop


asyncio.run(main())
