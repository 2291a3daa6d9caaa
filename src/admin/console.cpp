#include "admin/console.hpp"

namespace mobix {

namespace {

// One page, no framework: a form, a list and a detail view (location.hash routes between them).
const char* kIndex = R"html(<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>mobix call center</title>
<link rel="stylesheet" href="/console/style.css">
<script src="/console/app.js" defer></script>
</head>
<body>
<header><h1>mobix call center</h1><span id="whoami"></span></header>
<section id="token-box" hidden>
  <label>Admin API token <input id="token" type="password" autocomplete="off"></label>
  <button id="token-save" type="button">Use token</button>
</section>
<main>
<section id="register-view">
  <h2>Register a connectivity box</h2>
  <form id="register" novalidate>
    <label>Serial number (on the box's label)<input name="serial" required></label><span class="err" data-for="serial"></span>
    <label>Phone number of the line it will use<input name="line_id" required placeholder="+44 20 0000 0001"></label><span class="err" data-for="line_id"></span>
    <label>Customer name<input name="name" required></label><span class="err" data-for="name"></span>
    <label>Street address<input name="street_address" required></label><span class="err" data-for="street_address"></span>
    <label>Billing reference<input name="billing" required autocomplete="off"></label><span class="err" data-for="billing"></span>
    <label>CB Name (optional, generated when empty)<input name="cb_name"></label><span class="err" data-for="cb_name"></span>
    <label>Friendly name (optional)<input name="friendly_name"></label><span class="err" data-for="friendly_name"></span>
    <label>Address book, one per line: <code>cb_name = Friendly Name</code><textarea name="address_book" rows="3"></textarea></label><span class="err" data-for="address_book"></span>
    <button type="submit">Register</button>
    <p id="register-result" role="status"></p>
  </form>
</section>
<section id="list-view">
  <h2>Registered boxes <select id="state-filter"><option value="">all</option><option>registered</option>
    <option>configuring</option><option>configured</option><option>config_error</option><option>online</option></select></h2>
  <table id="boxes"><thead><tr><th>CB Name</th><th>Serial</th><th>Line</th><th>State</th><th>Progress</th><th>Why</th></tr></thead><tbody></tbody></table>
</section>
<section id="detail-view" hidden>
  <p><a href="#">&larr; all boxes</a></p>
  <h2 id="detail-title"></h2>
  <dl id="detail"></dl>
</section>
</main>
</body>
</html>
)html";

const char* kStyle = R"css(body{font:15px/1.4 system-ui,sans-serif;margin:0;color:#222}
header{background:#123;color:#fff;padding:.6em 1em;display:flex;justify-content:space-between;align-items:center}
header h1{font-size:1.2em;margin:0}
main{display:grid;grid-template-columns:minmax(18em,26em) 1fr;gap:1.5em;padding:1em}
form label{display:block;margin-top:.5em}form input,form textarea{display:block;width:100%;box-sizing:border-box;padding:.3em}
.err{color:#b00020;font-size:.9em;display:block;min-height:1em}
input[aria-invalid=true]{border:2px solid #b00020}
table{border-collapse:collapse;width:100%}th,td{text-align:left;padding:.3em .5em;border-bottom:1px solid #ddd}
tr.box{cursor:pointer}tr.box:hover{background:#f3f6fa}
.state{padding:.1em .5em;border-radius:1em;font-size:.85em;background:#ddd}
.state.online{background:#bfe8c4}.state.configured{background:#d6ecff}.state.configuring{background:#fff1b8}
.state.config_error{background:#f8c7c7}
progress{width:7em}#detail-view{grid-column:1/3}dt{font-weight:600;margin-top:.4em}
#token-box{padding:1em;background:#fff7e0}
)css";

const char* kScript = R"js('use strict';
// The call-center console: register boxes (seed 004 Phase I) and watch Phases II and III.
const api = async (method, path, body) => {
  const headers = {};
  const token = sessionStorage.getItem('mobix-token');
  if (token) headers['Authorization'] = 'Bearer ' + token;
  if (body !== undefined) headers['Content-Type'] = 'application/json';
  const res = await fetch('/api/v1' + path, {method, headers, body: body === undefined ? undefined : JSON.stringify(body)});
  if (res.status === 401) { document.getElementById('token-box').hidden = false; throw new Error('the API needs a token'); }
  const data = res.status === 204 ? null : await res.json();
  return {status: res.status, data};
};
const progress = {registered: 1, configuring: 2, config_error: 2, configured: 3, online: 4};
const text = (s) => document.createTextNode(s == null ? '' : String(s));
const el = (tag, attrs, ...kids) => {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) e.setAttribute(k, v);
  for (const k of kids) e.append(k instanceof Node ? k : text(k));
  return e;
};

function showErrors(form, fields) {
  for (const span of form.querySelectorAll('.err')) span.textContent = '';
  for (const input of form.querySelectorAll('input,textarea')) input.removeAttribute('aria-invalid');
  for (const [name, msg] of Object.entries(fields || {})) {
    const span = form.querySelector(`.err[data-for="${name}"]`);
    if (span) span.textContent = msg;
    const input = form.elements[name];
    if (input) input.setAttribute('aria-invalid', 'true');
  }
}

function localChecks(body) {
  const fields = {};
  for (const k of ['serial', 'line_id', 'name', 'street_address', 'billing'])
    if (!body[k]) fields[k] = 'required';
  if (body.line_id && !/^\+?[0-9]{5,15}$/.test(body.line_id)) fields.line_id = 'the box\'s phone number: 5 to 15 digits, optionally after \'+\'';
  return fields;
}

async function register(ev) {
  ev.preventDefault();
  const form = ev.target;
  const f = new FormData(form);
  const body = {};
  for (const k of ['serial', 'line_id', 'name', 'street_address', 'billing', 'cb_name', 'friendly_name']) {
    const v = (f.get(k) || '').trim();
    if (v || !['cb_name', 'friendly_name'].includes(k)) body[k] = k === 'line_id' ? v.replace(/[\s-]/g, '') : v;
  }
  body.address_book = (f.get('address_book') || '').split('\n').map((l) => l.trim()).filter(Boolean).map((l) => {
    const i = l.indexOf('=');
    return i < 0 ? {cb_name: l, friendly_name: ''} : {cb_name: l.slice(0, i).trim(), friendly_name: l.slice(i + 1).trim()};
  });
  const result = document.getElementById('register-result');
  const local = localChecks(body);
  if (Object.keys(local).length) { showErrors(form, local); result.textContent = 'Please correct the marked fields.'; return; }
  const {status, data} = await api('POST', '/cb', body);
  if (status === 201) {
    showErrors(form, {});
    form.reset();
    result.textContent = `Registered ${data.serial} as ${data.cb_name}. Tell the customer to plug the box in.`;
    location.hash = '#/cb/' + encodeURIComponent(data.cb_id);
  } else {
    showErrors(form, data && data.fields);
    result.textContent = (data && data.fields) ? 'Please correct the marked fields.' : (data && data.error) || ('HTTP ' + status);
  }
  refresh();
}

async function refresh() {
  const filter = document.getElementById('state-filter').value;
  const {data} = await api('GET', '/cb' + (filter ? '?state=' + filter : ''));
  const tbody = document.querySelector('#boxes tbody');
  tbody.replaceChildren(...data.map((b) => {
    const tr = el('tr', {class: 'box', 'data-cb-id': b.cb_id},
      el('td', {}, b.cb_name), el('td', {}, b.serial), el('td', {}, b.line_id),
      el('td', {}, el('span', {class: 'state ' + b.state}, b.state)),
      el('td', {}, el('progress', {max: '4', value: String(progress[b.state] || 0)})),
      el('td', {}, b.state_reason));
    tr.addEventListener('click', () => { location.hash = '#/cb/' + encodeURIComponent(b.cb_id); });
    return tr;
  }));
  if (location.hash.startsWith('#/cb/')) showDetail(decodeURIComponent(location.hash.slice(5)));
}

async function showDetail(id) {
  const {status, data} = await api('GET', '/cb/' + encodeURIComponent(id));
  document.getElementById('detail-view').hidden = false;
  if (status !== 200) { document.getElementById('detail-title').textContent = 'No such box'; return; }
  document.getElementById('detail-title').replaceChildren(text(data.cb_name + ' '), el('span', {class: 'state ' + data.state, id: 'detail-state'}, data.state));
  const rows = [['CB ID', data.cb_id], ['Serial', data.serial], ['Friendly name', data.friendly_name], ['Line', data.line_id],
    ['State', data.state + ': ' + data.state_reason], ['Progress', el('progress', {max: '4', value: String(progress[data.state] || 0)})],
    ['CB certificate', data.cert_serial || '(not issued yet)'], ['Last address', data.last_ip], ['Registered', data.created],
    ['Updated', data.updated], ['Last seen', data.last_seen]];
  if (data.subscriber) rows.push(['Customer', data.subscriber.name], ['Street address', data.subscriber.street_address], ['Billing', data.subscriber.billing]);
  rows.push(['Address book', data.address_book.map((e) => `${e.friendly_name} (${e.cb_name})`).join(', ') || '(empty)']);
  document.getElementById('detail').replaceChildren(...rows.flatMap(([k, v]) => [el('dt', {}, k), el('dd', {}, v)]));
}

window.addEventListener('hashchange', () => {
  if (location.hash.startsWith('#/cb/')) showDetail(decodeURIComponent(location.hash.slice(5)));
  else document.getElementById('detail-view').hidden = true;
});
document.addEventListener('DOMContentLoaded', () => {
  document.getElementById('register').addEventListener('submit', (ev) => register(ev).catch((e) => {
    document.getElementById('register-result').textContent = e.message;
  }));
  document.getElementById('state-filter').addEventListener('change', refresh);
  document.getElementById('token-save').addEventListener('click', () => {
    sessionStorage.setItem('mobix-token', document.getElementById('token').value);
    document.getElementById('token-box').hidden = true;
    refresh();
  });
  refresh().catch(() => {});
  setInterval(() => refresh().catch(() => {}), 2000);  // Phases II and III move on by themselves
});
)js";

HttpResponse page(const char* type, const char* body) {
  HttpResponse r{200, type, body};
  // Nothing but this origin's own files; never framed; no type guessing.
  r.headers = {{"Content-Security-Policy",
                "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; "
                "frame-ancestors 'none'; form-action 'self'; base-uri 'none'"},
               {"X-Content-Type-Options", "nosniff"},
               {"Referrer-Policy", "no-referrer"},
               {"Cache-Control", "no-cache"}};
  return r;
}

}  // namespace

std::optional<HttpResponse> console_asset(const std::string& path) {
  if (path == "/console" || path == "/console/" || path == "/console/index.html")
    return page("text/html; charset=utf-8", kIndex);
  if (path == "/console/app.js") return page("text/javascript; charset=utf-8", kScript);
  if (path == "/console/style.css") return page("text/css; charset=utf-8", kStyle);
  return std::nullopt;
}

}  // namespace mobix
