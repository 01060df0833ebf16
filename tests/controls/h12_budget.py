#!/usr/bin/python3
"""H12 output budget: a client that sends without reading. wsg-echo stops
reading it when its pending output passes half of --max-output (lib/io
backpressure, include/wsguard/io.h), so the server's memory stays bounded
by the budget; other clients are still served."""
import json
import os
import select
import socket
import time

from ctl import Checks, Server, upgrade, echo_once, finish, wsproto

c = Checks("controls H12 output budget")
MSG = 16 * 1024
TOTAL = 48 * 1024 * 1024


def flood(srv):
    """Writes up to TOTAL bytes of 16 KiB messages without reading, until the
    server stops taking them for 1 s. Returns (bytes written, RSS growth KiB,
    server alive for others)."""
    base = srv.rss_kib()
    s = socket.socket()
    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 4096)
    s.settimeout(5)
    s.connect(("127.0.0.1", srv.port))
    key = "dGhlIHNhbXBsZSBub25jZQ=="
    s.sendall(wsproto.handshake_request("/", "127.0.0.1:%d" % srv.port, key))
    head = b""
    while b"\r\n\r\n" not in head:
        d = s.recv(1)
        if not d:
            break
        head += d
    msg = wsproto.frame(wsproto.OP_BINARY, b"q" * MSG, key=b"\x01\x02\x03\x04")
    s.setblocking(False)
    sent, stalled_since, peak = 0, None, base
    t_end = time.monotonic() + 20
    pos = 0
    while sent < TOTAL and time.monotonic() < t_end:
        try:
            n = s.send(msg[pos:])
            sent += n
            pos = (pos + n) % len(msg)
            stalled_since = None
        except BlockingIOError:
            now = time.monotonic()
            stalled_since = stalled_since or now
            if now - stalled_since > 1.0:
                break
            # Wake as soon as the socket takes more (a fixed sleep per 4 KiB
            # send buffer made this loop the script's whole runtime).
            select.select([], [s], [], 0.05)
        except (BrokenPipeError, ConnectionResetError):
            break
        r = srv.rss_kib()
        if r and r > peak:
            peak = r
    r = srv.rss_kib()
    peak = max(peak, r or 0)
    other = upgrade(srv.port, [])
    ev = echo_once(other.client, b"other") if other.client else ("none",)
    other.close()
    s.close()
    return sent, peak - base, ev[:3] == ("message", 2, b"other")


def sanitized():
    """True when the build under test uses ASan (its allocator rounds up and
    keeps redzones, so RSS grows about three times as much)."""
    info = os.path.join(os.environ.get("WSGUARD_BUILD_DIR", "build"),
                        "meson-info", "intro-buildoptions.json")
    try:
        with open(info) as f:
            opts = json.load(f)
    except (OSError, ValueError):
        return False
    return any(o.get("name") == "b_sanitize" and "address" in str(o.get("value"))
               for o in opts)


LIMIT_KIB = 2048 * (3 if sanitized() else 1)

srv = Server(["--max-output", "65536"])
sent_on, grow_on, alive = flood(srv)
c.check("H12 on, client stalled before %d MiB" % (TOTAL >> 20), sent_on < TOTAL,
        "sent %d" % sent_on)
c.check("H12 on, RSS growth under %d KiB (budget 64 KiB + 1 MiB message + "
        "slack%s)" % (LIMIT_KIB, ", x3 for ASan" if LIMIT_KIB > 2048 else ""),
        grow_on < LIMIT_KIB, "grew %d KiB" % grow_on)
c.check("H12 on, other clients still served", alive, "")
srv.stop()

srv = Server([])
sent_off, grow_off, alive = flood(srv)
# (Bytes the client got to write are not compared: kernel buffer autotuning
# on loopback varies by megabytes from run to run.)
c.check("H12 off (default 4 MiB budget), client stalled too", sent_off < TOTAL,
        "sent %d" % sent_off)
c.check("H12 off, RSS growth larger than with the 64 KiB budget",
        grow_off > grow_on + 1024, "on %d KiB, off %d KiB" % (grow_on, grow_off))
srv.stop()
finish(c)
