#!/usr/bin/python3
"""Oracle for wsg_audit_json (H11): each stdin record is
   <hex of each string field or '-', comma-separated> TAB <JSON line>
The line must parse (RFC 8259), hold the fields in the fixed order, and
each string must equal its input decoded with U+FFFD per maximal subpart
(CPython's 'replace' handler), cut to 256 input bytes at a unit boundary.
The bytes must be UTF-8 (RFC 8259 §8.1). Exit 1 on the first mismatch."""
import json
import sys

NAMES = ["event", "client", "peer", "path", "reason", "subprotocol", "detail"]
ORDER = ["ts", "event", "control", "client", "peer", "path", "status",
         "close_code", "reason", "subprotocol", "duration_ms", "bytes_in",
         "bytes_out", "messages_in", "messages_out", "detail"]


def expect(raw):
    """The input decoded, cut at the last unit boundary <= 256 bytes. k is
    a boundary iff decoding both sides apart gives the whole decode."""
    whole = raw.decode("utf-8", "replace")
    for k in range(min(len(raw), 256), -1, -1):
        left = raw[:k].decode("utf-8", "replace")
        if left + raw[k:].decode("utf-8", "replace") == whole:
            return left
    return ""


count = 0
for raw in sys.stdin.buffer:
    try:
        rec = raw.decode("utf-8")         # RFC 8259 §8.1: UTF-8 only
    except UnicodeDecodeError as e:
        sys.exit("not UTF-8 (%s): %r" % (e, raw))
    hexes, line = rec.rstrip("\n").split("\t", 1)
    try:
        obj = json.loads(line)
    except ValueError as e:
        sys.exit("not JSON (%s): %r" % (e, line))
    keys = list(obj)
    if keys != sorted(keys, key=ORDER.index) or keys[:2] != ["ts", "event"]:
        sys.exit("field order: %r" % keys)
    for name, h in zip(NAMES, hexes.split(",")):
        if h == "-":
            if name == "event":
                ok = obj["event"] == "unknown"
            else:
                ok = name not in obj
        else:
            ok = obj.get(name) == expect(bytes.fromhex(h))
        if not ok:
            sys.exit("field %s: %r from %s" % (name, obj.get(name), h))
    count += 1
print("ok: %d lines" % count)
