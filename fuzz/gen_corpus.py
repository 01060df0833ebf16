#!/usr/bin/python3
"""Writes the seed corpora under fuzz/corpus/<harness>/, files named by the
SHA-1 of their content. Deterministic; re-run after changing a harness's
input format. Leading config bytes: see the comment at the top of each
harness (frame.c: 5 bytes, hs_request.c and hs_response.c: 3 bytes)."""
import hashlib
import os
import struct
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
KEY = bytes.fromhex("37fa213d")  # RFC 6455 section 5.7


def frame(op, payload=b"", fin=True, rsv=0, mask=None, lenenc=None):
    b0 = (0x80 if fin else 0) | rsv | op
    n = len(payload)
    mbit = 0x80 if mask is not None else 0
    if lenenc is None:
        lenenc = 7 if n < 126 else (16 if n < 65536 else 64)
    if lenenc == 7:
        hdr = bytes([b0, mbit | n])
    elif lenenc == 16:
        hdr = bytes([b0, mbit | 126]) + struct.pack(">H", n)
    else:
        hdr = bytes([b0, mbit | 127]) + struct.pack(">Q", n)
    if mask is None:
        return hdr + payload
    body = bytes(c ^ mask[i % 4] for i, c in enumerate(payload))
    return hdr + mask + body


def close_payload(code, reason=b""):
    return struct.pack(">H", code) + reason


def frame_seeds(masked):
    m = KEY if masked else None
    wrong = None if masked else KEY  # the masking the role must refuse

    def f(op, payload=b"", **kw):
        kw.setdefault("mask", m)
        return frame(op, payload, **kw)

    hello = f(0x1, b"Hello")
    close = f(0x8, close_payload(1000, b"bye"))
    multi = "h\u00e9llo w\u00f6rld \u20ac \U00010348 \u4e2d\u6587".encode()
    w = {
        "hello": hello,
        "hello-close": hello + close,
        "fragmented": f(0x1, b"Hel", fin=False) + f(0x0, b"lo"),
        "frag-ping-between": f(0x1, b"Hel", fin=False) + f(0x9, b"Hello")
        + f(0x0, b"lo"),
        "ping": f(0x9, b"Hello"),
        "pong": f(0xA, b"Hello"),
        "binary-256": f(0x2, bytes(range(256))),
        "binary-64k": f(0x2, bytes((i * 7) & 0xFF for i in range(65536))),
        "empty-text": f(0x1, b""),
        "close-empty": f(0x8, b""),
        "close-1byte": f(0x8, b"\x03"),
        "close-1005": f(0x8, close_payload(1005)),
        "close-999": f(0x8, close_payload(999)),
        "close-3000": f(0x8, close_payload(3000, b"app")),
        "close-bad-utf8": f(0x8, close_payload(1000, b"\xc0\x80")),
        "data-after-close": close + hello,
        "wrong-masking": frame(0x1, b"Hello", mask=wrong),
        "rsv1": f(0x1, b"Hello", rsv=0x40),
        "rsv3": f(0x2, b"x", rsv=0x10),
        "opcode-3": f(0x3, b""),
        "opcode-b": f(0xB, b""),
        "ping-fragmented": f(0x9, b"x", fin=False),
        "ping-126": f(0x9, b"p" * 126),
        "orphan-continuation": f(0x0, b"lo"),
        "text-inside-fragmented": f(0x1, b"a", fin=False) + f(0x1, b"b"),
        "overlong": f(0x1, b"\xc0\xaf"),
        "surrogate": f(0x1, b"\xed\xa0\x80"),
        "above-10ffff": f(0x1, b"\xf4\x90\x80\x80"),
        "bad-utf8-first-fragment": f(0x1, b"ok\xff", fin=False),
        "utf8-split-codepoint": f(0x1, multi[:2], fin=False)
        + f(0x0, multi[2:20], fin=False) + f(0x0, multi[20:]),
        "utf8-multibyte": f(0x1, multi * 10),
        "nonminimal-16": f(0x1, b"Hello", lenenc=16),
        "nonminimal-64": f(0x2, b"x" * 300, lenenc=64),
        "len64-topbit": bytes([0x82, (0x80 if masked else 0) | 127])
        + bytes([0x80, 0, 0, 0, 0, 0, 0, 1]) + (KEY if masked else b""),
        "declared-2gib": bytes([0x82, (0x80 if masked else 0) | 127])
        + struct.pack(">Q", 2 << 30) + (KEY if masked else b"") + b"x" * 16,
        "fragment-flood": f(0x2, b"", fin=False)
        + b"".join(f(0x0, b"", fin=False) for _ in range(40)) + f(0x0, b"end"),
        "two-messages": f(0x2, b"\x00\x01\x02") + f(0x1, b"second"),
    }
    seeds = []
    for name, wire in sorted(w.items()):
        seeds.append(bytes([0x00, 0x00, 0x00, 0x00, 0x00]) + wire)
    # the same wire bytes under other configs
    frag = w["frag-ping-between"] + w["utf8-split-codepoint"] + close
    seeds += [
        bytes([0x01, 0x00, 0x00, 0x11, 0x00]) + frag,            # stream
        bytes([0x10, 0x00, 0x00, 0x22, 0x00]) + frag,            # 1 byte
        bytes([0x31, 0x00, 0x00, 0x33, 0x00]) + frag,            # stream, 1-3
        bytes([0x68, 0x00, 0x00, 0x44, 0x00]) + frag,            # actions
        bytes([0x09, 0x00, 0x50, 0x55, 0x00]) + frag,            # acts, out 64
        bytes([0x00, 0x33, 0x00, 0x00, 0x00]) + w["binary-256"],  # 1009 frame
        bytes([0x00, 0x43, 0x00, 0x00, 0x00]) + frag,            # 1009 msg
        bytes([0x01, 0x44, 0x03, 0x00, 0x00]) + w["fragment-flood"],
        bytes([0x04, 0x00, 0x00, 0x00, 0x00]) + w["rsv1"],        # RSV1 ok
        bytes([0x02, 0x00, 0x00, 0x00, 0x00]) + w["ping"],        # no pong
        bytes([0x00, 0x00, 0x00, 0x00, 0xE0]) + w["hello"],       # alloc #1
        bytes([0x00, 0x00, 0x00, 0x00, 0xE2]) + frag,            # alloc #3
        bytes([0x18, 0x00, 0x00, 0x66, 0x00]) + close,           # our close
    ]
    return seeds


RFC_REQ = (b"GET /chat HTTP/1.1\r\n"
           b"Host: server.example.com\r\n"
           b"Upgrade: websocket\r\n"
           b"Connection: Upgrade\r\n"
           b"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
           b"Origin: http://example.com\r\n"
           b"Sec-WebSocket-Protocol: chat, superchat\r\n"
           b"Sec-WebSocket-Version: 13\r\n\r\n")

STREAMLIT_REQ = (
    b"GET /_stcore/stream HTTP/1.1\r\n"
    b"Host: localhost:8501\r\n"
    b"Connection: Upgrade\r\n"
    b"Pragma: no-cache\r\n"
    b"Cache-Control: no-cache\r\n"
    b"User-Agent: Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 "
    b"(KHTML, like Gecko) Chrome/120.0.0.0 Safari/537.36\r\n"
    b"Upgrade: websocket\r\n"
    b"Origin: http://localhost:8501\r\n"
    b"Sec-WebSocket-Version: 13\r\n"
    b"Accept-Encoding: gzip, deflate, br\r\n"
    b"Accept-Language: en-US,en;q=0.9\r\n"
    b"Cookie: _streamlit_xsrf=2|3b1f7c2a|0123456789abcdef|1700000000\r\n"
    b"Sec-WebSocket-Key: x3JJHMbDL1EzLkh9GBhXDw==\r\n"
    b"Sec-WebSocket-Extensions: permessage-deflate; client_max_window_bits\r\n"
    b"Sec-WebSocket-Protocol: streamlit, PLACEHOLDER_AUTH_TOKEN\r\n\r\n")


def req_seeds():
    r = RFC_REQ
    v = {
        "rfc": r,
        "streamlit": STREAMLIT_REQ,
        "pipelined-frames": r + frame(0x1, b"Hello", mask=KEY)
        + frame(0x8, close_payload(1000), mask=KEY),
        "version-8": r.replace(b"Version: 13", b"Version: 8"),
        "no-key": r.replace(b"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n",
                            b""),
        "key-15-bytes": r.replace(b"dGhlIHNhbXBsZSBub25jZQ==",
                                  b"dGhlIHNhbXBsZSBub25jZQ"),
        "post": r.replace(b"GET", b"POST"),
        "http10": r.replace(b"HTTP/1.1", b"HTTP/1.0"),
        "dup-host": r.replace(b"Host:", b"Host: evil.example\r\nHost:"),
        "dup-key": r.replace(b"Origin:", b"Sec-WebSocket-Key: "
                             b"AAAAAAAAAAAAAAAAAAAAAA==\r\nOrigin:"),
        "content-length": r.replace(b"\r\n\r\n",
                                    b"\r\nContent-Length: 5\r\n\r\nhello"),
        "chunked": r.replace(b"\r\n\r\n",
                             b"\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n"),
        "bare-lf": r.replace(b"\r\n", b"\n"),
        "obs-fold": r.replace(b"Upgrade: websocket",
                              b"Upgrade:\r\n websocket"),
        "long-line": b"GET /" + b"a" * 9000 + b" HTTP/1.1\r\n"
        + r.split(b"\r\n", 1)[1],
        "many-headers": r.replace(b"Origin:", b"".join(
            b"X-H%d: v\r\n" % i for i in range(101)) + b"Origin:"),
        "huge-header": r.replace(b"Origin:", b"X-Big: " + b"b" * 17000
                                 + b"\r\nOrigin:"),
        "case-tokens": r.replace(b"Upgrade: websocket", b"upgrade: WebSocket")
        .replace(b"Connection: Upgrade", b"connection: keep-alive, UPGRADE"),
        "no-connection": r.replace(b"Connection: Upgrade\r\n", b""),
        "upgrade-h2c": r.replace(b"Upgrade: websocket", b"Upgrade: h2c"),
        "query": r.replace(b"GET /chat", b"GET /chat?x=1&y=%20"),
        "absolute-target": r.replace(b"GET /chat",
                                     b"GET http://server.example.com/chat"),
        "nul-in-header": r.replace(b"Origin: http", b"Origin: ht\x00tp"),
        "incomplete": r[:-2],
    }
    seeds = [bytes([0x00, 0x00, 0x00]) + b for _, b in sorted(v.items())]
    seeds += [
        bytes([0x01, 0x01, 0x00]) + r,          # 1 byte at a time, 1st proto
        bytes([0x06, 0x02, 0x00]) + STREAMLIT_REQ,  # chunks, last proto
        bytes([0x05, 0x03, 0x00]) + r,          # unoffered protocol
        bytes([0x00, 0x1C, 0x00]) + r,          # header with CR refused
        bytes([0x00, 0xE0, 0x00]) + r,          # refuse 426
        bytes([0x00, 0x2C, 0x00]) + r,          # refuse 400 + header
        bytes([0x10, 0x00, 0x00]) + r,          # tiny limits
        bytes([0x80, 0x00, 0x00]) + STREAMLIT_REQ,  # 3 headers max
        bytes([0x00, 0x00, 0xE0]) + r,          # alloc #1 fails
        bytes([0x00, 0x00, 0xE2]) + r,          # alloc #3 fails
    ]
    return seeds


RFC_RESP = (b"HTTP/1.1 101 Switching Protocols\r\n"
            b"Upgrade: websocket\r\n"
            b"Connection: Upgrade\r\n"
            b"Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n"
            b"Sec-WebSocket-Protocol: chat\r\n\r\n")


def resp_seeds():
    r = RFC_RESP
    noproto = r.replace(b"Sec-WebSocket-Protocol: chat\r\n", b"")
    v = [
        (0x01, r),
        (0x00, noproto),
        (0x00, r),                                   # protocol not offered
        (0x02, r.replace(b": chat\r\n", b": streamlit\r\n")),
        (0x02, r.replace(b": chat\r\n", b": PLACEHOLDER_AUTH_TOKEN\r\n")),
        (0x04, noproto.replace(b"\r\n\r\n", b"\r\nSec-WebSocket-Extensions: "
                               b"permessage-deflate\r\n\r\n")),
        (0x00, noproto.replace(b"\r\n\r\n", b"\r\nSec-WebSocket-Extensions: "
                               b"permessage-deflate\r\n\r\n")),
        (0x01, r.replace(b"s3pPLMBiTxaQ9kYGzzhZRbK+xOo=",
                         b"AAAAAAAAAAAAAAAAAAAAAAAAAAA=")),
        (0x00, b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nhi"),
        (0x00, b"HTTP/1.1 426 Upgrade Required\r\nSec-WebSocket-Version: 13"
               b"\r\nContent-Length: 0\r\n\r\n"),
        (0x00, noproto.replace(b"Upgrade: websocket\r\n", b"")),
        (0x00, noproto.replace(b"Connection: Upgrade", b"Connection: close")),
        (0x00, noproto.lower()),
        (0x00, noproto.replace(b"HTTP/1.1", b"HTTP/1.0")),
        (0x00, noproto.replace(b"\r\n\r\n", b"\r\nSec-WebSocket-Accept: "
                               b"s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n\r\n")),
        (0x00, noproto + frame(0x1, b"Hello") + frame(0x8, close_payload(1000))),
        (0x00, noproto + frame(0x1, b"Hello", mask=KEY)),
        (0x00, noproto.replace(b"\r\n", b"\n")),
        (0x00, noproto[:-2]),
        (0x00, b"HTTP/1.1 101 Switching Protocols\r\n" + b"X: y\r\n" * 120
         + noproto.split(b"\r\n", 1)[1]),
    ]
    seeds = [bytes([0x00, b1, 0x00]) + b for b1, b in v]
    seeds += [
        bytes([0x01, 0x01, 0x00]) + r,           # 1 byte at a time
        bytes([0x07, 0x01, 0x00]) + r + frame(0x9, b"ping"),
        bytes([0x10, 0x00, 0x00]) + noproto,     # tiny limits
        bytes([0x30, 0x00, 0x00]) + noproto,     # 3 headers max
        bytes([0x00, 0x00, 0xE0]) + noproto,     # alloc #1 fails
        bytes([0x00, 0x00, 0xE3]) + noproto,     # alloc #4 fails
    ]
    return seeds


def write(harness, seeds, clean):
    d = os.path.join(HERE, "corpus", harness)
    os.makedirs(d, exist_ok=True)
    if clean:
        for name in os.listdir(d):
            os.unlink(os.path.join(d, name))
    for s in seeds:
        name = hashlib.sha1(s).hexdigest()
        with open(os.path.join(d, name), "wb") as fh:
            fh.write(s)
    print(f"{harness}: {len(set(seeds))} seeds")


def main():
    clean = "--clean" in sys.argv
    write("frame-server", frame_seeds(masked=True), clean)
    write("frame-client", frame_seeds(masked=False), clean)
    write("hs-request", req_seeds(), clean)
    write("hs-response", resp_seeds(), clean)


if __name__ == "__main__":
    main()
