"""The conformance cases: Autobahn TestSuite categories 1-7 plus the
hardening cases of shared/THREATS.md (category 10), as data.

A case is a list of steps run on a fresh connection:
  S(data, chunk=None, delay=0)   write bytes (optionally in chunks)
  Sleep(t)
  Msg(op, payload)               the next event must be this exact message
  Pong(payload)                  the next event must be this exact pong
  Close(codes, within=None)      the next event must be a close with one of
                                 codes (None = empty payload), within
                                 `within` seconds if given; then the client
                                 answers (unless it closed first) and the
                                 server must close TCP. Terminal.
  End(code=1000)                 client closes with code; the server must
                                 echo it and close TCP. Terminal.
  Fn(f)                          custom step f(client, ctx) -> error or None
"""
import random

from wsproto import (OP_BINARY, OP_CLOSE, OP_CONT, OP_PING, OP_PONG, OP_TEXT,
                     close_payload, frame)
import utf8vec


class S:
    def __init__(self, data, chunk=None, delay=0.0):
        self.data, self.chunk, self.delay = data, chunk, delay


class Sleep:
    def __init__(self, t):
        self.t = t


class Msg:
    def __init__(self, op, payload):
        self.op = op
        self.payload = payload.encode() if isinstance(payload, str) else payload


class Pong:
    def __init__(self, payload):
        self.payload = payload.encode() if isinstance(payload, str) else payload


class Close:
    def __init__(self, codes, within=None):
        self.codes = codes if isinstance(codes, (list, tuple, set)) else [codes]
        self.within = within


class End:
    def __init__(self, code=1000, reason=b""):
        self.code, self.reason = code, reason


class Fn:
    def __init__(self, f, label, terminal=False):
        self.f, self.label, self.terminal = f, label, terminal


class Case:
    def __init__(self, name, cat, desc, steps, pipelined=None, target="main",
                 timeout=5.0):
        self.name, self.cat, self.desc, self.steps = name, cat, desc, steps
        self.pipelined, self.target, self.timeout = pipelined, target, timeout

    def expected(self):
        out, n = [], 0
        for s in self.steps:
            if isinstance(s, Msg):
                out.append("echo %s(%d)" % ("text" if s.op == OP_TEXT else "bin",
                                            len(s.payload)))
            elif isinstance(s, Pong):
                out.append("pong(%d)" % len(s.payload))
            elif isinstance(s, Close):
                c = "/".join("empty" if x is None else str(x) for x in s.codes)
                out.append("close " + c + (" <%gs" % s.within if s.within else ""))
            elif isinstance(s, End):
                out.append("close %d" % s.code)
            elif isinstance(s, Fn) and s.label:
                out.append(s.label)
        # compress runs like "pong(5), pong(5)..."
        comp = []
        for x in out:
            if comp and comp[-1][0] == x:
                comp[-1][1] += 1
            else:
                comp.append([x, 1])
        n = [x if k == 1 else "%dx %s" % (k, x) for x, k in comp]
        return ", ".join(n)


def T(p, fin=True, **kw):
    return frame(OP_TEXT, p, fin=fin, **kw)


def B(p, fin=True, **kw):
    return frame(OP_BINARY, p, fin=fin, **kw)


def C(p, fin=True, **kw):
    return frame(OP_CONT, p, fin=fin, **kw)


def PING(p=b"", **kw):
    return frame(OP_PING, p, **kw)


def PONG(p=b"", **kw):
    return frame(OP_PONG, p, **kw)


def CLOSE(code=None, reason=b"", **kw):
    return frame(OP_CLOSE, close_payload(code, reason), **kw)


def fragments(op, chunks):
    """Frames of one message split as `chunks` (list of bytes)."""
    out = b""
    for i, c in enumerate(chunks):
        out += frame(op if i == 0 else OP_CONT, c, fin=(i == len(chunks) - 1))
    return out


def text_of(n, rnd):
    """Valid UTF-8 of exactly n bytes, mixing 1-4 byte code points."""
    alphabet = ["a", "Z", "0", " ", "é", "ß", "€", "한", "😀"]
    out = []
    size = 0
    while size < n:
        ch = rnd.choice(alphabet)
        b = ch.encode()
        if size + len(b) > n:
            b = b"x" * (n - size)
        out.append(b)
        size += len(b)
    return b"".join(out)


def bin_of(n, rnd):
    return bytes(rnd.getrandbits(8) for _ in range(n)) if n < 4096 else \
        rnd.randbytes(n)


CLOSED = (OP_CLOSE,)

# ---------------------------------------------------------------- category 1
def cat1(cases):
    rnd = random.Random(1)
    sizes = [0, 125, 126, 127, 128, 65535, 65536]
    for sub, (op, gen, name) in enumerate([(OP_TEXT, text_of, "text"),
                                           (OP_BINARY, bin_of, "binary")], 1):
        for i, n in enumerate(sizes, 1):
            p = gen(n, rnd)
            cases.append(Case("1.%d.%d" % (sub, i), "1 framing",
                              "%s message of %d bytes, one write" % (name, n),
                              [S(frame(op, p)), Msg(op, p), End()]))
            cases.append(Case("1.%d.%d" % (sub, i + len(sizes)), "1 framing",
                              "%s message of %d bytes, writes of 997 bytes"
                              % (name, n),
                              [S(frame(op, p), chunk=997 if n > 200 else 7),
                               Msg(op, p), End()]))
    p = text_of(200, rnd)
    cases.append(Case("1.3.1", "1 framing", "text frame written 1 byte at a time",
                      [S(T(p), chunk=1), Msg(OP_TEXT, p), End()]))
    p = bin_of(64, rnd)
    cases.append(Case("1.3.2", "1 framing", "zero masking key",
                      [S(B(p, key=b"\0\0\0\0")), Msg(OP_BINARY, p), End()]))
    msgs = [bin_of(rnd.randrange(0, 300), rnd) for _ in range(50)]
    cases.append(Case("1.3.3", "1 framing", "50 binary messages in one write",
                      [S(b"".join(B(m) for m in msgs))]
                      + [Msg(OP_BINARY, m) for m in msgs] + [End()]))


# ---------------------------------------------------------------- category 2
def cat2(cases):
    A = "2 pings"
    cases += [
        Case("2.1", A, "ping, empty payload", [S(PING()), Pong(b""), End()]),
        Case("2.2", A, "ping, text payload",
             [S(PING(b"Hello, world!")), Pong(b"Hello, world!"), End()]),
        Case("2.3", A, "ping, binary payload",
             [S(PING(bytes([0, 255, 254, 253, 252, 251, 0, 255]))),
              Pong(bytes([0, 255, 254, 253, 252, 251, 0, 255])), End()]),
        Case("2.4", A, "ping, 125-byte payload",
             [S(PING(b"\xfe" * 125)), Pong(b"\xfe" * 125), End()]),
        Case("2.5", A, "ping, 126-byte payload -> 1002",
             [S(PING(b"\xfe" * 126)), Close(1002)]),
        Case("2.6", A, "ping 125 bytes written 1 byte at a time",
             [S(PING(b"\xfe" * 125), chunk=1), Pong(b"\xfe" * 125), End()]),
        Case("2.7", A, "unsolicited pong, empty: ignored",
             [S(PONG()), End()]),
        Case("2.8", A, "unsolicited pong with payload: ignored",
             [S(PONG(b"unsolicited pong payload")), End()]),
        Case("2.9", A, "unsolicited pong then ping: only the ping answered",
             [S(PONG(b"unsolicited pong payload") + PING(b"ping payload")),
              Pong(b"ping payload"), End()]),
        Case("2.10", A, "10 pings in one write, answered in order",
             [S(b"".join(PING(b"payload-%d" % i) for i in range(10)))]
             + [Pong(b"payload-%d" % i) for i in range(10)] + [End()]),
        Case("2.11", A, "10 pings written 1 byte at a time, answered in order",
             [S(b"".join(PING(b"payload-%d" % i) for i in range(10)), chunk=1)]
             + [Pong(b"payload-%d" % i) for i in range(10)] + [End()]),
    ]
    steps = []
    for n in range(126):
        p = bytes((n + i) & 0xFF for i in range(n))
        steps += [S(PING(p)), Pong(p)]
    cases.append(Case("2.12", A, "pings of every size 0..125", steps + [End()]))
    cases.append(Case("2.13", A, "ping between fragments of a text message",
                      [S(T(b"frag1-", fin=False) + PING(b"mid")), Pong(b"mid"),
                       S(C(b"frag2")), Msg(OP_TEXT, b"frag1-frag2"), End()]))
    cases.append(Case("2.14", A, "ping with 16-bit length of 126 bytes -> 1002",
                      [S(frame(OP_PING, b"x" * 126)), Close(1002)]))


# ---------------------------------------------------------------- category 3
def cat3(cases):
    A = "3 reserved bits"
    tf = T(b"Hello")
    cases += [
        Case("3.1", A, "text with RSV1 -> 1002", [S(T(b"Hello", rsv=4)), Close(1002)]),
        Case("3.2", A, "text, text with RSV2, ping -> echo then 1002",
             [S(tf), Msg(OP_TEXT, "Hello"), S(T(b"Hello", rsv=2) + PING(b"Hello")),
              Close(1002)]),
        Case("3.3", A, "text, text RSV3, ping in one write -> echo, 1002",
             [S(tf + T(b"Hello", rsv=1) + PING(b"Hello")), Msg(OP_TEXT, "Hello"),
              Close(1002)]),
        Case("3.4", A, "text, text RSV1|RSV2, ping, 1-byte writes -> echo, 1002",
             [S(tf + T(b"Hello", rsv=6) + PING(b"Hello"), chunk=1),
              Msg(OP_TEXT, "Hello"), Close(1002)]),
        Case("3.5", A, "binary with RSV1|RSV3 -> 1002",
             [S(B(b"\xff" * 8, rsv=5)), Close(1002)]),
        Case("3.6", A, "ping with RSV2|RSV3 -> 1002",
             [S(PING(b"Hello", rsv=3)), Close(1002)]),
        Case("3.7", A, "close with RSV1|RSV2|RSV3 -> 1002",
             [S(CLOSE(1000, rsv=7)), Close(1002)]),
        Case("3.8", A, "pong with RSV1 -> 1002", [S(PONG(b"x", rsv=4)), Close(1002)]),
        Case("3.9", A, "continuation with RSV1 -> 1002",
             [S(T(b"a", fin=False) + C(b"b", rsv=4)), Close(1002)]),
    ]
    for r in range(1, 8):
        cases.append(Case("3.10.%d" % r, A, "text, RSV bits 0x%x -> 1002" % r,
                          [S(T(b"x", rsv=r)), Close(1002)]))


# ---------------------------------------------------------------- category 4
def cat4(cases):
    A = "4 opcodes"
    for sub, ops in ((1, [3, 4, 5, 6, 7]), (2, [0xB, 0xC, 0xD, 0xE, 0xF])):
        for i, op in enumerate(ops, 1):
            cases.append(Case("4.%d.%d" % (sub, 2 * i - 1), A,
                              "opcode 0x%X alone -> 1002" % op,
                              [S(frame(op, b"" if i % 2 else b"reserved opcode payload")),
                               Close(1002)]))
            cases.append(Case("4.%d.%d" % (sub, 2 * i), A,
                              "text, opcode 0x%X, ping -> echo, 1002" % op,
                              [S(T(b"Hello")), Msg(OP_TEXT, "Hello"),
                               S(frame(op, b"reserved opcode payload") + PING(b"Hello")),
                               Close(1002)]))


# ---------------------------------------------------------------- category 5
def cat5(cases):
    A = "5 fragmentation"
    f12 = T(b"fragment1", fin=False) + C(b"fragment2")
    f1p2 = T(b"fragment1", fin=False) + PING(b"pongme!") + C(b"fragment2")
    f5 = [T(b"fragment1", fin=False), C(b"fragment2", fin=False), PING(b"pongme 1!"),
          C(b"fragment3", fin=False), Sleep(0.3), C(b"fragment4", fin=False),
          PING(b"pongme 2!"), C(b"fragment5")]
    cases += [
        Case("5.1", A, "ping in 2 fragments -> 1002",
             [S(frame(OP_PING, b"fragment1", fin=False) + C(b"fragment2")), Close(1002)]),
        Case("5.2", A, "pong in 2 fragments -> 1002",
             [S(frame(OP_PONG, b"fragment1", fin=False) + C(b"fragment2")), Close(1002)]),
        Case("5.3", A, "text in 2 fragments",
             [S(f12), Msg(OP_TEXT, "fragment1fragment2"), End()]),
        Case("5.4", A, "text in 2 fragments, frames in separate writes",
             [S(T(b"fragment1", fin=False)), Sleep(0.1), S(C(b"fragment2")),
              Msg(OP_TEXT, "fragment1fragment2"), End()]),
        Case("5.5", A, "text in 2 fragments, 1-byte writes",
             [S(f12, chunk=1), Msg(OP_TEXT, "fragment1fragment2"), End()]),
        Case("5.6", A, "text in 2 fragments with a ping between",
             [S(f1p2), Pong("pongme!"), Msg(OP_TEXT, "fragment1fragment2"), End()]),
        Case("5.7", A, "as 5.6, frames in separate writes",
             [S(T(b"fragment1", fin=False)), Sleep(0.1), S(PING(b"pongme!")),
              Pong("pongme!"), S(C(b"fragment2")),
              Msg(OP_TEXT, "fragment1fragment2"), End()]),
        Case("5.8", A, "as 5.6, 1-byte writes",
             [S(f1p2, chunk=1), Pong("pongme!"), Msg(OP_TEXT, "fragment1fragment2"),
              End()]),
    ]
    orphan_fin = C(b"non-continuation payload") + T(b"Hello, world!")
    orphan_nofin = C(b"non-continuation payload", fin=False) + T(b"Hello, world!")
    for base, data, what in ((9, orphan_fin, "FIN=1"), (12, orphan_nofin, "FIN=0")):
        cases.append(Case("5.%d" % base, A,
                          "continuation (%s) with nothing to continue -> 1002" % what,
                          [S(data), Close(1002)]))
        cases.append(Case("5.%d" % (base + 1), A, "as 5.%d, writes of 3 bytes" % base,
                          [S(data, chunk=3), Close(1002)]))
        cases.append(Case("5.%d" % (base + 2), A, "as 5.%d, 1-byte writes" % base,
                          [S(data, chunk=1), Close(1002)]))
    cases += [
        Case("5.15", A, "message, then continuation frames again -> echo, 1002",
             [S(f12 + C(b"fragment3", fin=False) + T(b"fragment4")),
              Msg(OP_TEXT, "fragment1fragment2"), Close(1002)]),
        Case("5.16", A, "continuation x2 then text, twice -> 1002",
             [S((C(b"fragment1", fin=False) + C(b"fragment2") + T(b"fragment3")) * 2),
              Close(1002)]),
        Case("5.17", A, "continuation FIN=1 x2 then text -> 1002",
             [S(C(b"fragment1") + C(b"fragment2") + T(b"fragment3")), Close(1002)]),
        Case("5.18", A, "text FIN=0 then text FIN=1 (new message inside) -> 1002",
             [S(T(b"fragment1", fin=False) + T(b"fragment2")), Close(1002)]),
        Case("5.19", A, "text in 5 fragments, 2 pings between, with a pause",
             [S(x) if isinstance(x, bytes) else x for x in f5[:3]]
             + [Pong("pongme 1!")]
             + [S(x) if isinstance(x, bytes) else x for x in f5[3:]]
             + [Pong("pongme 2!"),
                Msg(OP_TEXT, "fragment1fragment2fragment3fragment4fragment5"), End()]),
        Case("5.20", A, "as 5.19, all in one write, 1-byte writes",
             [S(b"".join(x for x in f5 if isinstance(x, bytes)), chunk=1),
              Pong("pongme 1!"), Pong("pongme 2!"),
              Msg(OP_TEXT, "fragment1fragment2fragment3fragment4fragment5"), End()]),
        Case("5.21", A, "binary in 3 fragments with ping",
             [S(B(b"\x00\x01", fin=False) + C(b"\x02", fin=False) + PING(b"p")
                + C(b"\xff\xfe")), Pong("p"),
              Msg(OP_BINARY, b"\x00\x01\x02\xff\xfe"), End()]),
        Case("5.22", A, "binary FIN=0 then text FIN=1 -> 1002",
             [S(B(b"a", fin=False) + T(b"b")), Close(1002)]),
        Case("5.23", A, "close frame fragmented (FIN=0) -> 1002",
             [S(frame(OP_CLOSE, close_payload(1000), fin=False)), Close(1002)]),
        Case("5.24", A, "ping FIN=0 inside a fragmented message -> 1002",
             [S(T(b"a", fin=False) + frame(OP_PING, b"x", fin=False)), Close(1002)]),
        Case("5.25", A, "binary in 1-byte fragments (100 fragments)",
             [S(fragments(OP_BINARY, [bytes([i]) for i in range(100)])),
              Msg(OP_BINARY, bytes(range(100))), End()]),
        Case("5.26", A, "fragmented text with empty first and last fragments",
             [S(fragments(OP_TEXT, [b"", b"abc", b"", b"def", b""])),
              Msg(OP_TEXT, "abcdef"), End()]),
    ]


# ---------------------------------------------------------------- category 6
def cat6(cases):
    A = "6 utf-8"
    cases += [
        Case("6.1.1", A, "text in 3 empty fragments",
             [S(fragments(OP_TEXT, [b"", b"", b""])), Msg(OP_TEXT, b""), End()]),
        Case("6.1.2", A, "text: empty, empty, then empty FIN (continuations)",
             [S(T(b"", fin=False) + C(b"", fin=False) + C(b"")), Msg(OP_TEXT, b""),
              End()]),
        Case("6.1.3", A, "text: empty, 'middle frame payload', empty",
             [S(fragments(OP_TEXT, [b"", b"middle frame payload", b""])),
              Msg(OP_TEXT, "middle frame payload"), End()]),
    ]
    n = 1
    for vid, desc, vec in utf8vec.VECTORS:
        fp = utf8vec.fail_point(vec)
        ctx = utf8vec.KOSME + b"|" + vec + b"|edited"
        cfp = utf8vec.fail_point(ctx)
        base = "6.%d" % (n + 4)
        n += 1
        label = "Kuhn %s %s" % (vid, desc)
        if fp is None:
            cases.append(Case(base + ".1", A, label + ": one frame (valid)",
                              [S(T(vec)), Msg(OP_TEXT, vec), End()]))
            cases.append(Case(base + ".2", A, label + ": in context, 1-byte fragments",
                              [S(fragments(OP_TEXT, [ctx[i:i + 1] for i in range(len(ctx))])),
                               Msg(OP_TEXT, ctx), End()]))
            cases.append(Case(base + ".3", A, label + ": in context, 1-byte writes",
                              [S(T(ctx), chunk=1), Msg(OP_TEXT, ctx), End()]))
            continue
        cases.append(Case(base + ".1", A, label + ": one frame -> 1007",
                          [S(T(vec)), Close(1007)]))
        # Fail fast across fragments: the context up to and including the
        # first invalid byte, as fragments; the rest is never sent.
        head = ctx[:cfp + 1]
        cut = len(utf8vec.KOSME) + 1
        frs = [head[:cut]] + [head[i:i + 1] for i in range(cut, len(head))]
        data = b"".join(frame(OP_TEXT if i == 0 else OP_CONT, f, fin=False)
                        for i, f in enumerate(frs))
        cases.append(Case(base + ".2", A, label
                          + ": fragments up to the bad byte, rest never sent -> 1007 fast",
                          [S(data), Close(1007, within=2.0)]))
        # Fail fast inside one frame across writes: declare the whole frame,
        # write 1 byte at a time up to the bad byte, stop.
        full = T(ctx)
        hdr = len(full) - len(ctx)
        cases.append(Case(base + ".3", A, label
                          + ": one frame, 1-byte writes up to the bad byte -> 1007 fast",
                          [S(full[:hdr + cfp + 1], chunk=1), Close(1007, within=2.0)]))
    # Autobahn 6.4.x: fail fast with pauses between parts.
    k = utf8vec.KOSME
    bad = bytes.fromhex("f4908080")
    f643 = T(k + bad + b"edited")
    cases += [
        Case("6.4.1", A, "fragment 1 valid, fragment 2 has U+110000 -> 1007 before fragment 3",
             [S(T(k, fin=False)), Sleep(0.2), S(C(bad, fin=False)),
              Close(1007, within=2.0)]),
        Case("6.4.2", A, "fragment 1 ends with F4, fragment 2 is 0x90 -> 1007 at once",
             [S(T(k + b"\xf4", fin=False)), Sleep(0.2), S(C(b"\x90", fin=False)),
              Close(1007, within=2.0)]),
        Case("6.4.3", A, "one frame: valid part, pause, bad bytes -> 1007 before the rest",
             [S(f643[:6 + len(k)]), Sleep(0.2), S(f643[6 + len(k):6 + len(k) + 4]),
              Close(1007, within=2.0)]),
        Case("6.4.4", A, "one frame: valid part, pause, F4 90 only -> 1007 at once",
             [S(f643[:6 + len(k)]), Sleep(0.2), S(f643[6 + len(k):6 + len(k) + 2]),
              Close(1007, within=2.0)]),
    ]
    # Every single byte 0x80-0xFF alone is invalid.
    for c in range(0x80, 0x100):
        cases.append(Case("6.100.%d" % (c - 0x7F), A, "lone byte 0x%02X -> 1007" % c,
                          [S(T(bytes([c]))), Close(1007)]))
    cases.append(Case("6.101.1", A, "invalid UTF-8 in a binary message is fine",
                      [S(B(b"\xc0\xaf\xed\xa0\x80\xff")),
                       Msg(OP_BINARY, b"\xc0\xaf\xed\xa0\x80\xff"), End()]))
    cases.append(Case("6.101.2", A, "code point split across 3 fragments",
                      [S(T(b"a\xf0", fin=False) + C(b"\x9f\x98", fin=False) + C(b"\x80b")),
                       Msg(OP_TEXT, "a\U0001F600b"), End()]))
    cases.append(Case("6.101.3", A, "message ends inside a code point -> 1007",
                      [S(T(b"a\xf0", fin=False) + C(b"\x9f\x98")), Close(1007)]))


# ---------------------------------------------------------------- category 7
def cat7(cases):
    A = "7 close"
    cases += [
        Case("7.1.1", A, "text echo, then close 1000",
             [S(T(b"Hello World!")), Msg(OP_TEXT, "Hello World!"), End()]),
        Case("7.1.2", A, "two close frames: second ignored",
             [S(CLOSE(1000) + CLOSE(1000)), Close(1000)]),
        Case("7.1.3", A, "ping after close: no pong",
             [S(CLOSE(1000) + PING(b"Hello")), Close(1000)]),
        Case("7.1.4", A, "text after close: not echoed",
             [S(CLOSE(1000) + T(b"Hello")), Close(1000)]),
        Case("7.1.5", A, "fragment 1, close: message not delivered",
             [S(T(b"fragment1", fin=False) + CLOSE(1000)), Close(1000)]),
        Case("7.1.6", A, "10 x 64 KiB text, then close: all echoed first",
             [S(b"".join(T(b"BAsd7&jh23" * 6553 + b"xxxxxx") for _ in range(10)))]
             + [Msg(OP_TEXT, b"BAsd7&jh23" * 6553 + b"xxxxxx")] * 10 + [End()],
             timeout=10.0),
        Case("7.3.1", A, "close with empty payload -> empty or 1000",
             [S(CLOSE()), Close([None, 1000])]),
        Case("7.3.2", A, "close with 1-byte payload -> 1002",
             [S(frame(OP_CLOSE, b"\x03")), Close(1002)]),
        Case("7.3.3", A, "close 1000 without reason", [End(1000)]),
        Case("7.3.4", A, "close 1000 with 123-byte reason",
             [End(1000, b"*" * 123)]),
        Case("7.3.5", A, "close with 124-byte reason (frame > 125) -> 1002",
             [S(CLOSE(1000, b"*" * 124)), Close(1002)]),
        Case("7.3.6", A, "close reason with a surrogate -> 1007",
             [S(CLOSE(1000, utf8vec.KOSME + b"\xed\xa0\x80edited")), Close(1007)]),
        Case("7.5.1", A, "close reason with U+110000 -> 1007",
             [S(CLOSE(1000, utf8vec.KOSME + b"\xf4\x90\x80\x80edited")), Close(1007)]),
        Case("7.5.2", A, "close reason truncated inside a code point -> 1007",
             [S(CLOSE(1000, b"abc\xe2\x82")), Close(1007)]),
        Case("7.5.3", A, "close reason with an overlong -> 1007",
             [S(CLOSE(1000, b"\xc0\xaf")), Close(1007)]),
        Case("7.5.4", A, "close reason valid multibyte (kosme)",
             [End(1000, utf8vec.KOSME)]),
    ]
    valid = [1000, 1001, 1002, 1003, 1007, 1008, 1009, 1010, 1011, 1012, 1013,
             1014, 3000, 3999, 4000, 4999]
    for i, code in enumerate(valid, 1):
        cases.append(Case("7.7.%d" % i, A, "close %d: echoed" % code, [End(code)]))
    invalid = [0, 999, 1004, 1005, 1006, 1015, 1016, 1100, 2000, 2999, 5000, 65535]
    for i, code in enumerate(invalid, 1):
        cases.append(Case("7.9.%d" % i, A, "close %d -> 1002" % code,
                          [S(CLOSE(code)), Close(1002)]))


ALL_CATEGORIES = [cat1, cat2, cat3, cat4, cat5, cat6, cat7]


def build(extra=None):
    cases = []
    for f in ALL_CATEGORIES:
        f(cases)
    if extra:
        extra(cases)
    return cases
