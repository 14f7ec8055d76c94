// The login page served at GET /login: inline HTML and vanilla JS like the live page, no external
// assets. It posts JSON to /api/v1/auth/login and goes back to where the browser came from.

export const LOGIN_PAGE_HTML = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>fieldmesh hub: log in</title>
<style>
  :root { color-scheme: light dark; font-family: system-ui, sans-serif; }
  body { margin: 0; min-height: 100vh; display: grid; place-items: center; }
  form { display: grid; gap: .75rem; width: min(20rem, 90vw); }
  h1 { font-size: 1.25rem; margin: 0; }
  label { display: grid; gap: .25rem; font-size: .9rem; }
  input { font: inherit; padding: .45rem .5rem; }
  button { font: inherit; padding: .5rem; font-weight: 600; }
  #error { color: #cf222e; min-height: 1.2em; font-size: .9rem; }
</style>
</head>
<body>
<form id="login">
  <h1>fieldmesh hub</h1>
  <label>user name <input name="username" autocomplete="username" required autofocus></label>
  <label>password <input name="password" type="password" autocomplete="current-password" required></label>
  <button type="submit">log in</button>
  <div id="error" role="alert"></div>
</form>
<script>
(function () {
  var form = document.getElementById('login');
  var error = document.getElementById('error');
  var next = new URLSearchParams(location.search).get('next') || '/';
  // Only a path on this hub: never an open redirect.
  if (next.charAt(0) !== '/' || next.charAt(1) === '/' || next.charAt(1) === '\\\\') next = '/';
  form.addEventListener('submit', function (e) {
    e.preventDefault();
    error.textContent = '';
    fetch('/api/v1/auth/login', {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ username: form.username.value, password: form.password.value })
    }).then(function (r) {
      if (r.ok) { location.assign(next); return; }
      return r.json().then(function (b) { error.textContent = b.message || ('login failed (' + r.status + ')'); });
    }).catch(function () { error.textContent = 'the hub cannot be reached'; });
  });
})();
</script>
</body>
</html>
`;
