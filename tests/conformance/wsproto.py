"""Raw RFC 6455 client-side framing for hostile tests (no websockets library).

Everything here is deliberately low level: frames are built byte by byte so
that tests can produce any malformation (reserved bits, opcodes, non-minimal
lengths, unmasked frames), and the reader checks the server's frames
strictly (RFC 6455 section 5: unmasked, RSV 0, known opcodes, control frames
short and unfragmented).
"""
import base64
import hashlib
import os
import re
import socket
import struct
import time
import urllib.parse

GUID = b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11"

OP_CONT, OP_TEXT, OP_BINARY = 0x0, 0x1, 0x2
OP_CLOSE, OP_PING, OP_PONG = 0x8, 0x9, 0xA
OPNAMES = {0: "cont", 1: "text", 2: "binary", 8: "close", 9: "ping", 10: "pong"}


def parse_url(url):
    """ws://host:port/path -> (host, port, resource, hostheader)"""
    u = urllib.parse.urlsplit(url)
    if u.scheme != "ws":
        raise ValueError("only ws:// URLs are supported: " + url)
    port = u.port or 80
    path = u.path or "/"
    if u.query:
        path += "?" + u.query
    hosthdr = u.hostname if port == 80 else "%s:%d" % (u.hostname, port)
    return u.hostname, port, path, hosthdr


def mask_bytes(payload, key):
    if not payload:
        return b""
    n = len(payload)
    k = (key * (n // 4 + 1))[:n]
    return (int.from_bytes(payload, "little") ^ int.from_bytes(k, "little")
            ).to_bytes(n, "little")


def frame(opcode, payload=b"", fin=True, rsv=0, mask=True, key=None,
          length=None, enc=None):
    """Build one frame.

    rsv: 3-bit value (4 = RSV1, 2 = RSV2, 1 = RSV3).
    length: declared payload length (default: len(payload)).
    enc: force the length encoding: 7, 16 or 64 (default: minimal).
    """
    if isinstance(payload, str):
        payload = payload.encode()
    n = len(payload) if length is None else length
    b0 = (0x80 if fin else 0) | ((rsv & 7) << 4) | (opcode & 0xF)
    mbit = 0x80 if mask else 0
    if enc is None:
        enc = 7 if n < 126 else (16 if n < 65536 else 64)
    if enc == 7:
        hdr = bytes([b0, mbit | n])
    elif enc == 16:
        hdr = bytes([b0, mbit | 126]) + struct.pack(">H", n)
    else:
        hdr = bytes([b0, mbit | 127]) + struct.pack(">Q", n)
    if mask:
        key = key if key is not None else os.urandom(4)
        return hdr + key + mask_bytes(payload, key)
    return hdr + payload


def close_payload(code=None, reason=b""):
    if code is None:
        return b""
    if isinstance(reason, str):
        reason = reason.encode()
    return struct.pack(">H", code) + reason


class ProtocolViolation(Exception):
    """The server sent something RFC 6455 forbids."""


class HandshakeError(Exception):
    pass


def handshake_request(resource, hosthdr, key, extra_headers=()):
    lines = ["GET %s HTTP/1.1" % resource, "Host: %s" % hosthdr,
             "Upgrade: websocket", "Connection: Upgrade",
             "Sec-WebSocket-Key: %s" % key, "Sec-WebSocket-Version: 13"]
    lines += list(extra_headers)
    return ("\r\n".join(lines) + "\r\n\r\n").encode()


class RawClient:
    """One TCP connection speaking raw WebSocket as a (possibly hostile) client.

    Events returned by next_event():
      ("message", opcode, payload)   a whole data message (server fragments
                                      are reassembled and recorded)
      ("ping", payload) / ("pong", payload)
      ("close", code_or_None, reason_bytes, raw_payload)
      ("eof",)  ("reset",)  ("timeout",)
    """

    def __init__(self, url, timeout=5.0):
        self.host, self.port, self.resource, self.hosthdr = parse_url(url)
        self.sock = socket.create_connection((self.host, self.port), timeout=timeout)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.buf = bytearray()
        self.frag_op = None
        self.frag_data = bytearray()
        self.server_fragments = 0
        self.closed_tcp = False
        self.log = []

    # -- handshake -----------------------------------------------------------
    def handshake(self, extra=b"", headers=(), deadline=None):
        """Upgrade; `extra` bytes are sent in the same write (pipelined, T8)."""
        key = base64.b64encode(os.urandom(16)).decode()
        req = handshake_request(self.resource, self.hosthdr, key, headers)
        self.sock.sendall(req + extra)
        deadline = deadline or time.monotonic() + 5
        while b"\r\n\r\n" not in self.buf:
            if len(self.buf) > 65536:
                raise HandshakeError("response head too long")
            if not self._fill(deadline):
                raise HandshakeError("no complete response head (%r)" % bytes(self.buf[:200]))
        head, _, rest = bytes(self.buf).partition(b"\r\n\r\n")
        self.buf = bytearray(rest)
        lines = head.decode("latin-1").split("\r\n")
        m = re.match(r"HTTP/1\.1 (\d{3})", lines[0])
        if not m or m.group(1) != "101":
            raise HandshakeError("status line: %r" % lines[0])
        hdrs = {}
        for ln in lines[1:]:
            name, _, val = ln.partition(":")
            hdrs.setdefault(name.strip().lower(), []).append(val.strip())
        want = base64.b64encode(hashlib.sha1(key.encode() + GUID).digest()).decode()
        got = hdrs.get("sec-websocket-accept", [])
        if got != [want]:
            raise HandshakeError("Sec-WebSocket-Accept %r, want %r" % (got, want))
        if "websocket" not in [v.lower() for v in hdrs.get("upgrade", [])]:
            raise HandshakeError("Upgrade header: %r" % hdrs.get("upgrade"))
        conn = ",".join(hdrs.get("connection", [])).lower()
        if "upgrade" not in [t.strip() for t in conn.split(",")]:
            raise HandshakeError("Connection header: %r" % conn)
        self.response_headers = hdrs
        return hdrs

    # -- output --------------------------------------------------------------
    def send(self, data):
        """Write bytes; returns False if the peer already closed/reset."""
        try:
            self.sock.sendall(data)
            return True
        except (BrokenPipeError, ConnectionResetError):
            return False

    def send_chunks(self, data, size, delay=0.0):
        for i in range(0, len(data), size):
            if not self.send(data[i:i + size]):
                return False
            if delay:
                time.sleep(delay)
        return True

    # -- input ---------------------------------------------------------------
    def _fill(self, deadline):
        """Read more bytes. False on EOF/reset/timeout (state in self.eof)."""
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            self.eof = "timeout"
            return False
        self.sock.settimeout(remaining)
        try:
            data = self.sock.recv(262144)
        except socket.timeout:
            self.eof = "timeout"
            return False
        except (ConnectionResetError, BrokenPipeError):
            self.eof = "reset"
            self.closed_tcp = True
            return False
        if not data:
            self.eof = "eof"
            self.closed_tcp = True
            return False
        self.buf += data
        return True

    def _need(self, n, deadline):
        while len(self.buf) < n:
            if not self._fill(deadline):
                return False
        return True

    def read_frame(self, deadline):
        """One server frame as (fin, opcode, payload) or an ("eof",)-style tuple."""
        if not self._need(2, deadline):
            return (self.eof,)
        b0, b1 = self.buf[0], self.buf[1]
        fin, rsv, op = b0 >> 7, (b0 >> 4) & 7, b0 & 0xF
        masked, n = b1 >> 7, b1 & 0x7F
        if masked:
            raise ProtocolViolation("server frame is masked")
        if rsv:
            raise ProtocolViolation("server frame has RSV bits 0x%x" % rsv)
        if op not in OPNAMES:
            raise ProtocolViolation("server frame has reserved opcode 0x%x" % op)
        hl = 2
        if n == 126:
            if not self._need(4, deadline):
                return (self.eof,)
            n = struct.unpack(">H", self.buf[2:4])[0]
            hl = 4
            if n < 126:
                raise ProtocolViolation("server used non-minimal 16-bit length")
        elif n == 127:
            if not self._need(10, deadline):
                return (self.eof,)
            n = struct.unpack(">Q", self.buf[2:10])[0]
            hl = 10
            if n < 65536 or n >> 63:
                raise ProtocolViolation("server used invalid 64-bit length")
        if op >= 8 and (n > 125 or not fin):
            raise ProtocolViolation("server control frame too long or fragmented")
        if n > 64 << 20:
            raise ProtocolViolation("server frame of %d bytes (harness limit)" % n)
        if not self._need(hl + n, deadline):
            return (self.eof,)
        payload = bytes(self.buf[hl:hl + n])
        del self.buf[:hl + n]
        return (fin, op, payload)

    def next_event(self, deadline):
        while True:
            f = self.read_frame(deadline)
            if len(f) == 1:
                self.log.append(f[0])
                return f
            fin, op, payload = f
            if op == OP_PING:
                self.log.append("ping")
                return ("ping", payload)
            if op == OP_PONG:
                self.log.append("pong")
                return ("pong", payload)
            if op == OP_CLOSE:
                if len(payload) == 1:
                    raise ProtocolViolation("server close payload of 1 byte")
                code = struct.unpack(">H", payload[:2])[0] if payload else None
                if code is not None and not (1000 <= code <= 1003 or 1007 <= code <= 1014
                                             or 3000 <= code <= 4999):
                    raise ProtocolViolation("server sent close code %d" % code)
                try:
                    payload[2:].decode("utf-8")
                except UnicodeDecodeError:
                    raise ProtocolViolation("server close reason is not UTF-8")
                self.log.append("close %s" % code)
                return ("close", code, payload[2:], payload)
            if op == OP_CONT:
                if self.frag_op is None:
                    raise ProtocolViolation("server continuation without a message")
                self.frag_data += payload
                self.server_fragments += 1
            else:
                if self.frag_op is not None:
                    raise ProtocolViolation("server started a message inside another")
                self.frag_op = op
                self.frag_data = bytearray(payload)
            if fin:
                op, data = self.frag_op, bytes(self.frag_data)
                self.frag_op, self.frag_data = None, bytearray()
                if op == OP_TEXT:
                    try:
                        data.decode("utf-8")
                    except UnicodeDecodeError:
                        raise ProtocolViolation("server sent invalid UTF-8 text")
                self.log.append("%s(%d)" % (OPNAMES[op], len(data)))
                return ("message", op, data)

    def wait_tcp_close(self, deadline):
        """After the close handshake: read until EOF/reset. Returns the state."""
        while True:
            if self.buf:
                # Anything after the server's close frame is a violation.
                return "data after close: %r" % bytes(self.buf[:40])
            if not self._fill(deadline):
                return self.eof

    def close(self):
        try:
            self.sock.close()
        except OSError:
            pass


def describe(ev):
    if ev[0] == "message":
        p = ev[2]
        shown = p[:40]
        return "%s message of %d bytes %r%s" % (OPNAMES[ev[1]], len(p), shown,
                                               "..." if len(p) > 40 else "")
    if ev[0] in ("ping", "pong"):
        return "%s %r" % (ev[0], ev[1][:40])
    if ev[0] == "close":
        return "close code %s reason %r" % (ev[1], ev[2][:60])
    return ev[0]
