// switchboard dashboard: polls /api/stats every second, keeps the last
// five minutes for uPlot charts, and draws the goroutine → scheduler →
// thread → processor → core picture with the live numbers. No build step.
(function () {
  'use strict';

  var $ = function (id) { return document.getElementById(id); };
  var KEEP = 300; // points (seconds) per chart
  var SVGNS = 'http://www.w3.org/2000/svg';
  var C = { blue: '#5b9cff', green: '#36c2a5', amber: '#f0b35b', red: '#ff6b6b', violet: '#c48bff', grey: '#8e9ab3', grid: '#26324b' };

  // ---- formatting -------------------------------------------------------

  function num(n) { return n == null ? '–' : Math.round(n).toLocaleString('en-US'); }
  function bytes(n) {
    if (n == null) return '–';
    var u = ['B', 'KiB', 'MiB', 'GiB', 'TiB'], i = 0;
    while (Math.abs(n) >= 1024 && i < u.length - 1) { n /= 1024; i++; }
    return (i ? n.toFixed(n < 10 ? 2 : n < 100 ? 1 : 0) : Math.round(n)) + ' ' + u[i];
  }
  function secs(s) {
    if (s == null) return '–';
    if (s === 0) return '0 s';
    if (s < 1e-6) return (s * 1e9).toFixed(0) + ' ns';
    if (s < 1e-3) return (s * 1e6).toFixed(s < 1e-5 ? 1 : 0) + ' µs';
    if (s < 1) return (s * 1e3).toFixed(s < 1e-2 ? 2 : s < 0.1 ? 1 : 0) + ' ms';
    return s.toFixed(2) + ' s';
  }
  function count(n) { return n == null ? '–' : Number.isInteger(n) ? num(n) : n.toFixed(n < 10 ? 1 : 0); }
  function rate(n) { return n == null ? '–' : n < 10 ? n.toFixed(1) : num(n); }
  function dur(s) {
    s = Math.floor(s);
    var d = Math.floor(s / 86400), h = Math.floor(s % 86400 / 3600), m = Math.floor(s % 3600 / 60);
    return (d ? d + 'd ' : '') + (d || h ? h + 'h ' : '') + m + 'm ' + (s % 60) + 's';
  }
  function set(id, text) { var e = $(id); if (e && e.textContent !== text) e.textContent = text; }

  // ---- charts -----------------------------------------------------------

  // Each chart: series definitions and a function from a sample to values.
  var chartDefs = [
    { id: 'c-g', series: [['goroutines', C.blue], ['runnable', C.amber], ['threads (M)', C.green]], fmt: count, floor: 10,
      pick: function (s) { return [s.runtime.goroutines, s.runtime.goroutines_runnable, s.runtime.threads]; } },
    { id: 'c-msg', series: [['in', C.blue], ['out', C.green]], fmt: rate, floor: 5,
      pick: function (s) { return [s.rates.messages_in_per_sec, s.rates.messages_out_per_sec]; } },
    { id: 'c-conn', series: [['tcp', C.blue], ['ws', C.green], ['sse', C.violet]], fmt: count, floor: 5,
      pick: function (s) { var d = s.sessions.by_door || {}; return [d.tcp || 0, d.ws || 0, d.sse || 0]; } },
    { id: 'c-mem', series: [['heap in use', C.blue], ['stacks', C.amber], ['RSS', C.grey]], fmt: bytes, floor: 1 << 20,
      pick: function (s) { return [s.runtime.heap_inuse_bytes, s.runtime.stack_bytes, s.process_rss_bytes]; } },
    { id: 'c-lat', series: [['sched p99', C.violet], ['GC pause p99', C.red]], fmt: secs, floor: 1e-4,
      pick: function (s) { return [s.runtime.sched_latency_p99_seconds, s.runtime.gc_pause_p99_seconds]; } },
    { id: 'c-slow', series: [['slow consumers', C.red], ['queued KiB', C.amber]], fmt: count, floor: 5,
      pick: function (s) { return [s.sessions.slow_consumers, s.sessions.queued_bytes / 1024]; } },
  ];
  var charts = [];
  var xs = [];

  function makeCharts() {
    if (typeof uPlot === 'undefined') return;
    chartDefs.forEach(function (d) {
      var el = $(d.id);
      var series = [{}];
      d.series.forEach(function (s) {
        series.push({ label: s[0], stroke: s[1], width: 2, value: function (u, v) { return v == null ? '–' : d.fmt(v); } });
      });
      var axis = { stroke: C.grey, grid: { stroke: C.grid, width: 1 }, ticks: { stroke: C.grid, width: 1 } };
      var yaxis = Object.assign({}, axis, { size: 78, values: function (u, vals) { return vals.map(d.fmt); } });
      var opts = {
        width: Math.max(200, el.clientWidth), height: 200,
        series: series,
        axes: [axis, yaxis],
        scales: { x: { time: true }, y: { range: function (u, min, max) { return [0, Math.max((max || 0) * 1.15, d.floor)]; } } },
        cursor: { points: { size: 6 } },
        legend: { live: true },
      };
      var data = [xs].concat(d.series.map(function () { return []; }));
      charts.push({ def: d, data: data, plot: new uPlot(opts, data, el), el: el });
    });
    var ro = new ResizeObserver(function () {
      charts.forEach(function (c) { c.plot.setSize({ width: Math.max(200, c.el.clientWidth), height: 200 }); });
    });
    charts.forEach(function (c) { ro.observe(c.el); });
  }

  function addPoint(s) {
    var t = s.time_ms / 1000;
    if (xs.length && t < xs[xs.length - 1] + 0.5) return false;
    xs.push(t);
    charts.forEach(function (c) {
      var v = c.def.pick(s);
      for (var i = 0; i < v.length; i++) c.data[i + 1].push(v[i]);
    });
    if (xs.length > KEEP) {
      xs.shift();
      charts.forEach(function (c) { for (var i = 1; i < c.data.length; i++) c.data[i].shift(); });
    }
    return true;
  }

  function redraw() { charts.forEach(function (c) { c.plot.setData(c.data); }); }

  // ---- the G-M-P picture ------------------------------------------------

  var gmp = {};

  function svg(tag, attrs, parent, text) {
    var e = document.createElementNS(SVGNS, tag);
    for (var k in attrs) e.setAttribute(k, attrs[k]);
    if (text != null) e.textContent = text;
    if (parent) parent.appendChild(e);
    return e;
  }

  function makeGMP() {
    var root = svg('svg', { viewBox: '0 0 1120 300', preserveAspectRatio: 'xMidYMid meet' });
    var defs = svg('defs', {}, root);
    var mk = svg('marker', { id: 'arrowhead', viewBox: '0 0 10 10', refX: '9', refY: '5', markerWidth: '7', markerHeight: '7', orient: 'auto' }, defs);
    svg('path', { d: 'M0,0 L10,5 L0,10 z', class: 'arrowhead' }, mk);

    // Goroutines
    svg('text', { x: 10, y: 24, class: 'title' }, root, 'Goroutines (G)');
    gmp.gTotal = svg('text', { x: 10, y: 62, class: 'big' }, root, '–');
    gmp.dots = svg('g', {}, root);
    gmp.dotScale = svg('text', { x: 10, y: 226, class: 'sub' }, root, '');
    var legend = [['running', 'running'], ['runnable', 'runnable'], ['waiting', 'waiting'], ['syscall', 'in syscall/cgo']];
    gmp.legend = {};
    legend.forEach(function (l, i) {
      var y = 250 + Math.floor(i / 2) * 22, x = 10 + (i % 2) * 150;
      svg('rect', { x: x, y: y - 10, width: 10, height: 10, rx: 2, class: 'legend-' + l[0] }, root);
      gmp.legend[l[0]] = svg('text', { x: x + 16, y: y, class: 'sub' }, root, l[1]);
    });
    gmp.dotNames = legend.map(function (l) { return l[1]; });

    // Scheduler
    svg('text', { x: 345, y: 24, class: 'title' }, root, 'Scheduler');
    svg('rect', { x: 345, y: 90, width: 170, height: 120, rx: 12, class: 'box sched' }, root);
    gmp.runq = svg('text', { x: 360, y: 122 }, root, 'run queues: –');
    gmp.p50 = svg('text', { x: 360, y: 150, class: 'sub' }, root, 'wait p50 –');
    gmp.p99 = svg('text', { x: 360, y: 172, class: 'sub' }, root, 'wait p99 –');
    gmp.created = svg('text', { x: 360, y: 194, class: 'sub' }, root, 'created –');

    // Threads, processors, cores
    gmp.cols = {};
    [['m', 565, 'Threads (M)'], ['p', 770, 'Processors (P)'], ['cpu', 975, 'CPU cores']].forEach(function (c) {
      svg('text', { x: c[1], y: 24, class: 'title' }, root, c[2]);
      gmp.cols[c[0]] = { x: c[1], big: svg('text', { x: c[1], y: 62, class: 'big' }, root, '–'), g: svg('g', {}, root), n: -1, busy: -1 };
    });
    [[565, 'An M runs Go code only', 'while it holds a P.'], [770, 'Each P has a local', 'run queue of Gs.'], [975, 'The OS runs the Ms', 'on the cores.']].forEach(function (c) {
      svg('text', { x: c[0], y: 232, class: 'sub' }, root, c[1]);
      svg('text', { x: c[0], y: 248, class: 'sub' }, root, c[2]);
    });
    gmp.mNote = svg('text', { x: 565, y: 272, class: 'sub' }, root, '');
    gmp.pNote = svg('text', { x: 770, y: 272, class: 'sub' }, root, '');
    gmp.cNote = svg('text', { x: 975, y: 272, class: 'sub' }, root, '');

    arrow(root, 305, 150, 340, 150);
    arrow(root, 520, 150, 558, 150);
    arrow(root, 725, 150, 763, 150);
    arrow(root, 930, 150, 968, 150);
    $('gmp').appendChild(root);
  }

  function arrow(root, x1, y1, x2, y2) {
    svg('line', { x1: x1, y1: y1, x2: x2, y2: y2, class: 'arrow' }, root);
  }

  // boxes draws n small boxes (at most 12 shown) in a column, the first
  // busy of them highlighted.
  function boxes(col, n, busy, cls, label) {
    if (col.n === n && col.busy === busy) return;
    col.n = n;
    col.busy = busy;
    var g = col.g;
    while (g.firstChild) g.removeChild(g.firstChild);
    var shown = Math.min(n, 12), per = 4, w = 34, h = 26, gap = 8;
    for (var i = 0; i < shown; i++) {
      var x = col.x + (i % per) * (w + gap), y = 84 + Math.floor(i / per) * (h + gap);
      svg('rect', { x: x, y: y, width: w, height: h, rx: 5, class: 'box ' + cls + (i < busy ? ' busy' : '') }, g);
      svg('text', { x: x + w / 2, y: y + 17, 'text-anchor': 'middle', class: 'sub' }, g, label + i);
    }
    if (n > shown) svg('text', { x: col.x, y: 84 + 3 * (h + gap) + 12, class: 'sub' }, g, '+' + (n - shown) + ' more');
  }

  function dots(counts) {
    // One dot per goroutine up to MAXDOTS; beyond, MAXDOTS dots split by
    // state in proportion (at least one for a non-zero state), and the
    // label says how many goroutines a dot stands for.
    var MAXDOTS = 160;
    var total = counts.reduce(function (a, b) { return a + b; }, 0) || 1;
    var N = Math.min(total, MAXDOTS), cls = ['g-running', 'g-runnable', 'g-waiting', 'g-syscall'];
    gmp.dotScale.textContent = total <= MAXDOTS ? '1 dot = 1 goroutine'
      : '1 dot ≈ ' + num(total / MAXDOTS) + ' goroutines (' + MAXDOTS + ' dots, in proportion)';
    var share = counts.map(function (c) { return c ? Math.max(1, Math.round(c / total * N)) : 0; });
    var sum = share.reduce(function (a, b) { return a + b; }, 0);
    share[2] += N - sum; // waiting absorbs rounding
    if (share[2] < 0) share[2] = 0;
    var g = gmp.dots;
    while (g.firstChild) g.removeChild(g.firstChild);
    var k = 0;
    share.forEach(function (n, s) {
      for (var i = 0; i < n && k < N; i++, k++) {
        svg('circle', { cx: 16 + (k % 20) * 14, cy: 88 + Math.floor(k / 20) * 16, r: 5, class: cls[s] }, g);
      }
    });
  }

  function updateGMP(s) {
    var r = s.runtime;
    gmp.gTotal.textContent = num(r.goroutines);
    var c = [r.goroutines_running, r.goroutines_runnable, r.goroutines_waiting, r.goroutines_not_in_go];
    ['running', 'runnable', 'waiting', 'syscall'].forEach(function (k, i) {
      gmp.legend[k].textContent = gmp.dotNames[i] + ' ' + num(c[i]);
    });
    dots(c);
    gmp.runq.textContent = 'runnable: ' + num(r.goroutines_runnable);
    gmp.p50.textContent = 'wait p50 ' + secs(r.sched_latency_p50_seconds);
    gmp.p99.textContent = 'wait p99 ' + secs(r.sched_latency_p99_seconds);
    gmp.created.textContent = 'created ' + num(r.goroutines_created);
    gmp.cols.m.big.textContent = num(r.threads);
    gmp.cols.p.big.textContent = num(r.gomaxprocs);
    gmp.cols.cpu.big.textContent = num(r.num_cpu);
    boxes(gmp.cols.m, r.threads, 0, 'm', 'M');
    boxes(gmp.cols.p, r.gomaxprocs, Math.min(r.gomaxprocs, r.goroutines_running), 'p', 'P');
    boxes(gmp.cols.cpu, r.num_cpu, 0, 'cpu', 'C');
    gmp.mNote.textContent = num(r.goroutines_not_in_go) + ' in syscalls';
    gmp.pNote.textContent = num(r.goroutines_running) + ' running now';
    gmp.cNote.textContent = 'GOMAXPROCS ' + r.gomaxprocs + ' of ' + r.num_cpu;
  }

  // ---- cards ------------------------------------------------------------

  function updateCards(s) {
    var r = s.runtime, d = s.sessions.by_door || {};
    set('v-goroutines', num(r.goroutines));
    set('s-goroutines', num(r.goroutines_running) + ' running · ' + num(r.goroutines_runnable) + ' runnable');
    set('v-threads', num(r.threads));
    set('v-procs', num(r.gomaxprocs));
    set('s-procs', 'GOMAXPROCS, of ' + r.num_cpu + ' cores');
    set('v-heap', bytes(r.heap_inuse_bytes));
    set('s-heap', 'goal ' + bytes(r.heap_goal_bytes));
    set('v-stack', bytes(r.stack_bytes));
    set('s-stack', r.goroutines ? '≈ ' + bytes(r.stack_bytes / r.goroutines) + ' each' : '');
    set('v-gc', num(r.gc_cycles));
    set('s-gc', 'p99 pause ' + secs(r.gc_pause_p99_seconds));
    set('v-sched', secs(r.sched_latency_p99_seconds));
    set('s-sched', 'p50 ' + secs(r.sched_latency_p50_seconds) + ' · last 10 s');
    set('v-conns', num(s.connections));
    set('s-conns', 'tcp ' + num(d.tcp || 0) + ' · ws ' + num(d.ws || 0) + ' · sse ' + num(d.sse || 0));
    set('v-topics', num(s.hub.topics));
    set('s-topics', num(s.hub.subscriptions) + ' subs · ' + num(s.hub.rooms) + ' rooms');
    set('v-rate', rate(s.rates.messages_in_per_sec) + ' / ' + rate(s.rates.messages_out_per_sec));
    set('s-rate', 'in / out · ' + bytes(s.rates.bytes_out_per_sec) + '/s');
    set('v-slow', num(s.sessions.slow_consumers));
    set('s-slow', bytes(s.sessions.queued_bytes) + ' queued');
    set('v-rss', bytes(s.process_rss_bytes));
    set('s-rss', num(s.sessions.accepted) + ' conns since start');
    set('meta', r.go_version + ' · up ' + dur(s.uptime_seconds) + (s.cluster ? ' · cluster' : ''));
  }

  // ---- polling ----------------------------------------------------------

  function setStatus(cls, text) {
    var e = $('status');
    e.className = 'status ' + cls;
    e.textContent = text;
  }

  function apply(s) {
    updateCards(s);
    updateGMP(s);
    if (addPoint(s)) redraw();
  }

  // With --admin-token the page is opened as /dashboard?token=TOKEN; the
  // token goes to /api/stats in a header, not in its URL.
  var adminToken = new URLSearchParams(location.search).get('token');
  var statsHeaders = adminToken ? { Authorization: 'Bearer ' + adminToken } : {};

  var failures = 0;
  function poll(first) {
    fetch('/api/stats' + (first ? '?history=1' : ''), { cache: 'no-store', headers: statsHeaders })
      .then(function (resp) {
        if (!resp.ok) throw new Error('HTTP ' + resp.status);
        return resp.json();
      })
      .then(function (s) {
        failures = 0;
        setStatus('online', 'live');
        if (first && s.history) s.history.forEach(addPoint);
        apply(s);
        setTimeout(poll, 1000, false);
      })
      .catch(function () {
        failures++;
        setStatus('offline', 'server unreachable — retrying');
        setTimeout(poll, Math.min(5000, 1000 * failures), first);
      });
  }

  function init() {
    makeGMP();
    makeCharts();
    poll(true);
  }

  if (document.readyState === 'loading') document.addEventListener('DOMContentLoaded', init); else init();
})();
