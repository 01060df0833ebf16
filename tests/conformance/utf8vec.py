"""UTF-8 test vectors (after Markus Kuhn's UTF-8 decoder stress test and the
Autobahn TestSuite's case 6) and an earliest-failure-point validator.

fail_point(b) follows RFC 3629 / Unicode table 3-7 (well-formed byte
sequences) and returns the index of the first byte at which the sequence can
no longer be valid whatever follows, len(b) if it is only truncated at the
end, or None if it is valid. Fail-fast cases use this index: a server must
close with 1007 as soon as that byte arrives.
"""


def fail_point(b):
    need, lo, hi = 0, 0x80, 0xBF
    for i, c in enumerate(b):
        if need:
            if not lo <= c <= hi:
                return i
            need -= 1
            lo, hi = 0x80, 0xBF
            continue
        if c < 0x80:
            continue
        if 0xC2 <= c <= 0xDF:
            need = 1
        elif c == 0xE0:
            need, lo = 2, 0xA0
        elif 0xE1 <= c <= 0xEC or 0xEE <= c <= 0xEF:
            need = 2
        elif c == 0xED:
            need, hi = 2, 0x9F
        elif c == 0xF0:
            need, lo = 3, 0x90
        elif 0xF1 <= c <= 0xF3:
            need = 3
        elif c == 0xF4:
            need, hi = 3, 0x8F
        else:
            return i
    return len(b) if need else None


def _h(s):
    return bytes.fromhex(s.replace(" ", ""))


KOSME = _h("ce ba e1 bd b9 cf 83 ce bc ce b5")

# (id, description, bytes). Validity is computed by fail_point() and
# cross-checked against Python's own strict decoder in self_check().
VECTORS = [
    ("1", "kosme (Greek)", KOSME),
    ("2.1.1", "first 1-byte U+0000", _h("00")),
    ("2.1.2", "first 2-byte U+0080", _h("c2 80")),
    ("2.1.3", "first 3-byte U+0800", _h("e0 a0 80")),
    ("2.1.4", "first 4-byte U+10000", _h("f0 90 80 80")),
    ("2.1.5", "first 5-byte (invalid)", _h("f8 88 80 80 80")),
    ("2.1.6", "first 6-byte (invalid)", _h("fc 84 80 80 80 80")),
    ("2.2.1", "last 1-byte U+007F", _h("7f")),
    ("2.2.2", "last 2-byte U+07FF", _h("df bf")),
    ("2.2.3", "last 3-byte U+FFFF", _h("ef bf bf")),
    ("2.2.4", "last 4-byte U+1FFFFF (> U+10FFFF)", _h("f7 bf bf bf")),
    ("2.2.5", "last 5-byte (invalid)", _h("fb bf bf bf bf")),
    ("2.2.6", "last 6-byte (invalid)", _h("fd bf bf bf bf bf")),
    ("2.3.1", "U+D7FF", _h("ed 9f bf")),
    ("2.3.2", "U+E000", _h("ee 80 80")),
    ("2.3.3", "U+FFFD", _h("ef bf bd")),
    ("2.3.4", "U+10FFFF", _h("f4 8f bf bf")),
    ("2.3.5", "U+110000 (> U+10FFFF)", _h("f4 90 80 80")),
    ("2.3.6", "U+13FFFF via F4 BF", _h("f4 bf bf bf")),
    ("2.3.7", "F5 lead byte", _h("f5 80 80 80")),
    ("3.1.1", "first continuation byte", _h("80")),
    ("3.1.2", "last continuation byte", _h("bf")),
    ("3.1.3", "2 continuation bytes", _h("80 bf")),
    ("3.1.4", "3 continuation bytes", _h("80 bf 80")),
    ("3.1.5", "4 continuation bytes", _h("80 bf 80 bf")),
    ("3.1.6", "7 continuation bytes", _h("80 bf 80 bf 80 bf 80")),
    ("3.1.9", "all 64 continuation bytes", bytes(range(0x80, 0xC0))),
    ("3.2.1", "lonely 2-byte starts + space",
     b"".join(bytes([c, 0x20]) for c in range(0xC0, 0xE0))),
    ("3.2.2", "lonely 3-byte starts + space",
     b"".join(bytes([c, 0x20]) for c in range(0xE0, 0xF0))),
    ("3.2.3", "lonely 4-byte starts + space",
     b"".join(bytes([c, 0x20]) for c in range(0xF0, 0xF8))),
    ("3.2.4", "lonely 5-byte starts + space",
     b"".join(bytes([c, 0x20]) for c in range(0xF8, 0xFC))),
    ("3.2.5", "lonely 6-byte starts + space", _h("fc 20 fd 20")),
    ("3.3.1", "2-byte U+0000 missing last byte", _h("c0")),
    ("3.3.2", "3-byte U+0000 missing last byte", _h("e0 80")),
    ("3.3.3", "4-byte U+0000 missing last byte", _h("f0 80 80")),
    ("3.3.4", "5-byte U+0000 missing last byte", _h("f8 80 80 80")),
    ("3.3.5", "6-byte U+0000 missing last byte", _h("fc 80 80 80 80")),
    ("3.3.6", "2-byte U+07FF missing last byte", _h("df")),
    ("3.3.7", "3-byte U+FFFF missing last byte", _h("ef bf")),
    ("3.3.8", "4-byte U+1FFFFF missing last byte", _h("f7 bf bf")),
    ("3.3.9", "5-byte missing last byte", _h("fb bf bf bf")),
    ("3.3.10", "6-byte missing last byte", _h("fd bf bf bf bf")),
    ("3.3.11", "valid 3-byte start, truncated (E1 80)", _h("e1 80")),
    ("3.3.12", "valid 4-byte start, truncated (F0 90 80)", _h("f0 90 80")),
    ("3.4", "concatenated incomplete sequences",
     _h("c0 e0 80 f0 80 80 f8 80 80 80 fc 80 80 80 80 df ef bf f7 bf bf"
        " fb bf bf bf fd bf bf bf bf")),
    ("3.5.1", "impossible byte FE", _h("fe")),
    ("3.5.2", "impossible byte FF", _h("ff")),
    ("3.5.3", "FE FE FF FF", _h("fe fe ff ff")),
    ("4.1.1", "overlong '/' 2-byte", _h("c0 af")),
    ("4.1.2", "overlong '/' 3-byte", _h("e0 80 af")),
    ("4.1.3", "overlong '/' 4-byte", _h("f0 80 80 af")),
    ("4.1.4", "overlong '/' 5-byte", _h("f8 80 80 80 af")),
    ("4.1.5", "overlong '/' 6-byte", _h("fc 80 80 80 80 af")),
    ("4.2.1", "max overlong 2-byte U+007F", _h("c1 bf")),
    ("4.2.2", "max overlong 3-byte U+07FF", _h("e0 9f bf")),
    ("4.2.3", "max overlong 4-byte U+FFFF", _h("f0 8f bf bf")),
    ("4.2.4", "max overlong 5-byte", _h("f8 87 bf bf bf")),
    ("4.2.5", "max overlong 6-byte", _h("fc 83 bf bf bf bf")),
    ("4.3.1", "overlong NUL 2-byte", _h("c0 80")),
    ("4.3.2", "overlong NUL 3-byte", _h("e0 80 80")),
    ("4.3.3", "overlong NUL 4-byte", _h("f0 80 80 80")),
    ("4.3.4", "overlong NUL 5-byte", _h("f8 80 80 80 80")),
    ("4.3.5", "overlong NUL 6-byte", _h("fc 80 80 80 80 80")),
    ("5.1.1", "surrogate U+D800", _h("ed a0 80")),
    ("5.1.2", "surrogate U+DB7F", _h("ed ad bf")),
    ("5.1.3", "surrogate U+DB80", _h("ed ae 80")),
    ("5.1.4", "surrogate U+DBFF", _h("ed af bf")),
    ("5.1.5", "surrogate U+DC00", _h("ed b0 80")),
    ("5.1.6", "surrogate U+DF80", _h("ed be 80")),
    ("5.1.7", "surrogate U+DFFF", _h("ed bf bf")),
    ("5.2.1", "paired U+D800 U+DC00", _h("ed a0 80 ed b0 80")),
    ("5.2.2", "paired U+D800 U+DFFF", _h("ed a0 80 ed bf bf")),
    ("5.2.3", "paired U+DB7F U+DC00", _h("ed ad bf ed b0 80")),
    ("5.2.4", "paired U+DB7F U+DFFF", _h("ed ad bf ed bf bf")),
    ("5.2.5", "paired U+DB80 U+DC00", _h("ed ae 80 ed b0 80")),
    ("5.2.6", "paired U+DB80 U+DFFF", _h("ed ae 80 ed bf bf")),
    ("5.2.7", "paired U+DBFF U+DC00", _h("ed af bf ed b0 80")),
    ("5.2.8", "paired U+DBFF U+DFFF", _h("ed af bf ed bf bf")),
    ("5.3.1", "noncharacter U+FFFE (valid)", _h("ef bf be")),
    ("5.3.2", "noncharacter U+FFFF (valid)", _h("ef bf bf")),
    ("5.3.3", "noncharacters U+FDD0..U+FDEF (valid)",
     "".join(chr(c) for c in range(0xFDD0, 0xFDF0)).encode()),
    ("5.3.4", "noncharacters U+nFFFE/U+nFFFF (valid)",
     "".join(chr((p << 16) | 0xFFFE) + chr((p << 16) | 0xFFFF)
             for p in range(1, 17)).encode()),
    ("6.1", "BOM U+FEFF (valid)", _h("ef bb bf")),
    ("6.2", "Hello-mu@ss... (valid)", "Hello-µ@ßöäüàá-UTF-8!!".encode()),
    ("6.3", "kosme + surrogate + edited (Autobahn 6.3)", KOSME + _h("ed a0 80") + b"edited"),
    ("6.4", "kosme + U+110000 + edited (Autobahn 6.4)", KOSME + _h("f4 90 80 80") + b"edited"),
    ("6.5", "all ASCII 0x00-0x7F (valid)", bytes(range(0x80))),
    ("6.6", "mixed scripts and emoji (valid)", "aé€😀한中\U0010FFFF".encode()),
]


def self_check():
    """fail_point() must agree with Python's strict decoder on validity."""
    for vid, _, b in VECTORS:
        try:
            b.decode("utf-8")
            ok = True
        except UnicodeDecodeError:
            ok = False
        if ok != (fail_point(b) is None):
            raise AssertionError("utf8 vector %s: validator disagrees" % vid)
    for c in range(256):
        b = bytes([c])
        try:
            b.decode("utf-8")
            ok = True
        except UnicodeDecodeError:
            ok = False
        if ok != (fail_point(b) is None):
            raise AssertionError("byte %02x: validator disagrees" % c)
