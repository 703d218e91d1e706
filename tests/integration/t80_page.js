// t80's browser half: headless Chromium driven over the DevTools protocol
// on a pipe (--remote-debugging-pipe: NUL-terminated JSON on fds 3 and
// 4), so no npm package is needed.  It loads bpweb's page, checks the
// tiles, runs the power-cut command it is given, times the tile turning
// to down, clicks tiles for their detail and keeps screenshots.
//
// usage: node t80_page.js URL OUTDIR NODES KILLNODE PROCNODE PROCTEXT -- CMD ARGS...
// Prints "ok: ..." and "FAIL: ..." lines; exit 0 if no check failed.
'use strict';
const { spawn, spawnSync } = require('child_process');
const fs = require('fs');
const path = require('path');
const os = require('os');

const [url, outdir, nodesArg, killArg, procArg, procText, dash, ...killCmd] = process.argv.slice(2);
if (dash !== '--' || !killCmd.length) {
  console.error('usage: node t80_page.js URL OUTDIR NODES KILLNODE PROCNODE PROCTEXT -- CMD ARGS...');
  process.exit(2);
}
const N = Number(nodesArg), KILL = Number(killArg), PROC = Number(procArg);
const DOWN_WITHIN_MS = 2000;
let fails = 0;
const ok = (s) => console.log('ok: ' + s);
const fail = (s) => { fails++; console.log('FAIL: ' + s); };

const profile = fs.mkdtempSync(path.join(os.tmpdir(), 'bpweb-chromium-'));
const chrome = spawn('/usr/bin/chromium', [
  '--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
  '--disable-background-networking', '--disable-component-update', '--disable-sync',
  '--user-data-dir=' + profile, '--remote-debugging-pipe', '--window-size=1280,800',
  'about:blank',
], { stdio: ['ignore', 'ignore', 'ignore', 'pipe', 'pipe'], detached: true });

function cleanup() {
  try { process.kill(-chrome.pid, 'SIGKILL'); } catch (e) { /* gone */ }
  fs.rmSync(profile, { recursive: true, force: true });
}
const guard = setTimeout(() => { fail('the browser test took over 90 s'); cleanup(); process.exit(1); }, 90000);

let nextId = 1, inbuf = '';
const waiting = new Map();
chrome.stdio[4].on('data', (d) => {
  inbuf += d.toString('utf8');
  let z;
  while ((z = inbuf.indexOf('\0')) >= 0) {
    const msg = JSON.parse(inbuf.slice(0, z));
    inbuf = inbuf.slice(z + 1);
    if (msg.id && waiting.has(msg.id)) {
      const { resolve, reject } = waiting.get(msg.id);
      waiting.delete(msg.id);
      if (msg.error) reject(new Error(JSON.stringify(msg.error))); else resolve(msg.result);
    }
  }
});
function send(method, params = {}, sessionId) {
  const id = nextId++;
  const m = { id, method, params };
  if (sessionId) m.sessionId = sessionId;
  chrome.stdio[3].write(JSON.stringify(m) + '\0');
  return new Promise((resolve, reject) => waiting.set(id, { resolve, reject }));
}
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

async function main() {
  const { targetId } = await send('Target.createTarget', { url: 'about:blank' });
  const { sessionId } = await send('Target.attachToTarget', { targetId, flatten: true });
  const s = (m, p) => send(m, p, sessionId);
  const js = async (expr) => {
    const r = await s('Runtime.evaluate', { expression: expr, returnByValue: true, awaitPromise: true });
    if (r.exceptionDetails) throw new Error(expr + ': ' + r.exceptionDetails.text);
    return r.result.value;
  };
  const until = async (expr, ms, step = 20) => {
    const t0 = Date.now();
    for (;;) {
      let v;
      try { v = await js(expr); } catch (e) { v = false; }
      if (v) return Date.now() - t0;
      if (Date.now() - t0 > ms) return -1;
      await sleep(step);
    }
  };
  const shot = async (name) => {
    const r = await s('Page.captureScreenshot', { format: 'png' });
    const f = path.join(outdir, name);
    fs.writeFileSync(f, Buffer.from(r.data, 'base64'));
    console.log('# screenshot ' + f);
  };
  const click = async (sel) => {
    const box = await js(`(() => { const r = document.querySelector(${JSON.stringify(sel)}).getBoundingClientRect();
      return { x: r.x + r.width / 2, y: r.y + r.height / 2 }; })()`);
    for (const type of ['mousePressed', 'mouseReleased'])
      await s('Input.dispatchMouseEvent', { type, x: box.x, y: box.y, button: 'left', clickCount: 1 });
  };
  const tileState = (i) => `(document.querySelector('#grid .tile[data-node="${i}"]') || {dataset: {}}).dataset.state`;

  await s('Page.enable');
  await s('Runtime.enable');
  await s('Emulation.setDeviceMetricsOverride', { width: 1280, height: 800, deviceScaleFactor: 1, mobile: false });
  await s('Page.navigate', { url });

  let t = await until(`document.title === 'bproc-ng cluster status' && document.querySelectorAll('#grid .tile').length === ${N}`, 10000);
  if (t < 0) {
    fail(`the page does not show ${N} tiles (title ${JSON.stringify(await js('document.title'))}, ` +
      `${await js("document.querySelectorAll('#grid .tile').length")} tiles)`);
    return;
  }
  ok(`the page loads and shows ${N} node tiles (${t} ms)`);
  t = await until(`[...document.querySelectorAll('#grid .tile')].every(e => e.dataset.state === 'up')`, 10000);
  if (t >= 0) ok('every tile is up'); else fail('not every tile is up: ' + await js(`[...document.querySelectorAll('#grid .tile')].map(e => e.dataset.state).join(' ')`));
  const liveText = await js(`document.getElementById('live').textContent`);
  if (liveText === 'live') ok('the page follows the server-sent events'); else fail(`live indicator says ${JSON.stringify(liveText)}`);
  const colour = await js(`getComputedStyle(document.querySelector('#grid .tile[data-node="0"]')).backgroundColor`);
  if (colour === 'rgb(46, 157, 75)') ok('an up tile is green (' + colour + ')'); else fail('an up tile is ' + colour);
  await shot('t80-up.png');

  // the power cut, timed from the moment the command starts
  const k0 = Date.now();
  const kr = spawnSync(killCmd[0], killCmd.slice(1), { stdio: ['ignore', 'ignore', 'pipe'] });
  const kdone = Date.now() - k0;
  if (kr.status !== 0) fail(`${killCmd.join(' ')} exited ${kr.status}: ${kr.stderr}`);
  t = await until(`${tileState(KILL)} === 'down'`, 10000);
  const total = t < 0 ? -1 : Date.now() - k0;
  if (t < 0) fail(`tile ${KILL} is not down 10 s after the power cut (${await js(tileState(KILL))})`);
  else if (total <= DOWN_WITHIN_MS) ok(`tile ${KILL} turns down ${total} ms after \`${killCmd.slice(-2).join(' ')}\` began (the command took ${kdone} ms)`);
  else fail(`tile ${KILL} took ${total} ms to turn down (the command took ${kdone} ms; limit ${DOWN_WITHIN_MS} ms)`);
  const others = await js(`[...document.querySelectorAll('#grid .tile')].filter(e => e.dataset.node !== '${KILL}').every(e => e.dataset.state === 'up')`);
  if (others) ok('the other tiles stay up'); else fail('another tile changed state');
  const downColour = await js(`getComputedStyle(document.querySelector('#grid .tile[data-node="${KILL}"]')).backgroundColor`);
  if (downColour !== colour) ok('the down tile has another colour (' + downColour + ')'); else fail('the down tile is still ' + downColour);
  await shot('t80-down.png');

  // a click on a tile opens its detail
  await click(`#grid .tile[data-node="${KILL}"]`);
  t = await until(`!document.getElementById('detail').hidden && document.getElementById('d-title').textContent === 'Node ${KILL} \\u2014 down'`, 3000);
  if (t >= 0) ok(`a click on tile ${KILL} shows its detail (Node ${KILL}, down)`); else fail(`no detail after a click on tile ${KILL}: ${JSON.stringify(await js("document.getElementById('d-title').textContent"))}`);
  await click(`#grid .tile[data-node="${PROC}"]`);
  t = await until(`document.getElementById('d-title').textContent.startsWith('Node ${PROC} ') &&
    document.querySelector('#d-procs tbody').textContent.includes(${JSON.stringify(procText)})`, 3000);
  if (t >= 0) ok(`node ${PROC}'s detail lists its remote process (${procText})`);
  else fail(`node ${PROC}'s detail lacks ${procText}: ${JSON.stringify(await js("document.getElementById('detail').textContent"))}`);
  const loadRow = await js(`[...document.querySelectorAll('#d-fields tr')].map(r => r.textContent).join(' | ')`);
  if (/load\d/.test(loadRow) && /link rtt\d/.test(loadRow) && /memory.*free of/.test(loadRow)) ok('the detail has load, memory and link round trip');
  else fail('the detail lacks load, memory or rtt: ' + loadRow);
  await shot('t80-detail.png');
}

main().then(() => {}, (e) => fail('browser: ' + e.message)).finally(() => {
  clearTimeout(guard);
  cleanup();
  process.exit(fails ? 1 : 0);
});
