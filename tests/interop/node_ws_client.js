#!/usr/bin/env node
// Interop: node's `ws` client (from npm, tests/interop/node_modules) against
// wsg-echo. Text, binary, empty, fragmented (send with fin:false), 1 MiB,
// over-limit (1009), ping, pipelined messages, close 1000 and 4000 + reason.
// Needs: npm ci --prefix tests/interop
'use strict';
const path = require('path');
const fs = require('fs');
const crypto = require('crypto');
const { spawn } = require('child_process');

const results = [];
function check(name, ok, detail) {
  results.push([name, !!ok]);
  console.log((ok ? 'PASS ' : 'FAIL ') + name + (detail ? (ok ? ' (' + detail + ')' : ': ' + detail) : ''));
}
function done() {
  const p = results.filter((r) => r[1]).length;
  const f = results.length - p;
  if (f) console.log('failed: ' + results.filter((r) => !r[1]).map((r) => r[0]).join(', '));
  console.log('node ws client vs wsg-echo: ' + p + ' passed, ' + f + ' failed');
  console.log(p + ' passed, ' + f + ' failed');
  return f || results.length === 0 ? 1 : 0;
}

let WebSocket;
try {
  WebSocket = require(path.join(__dirname, 'node_modules', 'ws'));
} catch (e) {
  console.log('FAIL: the npm package `ws` is not installed in tests/interop/node_modules.');
  console.log('      Install it with:  npm ci --prefix tests/interop');
  console.log('0 passed, 1 failed');
  process.exit(1);
}

const MiB = 1 << 20;
const build = process.env.WSGUARD_BUILD_DIR || path.join(__dirname, '..', '..', 'build');
const echoCmd = process.env.WSGUARD_ECHO_CMD
  ? process.env.WSGUARD_ECHO_CMD.split(/\s+/)
  : [path.join(build, 'examples/echo-server/wsg-echo')];

function startEcho() {
  return new Promise((resolve, reject) => {
    try { fs.accessSync(echoCmd[0], fs.constants.X_OK); } catch (e) {
      reject(new Error('wsg-echo not found at ' + echoCmd[0] + ' (build it first)'));
      return;
    }
    const p = spawn(echoCmd[0], echoCmd.slice(1).concat(['--host', '127.0.0.1', '--port', '0']),
      { stdio: ['ignore', 'ignore', 'pipe'] });
    let buf = '';
    const t = setTimeout(() => reject(new Error('wsg-echo did not report its port: ' + buf)), 10000);
    p.stderr.setEncoding('utf8');
    p.stderr.on('data', (d) => {
      buf += d;
      const m = /listening on ws:\/\/127\.0\.0\.1:(\d+)/.exec(buf);
      if (m && !p.port) {
        p.port = +m[1];
        clearTimeout(t);
        resolve(p);
      }
    });
    p.on('exit', (code, sig) => { p.exited = true; p.code = code; p.sig = sig; });
  });
}

function withTimeout(promise, ms, what) {
  let t;
  return Promise.race([
    promise.finally(() => clearTimeout(t)),
    new Promise((_, rej) => { t = setTimeout(() => rej(new Error('timeout: ' + what)), ms); }),
  ]);
}

// A connection whose messages and close are awaitable.
function connect(url) {
  return withTimeout(new Promise((resolve, reject) => {
    const ws = new WebSocket(url, { perMessageDeflate: false, maxPayload: 4 * MiB });
    ws.queue = []; ws.waiters = [];
    ws.closed = new Promise((res) => ws.on('close', (code, reason) => res({ code, reason: reason.toString() })));
    ws.on('message', (data, isBinary) => {
      const m = { data: Buffer.from(data), isBinary };
      if (ws.waiters.length) ws.waiters.shift()(m); else ws.queue.push(m);
    });
    ws.on('open', () => resolve(ws));
    ws.on('error', (e) => reject(e));
  }), 5000, 'connect');
}
function recv(ws) {
  if (ws.queue.length) return Promise.resolve(ws.queue.shift());
  return withTimeout(new Promise((res) => ws.waiters.push(res)), 10000, 'recv');
}
function send(ws, data, opts) {
  return new Promise((res, rej) => ws.send(data, opts || {}, (e) => (e ? rej(e) : res())));
}

async function roundtrip(url, name, data, binary) {
  const ws = await connect(url);
  await send(ws, data, { binary });
  const m = await recv(ws);
  const want = Buffer.isBuffer(data) ? data : Buffer.from(data);
  check(name, m.isBinary === binary && m.data.equals(want),
    'sent ' + want.length + ' bytes, got ' + m.data.length + (m.isBinary ? ' binary' : ' text'));
  ws.close(1000);
  const c = await withTimeout(ws.closed, 5000, 'close');
  check(name + ': close 1000 echoed', c.code === 1000, 'code ' + c.code);
}

function textOf(n) {
  let b = Buffer.from('aé€😀'.repeat(Math.ceil(n / 10) + 1)).subarray(0, n);
  let s = b.toString('utf8').replace(/\uFFFD+$/, '');
  return s + 'x'.repeat(n - Buffer.byteLength(s));
}

async function run(url) {
  await roundtrip(url, 'text', 'Hello, wsguard', false);
  await roundtrip(url, 'text utf-8', 'κόσμε 😀 한국어 \u{10FFFF}', false);
  await roundtrip(url, 'text empty', '', false);
  await roundtrip(url, 'binary 256', Buffer.from([...Array(256).keys()]), true);
  await roundtrip(url, 'binary empty', Buffer.alloc(0), true);
  await roundtrip(url, 'binary 1 MiB (the default limit)', crypto.randomBytes(MiB), true);
  await roundtrip(url, 'text 1 MiB (multi-byte)', textOf(MiB), false);

  let ws = await connect(url);
  await send(ws, 'frag1-', { fin: false });
  await send(ws, 'frag2-', { fin: false });
  await send(ws, '', { fin: false });
  await send(ws, 'frag3', { fin: true });
  let m = await recv(ws);
  check('fragmented text (4 fragments incl. empty)', !m.isBinary && m.data.toString() === 'frag1-frag2-frag3',
    JSON.stringify(m.data.toString()));
  const parts = [...Array(10)].map(() => crypto.randomBytes(100000));
  for (let i = 0; i < parts.length; i++) await send(ws, parts[i], { binary: true, fin: i === parts.length - 1 });
  m = await recv(ws);
  check('fragmented binary 1,000,000 bytes (10 fragments)', m.isBinary && m.data.equals(Buffer.concat(parts)),
    m.data.length + ' bytes');
  const pong = withTimeout(new Promise((res) => ws.once('pong', (d) => res(d.toString()))), 5000, 'pong');
  ws.ping('ping-data');
  let p = null;
  try { p = await pong; } catch (e) { p = String(e); }
  check('ping answered by pong with the same payload', p === 'ping-data', JSON.stringify(p));
  const msgs = [...Array(200).keys()].map((i) => 'm' + i);
  for (const x of msgs) ws.send(x);
  const got = [];
  for (let i = 0; i < msgs.length; i++) got.push((await recv(ws)).data.toString());
  check('200 messages sent back to back, echoed in order', JSON.stringify(got) === JSON.stringify(msgs));
  ws.close(4000, 'client done');
  let c = await withTimeout(ws.closed, 5000, 'close');
  check('close 4000 + reason: server echoes 4000', c.code === 4000,
    'code ' + c.code + ' reason ' + JSON.stringify(c.reason));
  console.log("     server's close reason: " + JSON.stringify(c.reason));

  ws = await connect(url);
  ws.close(1000, 'bye');
  c = await withTimeout(ws.closed, 5000, 'close');
  check('close 1000 + reason: server echoes 1000', c.code === 1000, 'code ' + c.code);

  ws = await connect(url);
  ws.send(crypto.randomBytes(MiB + 1));
  c = await withTimeout(ws.closed, 5000, 'close after 1 MiB + 1');
  check('message of 1 MiB + 1 -> server closes 1009', c.code === 1009, 'code ' + c.code);

  const oks = await Promise.all([...Array(20).keys()].map(async (i) => {
    const w = await connect(url);
    const d = crypto.createHash('sha256').update(String(i)).digest();
    await send(w, d, { binary: true });
    const r = await recv(w);
    w.close();
    return r.data.equals(d);
  }));
  check('20 concurrent clients', oks.every((x) => x), oks.filter((x) => x).length + ' ok');
}

(async () => {
  let srv = null;
  let rc = 1;
  const hard = setTimeout(() => { check('finished within 120 s', false); if (srv) srv.kill('SIGKILL'); process.exit(done()); }, 120000);
  try {
    srv = await startEcho();
    console.log('== node ws ' + require(path.join(__dirname, 'node_modules', 'ws', 'package.json')).version +
      ' client vs wsg-echo on port ' + srv.port);
    await run('ws://127.0.0.1:' + srv.port + '/');
  } catch (e) {
    check('session completed without exception', false, String(e && e.stack ? e.stack.split('\n')[0] : e));
  } finally {
    if (srv) {
      const alive = !srv.exited;
      const exit = new Promise((res) => (srv.exited ? res() : srv.on('exit', res)));
      srv.kill('SIGTERM');
      const k = setTimeout(() => srv.kill('SIGKILL'), 5000);
      await exit;
      clearTimeout(k);
      check('wsg-echo alive at the end and exits 0 on SIGTERM', alive && srv.code === 0,
        'exit code ' + srv.code + ' signal ' + srv.sig);
    }
    clearTimeout(hard);
    rc = done();
  }
  process.exit(rc);
})();
