#!/usr/bin/python3
"""A stand-in for a Streamlit 1.39 server (Tornado), for the relay tests.

Streamlit cannot be installed here; this program answers the routes of
shared/STREAMLIT.md the way Streamlit's Tornado handlers do, on Debian's
python3-tornado 6.2 (run it with /usr/bin/python3).

CLI: --port N (0: free port), --host 127.0.0.1 (loopback only), --unix PATH,
--base-path /prefix (server.baseUrlPath), --record FILE, --ping-interval S
(1), --ping-timeout S (30), --not-ready S, --max-upload BYTES (200 MiB),
--max-message BYTES (200 MB), --hello N, --verbose. Prints
"listening on http://127.0.0.1:PORT" (or "listening on unix:PATH") to stderr.

Routes (under the base path): _stcore/stream (WebSocket), _stcore/health and
healthz, _stcore/host-config, _stcore/message?hash=<md5>,
_stcore/upload_file/<session>/<file> (PUT/DELETE, XSRF), media/<name>,
component/<name>/<path>, anything else the single-page app (index.html);
<base>/x/ -> 301 <base>/x, <base> -> 301 <base>/.

Deterministic content (tests recompute it with the same functions):
  payload(seed, n) = SHAKE-256(seed) output, n bytes
  WebSocket "send" item i of a command: seed "double:<i>:<size>" unless given
  media: bytes-N.bin, video-N.mp4 (binary), text-N.txt, download-N.csv (hex
  text, gzip-able; the .csv is an attachment): media_content(name)

WebSocket control messages: binary b"CMD:" + JSON object, keys run in this
order: report (recorded as kind "report", no reply), info (reply b"INFO:" +
JSON), echo (bool: echo other messages, default true), hello (N: later
connections get an N-byte first message on open, 0 off), send ([{"size": N,
"seed": s?, "text": bool?}]), ping (payload string: a ping now), sleep
(S <= 30: stop reading for S seconds), close (code, with "reason"). Bad
commands get b"ERR:" + text. Other messages are echoed unchanged (text as
text, binary as binary). Sent binary messages are cached by md5 for
_stcore/message.

Record (--record): JSON lines. kind "http" (every request: method, target,
path, query, version, headers as received (pairs), body_length, body_sha256,
status, remote), "upload" (file name, length, sha256), "ws_open" (conn,
headers, subprotocols, selected, session, resumed), "ws_msg" (conn, opcode,
length, sha256, frames), "ws_ping"/"ws_pong" (conn, length), "ws_close"
(conn, code, reason), "report" (conn, report: what the page saw).
"""
import argparse
import asyncio
import binascii
import collections
import functools
import hashlib
import json
import logging
import mimetypes
import os
import re
import shutil
import signal
import sys
import tempfile
import time
import urllib.parse
import uuid

import tornado
import tornado.http1connection
import tornado.httpserver
import tornado.httputil
import tornado.ioloop
import tornado.netutil
import tornado.web
import tornado.websocket
from tornado.util import _websocket_mask

HERE = os.path.dirname(os.path.abspath(__file__))
XSRF_COOKIE = "_streamlit_xsrf"
MIB = 1024 * 1024
MEDIA_MAX = 256 * MIB
CACHE_ENTRY_MAX = 64 * MIB
CACHE_TOTAL_MAX = 256 * MIB
SESSION_RESUME_S = 120
MEDIA_RE = re.compile(r"^(bytes|video|text|download)-(\d{1,9})\.(bin|mp4|txt|csv)$")
ALLOWED_ORIGINS = [  # Streamlit's _DEFAULT_ALLOWED_MESSAGE_ORIGINS (abridged)
    "https://devel.streamlit.test", "https://*.streamlit.apptest",
    "https://*.streamlitapp.test", "https://*.streamlitapp.com",
    "https://share.streamlit.io", "https://*.streamlit.app",
]


# -- deterministic content ------------------------------------------------------

def payload(seed, n):
    """n bytes of SHAKE-256(seed)."""
    if isinstance(seed, str):
        seed = seed.encode()
    return hashlib.shake_256(seed).digest(n) if n > 0 else b""


def text_payload(seed, n):
    """n ASCII hex characters derived from seed."""
    return binascii.hexlify(payload(seed, (n + 1) // 2))[:n]


def send_seed(i, size):
    return "double:%d:%d" % (i, size)


def hello_seed(size):
    return "hello:%d" % size


def media_content(name):
    """The bytes served at media/<name>, or None for an unknown name."""
    m = MEDIA_RE.match(name)
    if not m or int(m.group(2)) > MEDIA_MAX:
        return None
    n = int(m.group(2))
    if m.group(3) in ("txt", "csv"):
        return text_payload("media:" + name, n)
    return payload("media:" + name, n)


def static_main_js():
    """static/js/main.js of the app: ~300 KB of text (gzip, chunked)."""
    return b"/* " + text_payload("static:main.js", 300000) + b" */\n"


COMPONENT_FILES = {
    "index.html": b"<!DOCTYPE html><html><body><script src=\"main.js\"></script>"
                  b"<p>demo component</p></body></html>\n",
    "main.js": b"/* demo component */ document.body.setAttribute('data-demo', '1');\n",
}


# -- record ---------------------------------------------------------------------

class Recorder:
    def __init__(self, path):
        self.f = open(path, "a", buffering=1) if path else None

    def __call__(self, kind, **fields):
        if self.f is None:
            return
        fields = dict(t=round(time.time(), 3), kind=kind, **fields)
        self.f.write(json.dumps(fields, separators=(",", ":")) + "\n")
        self.f.flush()


RECORD = Recorder(None)

# Tornado normalises header names and merges duplicates; keep the head as
# received too (names, order, duplicates) for the record.
_orig_parse_headers = tornado.http1connection.HTTP1Connection._parse_headers


def _parse_headers_raw(self, data):
    start_line, headers = _orig_parse_headers(self, data)
    pairs = []
    text = data.decode("latin1").lstrip("\r\n")
    for line in text.split("\n")[1:]:
        line = line.rstrip("\r")
        if not line:
            continue
        if line[0] in " \t" and pairs:
            pairs[-1][1] += " " + line.strip()
            continue
        name, _, value = line.partition(":")
        pairs.append([name, value.strip()])
    headers._raw_pairs = pairs
    return start_line, headers


tornado.http1connection.HTTP1Connection._parse_headers = _parse_headers_raw


def raw_headers(request):
    pairs = getattr(request.headers, "_raw_pairs", None)
    return pairs if pairs is not None else [list(p) for p in request.headers.get_all()]


# -- handlers -------------------------------------------------------------------

class Common:
    """XSRF under Streamlit's cookie name (Tornado 6.2 hard-codes "_xsrf";
    same format and checks otherwise) and the record's "http" line."""

    @property
    def xsrf_token(self):
        if not hasattr(self, "_xsrf_token"):
            version, token, timestamp = self._get_raw_xsrf_token()
            mask = os.urandom(4)
            self._xsrf_token = b"|".join([
                b"2", binascii.b2a_hex(mask),
                binascii.b2a_hex(_websocket_mask(mask, token)),
                str(int(timestamp)).encode()])
            if version is None:
                self.set_cookie(XSRF_COOKIE, self._xsrf_token,
                                **self.settings.get("xsrf_cookie_kwargs", {}))
        return self._xsrf_token

    def _get_raw_xsrf_token(self):
        if not hasattr(self, "_raw_xsrf_token"):
            cookie = self.get_cookie(XSRF_COOKIE)
            version, token, timestamp = (self._decode_xsrf_token(cookie)
                                         if cookie else (None, None, None))
            if token is None:
                version, token, timestamp = None, os.urandom(16), time.time()
            self._raw_xsrf_token = (version, token, timestamp)
        return self._raw_xsrf_token

    def set_xsrf_cookie(self):
        """As Streamlit's HealthHandler: the cookie set on every answer."""
        self.set_cookie(XSRF_COOKIE, self.xsrf_token,
                        **self.settings.get("xsrf_cookie_kwargs", {}))

    def body_digest(self):
        body = self.request.body or b""
        return len(body), hashlib.sha256(body).hexdigest()

    def on_finish(self):
        n, digest = self.body_digest()
        r = self.request
        RECORD("http", method=r.method, target=r.uri, path=r.path, query=r.query,
               version=r.version, headers=raw_headers(r), body_length=n,
               body_sha256=digest, status=self.get_status(), remote=r.remote_ip)


class Base(Common, tornado.web.RequestHandler):
    pass


class NotFound(Base):
    def prepare(self):
        raise tornado.web.HTTPError(404)


class Special(Base):
    """Streamlit's _SpecialRequestHandler."""

    def set_default_headers(self):
        self.set_header("Cache-Control", "no-cache")

    def options(self, *args):
        self.set_status(204)
        self.finish()


class Health(Special):
    def get(self):
        if time.monotonic() < self.settings["double"].ready_at:
            self.set_status(503)
            self.write("unavailable")
            return
        self.write("ok")
        self.set_xsrf_cookie()

    head = get


class HostConfig(Special):
    def get(self):
        self.write({"allowedOrigins": ALLOWED_ORIGINS, "useExternalAuthToken": False,
                    "enableCustomParentMessages": False,
                    "enforceDownloadInNewTab": False, "metricsUrl": ""})


class Message(Base):
    def get(self):
        h = self.get_argument("hash", None)
        msg = self.settings["double"].cache.get(h) if h else None
        if msg is None:
            self.set_status(404)
            raise tornado.web.Finish()
        self.set_header("Content-Type", "application/octet-stream")
        self.write(msg)


@tornado.web.stream_request_body
class Upload(Base):
    """PUT one multipart file -> 204; DELETE -> 204. Tornado checks XSRF
    (X-Xsrftoken against the cookie) before prepare(): 403."""

    def initialize(self):
        self._len = 0
        self._sha = hashlib.sha256()
        self._chunks = []
        self._over = False
        # The double decides the limit itself (413) instead of Tornado's
        # connection-level 400.
        self.request.connection.set_max_body_size(1 << 40)

    def prepare(self):
        limit = self.settings["double"].max_upload
        cl = self.request.headers.get("Content-Length")
        if cl is not None and cl.isdigit() and int(cl) > limit:
            self._too_large()

    def _too_large(self):
        self._over = True
        self.set_status(413)
        self.finish("Payload Too Large")

    def data_received(self, chunk):
        self._len += len(chunk)
        self._sha.update(chunk)
        if self._over or self._finished:
            return
        if self._len > self.settings["double"].max_upload:
            self._chunks = []
            self._too_large()
            return
        self._chunks.append(chunk)

    def body_digest(self):
        return self._len, self._sha.hexdigest()

    def put(self, session_id, file_id):
        if self._finished:
            return
        files, args = {}, {}
        tornado.httputil.parse_body_arguments(
            self.request.headers.get("Content-Type", ""), b"".join(self._chunks),
            args, files)
        recs = [f for flist in files.values() for f in flist]
        if len(recs) != 1:
            self.send_error(400, reason="Expected 1 file, but got %d" % len(recs))
            return
        RECORD("upload", session=session_id, file=file_id, name=recs[0].filename,
               length=len(recs[0].body), sha256=hashlib.sha256(recs[0].body).hexdigest())
        self.set_status(204)

    def delete(self, session_id, file_id):
        self.set_status(204)


class Media(Common, tornado.web.StaticFileHandler):
    """Streamlit's MediaFileHandler: in-memory files through Tornado's
    StaticFileHandler (Range/206/416, HEAD, ETag)."""
    _content = staticmethod(functools.lru_cache(maxsize=2)(media_content))

    def validate_absolute_path(self, root, absolute_path):
        if self._content(absolute_path) is None:
            raise tornado.web.HTTPError(404, "not found")
        return absolute_path

    def get_content_size(self):
        return len(self._content(self.absolute_path))

    def get_modified_time(self):
        return None

    @classmethod
    def get_absolute_path(cls, root, path):
        return path

    @classmethod
    def get_content(cls, abspath, start=None, end=None):
        data = cls._content(abspath)
        if data is None:
            return None
        return data[start or 0:len(data) if end is None else end]

    def set_extra_headers(self, path):
        if path.startswith("download-"):
            self.set_header("Content-Disposition", 'attachment; filename="%s"' % path)


class Component(Base):
    """Streamlit's ComponentRequestHandler (files read from disk)."""

    def get(self, path):
        parts = path.split("/")
        root = self.settings["double"].components.get(parts[0])
        if root is None:
            self.write("not found")
            self.set_status(404)
            return
        root = os.path.realpath(root)
        abspath = os.path.realpath(os.path.join(root, "/".join(parts[1:])))
        if os.path.commonpath([root, abspath]) != root:
            self.write("forbidden")
            self.set_status(403)
            return
        try:
            with open(abspath, "rb") as f:
                contents = f.read()
        except OSError:
            self.write("read error")
            self.set_status(404)
            return
        self.write(contents)
        mime, enc = mimetypes.guess_type(abspath)
        self.set_header("Content-Type", "application/gzip" if enc == "gzip"
                        else mime or "application/octet-stream")
        self.set_header("Cache-Control", "no-cache" if not path or path.endswith(".html")
                        else "public")


class App(Common, tornado.web.StaticFileHandler):
    """Streamlit's StaticFileHandler: unknown paths get index.html, except
    paths ending in a reserved endpoint (base-path probing): 404."""
    RESERVED = ("/_stcore/health", "/_stcore/host-config")

    def initialize(self, path, default_filename=None):
        super().initialize(path=path, default_filename=default_filename)

    def validate_absolute_path(self, root, absolute_path):
        try:
            return super().validate_absolute_path(root, absolute_path)
        except tornado.web.HTTPError as e:
            if e.status_code == 404:
                if any(self.path.endswith(x) for x in self.RESERVED):
                    raise
                self.path = self.parse_url_path(self.default_filename or "index.html")
                absolute_path = self.get_absolute_path(self.root, self.path)
                return super().validate_absolute_path(root, absolute_path)
            raise

    def set_extra_headers(self, path):
        page = not path or path.endswith(".html")
        self.set_header("Cache-Control", "no-cache" if page else "public")
        if page:
            self.set_xsrf_cookie()

    def write_error(self, status_code, **kwargs):
        if status_code == 404:
            with open(os.path.join(self.root, "index.html"), "rb") as f:
                self.write(f.read())
        else:
            super().write_error(status_code, **kwargs)


class RemoveSlash(Base):
    @tornado.web.removeslash
    def get(self, *args):
        pass


class AddSlash(Base):
    @tornado.web.addslash
    def get(self, *args):
        pass


# -- WebSocket ------------------------------------------------------------------

class Protocol(tornado.websocket.WebSocketProtocol13):
    """Counts the frames of each received data message for the record."""

    def __init__(self, *a, **kw):
        super().__init__(*a, **kw)
        self._dframes = 0
        self._ctrl = False

    async def _receive_frame(self):
        self._ctrl = False
        await super()._receive_frame()
        if not self._ctrl:
            self._dframes += 1

    def _handle_message(self, opcode, data):
        if opcode >= 8:
            self._ctrl = True
        elif opcode in (1, 2):
            self.handler._frames = self._dframes + 1
            self._dframes = -1
        return super()._handle_message(opcode, data)


class Stream(Common, tornado.websocket.WebSocketHandler):
    """Streamlit's BrowserWebSocketHandler plus the control protocol."""
    conn_seq = 0

    def get_websocket_protocol(self):
        if self.request.headers.get("Sec-WebSocket-Version") in ("7", "8", "13"):
            params = tornado.websocket._WebSocketParams(
                ping_interval=self.ping_interval, ping_timeout=self.ping_timeout,
                max_message_size=self.max_message_size,
                compression_options=self.get_compression_options())
            return Protocol(self, False, params)
        return None

    def check_origin(self, origin):
        # Tornado's same-host rule, or Streamlit's loopback names (Streamlit
        # would also look up its external IP here; the double does not).
        if super().check_origin(origin):
            return True
        return urllib.parse.urlparse(origin).hostname in ("localhost", "0.0.0.0", "127.0.0.1")

    def select_subprotocol(self, subprotocols):
        self.offered = list(subprotocols)
        self.set_xsrf_cookie()   # Set-Cookie on the 101
        return subprotocols[0] if subprotocols else None

    def open(self, *args):
        d = self.settings["double"]
        Stream.conn_seq += 1
        self.conn = Stream.conn_seq
        self.echo = True
        self._frames = 1
        self.counts = collections.Counter()
        offered = getattr(self, "offered", [])
        sid = offered[2] if len(offered) >= 3 else None
        self.resumed = sid is not None and time.monotonic() - d.sessions.get(sid, -1e9) <= SESSION_RESUME_S
        self.session = sid if self.resumed else str(uuid.uuid4())
        d.sessions[self.session] = time.monotonic()
        RECORD("ws_open", conn=self.conn, path=self.request.path, query=self.request.query,
               headers=raw_headers(self.request), subprotocols=offered,
               selected=self.selected_subprotocol, session=self.session,
               resumed=self.resumed)
        if d.hello:
            self._send_cached(payload(hello_seed(d.hello), d.hello))

    def _send_cached(self, data, binary=True):
        if binary:
            self.settings["double"].cache_put(data)
        return self.write_message(data, binary=binary)

    async def on_message(self, message):
        binary = isinstance(message, bytes)
        data = message if binary else message.encode("utf-8")
        self.counts["messages"] += 1
        RECORD("ws_msg", conn=self.conn, opcode=2 if binary else 1, length=len(data),
               sha256=hashlib.sha256(data).hexdigest(), frames=self._frames)
        try:
            if binary and data.startswith(b"CMD:"):
                await self._command(data[4:])
            elif self.echo:
                await self.write_message(message, binary=binary)
        except tornado.websocket.WebSocketClosedError:
            pass

    async def _command(self, raw):
        d = self.settings["double"]
        try:
            cmd = json.loads(raw.decode("utf-8"))
            if not isinstance(cmd, dict):
                raise ValueError("not an object")
        except (ValueError, UnicodeDecodeError) as e:
            await self.write_message(b"ERR:" + str(e).encode(), binary=True)
            return
        try:
            if "report" in cmd:   # the page's results (index.html ?report=1)
                RECORD("report", conn=self.conn, report=cmd["report"])
            if cmd.get("info"):
                info = dict(conn=self.conn, session=self.session, resumed=self.resumed,
                            subprotocols=self.offered, selected=self.selected_subprotocol,
                            headers=raw_headers(self.request), counts=self.counts)
                await self.write_message(b"INFO:" + json.dumps(info).encode(), binary=True)
            if "echo" in cmd:
                self.echo = bool(cmd["echo"])
            if "hello" in cmd:
                d.hello = max(0, min(int(cmd["hello"]), MEDIA_MAX))
            for i, item in enumerate(cmd.get("send", [])):
                size = int(item["size"])
                if not 0 <= size <= d.max_message:
                    raise ValueError("size %d out of range" % size)
                seed = item.get("seed", send_seed(i, size))
                if item.get("text"):
                    await self.write_message(text_payload(seed, size).decode(), binary=False)
                else:
                    await self._send_cached(payload(seed, size))
            if "ping" in cmd:
                self.ping(str(cmd["ping"]).encode()[:125])
            if "sleep" in cmd:
                await asyncio.sleep(max(0.0, min(float(cmd["sleep"]), 30.0)))
            if "close" in cmd:
                self.close(int(cmd["close"]), cmd.get("reason"))
        except (ValueError, KeyError, TypeError) as e:
            await self.write_message(b"ERR:" + str(e).encode(), binary=True)

    def on_ping(self, data):
        self.counts["pings"] += 1
        RECORD("ws_ping", conn=self.conn, length=len(data))

    def on_pong(self, data):
        self.counts["pongs"] += 1
        RECORD("ws_pong", conn=self.conn, length=len(data))

    def on_close(self):
        RECORD("ws_close", conn=getattr(self, "conn", None), code=self.close_code,
               reason=self.close_reason)


# -- application ----------------------------------------------------------------

class Double:
    def __init__(self, opts, static_dir, comp_dir):
        self.ready_at = time.monotonic() + opts.not_ready
        self.max_upload = opts.max_upload
        self.max_message = opts.max_message
        self.hello = opts.hello
        self.components = {"demo": comp_dir}
        self.sessions = {}
        self.cache = collections.OrderedDict()
        self.cache_bytes = 0

    def cache_put(self, data):
        if len(data) > CACHE_ENTRY_MAX:
            return
        h = hashlib.md5(data).hexdigest()
        if h in self.cache:
            self.cache.move_to_end(h)
            return
        self.cache[h] = data
        self.cache_bytes += len(data)
        while self.cache_bytes > CACHE_TOTAL_MAX:
            _, old = self.cache.popitem(last=False)
            self.cache_bytes -= len(old)


def url_regex(base, path, trailing="optional"):
    """Streamlit's make_url_path_regex."""
    parts = [x.strip("/") for x in (base, path) if x]
    fmt = {"optional": r"^/%s/?$", "none": r"^/%s$", "required": r"^/%s/$"}[trailing]
    return fmt % "/".join(parts)


def make_files(base):
    """The app's static dir and a component dir, in a temporary directory."""
    top = tempfile.mkdtemp(prefix="streamlit-double-")
    static = os.path.join(top, "static")
    os.makedirs(os.path.join(static, "static", "js"))
    with open(os.path.join(HERE, "index.html"), "rb") as f:
        page = f.read().replace(b"__BASE__", base.encode())
    with open(os.path.join(static, "index.html"), "wb") as f:
        f.write(page)
    with open(os.path.join(static, "static", "js", "main.js"), "wb") as f:
        f.write(static_main_js())
    comp = os.path.join(top, "components", "demo")
    os.makedirs(comp)
    for name, data in COMPONENT_FILES.items():
        with open(os.path.join(comp, name), "wb") as f:
            f.write(data)
    with open(os.path.join(top, "components", "secret.txt"), "wb") as f:
        f.write(b"outside the component root\n")
    return top, static, comp


def make_app(opts, static, comp):
    b = opts.base_path
    routes = [
        (url_regex(b, "_stcore/stream"), Stream),
        (url_regex(b, "(?:healthz|_stcore/health)"), Health),
        (url_regex(b, "_stcore/message"), Message),
        (url_regex(b, "_stcore/host-config"), HostConfig),
        (url_regex(b, "_stcore/upload_file/(?P<session_id>[^/]+)/(?P<file_id>[^/]+)"), Upload),
        (url_regex(b, "media/(.*)"), Media, {"path": ""}),
        (url_regex(b, "component/(.*)"), Component),
        (url_regex(b, "(?!/)(.*)", "required"), RemoveSlash),
        (url_regex(b, "(.*)"), App, {"path": static + "/", "default_filename": "index.html"}),
    ]
    if b:
        routes.append((url_regex(b, "", "none"), AddSlash))
    return tornado.web.Application(
        routes, default_handler_class=NotFound, double=Double(opts, static, comp),
        xsrf_cookies=True, compress_response=True,
        websocket_ping_interval=opts.ping_interval,
        websocket_ping_timeout=opts.ping_timeout,
        websocket_max_message_size=opts.max_message)


def parse_args(argv):
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    for name, typ, default in [
            ("port", int, 8501), ("host", str, "127.0.0.1"), ("unix", str, None),
            ("base-path", str, ""), ("record", str, None), ("ping-interval", float, 1.0),
            ("ping-timeout", float, 30.0), ("not-ready", float, 0.0),
            ("max-upload", int, 200 * MIB), ("max-message", int, 200 * 1000 * 1000),
            ("hello", int, 0)]:
        p.add_argument("--" + name, type=typ, default=default)
    p.add_argument("--verbose", action="store_true")
    opts = p.parse_args(argv)
    if opts.host not in ("127.0.0.1", "::1", "localhost"):
        p.error("--host must be a loopback address (127.0.0.1, ::1, localhost)")
    base = opts.base_path.strip("/")
    if base and not re.match(r"^[A-Za-z0-9._~-]+(/[A-Za-z0-9._~-]+)*$", base):
        p.error("--base-path: letters, digits, ._~- and / only")
    opts.base_path = "/" + base if base else ""
    return opts


def main(argv=None):
    global RECORD
    opts = parse_args(sys.argv[1:] if argv is None else argv)
    logging.basicConfig(level=logging.INFO if opts.verbose else logging.WARNING,
                        stream=sys.stderr, format="double: %(message)s")
    RECORD = Recorder(opts.record)
    top, static, comp = make_files(opts.base_path)
    app = make_app(opts, static, comp)
    # Streamlit: HTTPServer(app, max_buffer_size=server.maxUploadSize MiB).
    server = tornado.httpserver.HTTPServer(app, max_buffer_size=max(opts.max_upload, 200 * MIB))
    if opts.unix:
        server.add_socket(tornado.netutil.bind_unix_socket(opts.unix, mode=0o600))
        where = "unix:" + opts.unix
    else:
        socks = tornado.netutil.bind_sockets(opts.port, opts.host)
        server.add_sockets(socks)
        where = "http://%s:%d" % (opts.host, socks[0].getsockname()[1])
    loop = tornado.ioloop.IOLoop.current()

    def stop(*_):
        loop.add_callback_from_signal(loop.stop)
    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    print("listening on " + where, file=sys.stderr, flush=True)
    try:
        loop.start()
    finally:
        server.stop()
        shutil.rmtree(top, ignore_errors=True)
        if opts.unix:
            try:
                os.unlink(opts.unix)
            except OSError:
                pass
    return 0


if __name__ == "__main__":
    sys.exit(main())
