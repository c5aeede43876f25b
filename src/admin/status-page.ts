// The admin server's status page (/status): HAProxy's stats page for narwhal. A small HTML shell
// and one script, both served by the admin server (no external asset, a CSP that allows nothing
// else); the script reads /status.json (master/status.ts, the same view `ctl status` prints) every
// second and fills the page with textContent only, so no value from a worker, a log line or a
// setting is ever parsed as HTML. It is off the app's request path: the admin server is the
// master's own.

/** Allows the page's own script, its inline style and fetches to its own origin; nothing more. */
export const STATUS_CSP = "default-src 'none'; script-src 'self'; style-src 'unsafe-inline'; connect-src 'self'; img-src 'self' data:; base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

export const STATUS_HTML = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>narwhal status</title>
<style>
body { font: 14px/1.4 system-ui, sans-serif; margin: 1.5rem; color: #1d2733; background: #fff; }
h1 { font-size: 1.3rem; margin: 0 0 .3rem; } h2 { font-size: 1rem; margin: 1.2rem 0 .4rem; }
table { border-collapse: collapse; } th, td { padding: .2rem .6rem; text-align: right; border-bottom: 1px solid #e3e7ec; }
th:first-child, td:first-child, #settings td, #settings th { text-align: left; }
thead th { background: #f3f5f8; } tr.thread td { color: #5b6673; font-size: 13px; }
.ready { color: #137333; } .booting { color: #8a6d00; } .draining { color: #a33; } .bad { color: #a33; font-weight: 600; }
#events li { font-family: ui-monospace, monospace; font-size: 12px; } #updated { color: #5b6673; margin-top: 1rem; }
</style>
</head>
<body>
<h1>narwhal <span id="version"></span></h1>
<p id="summary">Loading…</p>
<noscript><p>This page reads <a href="/status.json">/status.json</a> with a script.</p></noscript>
<h2>Workers</h2>
<table id="workers"><thead><tr><th>PID</th><th>state</th><th>age</th><th>requests</th><th>req/s</th><th>in flight</th><th>RSS</th><th>CPU %</th><th>heap used / limit</th><th>lag ms</th></tr></thead><tbody></tbody></table>
<h2>Settings</h2>
<table id="settings"><tbody></tbody></table>
<h2>Recent warnings</h2>
<ul id="events"></ul>
<p id="updated" data-refreshes="0"></p>
<script src="/status.js"></script>
</body>
</html>
`;

export const STATUS_JS = `'use strict';
(function () {
  var previous = new Map();
  var refreshes = 0;
  function $(id) { return document.getElementById(id); }
  function mb(b) { return (b / 1048576).toFixed(1) + ' MB'; }
  function ago(s) { return s >= 3600 ? Math.floor(s / 3600) + 'h' + String(Math.floor(s / 60) % 60).padStart(2, '0') + 'm' : s >= 60 ? Math.floor(s / 60) + 'm' + String(s % 60).padStart(2, '0') + 's' : s + 's'; }
  function cell(tr, text, cls) { var td = document.createElement('td'); td.textContent = String(text); if (cls) td.className = cls; tr.appendChild(td); }
  function render(s, now) {
    var m = s.master;
    $('version').textContent = m.version + ' (Node ' + m.node + ')';
    var live = s.workers.filter(function (w) { return w.state !== 'exited'; });
    var ready = live.filter(function (w) { return w.state === 'ready'; }).length;
    var restarts = Object.keys(m.restarts).filter(function (k) { return m.restarts[k] > 0; }).map(function (k) { return k + ' ' + m.restarts[k]; }).join(', ') || 'none';
    $('summary').textContent = 'master ' + m.pid + ' · ' + m.phase + (m.degraded ? ' · DEGRADED' : '') + ' · ' + ready + '/' + m.target + ' workers ready · ' +
      m.distribution + ' · up ' + ago(m.uptime_s) + ' · restarts: ' + restarts + (m.last_failure ? ' · last failure: ' + m.last_failure : '');
    $('summary').className = m.degraded ? 'bad' : '';
    var body = document.createElement('tbody');
    live.forEach(function (w) {
      var before = previous.get(w.pid);
      var dt = before ? (now - before.at) / 1000 : 0;
      var rps = dt > 0 ? Math.max(0, (w.requests - before.requests) / dt) : 0;
      var cpu = dt > 0 ? Math.max(0, (w.cpu_s - before.cpu_s) / dt * 100) : 0;
      var tr = document.createElement('tr');
      tr.className = 'worker';
      tr.dataset.pid = String(w.pid);
      cell(tr, w.pid); cell(tr, w.retiring && w.state !== 'draining' ? w.state + ' (retiring: ' + w.retiring + ')' : w.state, w.state);
      cell(tr, ago(w.age_s)); cell(tr, w.requests); cell(tr, rps.toFixed(0)); cell(tr, w.in_flight); cell(tr, mb(w.rss_bytes));
      cell(tr, cpu.toFixed(0)); cell(tr, mb(w.heap_used_bytes) + ' / ' + mb(w.heap_limit_bytes)); cell(tr, (w.lag_s * 1000).toFixed(1));
      body.appendChild(tr);
      (w.threads || []).forEach(function (t) {
        var r = document.createElement('tr');
        r.className = 'thread';
        cell(r, 'thread ' + t.thread); cell(r, t.restarts ? t.state + ' (restarts: ' + t.restarts + ')' : t.state, t.state); cell(r, ago(t.age_s));
        cell(r, t.requests); cell(r, ''); cell(r, t.in_flight); cell(r, ''); cell(r, ''); cell(r, mb(t.heap_used_bytes)); cell(r, (t.lag_s * 1000).toFixed(1));
        body.appendChild(r);
      });
    });
    $('workers').replaceChild(body, $('workers').tBodies[0]);
    previous = new Map(s.workers.map(function (w) { return [w.pid, { at: now, requests: w.requests, cpu_s: w.cpu_s }]; }));
    var settings = document.createElement('tbody');
    Object.keys(s.settings).forEach(function (k) {
      var tr = document.createElement('tr');
      var v = s.settings[k];
      cell(tr, k); cell(tr, Array.isArray(v) ? v.join(', ') : v === null ? '–' : v);
      settings.appendChild(tr);
    });
    $('settings').replaceChild(settings, $('settings').tBodies[0]);
    var events = $('events');
    events.textContent = '';
    (s.events.length ? s.events.slice().reverse() : [{ time: '', level: '', message: 'none' }]).forEach(function (e) {
      var li = document.createElement('li');
      li.textContent = e.time ? e.time.slice(11, 19) + ' ' + e.level.toUpperCase() + ' ' + e.message : e.message;
      events.appendChild(li);
    });
    refreshes++;
    $('updated').dataset.refreshes = String(refreshes);
    $('updated').textContent = 'updated ' + new Date(now).toISOString().slice(11, 19) + ' UTC, every second';
  }
  function refresh() {
    fetch('/status.json', { cache: 'no-store' }).then(function (r) { return r.json(); }).then(function (s) { render(s, Date.now()); }, function (err) {
      $('updated').textContent = 'cannot reach the master: ' + err.message;
    }).finally(function () { setTimeout(refresh, 1000); });
  }
  refresh();
})();
`;
