#!/usr/bin/python3
"""Strict RFC 6455 conformance test: a hostile raw-socket client against a
WebSocket echo server (by default wsg-echo, started here).

Plays the Autobahn TestSuite's categories 1-7 (framing, pings, reserved
bits, opcodes, fragmentation, UTF-8 with fail-fast, close) and the hardening
cases of shared/THREATS.md as category 10 (T1 lengths, T2 declared sizes, T3
fragment floods, T8 pipelined frames, T10 masking, H5 limits, SIGTERM 1001).
A case passes only with the exact expected behaviour: byte-exact echoes, the
exact close code, and the server closing TCP after the close handshake.

Usage:
  conformance.py                       start $WSGUARD_BUILD_DIR/.../wsg-echo twice
                                       (defaults, and small limits) and test
  conformance.py --url ws://h:p/path   test a running server (limits given
        [--max-frame N --max-message N --max-fragments N | --no-limits]
        [-H 'Origin: http://x' ...]   extra upgrade headers (origin, auth)
  options: --cases REGEX, --jobs N, --verbose, --timeout-scale F
Prints a table and "conformance: N passed, M failed"; exits 1 on failure.
"""
import argparse
import concurrent.futures
import os
import re
import signal
import subprocess
import sys
import time
import traceback

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                "..", "common"))

import cases as C  # noqa: E402
from cases import (B, CLOSE, Case, Close, End, Fn, Msg, PING, Pong, S, Sleep,  # noqa: E402
                   T, fragments)
from server_proc import ServerProcess  # noqa: E402
import utf8vec  # noqa: E402
from wsproto import (OP_BINARY, OP_CLOSE, OP_CONT, OP_TEXT,  # noqa: E402
                     HandshakeError, ProtocolViolation, RawClient, describe,
                     frame)

MiB = 1 << 20
SCALE = 1.0
HEADERS = []  # extra upgrade request headers (--header), e.g. Origin, auth


# ------------------------------------------------------------- server control
class EchoServer(ServerProcess):
    """wsg-echo on 127.0.0.1, port 0 (tests/common/server_proc.py)."""

    def __init__(self, exe, args, name):
        self.name = name
        super().__init__([exe], args, wait=10 * SCALE)
        if self.port is None:
            raise RuntimeError("%s did not report its port; stderr:\n%s"
                               % (name, "\n".join(self.lines[-20:])))


SERVERS = []


def stop_all():
    for s in SERVERS:
        try:
            s.stop()
        except Exception:
            pass


# ------------------------------------------------------------- case runner
class CaseFail(Exception):
    pass


def sent_close(data):
    """Does our own byte stream contain a close frame (so we must not send
    another)? Walks frame headers; stops at anything absurd or truncated."""
    i = 0
    while i + 2 <= len(data):
        op, n = data[i] & 0xF, data[i + 1] & 0x7F
        hl = 2
        if n == 126:
            n = int.from_bytes(data[i + 2:i + 4], "big")
            hl = 4
        elif n == 127:
            n = int.from_bytes(data[i + 2:i + 10], "big")
            hl = 10
        if op == OP_CLOSE:
            return True
        if n > len(data):
            return False
        i += hl + (4 if data[i + 1] & 0x80 else 0) + n
    return False


def expect_close_end(c, deadline, answer, ev):
    if answer:
        code = ev[1]
        c.send(frame(OP_CLOSE, b"" if code is None else code.to_bytes(2, "big")))
    st = c.wait_tcp_close(deadline)
    if st not in ("eof", "reset"):
        raise CaseFail("server did not close TCP after the close handshake (%s)" % st)


def run_case(case, url, ctx):
    deadline = time.monotonic() + case.timeout * SCALE
    c = None
    closed_by_us = False
    try:
        try:
            c = RawClient(url, timeout=case.timeout * SCALE)
            c.handshake(extra=case.pipelined or b"", headers=HEADERS, deadline=deadline)
        except (HandshakeError, OSError) as e:
            raise CaseFail("handshake: %s" % e)
        if case.pipelined and sent_close(case.pipelined):
            closed_by_us = True
        steps = list(case.steps)
        i = 0
        while i < len(steps):
            st = steps[i]
            i += 1
            if isinstance(st, S):
                if sent_close(st.data):
                    closed_by_us = True
                # A failed write is fine: the server may already have failed
                # the connection; the next expectation decides.
                (c.send_chunks(st.data, st.chunk, st.delay) if st.chunk
                 else c.send(st.data))
            elif isinstance(st, Sleep):
                time.sleep(st.t)
            elif isinstance(st, (Msg, Pong)):
                # A run of expected messages and pongs: each kind in order;
                # pongs may overtake echoes (RFC 6455 5.5.2: "as soon as is
                # practical"), messages never overtake each other.
                run = [st]
                while i < len(steps) and isinstance(steps[i], (Msg, Pong)):
                    run.append(steps[i])
                    i += 1
                want_m = [x for x in run if isinstance(x, Msg)]
                want_p = [x for x in run if isinstance(x, Pong)]
                for _ in range(len(run)):
                    ev = c.next_event(deadline)
                    if ev[0] == "message" and want_m:
                        w = want_m.pop(0)
                        if ev[1] == w.op and ev[2] == w.payload:
                            continue
                        raise CaseFail("expected echo %s, got %s" % (
                            describe(("message", w.op, w.payload)), describe(ev)))
                    if ev[0] == "pong" and want_p:
                        w = want_p.pop(0)
                        if ev[1] == w.payload:
                            continue
                        raise CaseFail("expected pong %r, got %s" % (
                            w.payload[:40], describe(ev)))
                    raise CaseFail("expected %s, got %s" % (
                        " and ".join(x for x, y in (
                            ("echo %s" % describe(("message", want_m[0].op,
                                                   want_m[0].payload)) if want_m else "", 1),
                            ("pong %r" % want_p[0].payload[:40] if want_p else "", 1)) if x),
                        describe(ev)))
            elif isinstance(st, Close):
                t0 = time.monotonic()
                dl = deadline if st.within is None else min(deadline,
                                                             t0 + st.within * SCALE)
                ev = c.next_event(dl)
                if ev[0] != "close" or ev[1] not in st.codes:
                    if ev[0] == "timeout" and st.within:
                        raise CaseFail("no close within %.1f s (fail-fast)" % st.within)
                    raise CaseFail("expected close %s, got %s" % (
                        "/".join(map(str, st.codes)), describe(ev)))
                expect_close_end(c, deadline, not closed_by_us, ev)
                return "ok"
            elif isinstance(st, End):
                c.send(frame(OP_CLOSE, st.code.to_bytes(2, "big") + st.reason))
                ev = c.next_event(deadline)
                if ev[0] != "close" or ev[1] != st.code:
                    raise CaseFail("sent close %d, expected it echoed, got %s"
                                   % (st.code, describe(ev)))
                expect_close_end(c, deadline, False, ev)
                return "ok"
            elif isinstance(st, Fn):
                err = st.f(c, ctx, deadline)
                if err:
                    raise CaseFail(err)
                if err is None and getattr(st, "terminal", False):
                    return "ok"
        raise CaseFail("case has no terminal step (harness bug)")
    except ProtocolViolation as e:
        raise CaseFail("server violated RFC 6455: %s" % e)
    finally:
        if c:
            c.close()


# ------------------------------------------------------------- category 10
def hardening(cases, lim, target, prefix):
    """T1, T2, T3, T8, T10 and the H5 limits. lim: dict or None."""
    A = "10 hardening"
    P = prefix
    if target == "main":
        cases += [
            Case("10.1.1", A, "T10 unmasked text -> 1002, not echoed",
                 [S(T(b"Hello", mask=False)), Close(1002)]),
            Case("10.1.2", A, "T10 unmasked binary -> 1002, not echoed",
                 [S(B(b"\x01\x02\x03", mask=False)), Close(1002)]),
            Case("10.1.3", A, "T10 unmasked ping -> 1002, no pong",
                 [S(PING(b"x", mask=False)), Close(1002)]),
            Case("10.1.4", A, "T10 unmasked close -> 1002",
                 [S(CLOSE(1000, mask=False)), Close(1002)]),
            Case("10.1.5", A, "T10 masked fragment then unmasked continuation -> 1002",
                 [S(T(b"ab", fin=False) + C.C(b"cd", mask=False)), Close(1002)]),
            Case("10.1.6", A, "T10 unmasked empty text -> 1002",
                 [S(T(b"", mask=False)), Close(1002)]),
            Case("10.2.1", A, "T1 length 5 in 16-bit form -> 1002",
                 [S(T(b"Hello", enc=16)), Close(1002)]),
            Case("10.2.2", A, "T1 length 5 in 64-bit form -> 1002",
                 [S(T(b"Hello", enc=64)), Close(1002)]),
            Case("10.2.3", A, "T1 length 125 in 16-bit form -> 1002",
                 [S(B(b"\0" * 125, enc=16)), Close(1002)]),
            Case("10.2.4", A, "T1 length 65535 in 64-bit form (header only) -> 1002",
                 [S(B(b"", length=65535, enc=64)), Close(1002, within=2.0)]),
            Case("10.2.5", A, "T1 length 0 in 64-bit form -> 1002",
                 [S(B(b"", enc=64)), Close(1002)]),
            Case("10.2.6", A, "T1 64-bit length with the top bit set -> 1002",
                 [S(B(b"", length=(1 << 63) | 5, enc=64)), Close(1002, within=2.0)]),
            Case("10.2.7", A, "T1 64-bit length 2^64-1 -> 1002",
                 [S(B(b"", length=(1 << 64) - 1, enc=64)), Close(1002, within=2.0)]),
            Case("10.2.8", A, "T1 ping with length 5 in 16-bit form -> 1002",
                 [S(PING(b"Hello", enc=16)), Close(1002)]),
            Case("10.6.1", A, "T8 text frame in the same write as the upgrade",
                 [Msg(OP_TEXT, "pipelined"), End()], pipelined=T(b"pipelined")),
            Case("10.6.2", A, "T8 text, binary, ping pipelined with the upgrade",
                 [Msg(OP_TEXT, "one"), Msg(OP_BINARY, b"\x00two"), Pong("three"), End()],
                 pipelined=T(b"one") + B(b"\x00two") + PING(b"three")),
            Case("10.6.3", A, "T8 close pipelined with the upgrade",
                 [Close(1000)], pipelined=CLOSE(1000)),
            Case("10.6.4", A, "T8 20 messages pipelined with the upgrade",
                 [Msg(OP_TEXT, "m%d" % i) for i in range(20)] + [End()],
                 pipelined=b"".join(T(b"m%d" % i) for i in range(20))),
            Case("10.6.5", A, "T8 unmasked frame pipelined -> 1002, not echoed",
                 [Close(1002)], pipelined=T(b"evil", mask=False)),
        ]
    if lim is None:
        return
    if target == "main":
        n = lim["frame"] + 1
        cases.append(Case("10.7.1", A, "graceful failure: 1009 while the client still "
                          "sends a %d-byte frame" % n,
                          [Fn(failing_while_sending(B(os.urandom(n)), 1009),
                              "close 1009, rest written, FIN", terminal=True)],
                          timeout=10.0))
        cases.append(Case("10.7.2", A, "graceful failure: 1002 (RSV1) while the client "
                          "still sends a 256 KiB frame",
                          [Fn(failing_while_sending(B(os.urandom(256 << 10), rsv=4), 1002),
                              "close 1002, rest written, FIN", terminal=True)],
                          timeout=10.0))
    mf, mm, nf = lim["frame"], lim["message"], lim["fragments"]
    big = [
        Case(P + ".1", A, "T2 binary frame declaring 2 GiB -> 1009 at once",
             [S(B(b"", length=1 << 31) + b"\0" * 100), Close(1009, within=2.0)]),
        Case(P + ".2", A, "T2 text frame declaring 2^62 bytes -> 1009 at once",
             [S(T(b"", length=1 << 62)), Close(1009, within=2.0)]),
        Case(P + ".3", A, "T2 continuation declaring 2 GiB -> 1009 at once",
             [S(T(b"ab", fin=False) + C.C(b"", length=1 << 31)),
              Close(1009, within=2.0)]),
        Case(P + ".4", A, "H5 frame header declaring max-frame+1 (%d) -> 1009 at once"
             % (mf + 1), [S(B(b"", length=mf + 1)), Close(1009, within=2.0)]),
    ]
    rnd = __import__("random").Random(10)
    payload = rnd.randbytes(mm)
    if mm <= mf:
        big.append(Case(P + ".5", A, "H5 message of exactly max-message (%d) in one frame"
                        % mm, [S(B(payload)), Msg(OP_BINARY, payload), End()],
                        timeout=10.0))
    step = min(mf, (mm + 1) // 2)
    chunks = [payload[i:i + step] for i in range(0, mm, step)]
    if len(chunks) <= nf:
        big.append(Case(P + ".6", A, "H5 message of exactly max-message in %d fragments"
                        % len(chunks), [S(fragments(OP_BINARY, chunks)),
                                        Msg(OP_BINARY, payload), End()], timeout=10.0))
        # max-message + 1: all but the last fragment, then a last header
        # that goes one byte over; its payload is never sent.
        head = b"".join(frame(OP_BINARY if i == 0 else OP_CONT, ch, fin=False)
                        for i, ch in enumerate(chunks[:-1]))
        over = len(chunks[-1]) + 1
        big.append(Case(P + ".7", A, "H5 fragments totalling max-message+1 -> 1009 "
                        "from the last header", [S(head + C.C(b"", length=over)),
                                                 Close(1009, within=2.0)], timeout=10.0))
    t = text_of_len(min(mm, mf, 4096))
    big.append(Case(P + ".8", A, "H5 text at the frame limit boundary echoed",
                    [S(T(t)), Msg(OP_TEXT, t), End()]))
    # T3: fragment count.
    ok_frs = [b"f"] * nf
    big.append(Case(P + ".9", A, "T3 exactly max-fragments (%d) fragments echoed" % nf,
                    [S(fragments(OP_TEXT, ok_frs)), Msg(OP_TEXT, b"f" * nf), End()],
                    timeout=10.0))
    flood = T(b"f", fin=False) + b"".join(C.C(b"f", fin=False) for _ in range(nf))
    big.append(Case(P + ".10", A, "T3 %d fragments, unfinished -> 1009" % (nf + 1),
                    [S(flood), Close(1009, within=2.0)], timeout=10.0))
    eflood = T(b"", fin=False) + b"".join(C.C(b"", fin=False) for _ in range(nf))
    big.append(Case(P + ".11", A, "T3 %d empty fragments, unfinished -> 1009" % (nf + 1),
                    [S(eflood), Close(1009, within=2.0)], timeout=10.0))
    pflood = B(b"b", fin=False) + b"".join(C.C(b"", fin=False) + PING(b"")
                                           for _ in range(nf))
    big.append(Case(P + ".12", A, "T3 empty fragments interleaved with pings -> pongs, 1009",
                    [S(pflood)] + [Pong(b"")] * (nf - 1) + [Fn(pong_then_1009, "close 1009",
                                                              terminal=True)],
                    timeout=10.0))
    for cs in big:
        cs.target = target
    cases += big


def pong_then_1009(c, ctx, deadline):
    """After nf-1 pongs: the nf-th pong may or may not come (the server may
    fail the message before the last ping), then close 1009."""
    ev = c.next_event(deadline)
    if ev[0] == "pong" and ev[1] == b"":
        ev = c.next_event(deadline)
    if ev[0] != "close" or ev[1] != 1009:
        return "expected close 1009, got %s" % describe(ev)
    c.send(frame(OP_CLOSE, b"\x03\xf1"))
    st = c.wait_tcp_close(deadline)
    if st not in ("eof", "reset"):
        return "server did not close TCP (%s)" % st
    return None


def failing_while_sending(data, code):
    """The client is still writing `data` (a frame the server fails from its
    header) when the server's close arrives: header and 1000 bytes first,
    the rest only after the close has arrived. The server must keep reading
    (and dropping) until the client's close (RFC 6455 5.5.1, 7.1.1: the
    close handshake), so that every write succeeds and TCP ends with a FIN,
    not a reset; otherwise a client such as node's ws, whose write fails,
    reports 1006 instead of the server's code."""
    def f(c, ctx, deadline):
        c.send(data[:1000])
        ev = c.next_event(min(deadline, time.monotonic() + 2 * SCALE))
        if ev[0] != "close" or ev[1] != code:
            return "expected close %d, got %s" % (code, describe(ev))
        time.sleep(0.05)
        try:
            c.sock.settimeout(max(0.1, deadline - time.monotonic()))
            c.sock.sendall(data[1000:])
        except OSError as e:
            return ("the rest of the client's frame (%d bytes) could not be written "
                    "after the server's close: %s" % (len(data) - 1000, e))
        c.send(frame(OP_CLOSE, code.to_bytes(2, "big")))
        st = c.wait_tcp_close(deadline)
        if st != "eof":
            return "TCP ended with %s, not a clean FIN after the close handshake" % st
        return None
    return f


def text_of_len(n):
    return C.text_of(n, __import__("random").Random(n))


# ------------------------------------------------------------- SIGTERM
def sigterm_case(srv):
    """Three open connections (idle, mid-fragment, after an echo) all get
    close 1001 on SIGTERM; the server closes TCP and exits 0 in time."""
    conns = []
    errs = []
    try:
        deadline = time.monotonic() + 8 * SCALE
        for i in range(3):
            c = RawClient(srv.url)
            c.handshake(deadline=deadline)
            conns.append(c)
        conns[1].send(T(b"part", fin=False))
        conns[2].send(T(b"hi"))
        ev = conns[2].next_event(deadline)
        if ev[:3] != ("message", OP_TEXT, b"hi"):
            errs.append("echo before SIGTERM: %s" % describe(ev))
        time.sleep(0.2)
        srv.proc.send_signal(signal.SIGTERM)
        for i, c in enumerate(conns):
            ev = c.next_event(min(deadline, time.monotonic() + 3 * SCALE))
            if ev[0] != "close" or ev[1] != 1001:
                errs.append("conn %d: expected close 1001, got %s" % (i, describe(ev)))
                continue
            c.send(frame(OP_CLOSE, b"\x03\xe9"))
            st = c.wait_tcp_close(deadline)
            if st not in ("eof", "reset"):
                errs.append("conn %d: TCP not closed (%s)" % (i, st))
        try:
            rc = srv.proc.wait(max(0.1, deadline - time.monotonic()))
            if rc != 0:
                errs.append("exit status %s after SIGTERM" % rc)
        except subprocess.TimeoutExpired:
            errs.append("server still running 8 s after SIGTERM")
    except Exception as e:
        errs.append("%s: %s" % (type(e).__name__, e))
    finally:
        for c in conns:
            c.close()
    return errs


# ------------------------------------------------------------- main
def natural(name):
    return [int(x) if x.isdigit() else x for x in re.split(r"(\d+)", name)]


def main():
    global SCALE
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--url", help="test a running server instead of starting wsg-echo")
    ap.add_argument("--server-bin", help="wsg-echo binary (default from WSGUARD_BUILD_DIR)")
    ap.add_argument("--max-frame", type=int, default=MiB)
    ap.add_argument("--max-message", type=int, default=MiB)
    ap.add_argument("--max-fragments", type=int, default=1024)
    ap.add_argument("--header", "-H", action="append", default=[],
                    help="extra upgrade request header 'Name: value' (repeatable)")
    ap.add_argument("--no-limits", action="store_true",
                    help="skip the limit cases (server has other limits)")
    ap.add_argument("--cases", help="regex on case names to run")
    ap.add_argument("--jobs", type=int, default=16)
    ap.add_argument("--timeout-scale", type=float,
                    default=float(os.environ.get("WSG_TIMEOUT_SCALE", "1")))
    ap.add_argument("--verbose", "-v", action="store_true")
    a = ap.parse_args()
    SCALE = a.timeout_scale
    HEADERS[:] = a.header
    utf8vec.self_check()

    targets = {}
    small = None
    main_lim = None if a.no_limits else {"frame": a.max_frame, "message": a.max_message,
                                         "fragments": a.max_fragments}
    small_lim = {"frame": 2048, "message": 4096, "fragments": 1024}
    if a.url:
        targets["main"] = a.url
    else:
        exe = a.server_bin or os.path.join(os.environ.get("WSGUARD_BUILD_DIR", "build"),
                                           "examples/echo-server/wsg-echo")
        if not os.access(exe, os.X_OK):
            print("conformance: FAIL: wsg-echo not found at %s (build it first)" % exe)
            print("conformance: 0 passed, 1 failed")
            return 1
        main_srv = EchoServer(exe, [], "wsg-echo")
        SERVERS.append(main_srv)
        small = EchoServer(exe, ["--max-message", str(small_lim["message"]),
                                 "--max-frame", str(small_lim["frame"])],
                           "wsg-echo (small limits)")
        SERVERS.append(small)
        targets["main"], targets["small"] = main_srv.url, small.url
        print("servers: %s (defaults), %s (--max-message 4096 --max-frame 2048)"
              % (main_srv.url, small.url))

    def extra(cs):
        hardening(cs, main_lim, "main", "10.3")
        if small:
            hardening(cs, small_lim, "small", "10.5")
    all_cases = C.build(extra)
    names = [cs.name for cs in all_cases]
    dup = {n for n in names if names.count(n) > 1}
    if dup:
        raise SystemExit("duplicate case names: %s" % sorted(dup))
    if a.cases:
        rx = re.compile(a.cases)
        all_cases = [cs for cs in all_cases if rx.search(cs.name)]

    results = {}
    t0 = time.monotonic()

    def one(cs):
        t = time.monotonic()
        try:
            run_case(cs, targets[cs.target], {})
            return cs, True, "", time.monotonic() - t
        except CaseFail as e:
            return cs, False, str(e), time.monotonic() - t
        except Exception as e:
            return cs, False, "harness error: %s: %s" % (
                type(e).__name__, traceback.format_exc(limit=2).strip().splitlines()[-1]
                if a.verbose else e), time.monotonic() - t

    with concurrent.futures.ThreadPoolExecutor(max_workers=a.jobs) as ex:
        for cs, ok, detail, dt in ex.map(one, all_cases):
            results[cs.name] = (cs, ok, detail, dt)

    if small and (not a.cases or re.search(a.cases, "10.8")):
        errs = sigterm_case(small)
        cs = Case("10.8", "10 hardening",
                  "SIGTERM: 3 open connections get 1001, server exits 0", [])
        cs.expected = lambda: "close 1001 x3, exit 0"
        results[cs.name] = (cs, not errs, "; ".join(errs), 0.0)

    if not a.url and (not a.cases or re.search(a.cases, "10.9")):
        srv = SERVERS[0]
        alive = srv.proc.poll() is None
        rc = srv.stop()
        ok = alive and rc == 0
        cs = Case("10.9", "10 hardening",
                  "server survived every case, exits 0 on SIGTERM", [])
        cs.expected = lambda: "alive, exit 0"
        results[cs.name] = (cs, ok, "" if ok else "alive=%s exit status=%s; last stderr: %s"
                            % (alive, rc, " | ".join(srv.lines[-5:])), 0.0)

    ordered = sorted(results.values(), key=lambda r: natural(r[0].name))
    w = max(len(r[0].name) for r in ordered) if ordered else 5
    print("%-*s  %-16s  %-6s  %-58s  %s" % (w, "case", "category", "result",
                                           "description", "expected"))
    npass = nfail = 0
    for cs, ok, detail, dt in ordered:
        npass += ok
        nfail += not ok
        print("%-*s  %-16s  %-6s  %-58s  %s%s" % (
            w, cs.name, cs.cat, "PASS" if ok else "FAIL", cs.desc[:58], cs.expected(),
            "" if ok else "\n%*s  -> %s" % (w, "", detail)))
    print()
    if nfail:
        print("failed cases:")
        for cs, ok, detail, dt in ordered:
            if not ok:
                print("  %s (%s): %s" % (cs.name, cs.desc, detail))
    print("time: %.1f s" % (time.monotonic() - t0))
    print("conformance: %d passed, %d failed" % (npass, nfail))
    return 1 if nfail or not ordered else 0


if __name__ == "__main__":
    rc = 1
    try:
        rc = main()
    except Exception:
        traceback.print_exc()
        print("conformance: 0 passed, 1 failed (harness error)")
    finally:
        stop_all()
    sys.exit(rc)
