#!/usr/bin/python3
"""Interop: headless Chromium loads a page (served here by http.server on
127.0.0.1) whose script round-trips text and binary messages with wsg-echo
and POSTs its results back to the same little HTTP server. Chromium is
started in its own process group and killed at the end; bounded in time.
"""
import http.server
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from common import CHILDREN, Checks, Echo  # noqa: E402

CHROMIUM = os.environ.get("WSG_CHROMIUM", "/usr/bin/chromium")

PAGE = r"""<!doctype html>
<html><head><meta charset="utf-8"><title>wsguard interop</title></head>
<body><pre id="log">running</pre>
<script>
const WS_URL = %(url)s;
const results = [];
function check(name, ok, detail) { results.push({name: name, ok: !!ok, detail: String(detail || '')}); }
function report(extra) {
  document.title = 'done';
  document.getElementById('log').textContent = JSON.stringify(results);
  return fetch('/result', {method: 'POST', body: JSON.stringify({results: results, error: extra || null})});
}
window.onerror = (m) => { report('window.onerror: ' + m); };
function withTimeout(p, ms, what) {
  let t;
  return Promise.race([p.finally(() => clearTimeout(t)),
    new Promise((_, rej) => { t = setTimeout(() => rej(new Error('timeout: ' + what)), ms); })]);
}
function connect(binaryType) {
  return withTimeout(new Promise((res, rej) => {
    const ws = new WebSocket(WS_URL);
    ws.binaryType = binaryType || 'arraybuffer';
    ws.queue = []; ws.waiters = [];
    ws.closed = new Promise((r) => ws.addEventListener('close', (e) => r({code: e.code, reason: e.reason, clean: e.wasClean})));
    ws.onmessage = (e) => { if (ws.waiters.length) ws.waiters.shift()(e.data); else ws.queue.push(e.data); };
    ws.onopen = () => res(ws);
    ws.onerror = () => rej(new Error('websocket error'));
  }), 5000, 'connect');
}
function recv(ws) {
  if (ws.queue.length) return Promise.resolve(ws.queue.shift());
  return withTimeout(new Promise((r) => ws.waiters.push(r)), 10000, 'recv');
}
function randomBytes(n) {
  const b = new Uint8Array(n);
  for (let i = 0; i < n; i += 65536) crypto.getRandomValues(b.subarray(i, Math.min(n, i + 65536)));
  return b;
}
function sameBytes(a, b) {
  a = new Uint8Array(a); b = new Uint8Array(b);
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}
async function run() {
  let ws = await connect();
  check('no subprotocol, no extension (permessage-deflate offered, declined)',
        ws.protocol === '' && ws.extensions === '', 'protocol=' + ws.protocol + ' extensions=' + ws.extensions);
  for (const t of ['Hello from Chromium', 'κόσμε 😀 한국어 \u{10FFFF}', '', 'x'.repeat(100000)]) {
    ws.send(t);
    const m = await recv(ws);
    check('text of ' + t.length + ' chars echoed', typeof m === 'string' && m === t,
          typeof m + ' of ' + (m.length || m.byteLength));
  }
  for (const n of [0, 1, 125, 126, 65535, 65536, 1048576]) {
    const b = randomBytes(n);
    ws.send(b);
    const m = await recv(ws);
    check('binary of ' + n + ' bytes echoed (ArrayBuffer)', m instanceof ArrayBuffer && sameBytes(m, b),
          (m && m.byteLength) + ' bytes');
  }
  const msgs = [...Array(50).keys()].map((i) => 'm' + i);
  for (const x of msgs) ws.send(x);
  const got = [];
  for (let i = 0; i < msgs.length; i++) got.push(await recv(ws));
  check('50 messages back to back echoed in order', JSON.stringify(got) === JSON.stringify(msgs));
  ws.close(1000);
  let c = await withTimeout(ws.closed, 5000, 'close');
  check('close 1000: server echoes 1000, clean close', c.code === 1000 && c.clean,
        'code ' + c.code + ' clean ' + c.clean);

  ws = await connect('blob');
  const b = new Uint8Array([0, 1, 2, 253, 254, 255]);
  ws.send(new Blob([b]));
  const blob = await recv(ws);
  check('Blob sent, Blob received, same bytes', blob instanceof Blob && sameBytes(await blob.arrayBuffer(), b));
  ws.close(4000, 'bye from chromium');
  c = await withTimeout(ws.closed, 5000, 'close');
  check('close 4000 + reason: server echoes 4000, clean close', c.code === 4000 && c.clean,
        'code ' + c.code + ' reason ' + JSON.stringify(c.reason) + ' clean ' + c.clean);

  ws = await connect();
  ws.send(randomBytes(2 * 1048576));
  c = await withTimeout(ws.closed, 5000, 'close after 2 MiB');
  check('message of 2 MiB (over the 1 MiB limit): close event 1009', c.code === 1009,
        'code ' + c.code + ' reason ' + JSON.stringify(c.reason) + ' clean ' + c.clean);
}
run().then(() => report(), (e) => report(String(e)));
</script></body></html>
"""


class State:
    result = None
    got = threading.Event()
    page = b""


class Handler(http.server.BaseHTTPRequestHandler):
    def log_message(self, *a):
        pass

    def do_GET(self):
        if self.path.split("?")[0] in ("/", "/index.html"):
            body = State.page
            self.send_response(200)
            self.send_header("Content-Type", "text/html; charset=utf-8")
        else:
            body = b"not found\n"
            self.send_response(404)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_POST(self):
        n = int(self.headers.get("Content-Length", "0"))
        if self.path == "/result" and 0 <= n <= 1 << 20:
            data = self.rfile.read(n)
            self.send_response(204)
            self.end_headers()
            if State.result is None:
                State.result = data
                State.got.set()
        else:
            self.send_response(404)
            self.end_headers()


def main():
    ck = Checks("headless Chromium vs wsg-echo")
    if not os.access(CHROMIUM, os.X_OK):
        ck.check("chromium installed at %s" % CHROMIUM, False, "apt-get install chromium")
        return ck.done()
    echo = Echo()
    State.page = (PAGE % {"url": json.dumps(echo.url)}).encode()
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    page_url = "http://127.0.0.1:%d/" % httpd.server_address[1]
    profile = tempfile.mkdtemp(prefix="wsg-chromium-")
    chrome = None
    try:
        chrome = subprocess.Popen(
            [CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu",
             "--disable-background-networking", "--disable-component-update",
             "--disable-sync", "--no-first-run", "--no-default-browser-check",
             "--disable-dev-shm-usage", "--user-data-dir=" + profile, page_url],
            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE, start_new_session=True)
        CHILDREN.append(chrome)
        t0 = time.monotonic()
        if not State.got.wait(60):
            ck.check("page reported its results within 60 s", False,
                     "chromium %s" % ("exited %s" % chrome.returncode
                                      if chrome.poll() is not None else "still running"))
        else:
            print("page finished in %.1f s" % (time.monotonic() - t0))
            res = json.loads(State.result)
            for r in res["results"]:
                ck.check("chromium: " + r["name"], r["ok"], r["detail"])
            if res.get("error"):
                ck.check("page script completed", False, res["error"])
            ck.check("page ran all 17 checks", len(res["results"]) == 17,
                     "%d checks" % len(res["results"]))
    finally:
        if chrome is not None and chrome.poll() is None:
            try:
                os.killpg(chrome.pid, signal.SIGTERM)
                chrome.wait(5)
            except (subprocess.TimeoutExpired, ProcessLookupError):
                try:
                    os.killpg(chrome.pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
                chrome.wait(5)
        httpd.shutdown()
        shutil.rmtree(profile, ignore_errors=True)
        rc = echo.stop()
        ck.check("wsg-echo alive at the end and exits 0 on SIGTERM", rc == 0, "exit %s" % rc)
    return ck.done()


if __name__ == "__main__":
    sys.exit(main())
