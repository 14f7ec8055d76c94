// The minimal live page served at GET /: inline HTML and vanilla JS, no external assets, fed by the
// /api/v1/live event stream. The real console replaces it in a later issue.

export const LIVE_PAGE_HTML = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>fieldmesh hub</title>
<style>
  :root { color-scheme: light dark; font-family: system-ui, sans-serif; }
  body { margin: 1.5rem; }
  h1 { font-size: 1.25rem; margin: 0 0 .25rem; }
  #conn { font-size: .9rem; margin-bottom: 1rem; }
  table { border-collapse: collapse; width: 100%; }
  th, td { text-align: left; padding: .35rem .6rem; border-bottom: 1px solid #8884; vertical-align: top; }
  th { font-weight: 600; }
  td.num { font-variant-numeric: tabular-nums; }
  .state { display: inline-block; padding: .05rem .5rem; border-radius: .6rem; font-weight: 600; font-size: .85rem; }
  .online { background: #1a7f37; color: #fff; }
  .stale { background: #bf8700; color: #000; }
  .offline { background: #cf222e; color: #fff; }
  .unknown { background: #6e7781; color: #fff; }
  .values { font-size: .85rem; color: inherit; opacity: .85; }
  .empty { opacity: .7; padding: 1rem 0; }
</style>
</head>
<body>
<h1>fieldmesh hub</h1>
<div id="conn" role="status">connecting...</div>
<table aria-label="nodes">
  <thead><tr><th>site</th><th>node</th><th>state</th><th>last heard</th><th>series</th><th>latest values</th></tr></thead>
  <tbody id="nodes"></tbody>
</table>
<div id="empty" class="empty">No nodes yet.</div>
<script>
(function () {
  var SYMBOL = { online: '\\u25CF online', stale: '\\u25D0 stale', offline: '\\u25CB offline', unknown: '? unknown' };
  var nodes = new Map();
  var receivedAt = new Map();
  var body = document.getElementById('nodes');
  var conn = document.getElementById('conn');
  var empty = document.getElementById('empty');

  function age(ms) {
    if (ms === null || ms === undefined || !isFinite(ms) || ms < 0) return 'never';
    if (ms < 1000) return 'just now';
    if (ms < 60000) return Math.floor(ms / 1000) + ' s ago';
    if (ms < 3600000) return Math.floor(ms / 60000) + ' min ago';
    if (ms < 86400000) return Math.floor(ms / 3600000) + ' h ago';
    return Math.floor(ms / 86400000) + ' d ago';
  }
  function currentAge(n) {
    if (n.lastHeardAgeMs === null) return null;
    return n.lastHeardAgeMs + (Date.now() - receivedAt.get(n.site + '/' + n.node));
  }
  function cell(text, cls) {
    var td = document.createElement('td');
    td.textContent = text;
    if (cls) td.className = cls;
    return td;
  }
  function valuesText(n) {
    var vs = (n.values || []).slice(0, 4).map(function (v) {
      return v.name + ' ' + (v.value === null ? '-' : v.value) + (v.unit ? ' ' + v.unit : '');
    });
    if ((n.values || []).length > 4) vs.push('+' + (n.values.length - 4) + ' more');
    return vs.join(' \\u00B7 ');
  }
  function render() {
    var keys = Array.from(nodes.keys()).sort();
    body.textContent = '';
    keys.forEach(function (key) {
      var n = nodes.get(key);
      var tr = document.createElement('tr');
      tr.dataset.node = key;
      tr.appendChild(cell(n.site));
      tr.appendChild(cell(n.node));
      var st = document.createElement('td');
      var badge = document.createElement('span');
      badge.className = 'state ' + n.state;
      badge.textContent = SYMBOL[n.state] || n.state;
      st.appendChild(badge);
      tr.appendChild(st);
      tr.appendChild(cell(age(currentAge(n)), 'num age'));
      tr.appendChild(cell(String(n.series), 'num'));
      tr.appendChild(cell(valuesText(n), 'values'));
      body.appendChild(tr);
    });
    empty.style.display = keys.length === 0 ? '' : 'none';
  }
  function tickAges() {
    Array.prototype.forEach.call(body.querySelectorAll('tr'), function (tr) {
      var n = nodes.get(tr.dataset.node);
      if (n) tr.querySelector('.age').textContent = age(currentAge(n));
    });
  }
  function put(n) {
    var key = n.site + '/' + n.node;
    nodes.set(key, n);
    receivedAt.set(key, Date.now());
  }
  var es = new EventSource('api/v1/live');
  es.addEventListener('open', function () { conn.textContent = 'live'; });
  es.addEventListener('error', function () { conn.textContent = 'connection lost; retrying...'; });
  es.addEventListener('snapshot', function (e) {
    nodes.clear();
    JSON.parse(e.data).nodes.forEach(put);
    render();
  });
  es.addEventListener('node', function (e) {
    put(JSON.parse(e.data));
    render();
  });
  setInterval(tickAges, 1000);
})();
</script>
</body>
</html>
`;
