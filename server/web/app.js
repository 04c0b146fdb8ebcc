// sockhunt web page. Every value that comes from the server is put into the page as text (text nodes,
// textContent, input values): agent data (process names, command lines, evidence) is attacker-controlled.
const TOKEN_KEY = 'sockhunt.token';
const STATUSES = ['new', 'investigating', 'true_positive', 'false_positive', 'closed'];

const $ = (sel) => document.querySelector(sel);

/** Builds an element; string and number children become text nodes, null/undefined are skipped. */
function h(tag, props = {}, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(props)) {
    if (value === undefined || value === null) continue;
    if (key === 'class') node.className = value;
    else if (key === 'on') for (const [event, fn] of Object.entries(value)) node.addEventListener(event, fn);
    else if (key === 'dataset') Object.assign(node.dataset, value);
    else if (key === 'text') node.textContent = String(value);
    else if (['type', 'value', 'name', 'title', 'checked', 'disabled', 'placeholder', 'rows', 'cols', 'size', 'selected', 'colSpan'].includes(key)) node[key] = value;
    else node.setAttribute(key, String(value));
  }
  for (const child of children.flat()) {
    if (child === null || child === undefined || child === false) continue;
    node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return node;
}

function setStatus(text, isError = false) {
  const el = $('#status');
  el.textContent = text;
  el.className = isError ? 'error' : '';
}

function token() {
  return sessionStorage.getItem(TOKEN_KEY);
}

class ApiFailure extends Error {
  constructor(status, code, message) {
    super(message);
    this.status = status;
    this.code = code;
  }
}

async function api(method, path, body) {
  const headers = { Authorization: `Bearer ${token()}` };
  if (body !== undefined) headers['Content-Type'] = 'application/json';
  const res = await fetch(path, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
  const data = await res.json().catch(() => ({}));
  if (!res.ok) {
    if (res.status === 401) showLogin('The API token was refused.');
    const err = data && data.error ? data.error : { code: `HTTP_${res.status}`, message: res.statusText };
    throw new ApiFailure(res.status, err.code, err.message);
  }
  return data;
}

const when = (iso) => (iso ? new Date(iso).toLocaleString() : '');
const pct = (x) => `${(x * 100).toFixed(x < 0.1 ? 1 : 0)}%`;
const hostPort = (ip, port) => `${String(ip).includes(':') ? `[${ip}]` : ip}:${port}`;
const endpointText = (ip, port, transport) => `${hostPort(ip, port)}/${transport}`;

function riskBadge(risk) {
  return h('span', { class: `risk risk-${String(risk).toLowerCase()}` }, risk);
}

// ---- findings ----

const state = { cursor: null, filters: {}, selected: null };

function filterQuery() {
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(state.filters)) if (v) q.set(k, v);
  return q;
}

async function loadFindings(append = false) {
  const q = filterQuery();
  q.set('limit', '100');
  if (append && state.cursor) q.set('cursor', state.cursor);
  const tbody = $('#findings-table tbody');
  try {
    const data = await api('GET', `/api/findings?${q}`);
    if (!append) tbody.replaceChildren();
    for (const f of data.findings) tbody.append(findingRow(f));
    state.cursor = data.next_cursor;
    $('#more').hidden = !data.next_cursor;
    setStatus(tbody.children.length === 0 ? 'No findings match.' : `${tbody.children.length} findings, ranked by risk then fleet rarity.`);
  } catch (err) {
    setStatus(`Findings: ${err.message}`, true);
  }
}

function findingRow(f) {
  const fleet = f.hunt.fleet;
  const tr = h(
    'tr',
    { class: 'clickable', on: { click: () => showFinding(f.event.id) } },
    h('td', {}, riskBadge(f.hunt.risk), f.hunt.endpoint_risk && f.hunt.endpoint_risk !== f.hunt.risk ? h('small', {}, ` (agent: ${f.hunt.endpoint_risk})`) : null),
    h('td', { title: fleet ? fleet.reason : '' }, fleet ? `${fleet.hosts} host${fleet.hosts === 1 ? '' : 's'} · ${pct(fleet.prevalence)}` : ''),
    h('td', {}, f.hunt.detector),
    h('td', {}, f.threat.technique.map((t) => t.id).join(', ')),
    h('td', {}, f.host.name),
    h('td', { title: f.process.command_line || '' }, f.process.name || f.process.executable || '(unknown)'),
    h('td', {}, endpointText(f.destination.ip, f.destination.port, f.network.transport)),
    h('td', {}, when(f.hunt.last_seen)),
    h('td', {}, f.sockhunt.status),
  );
  return tr;
}

function field(label, value) {
  return [h('dt', {}, label), h('dd', {}, value === null || value === undefined || value === '' ? '—' : value)];
}

async function showFinding(id) {
  const panel = $('#detail');
  try {
    const { finding: f } = await api('GET', `/api/findings/${encodeURIComponent(id)}`);
    state.selected = f;
    panel.replaceChildren(renderFinding(f));
    panel.hidden = false;
  } catch (err) {
    setStatus(`Finding: ${err.message}`, true);
  }
}

function evidenceSummary(evidence) {
  const lines = evidence.map((e) => (typeof e.summary === 'string' ? e.summary : null)).filter(Boolean);
  return lines.length > 0 ? lines.join('; ') : '';
}

function renderFinding(f) {
  const fleet = f.hunt.fleet;
  const statusSelect = h('select', { name: 'status' }, STATUSES.map((s) => h('option', { value: s, selected: s === f.sockhunt.status }, s)));
  const assignee = h('input', { name: 'assignee', value: f.sockhunt.assignee || '', placeholder: 'who investigates' });
  const notes = h('textarea', { name: 'notes', rows: 4, cols: 40, value: f.sockhunt.notes || '' });
  const triage = h(
    'form',
    {
      class: 'triage',
      on: {
        submit: async (ev) => {
          ev.preventDefault();
          try {
            await api('PATCH', `/api/findings/${encodeURIComponent(f.event.id)}`, {
              status: statusSelect.value,
              assignee: assignee.value.trim() === '' ? null : assignee.value.trim(),
              notes: notes.value === '' ? null : notes.value,
            });
            setStatus('Saved.');
            await Promise.all([showFinding(f.event.id), loadFindings()]);
          } catch (err) {
            setStatus(`Save: ${err.message}`, true);
          }
        },
      },
    },
    h('label', {}, 'Status ', statusSelect),
    h('label', {}, 'Assignee ', assignee),
    h('label', {}, 'Notes ', notes),
    h('button', { type: 'submit' }, 'Save'),
  );
  const fleetWide = h('input', { type: 'checkbox', name: 'fleet' });
  const comment = h('input', { name: 'comment', placeholder: 'why it is benign', size: 30 });
  const benign = h(
    'form',
    {
      class: 'benign',
      on: {
        submit: async (ev) => {
          ev.preventDefault();
          try {
            const r = await api('POST', `/api/findings/${encodeURIComponent(f.event.id)}/allow`, {
              fleet: fleetWide.checked,
              ...(comment.value.trim() ? { comment: comment.value.trim() } : {}),
            });
            setStatus(`Allow rule ${r.rule.id} (${r.rule.scope}) created; sent to ${r.pushed_to} online agent(s).`);
            await Promise.all([showFinding(f.event.id), loadFindings()]);
          } catch (err) {
            setStatus(`Mark benign: ${err.message}`, true);
          }
        },
      },
    },
    h('label', {}, fleetWide, ' for the whole fleet'),
    comment,
    h('button', { type: 'submit' }, 'Mark benign'),
  );
  return h(
    'div',
    {},
    h('h2', {}, f.sockhunt.display_id),
    h(
      'dl',
      { class: 'report' },
      field('Hunt ID', f.hunt.id),
      field('Technique', f.threat.technique.map((t) => `${t.id} ${t.name}`).join(', ')),
      field('Host', `${f.host.name} (${f.host.id})`),
      field('User', f.user.name || f.user.id),
      field('Evidence', evidenceSummary(f.hunt.evidence)),
      field('Risk Level', `${f.hunt.risk}${f.hunt.endpoint_risk ? ` (agent said ${f.hunt.endpoint_risk})` : ''}`),
      field('Confidence', f.hunt.confidence),
      field('Recommended Action', f.hunt.recommended_action),
      field('Fleet', fleet ? `${fleet.reason} (modifier ${fleet.modifier >= 0 ? '+' : ''}${fleet.modifier})` : ''),
      field('Score', `${f.hunt.score} (agent ${f.sockhunt.endpoint_score})`),
      field('Process', `${f.process.executable || f.process.name || '(unknown)'} pid ${f.process.pid ?? '?'}`),
      field('Command line', f.process.command_line),
      field('Destination', `${endpointText(f.destination.ip, f.destination.port, f.network.transport)}${f.destination.domain ? ` (${f.destination.domain})` : ''}`),
      field('First / last seen', `${when(f.hunt.first_seen)} / ${when(f.hunt.last_seen)} · ${f.hunt.count}×`),
      field('Rule', `${f.rule.name} (${f.rule.ruleset})`),
    ),
    h('h3', {}, 'Triage'),
    triage,
    h('h3', {}, 'Benign?'),
    benign,
    h('h3', {}, 'Evidence'),
    h('pre', { class: 'evidence' }, JSON.stringify(f.hunt.evidence, null, 2)),
  );
}

// ---- hosts and live response ----

async function loadHosts() {
  const tbody = $('#hosts-table tbody');
  try {
    const { hosts } = await api('GET', '/api/hosts');
    tbody.replaceChildren(
      ...hosts.map((host) =>
        h(
          'tr',
          { class: host.revoked ? 'revoked' : '' },
          h('td', {}, host.hostname),
          h('td', { class: 'mono' }, host.id),
          h('td', {}, host.revoked ? 'revoked' : h('span', { class: host.online ? 'online' : 'offline' }, host.online ? 'online' : 'offline')),
          h('td', {}, when(host.last_seen)),
          h('td', {}, host.findings),
          h('td', {}, host.agent_version),
          h('td', {}, `${host.facts.os} ${host.facts.arch}`),
          h(
            'td',
            {},
            h('button', { type: 'button', disabled: !host.online, on: { click: () => netstatNow(host) } }, 'netstat now'),
            ' ',
            host.revoked ? null : h('button', { type: 'button', class: 'danger', on: { click: () => revoke(host) } }, 'Revoke'),
          ),
        ),
      ),
    );
    setStatus(`${hosts.length} hosts, ${hosts.filter((x) => x.online).length} online.`);
  } catch (err) {
    setStatus(`Hosts: ${err.message}`, true);
  }
}

async function revoke(host) {
  if (!window.confirm(`Revoke ${host.hostname}? Its token stops working; its findings stay.`)) return;
  try {
    await api('DELETE', `/api/hosts/${encodeURIComponent(host.id)}`);
    await loadHosts();
  } catch (err) {
    setStatus(`Revoke: ${err.message}`, true);
  }
}

const get = (obj, path) => path.split('.').reduce((o, k) => (o === null || o === undefined ? undefined : o[k]), obj);

async function netstatNow(host) {
  const box = $('#snapshot');
  box.hidden = false;
  box.replaceChildren(h('p', {}, `Asking ${host.hostname} for its socket table…`));
  try {
    const r = await api('POST', `/api/hosts/${encodeURIComponent(host.id)}/snapshot`, {});
    const cols = [
      ['PID', (x) => get(x, 'process.pid')],
      ['Process', (x) => get(x, 'process.name')],
      ['User', (x) => get(x, 'user.name')],
      ['Proto', (x) => get(x, 'network.transport')],
      ['Local', (x) => hostPort(get(x, 'source.ip') ?? '', get(x, 'source.port') ?? '')],
      ['Remote', (x) => `${hostPort(get(x, 'destination.ip') ?? '', get(x, 'destination.port') ?? '')}${get(x, 'destination.domain') ? ` (${get(x, 'destination.domain')})` : ''}`],
      ['State', (x) => get(x, 'socket.state')],
      ['Command line', (x) => get(x, 'process.command_line')],
    ];
    box.replaceChildren(
      h('h3', {}, `${r.hostname}: ${r.count} sockets at ${when(r.taken_at)}`),
      h(
        'table',
        { class: 'snapshot' },
        h('thead', {}, h('tr', {}, cols.map(([name]) => h('th', {}, name)))),
        h('tbody', {}, r.rows.map((row) => h('tr', {}, cols.map(([, fn]) => h('td', {}, fn(row) ?? ''))))),
      ),
    );
  } catch (err) {
    box.replaceChildren(h('p', { class: 'error' }, `netstat now failed: ${err.code ? `${err.code}: ` : ''}${err.message}`));
  }
}

// ---- destinations and audit ----

async function loadDestinations() {
  try {
    const data = await api('GET', '/api/destinations?limit=200');
    $('#destinations-table tbody').replaceChildren(
      ...data.destinations.map((d) =>
        h(
          'tr',
          {},
          h('td', {}, endpointText(d.ip, d.port, d.transport)),
          h('td', {}, `${d.hosts} of ${data.fleet_hosts}`),
          h('td', {}, pct(d.prevalence)),
          h('td', {}, d.processes.join(', ')),
          h('td', {}, d.findings),
          h('td', {}, when(d.last_seen)),
        ),
      ),
    );
    setStatus(`${data.destinations.length} destinations.`);
  } catch (err) {
    setStatus(`Destinations: ${err.message}`, true);
  }
}

async function loadAudit() {
  try {
    const data = await api('GET', '/api/audit?limit=200');
    $('#audit-table tbody').replaceChildren(
      ...data.entries.map((a) =>
        h('tr', {}, h('td', {}, when(a.ts)), h('td', {}, a.who), h('td', {}, a.action), h('td', { class: 'mono' }, a.target ?? ''), h('td', { class: 'mono' }, JSON.stringify(a.detail))),
      ),
    );
    setStatus(`${data.entries.length} audit entries (newest first).`);
  } catch (err) {
    setStatus(`Audit: ${err.message}`, true);
  }
}

// ---- shell ----

const loaders = { findings: () => loadFindings(), hosts: loadHosts, destinations: loadDestinations, audit: loadAudit };

function showTab(name) {
  for (const section of document.querySelectorAll('.tab')) section.hidden = section.id !== name;
  for (const button of document.querySelectorAll('#tabs button')) button.classList.toggle('active', button.dataset.tab === name);
  loaders[name]();
}

function showLogin(message) {
  sessionStorage.removeItem(TOKEN_KEY);
  $('#login').hidden = false;
  $('#app').hidden = true;
  $('#tabs').hidden = true;
  $('#logout').hidden = true;
  if (message) setStatus(message, true);
}

function showApp() {
  $('#login').hidden = true;
  $('#app').hidden = false;
  $('#tabs').hidden = false;
  $('#logout').hidden = false;
  showTab('findings');
}

function init() {
  $('#login-form').addEventListener('submit', (ev) => {
    ev.preventDefault();
    const value = $('#token').value.trim();
    if (!value) return;
    sessionStorage.setItem(TOKEN_KEY, value);
    $('#token').value = '';
    showApp();
  });
  $('#logout').addEventListener('click', () => showLogin('Token forgotten.'));
  for (const button of document.querySelectorAll('#tabs button')) button.addEventListener('click', () => showTab(button.dataset.tab));
  $('#filters').addEventListener('submit', (ev) => {
    ev.preventDefault();
    const form = new FormData(ev.target);
    state.filters = Object.fromEntries([...form.entries()].map(([k, v]) => [k, String(v).trim()]));
    state.cursor = null;
    loadFindings();
  });
  $('#more').addEventListener('click', () => loadFindings(true));
  if (token()) showApp();
  else showLogin();
}

init();
