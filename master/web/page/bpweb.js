// bpweb's status page: node tiles from /api/status, kept live by the
// server-sent events of /api/events (polling /api/status every second
// where EventSource is missing); a node's detail from /api/node/N.
// Text goes in through textContent only: nothing from the cluster is
// ever parsed as HTML.
'use strict';

const grid = document.getElementById('grid');
const tiles = [];
let selected = -1;
let detailBusy = false;

function el(tag, cls, parent) {
  const e = document.createElement(tag);
  if (cls) e.className = cls;
  if (parent) parent.appendChild(e);
  return e;
}

function bytes(n) {
  if (n === null || n === undefined) return '-';
  const u = ['B', 'K', 'M', 'G', 'T', 'P'];
  let i = 0;
  while (n >= 1024 && i < u.length - 1) { n /= 1024; i++; }
  return (i === 0 ? String(n) : n.toFixed(n < 10 ? 1 : 0)) + u[i];
}

function age(s) {
  if (s === null || s === undefined) return '-';
  if (s < 60) return s.toFixed(1) + 's';
  if (s < 3600) return Math.floor(s / 60) + 'm' + String(Math.floor(s % 60)).padStart(2, '0') + 's';
  if (s < 86400) return Math.floor(s / 3600) + 'h' + String(Math.floor(s % 3600 / 60)).padStart(2, '0') + 'm';
  return Math.floor(s / 86400) + 'd' + String(Math.floor(s % 86400 / 3600)).padStart(2, '0') + 'h';
}

function makeTile(i) {
  const t = el('button', 'tile', grid);
  t.type = 'button';
  t.dataset.node = String(i);
  t.num = el('span', 'num', t);
  t.st = el('span', 'state', t);
  t.load = el('div', 'row', t);
  t.mem = el('div', 'row', t);
  t.memBar = el('i', '', el('div', 'bar', t));
  t.procs = el('div', 'row', t);
  t.addEventListener('click', () => select(i));
  return t;
}

function renderTile(t, n) {
  t.className = 'tile st-' + n.state + (n.node === selected ? ' sel' : '');
  t.dataset.state = n.state;
  t.num.textContent = 'n' + n.node;
  t.st.textContent = n.state;
  t.title = 'n' + n.node + ': ' + n.state + (n.addr ? ' (' + n.addr + ')' : '');
  if (n.load) {
    t.load.textContent = 'load ' + n.load[0].toFixed(2) + ' / ' + n.cpus + ' cpu';
    const used = n.mem_total - n.mem_free;
    t.mem.textContent = 'mem ' + bytes(used) + ' / ' + bytes(n.mem_total);
    t.memBar.style.width = (n.mem_total ? 100 * used / n.mem_total : 0).toFixed(0) + '%';
  } else {
    t.load.textContent = n.state === 'down' ? 'seen ' + age(n.last_seen) + ' ago' : 'stage ' + n.stage;
    t.mem.textContent = '\u00a0';
    t.memBar.style.width = '0';
  }
  t.procs.textContent = n.rprocs + ' remote proc' + (n.rprocs === 1 ? '' : 's');
}

function render(s) {
  const counts = Object.keys(s.counts).filter(k => s.counts[k] > 0)
    .map(k => s.counts[k] + ' ' + k).join(', ');
  document.getElementById('summary').textContent = s.master.up
    ? s.nodes.length + ' nodes: ' + (counts || 'none') + ' \u00b7 ' + s.nprocs + ' remote processes'
    : 'bpmaster unreachable: ' + s.master.error;
  const m = s.master;
  document.getElementById('master').textContent = m.up && m.pid
    ? 'bpmaster pid ' + m.pid + ', up ' + age(m.uptime) + ', cpu ' + m.cpu.toFixed(2) + 's, rss ' + bytes(m.rss)
    : '';
  document.body.dataset.gen = String(s.gen);
  document.body.dataset.nodes = String(s.nodes.length);
  while (tiles.length < s.nodes.length) tiles.push(makeTile(tiles.length));
  while (tiles.length > s.nodes.length) tiles.pop().remove();
  s.nodes.forEach((n, i) => renderTile(tiles[i], n));
  if (selected >= s.nodes.length) closeDetail();
  else if (selected >= 0) refreshDetail();
}

function row(table, k, v) {
  const tr = el('tr', '', table);
  el('th', '', tr).textContent = k;
  el('td', '', tr).textContent = v;
}

function renderDetail(d) {
  const n = d.node;
  document.getElementById('d-title').textContent = 'Node ' + n.node + ' \u2014 ' + n.state;
  const f = document.getElementById('d-fields');
  f.replaceChildren();
  row(f, 'state', n.state + ' (stage ' + n.stage + ')');
  row(f, 'address', (n.addr || '-') + (n.mac ? '  ' + n.mac : ''));
  row(f, 'owner', n.user + ':' + n.group + '  ' + n.mode_str);
  row(f, 'load', n.load ? n.load.map(x => x.toFixed(2)).join(' ') : '-');
  row(f, 'cpus', n.cpus === null ? '-' : String(n.cpus));
  row(f, 'memory', n.mem_total === null ? '-' : bytes(n.mem_free) + ' free of ' + bytes(n.mem_total));
  row(f, 'uptime', age(n.uptime));
  row(f, 'processes', (n.nprocs === null ? '-' : n.nprocs) + ' on the node, ' + n.rprocs + ' remote');
  row(f, 'RAM cache', bytes(n.cache_bytes));
  row(f, 'pushed', bytes(n.push_bytes));
  row(f, 'last seen', age(n.last_seen) + ' ago');
  row(f, 'heartbeat', n.status_age === null ? '-' : age(n.status_age) + ' ago');
  row(f, 'link rtt', n.rtt === null ? '-' : (n.rtt * 1000).toFixed(3) + ' ms');
  const body = document.querySelector('#d-procs tbody');
  body.replaceChildren();
  d.procs.forEach(p => {
    const tr = el('tr', '', body);
    el('td', '', tr).textContent = String(p.pid);
    el('td', '', tr).textContent = p.rpid === p.pid ? '-' : String(p.rpid);
    el('td', '', tr).textContent = p.user;
    el('td', '', tr).textContent = p.cmd;
  });
  if (!d.procs.length) {
    const td = el('td', '', el('tr', '', body));
    td.colSpan = 4;
    td.textContent = 'none';
  }
  document.getElementById('detail').hidden = false;
}

function refreshDetail() {
  if (detailBusy || selected < 0) return;
  detailBusy = true;
  const want = selected;
  fetch('/api/node/' + want, { cache: 'no-store' })
    .then(r => r.ok ? r.json() : Promise.reject(new Error(r.status)))
    .then(d => { if (want === selected) renderDetail(d); })
    .catch(() => {})
    .finally(() => { detailBusy = false; });
}

function select(i) {
  if (selected >= 0 && tiles[selected]) tiles[selected].classList.remove('sel');
  selected = i;
  tiles[i].classList.add('sel');
  refreshDetail();
}

function closeDetail() {
  if (selected >= 0 && tiles[selected]) tiles[selected].classList.remove('sel');
  selected = -1;
  document.getElementById('detail').hidden = true;
}

function live(on, text) {
  const l = document.getElementById('live');
  l.className = on ? 'live' : 'live off';
  l.textContent = text;
}

function poll() {
  fetch('/api/status', { cache: 'no-store' }).then(r => r.json())
    .then(s => { render(s); live(true, 'live (polling)'); })
    .catch(() => live(false, 'bpweb unreachable'))
    .finally(() => setTimeout(poll, 1000));
}

document.getElementById('close').addEventListener('click', closeDetail);
document.addEventListener('keydown', e => { if (e.key === 'Escape') closeDetail(); });

if (window.EventSource) {
  const es = new EventSource('/api/events');
  es.addEventListener('status', e => { render(JSON.parse(e.data)); live(true, 'live'); });
  es.onerror = () => live(false, 'reconnecting');
} else {
  poll();
}
