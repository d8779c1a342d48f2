// The SDE workbench: one page, hash routes, plain DOM. It only calls the REST API (the same one
// programs use, with the session cookie) and never builds HTML from strings, so nothing the API
// returns can become markup.
'use strict';
(() => {
  const main = document.getElementById('main');
  const statusEl = document.getElementById('status');
  let me = null;
  let orgs = {};

  // ---- small helpers ------------------------------------------------------------------------

  // h builds an element: h('a', {href: '#/x', class: 'c', onclick: fn}, 'text', child, ...).
  function h(tag, attrs, ...kids) {
    const el = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs || {})) {
      if (v === undefined || v === null || v === false) continue;
      if (k.startsWith('on')) el.addEventListener(k.slice(2), v);
      else if (k === 'class') el.className = v;
      else if (k === 'value') el.value = v;
      else el.setAttribute(k, v === true ? '' : v);
    }
    for (const kid of kids.flat(Infinity)) {
      if (kid === undefined || kid === null || kid === false) continue;
      el.append(kid instanceof Node ? kid : document.createTextNode(String(kid)));
    }
    return el;
  }
  const frag = (...kids) => { const f = document.createDocumentFragment(); f.append(...kids.flat(Infinity).filter((k) => k != null && k !== false)); return f; };
  const words = (s) => String(s || '').replaceAll('_', ' ');
  const state = (s) => h('span', {class: 'state ' + s}, words(s));
  const when = (t) => (t ? new Date(t).toLocaleString('en-GB', {dateStyle: 'medium', timeStyle: 'short'}) : '');
  const day = (t) => (t ? new Date(t).toLocaleDateString('en-GB', {dateStyle: 'medium'}) : '');
  const orgName = (code) => (orgs[code] ? orgs[code].name : code);
  const has = (role) => !!me && me.roles.includes(role);
  const enc = encodeURIComponent;
  const pct = (x) => (x == null ? '' : (100 * x).toFixed(1) + '%');
  const num = (x) => (x == null ? '' : Number(x).toLocaleString('en-GB'));

  function table(headers, rows, opts = {}) {
    return h('table', {class: opts.class},
      opts.caption ? h('caption', {class: 'sr'}, opts.caption) : null,
      h('thead', {}, h('tr', {}, headers.map((x) => h('th', {scope: 'col'}, x)))),
      h('tbody', {}, rows.length ? rows.map((r) => h('tr', {}, r.map((c) => (c instanceof Node && c.tagName === 'TD' ? c : h('td', {}, c)))))
        : h('tr', {}, h('td', {colspan: headers.length, class: 'muted'}, opts.empty || 'None.'))));
  }

  // say shows a message above the page until the reader moves on; go(hash) moves on after an
  // action and keeps the message for the page it leads to.
  let keepStatus = false;
  function say(msg, kind = 'good') {
    statusEl.replaceChildren(msg ? h('div', {class: kind, role: kind === 'alert' ? 'alert' : null}, msg) : '');
  }
  function go(hash) {
    keepStatus = true;
    location.hash = hash;
  }
  function errorBox(e) {
    return h('div', {class: 'alert', role: 'alert'}, e.message || String(e));
  }

  // api calls the REST API with the session cookie; errors carry the service's user-safe message.
  async function api(method, path, body, contentType) {
    const init = {method, credentials: 'same-origin', headers: {Accept: 'application/json'}};
    if (body !== undefined) {
      if (body instanceof Blob) {
        init.body = body;
        init.headers['Content-Type'] = contentType || 'application/octet-stream';
      } else {
        init.body = JSON.stringify(body);
        init.headers['Content-Type'] = 'application/json';
      }
    }
    const r = await fetch(path, init);
    let data = null;
    try { data = await r.json(); } catch (_) { /* not JSON */ }
    if (!r.ok) {
      const e = new Error((data && data.error && data.error.message) || `The service answered ${r.status}.`);
      e.status = r.status;
      throw e;
    }
    return data;
  }

  // busy disables a button while its work runs and reports failures next to it.
  function busy(button, out, work) {
    return async (ev) => {
      if (ev) ev.preventDefault();
      button.disabled = true;
      if (out) out.replaceChildren();
      try {
        await work();
      } catch (e) {
        if (out) out.replaceChildren(errorBox(e)); else say(e.message, 'alert');
      } finally {
        button.disabled = false;
      }
    };
  }

  // ---- disclosure-controlled results --------------------------------------------------------

  const reasons = {
    threshold: (p) => `Suppressed: fewer than ${p.threshold} people (threshold rule).`,
    secondary: () => 'Suppressed to protect another suppressed cell through the totals (secondary suppression).',
    dominance: () => 'Suppressed: one or two people make up most of this value (dominance rule).',
    differencing: (p) => `Suppressed: it differs from an earlier release by fewer than ${p.threshold} people (differencing check).`,
    policy: () => 'Not released under the disclosure policy (a refused aggregate, the row limit, or a check the policy turns into suppression).',
  };
  function cellReason(status, decision) {
    const p = (decision && decision.policy) || {threshold: 10};
    const r = status.replace(/^suppressed:/, '');
    return (reasons[r] || (() => 'Suppressed.'))(p);
  }
  const isSuppressed = (s) => typeof s === 'string' && s.startsWith('suppressed');

  // resultTable draws a released result: suppressed cells are marked and say why on hover and to
  // screen readers; rounded cells are shaded.
  // isTotal: row i of a ROLLUP, CUBE or GROUPING SETS result totals over column j (the service
  // lists each row's margin columns), so its empty value there means "all", not a missing value.
  const isTotal = (res, i, j) => !!(res.totals && res.totals[i] && res.totals[i].includes(j));

  function resultTable(res, flags) {
    const cols = res.columns || [];
    const flagged = new Map((flags || []).map((f) => [`${f.row},${f.column}`, f]));
    const base = res.decision && res.decision.policy && res.decision.policy.rounding ? res.decision.policy.rounding.base : null;
    const rows = (res.rows || []).map((row, i) => row.map((v, j) => {
      const st = (res.cells && res.cells[i] && res.cells[i][j]) || 'ok';
      const measure = cols[j] && cols[j].kind === 'measure';
      if (isSuppressed(st)) {
        const why = cellReason(st, res.decision);
        return h('td', {class: 'suppressed', title: why, tabindex: '0', 'data-status': st},
          h('span', {'aria-hidden': 'true'}, '◼'), h('span', {class: 'sr'}, why));
      }
      if (v == null && !measure && isTotal(res, i, j)) return h('td', {class: 'total', 'data-status': st}, 'Total');
      const td = h('td', {class: (measure ? 'num ' : '') + (st === 'rounded' ? 'rounded' : ''), 'data-status': st}, v == null ? '' : measure ? num(v) : v);
      if (st === 'rounded' && base) td.title = `Rounded to the nearest ${base}.`;
      const f = flagged.get(`${i},${j}`);
      if (f) {
        td.classList.add('flagged');
        td.title = `Flagged (${f.rule}): ${f.note}`;
        td.append(h('span', {class: 'sr'}, ` flagged: ${f.rule}`));
      }
      return td;
    }));
    return h('div', {class: 'results', tabindex: '0', role: 'region', 'aria-label': 'Query result'},
      table(cols.map((c) => c.name), rows, {empty: 'No rows released.'}));
  }

  function legend(res) {
    const c = (res.decision && res.decision.counts) || {};
    return h('div', {class: 'legend'},
      h('span', {}, h('span', {class: 'swatch suppressed'}), `Suppressed (${c.suppressed || 0}) — hover or focus a cell for the reason`),
      h('span', {}, h('span', {class: 'swatch rounded'}), `Rounded (${c.rounded || 0})`));
  }

  function resultSummary(res) {
    const d = res.decision || {};
    const c = d.counts || {};
    const parts = [h('strong', {}, 'Status: '), state(res.status)];
    if (res.status === 'released') parts.push(` — ${c.released || 0} of ${c.cells || 0} cells released, ${c.suppressed || 0} suppressed.`);
    if (res.status === 'review') parts.push(' — held for two output checkers; you can download it here once they approve.');
    if (res.message) parts.push(' ', res.message);
    return h('p', {class: res.status === 'released' ? 'good' : 'notice', 'data-result-status': res.status}, parts);
  }

  // ---- pages ---------------------------------------------------------------------------------

  async function home() {
    const body = [h('h1', {}, `Welcome, ${me.name}`),
      h('p', {class: 'lead'}, `Signed in as ${me.user} (${me.roles.join(', ')}) for ${orgName(me.organisation)}.`)];
    const cards = [];
    const wss = (await api('GET', '/api/v1/workspaces')).workspaces || [];
    if (has('analyst') || has('planner')) {
      const mine = wss.filter((w) => (w.members || []).some((m) => m.user === me.user));
      cards.push(h('div', {class: 'card'}, h('h3', {}, 'My workspaces'),
        mine.length ? h('ul', {}, mine.map((w) => h('li', {}, h('a', {href: `#/workspaces/${enc(w.id)}`}, w.name), ' ', state(w.state)))) : h('p', {}, 'None yet.'),
        has('analyst') ? h('a', {class: 'button', href: '#/workspaces/new'}, 'Request a workspace') : null));
      cards.push(h('div', {class: 'card'}, h('h3', {}, 'Dashboards'), h('p', {}, 'Charts of approved queries, refreshed through disclosure control.'), h('a', {href: '#/dashboards'}, 'Open dashboards')));
    }
    if (has('controller')) {
      const pending = wss.filter((w) => (w.approvals || []).some((a) => a.organisation === me.organisation && a.decision === 'pending'));
      cards.push(h('div', {class: 'card'}, h('h3', {}, 'Workspace requests'),
        h('p', {}, `${pending.length} waiting for your organisation's decision.`),
        pending.length ? h('ul', {}, pending.map((w) => h('li', {}, h('a', {href: `#/workspaces/${enc(w.id)}`}, w.name)))) : null));
      // Membership reviews: members of workspaces using this organisation's data whose access
      // lapses within 30 days (or has lapsed) unless a controller confirms it again.
      const soon = Date.now() + 30 * 864e5;
      const due = [];
      for (const w of wss) {
        if (!(w.approvals || []).some((a) => a.organisation === me.organisation)) continue;
        for (const m of w.members || []) {
          if (m.lapsed || new Date(m.review_due).getTime() < soon) due.push({w, m});
        }
      }
      cards.push(h('div', {class: 'card', id: 'membership-reviews'}, h('h3', {}, 'Membership reviews'),
        h('p', {}, `${due.length} member(s) to confirm within 30 days.`),
        due.length ? h('ul', {}, due.map(({w, m}) => h('li', {}, h('a', {href: `#/workspaces/${enc(w.id)}`}, `${m.user} in ${w.name}`), m.lapsed ? ' (lapsed)' : ` (by ${day(m.review_due)})`))) : null));
      const ds = ((await api('GET', '/api/v1/datasets')).datasets || []).filter((d) => d.controller === me.organisation);
      cards.push(h('div', {class: 'card'}, h('h3', {}, 'Your datasets'), h('p', {}, 'Upload new versions, read ingest reports and see who uses them.'),
        h('ul', {}, ds.map((d) => h('li', {}, h('a', {href: `#/datasets/${enc(d.name)}`}, d.title || d.name))))));
      const ags = ((await api('GET', '/api/v1/agreements')).agreements || []).filter((a) => a.parties.includes(me.organisation) && !(a.signatures || []).some((s) => s.organisation === me.organisation));
      cards.push(h('div', {class: 'card'}, h('h3', {}, 'Agreements'), h('p', {}, `${ags.length} waiting for your organisation's signature.`), h('a', {href: '#/agreements'}, 'Agreements')));
    }
    if (has('checker')) {
      const q = (await api('GET', '/api/v1/reviews')).reviews || [];
      cards.push(h('div', {class: 'card'}, h('h3', {}, 'Output checking'), h('p', {}, `${q.length} result(s) waiting for review.`), h('a', {href: '#/reviews'}, 'Open the queue')));
    }
    cards.push(h('div', {class: 'card'}, h('h3', {}, 'Data catalogue'), h('p', {}, 'What data exists, who controls it, its columns and versions.'), h('a', {href: '#/datasets'}, 'Browse the catalogue')));
    return frag(body, h('div', {class: 'cards'}, cards));
  }

  async function catalogue() {
    const ds = (await api('GET', '/api/v1/datasets')).datasets || [];
    const rows = ds.map((d) => {
      const v = (d.versions || [])[d.versions.length - 1];
      return [h('a', {href: `#/datasets/${enc(d.name)}`}, d.title || d.name), h('code', {}, d.name), orgName(d.controller),
        v ? `v${v.version}` : 'none', v ? h('td', {class: 'num'}, num(v.rows.ok)) : '', v ? h('td', {class: 'num'}, pct(v.linkage_rate)) : '', v ? day(v.created_at) : ''];
    });
    return frag(h('h1', {}, 'Data catalogue'),
      h('p', {class: 'lead'}, 'Every dataset held in the environment. Person identifiers are pseudonymised at ingest; direct identifiers never enter.'),
      table(['Dataset', 'Name', 'Controller', 'Latest', 'Rows', 'Linked to a person', 'Updated'], rows, {caption: 'Datasets'}));
  }

  async function dataset(name) {
    const d = await api('GET', `/api/v1/datasets/${enc(name)}`);
    const versions = d.versions || [];
    const latest = versions[versions.length - 1];
    const out = [h('h1', {}, d.title || d.name), h('p', {class: 'lead'}, d.description),
      h('p', {}, h('strong', {}, 'Controller: '), orgName(d.controller), ' · ', h('strong', {}, 'Name in SQL: '), h('code', {}, d.name))];
    out.push(h('h2', {}, 'Columns'), table(['Column', 'Type', 'Description'],
      ((latest && latest.columns) || d.columns.map((c) => ({name: c}))).map((c) => [h('code', {}, c.name), c.type || '', c.description || '']), {caption: 'Columns'}));
    const vbox = h('div', {id: 'versions'}, versionsTable(versions));
    out.push(h('h2', {}, 'Versions'), vbox);
    if (has('controller') && me.organisation === d.controller) {
      const stored = async () => vbox.replaceChildren(versionsTable((await api('GET', `/api/v1/datasets/${enc(name)}`)).versions || []));
      out.push(uploadForm(d, stored), await usage(d));
    }
    return frag(out);
  }

  function versionsTable(versions) {
    return table(['Version', 'Created', 'By', 'Source', 'Rows in', 'Accepted', 'Quarantined', 'Linked', 'Pseudonym key'],
      versions.slice().reverse().map((v) => [`v${v.version}`, when(v.created_at), v.created_by, v.source ? v.source.name : '',
        h('td', {class: 'num'}, num(v.rows.in)), h('td', {class: 'num'}, num(v.rows.ok)), h('td', {class: 'num'}, num(v.rows.quarantined)),
        h('td', {class: 'num'}, pct(v.linkage_rate)), h('code', {}, v.pseudonym_key || '')]), {caption: 'Versions', empty: 'No versions yet.'});
  }

  // uploadForm sends a new version and follows its ingest job; stored runs after it is stored.
  function uploadForm(d, stored) {
    const file = h('input', {type: 'file', id: 'upload-file', accept: '.csv,.parquet,.arrow,.arrows,.ipc', required: true});
    const button = h('button', {type: 'submit'}, 'Upload and ingest');
    const out = h('div', {id: 'upload-out', 'aria-live': 'polite'});
    const form = h('form', {class: 'stack', id: 'upload'},
      h('label', {for: 'upload-file'}, 'Source file ', h('span', {class: 'hint'}, '(CSV, Parquet or Arrow IPC; it is held in memory, never written to disk, while it is pseudonymised)')),
      file, h('div', {class: 'actions'}, button), out);
    form.addEventListener('submit', busy(button, out, async () => {
      const f = file.files[0];
      if (!f) throw new Error('Choose a file to upload.');
      const ext = f.name.split('.').pop().toLowerCase();
      const format = {csv: 'csv', parquet: 'parquet', arrow: 'arrow', arrows: 'arrow', ipc: 'arrow'}[ext];
      if (!format) throw new Error('The file must end in .csv, .parquet or .arrow.');
      const progress = h('div', {class: 'progress', role: 'log', 'aria-label': 'Ingest progress'}, `Uploading ${f.name} (${num(f.size)} bytes)…`);
      out.replaceChildren(progress);
      let job = await api('POST', `/api/v1/datasets/${enc(d.name)}/versions?format=${format}&filename=${enc(f.name)}`, f, 'application/octet-stream');
      while (job.state === 'running') {
        progress.replaceChildren(...(job.progress || ['Ingesting…']).map((l) => h('div', {}, l)));
        await new Promise((r) => setTimeout(r, 400));
        job = await api('GET', `/api/v1/ingests/${enc(job.id)}`);
      }
      progress.replaceChildren(...(job.progress || []).map((l) => h('div', {}, l)));
      if (job.state === 'failed') {
        out.append(h('div', {class: 'alert', role: 'alert'}, 'Nothing was stored. ', job.error ? job.error.message : ''));
        return;
      }
      out.append(ingestReport(job.report));
      await stored();
    }));
    return h('section', {'aria-labelledby': 'upload-h'}, h('h2', {id: 'upload-h'}, 'Upload a new version'), form);
  }

  function ingestReport(rep) {
    const q = rep.quarantined_sample || [];
    return h('div', {class: 'ingest-report'},
      h('div', {class: 'good'}, `Stored version ${rep.version}: ${num(rep.rows.in)} rows read, ${num(rep.rows.ok)} accepted, ${num(rep.rows.quarantined)} quarantined; ${pct(rep.linkage_rate)} linked to a person.`),
      h('h3', {}, 'Quarantined rows'),
      h('p', {class: 'hint'}, 'Row numbers count data rows from 1. Values are never shown: they may be identifiers.'),
      table(['Row', 'Reasons'], q.map((r) => [h('td', {class: 'num'}, r.row), r.reasons]), {caption: 'Quarantined rows', empty: 'No rows were quarantined.'}));
  }

  async function usage(d) {
    const u = await api('GET', `/api/v1/datasets/${enc(d.name)}/usage`);
    return h('section', {'aria-labelledby': 'usage-h'}, h('h2', {id: 'usage-h'}, 'Usage'),
      h('p', {class: 'hint'}, 'Every workspace that asked for this dataset. Queries and releases count all work in the workspace.'),
      table(['Workspace', 'State', 'Your decision', 'Queries', 'Released outputs', 'By whom'],
        u.workspaces.map((w) => [h('a', {href: `#/workspaces/${enc(w.workspace)}`}, w.name), state(w.state), state(w.approval),
          h('td', {class: 'num'}, w.queries), h('td', {class: 'num'}, w.releases),
          w.users.map((x) => `${x.user}: ${x.queries} queries, ${x.releases} released`).join('; ')]), {caption: 'Usage', empty: 'No workspace uses it.'}));
  }

  async function workspaces() {
    const wss = (await api('GET', '/api/v1/workspaces')).workspaces || [];
    return frag(h('h1', {}, 'Workspaces'),
      has('analyst') ? h('p', {}, h('a', {class: 'button', href: '#/workspaces/new'}, 'Request a workspace')) : null,
      table(['Workspace', 'Purpose', 'Agreement', 'State', 'Ends', has('controller') ? 'Waiting for you' : 'Your role'],
        wss.map((w) => {
          const mine = (w.members || []).find((m) => m.user === me.user);
          const waiting = (w.approvals || []).filter((a) => a.organisation === me.organisation && a.decision === 'pending').map((a) => a.dataset);
          return [h('a', {href: `#/workspaces/${enc(w.id)}`}, w.name), w.purpose, w.agreement, state(w.state), day(w.end_date),
            has('controller') ? (waiting.length ? `decision on ${waiting.join(', ')}` : '') : (mine ? mine.role : '')];
        }), {caption: 'Workspaces', empty: 'No workspaces you can see.'}));
  }

  async function requestWorkspace() {
    const ags = ((await api('GET', '/api/v1/agreements')).agreements || []).filter((a) => a.state === 'in_force');
    if (!ags.length) return frag(h('h1', {}, 'Request a workspace'), h('p', {}, 'No data-sharing agreement is in force, so no workspace can be requested.'));
    const out = h('div', {'aria-live': 'polite'});
    const agSel = h('select', {id: 'ws-agreement', required: true}, ags.map((a) => h('option', {value: a.id}, `${a.title} (${words(a.purpose_category)})`)));
    const dsBox = h('fieldset', {id: 'ws-datasets'});
    const fillDatasets = () => {
      const a = ags.find((x) => x.id === agSel.value);
      dsBox.replaceChildren(h('legend', {}, 'Datasets (each controller must approve)'),
        ...a.datasets.map((d, i) => h('div', {}, h('input', {type: 'checkbox', id: `ds-${i}`, value: d.dataset}), ' ', h('label', {for: `ds-${i}`}, d.dataset))));
    };
    agSel.addEventListener('change', fillDatasets);
    fillDatasets();
    const end = new Date(Date.now() + 180 * 864e5).toISOString().slice(0, 10);
    const f = {
      id: h('input', {type: 'text', id: 'ws-id', required: true, pattern: '[a-z0-9][a-z0-9-]{1,62}', 'aria-describedby': 'ws-id-hint'}),
      purpose: h('textarea', {id: 'ws-purpose', required: true, rows: '3'}),
      end: h('input', {type: 'date', id: 'ws-end', required: true, value: end}),
      planners: h('input', {type: 'text', id: 'ws-planners', 'aria-describedby': 'ws-planners-hint'}),
    };
    const button = h('button', {type: 'submit'}, 'Send the request');
    const form = h('form', {class: 'stack', id: 'request-workspace'},
      h('label', {for: 'ws-id'}, 'Short name'), h('div', {class: 'hint', id: 'ws-id-hint'}, 'Lower-case letters, digits and hyphens, e.g. frailty-2027.'), f.id,
      h('label', {for: 'ws-purpose'}, 'Purpose'), f.purpose,
      h('label', {for: 'ws-agreement'}, 'Data-sharing agreement'), agSel, dsBox,
      h('label', {for: 'ws-end'}, 'End date'), f.end,
      h('label', {for: 'ws-planners'}, 'Planners to add (optional)'), h('div', {class: 'hint', id: 'ws-planners-hint'}, 'User names separated by commas; they can read dashboards.'), f.planners,
      h('div', {class: 'actions'}, button), out);
    form.addEventListener('submit', busy(button, out, async () => {
      const datasets = [...dsBox.querySelectorAll('input:checked')].map((c) => ({dataset: c.value}));
      if (!datasets.length) throw new Error('Choose at least one dataset.');
      const members = [{user: me.user, role: 'analyst'}].concat(f.planners.value.split(',').map((s) => s.trim()).filter(Boolean).map((u) => ({user: u, role: 'planner'})));
      const ws = await api('POST', '/api/v1/workspaces', {id: f.id.value, name: f.id.value, purpose: f.purpose.value, agreement: agSel.value,
        datasets, members, end_date: new Date(f.end.value + 'T00:00:00Z').toISOString()});
      say(`Requested ${ws.name}. Each dataset's controller will now decide.`);
      go(`#/workspaces/${enc(ws.id)}`);
    }));
    return frag(h('h1', {}, 'Request a workspace'),
      h('p', {class: 'lead'}, 'A workspace is a locked-down database holding only the datasets and columns approved for one piece of work, under one data-sharing agreement.'), form);
  }

  async function workspace(id) {
    const [w, hist] = await Promise.all([api('GET', `/api/v1/workspaces/${enc(id)}`), api('GET', `/api/v1/workspaces/${enc(id)}/history`)]);
    const member = (w.members || []).find((m) => m.user === me.user);
    const out = [h('h1', {}, `Workspace ${w.name}`), h('p', {class: 'lead'}, w.purpose),
      h('p', {}, h('strong', {}, 'State: '), state(w.state), w.state_reason ? ` — ${w.state_reason}` : '', ' · ',
        h('strong', {}, 'Agreement: '), w.agreement, ' · ', h('strong', {}, 'Ends: '), day(w.end_date), ' · ', h('strong', {}, 'Requested by: '), w.created_by)];
    if (member && w.state === 'active') {
      out.push(h('div', {class: 'actions'},
        member.role === 'analyst' ? h('a', {class: 'button', href: `#/workspaces/${enc(w.id)}/query`}, 'Open the SQL workbench') : null,
        h('a', {class: 'button secondary', href: `#/dashboards`}, 'Dashboards')));
    }
    // Approvals: a controller decides for their organisation's datasets.
    const reason = h('input', {type: 'text', id: 'decision-reason', 'aria-describedby': 'decision-hint'});
    const decOut = h('div', {'aria-live': 'polite'});
    const mayDecide = (a) => has('controller') && a.organisation === me.organisation && w.created_by !== me.user;
    const decide = (a, verdict) => {
      const b = h('button', {type: 'button', class: verdict === 'approved' ? '' : 'secondary', 'data-dataset': a.dataset, 'data-verdict': verdict},
        {approved: 'Approve', refused: 'Refuse', withdrawn: 'Withdraw'}[verdict], h('span', {class: 'sr'}, ` ${a.dataset}`));
      b.addEventListener('click', busy(b, decOut, async () => {
        if (verdict !== 'approved' && !reason.value.trim()) throw new Error('Give a reason: the requester and the transparency record see it.');
        await api('POST', `/api/v1/workspaces/${enc(w.id)}/decisions`, {dataset: a.dataset, verdict, reason: reason.value.trim() || 'Approved.'});
        say(`Recorded: ${a.dataset} ${verdict}.`);
        render();
      }));
      return b;
    };
    const anyDecision = (w.approvals || []).some(mayDecide);
    out.push(h('h2', {}, 'Datasets and approvals'),
      anyDecision ? h('div', {class: 'field'}, h('label', {for: 'decision-reason'}, 'Reason for your decision'), h('div', {class: 'hint', id: 'decision-hint'}, 'Required to refuse or withdraw; recorded in the workspace history.'), reason) : null,
      table(['Dataset', 'Columns', 'Controller', 'Decision', 'Reason', 'By', ''],
        (w.approvals || []).map((a) => {
          const scope = (w.datasets || []).find((d) => d.dataset === a.dataset);
          return [h('a', {href: `#/datasets/${enc(a.dataset)}`}, a.dataset), scope ? scope.columns.length : '', orgName(a.organisation), state(a.decision), a.reason, a.by || '',
            mayDecide(a) ? h('span', {class: 'actions'}, a.decision === 'approved' ? decide(a, 'withdrawn') : [decide(a, 'approved'), a.decision === 'pending' ? decide(a, 'refused') : null]) : ''];
        }), {caption: 'Datasets and approvals'}), decOut);
    // Members: controllers of the workspace's data confirm each member every review period.
    const controls = has('controller') && (w.approvals || []).some((a) => a.organisation === me.organisation);
    const memOut = h('div', {'aria-live': 'polite'});
    out.push(h('h2', {}, 'Members'), table(['Person', 'Role', 'Added', 'Confirmed', 'Review due', ''],
      (w.members || []).map((m) => {
        let act = '';
        if (controls) {
          const b = h('button', {type: 'button', class: 'secondary', 'data-confirm': m.user}, 'Confirm', h('span', {class: 'sr'}, ` ${m.user}`));
          b.addEventListener('click', busy(b, memOut, async () => {
            await api('POST', `/api/v1/workspaces/${enc(w.id)}/members/${enc(m.user)}/confirm`, {});
            say(`Confirmed ${m.user}.`);
            render();
          }));
          act = b;
        }
        return [m.user, m.role, day(m.added_at), m.confirmed_at && !m.confirmed_at.startsWith('0001') ? `${day(m.confirmed_at)} by ${m.confirmed_by}` : 'not yet',
          m.lapsed ? h('span', {class: 'state suspended'}, 'lapsed') : day(m.review_due), act];
      }), {caption: 'Members'}), memOut);
    out.push(h('h2', {}, 'History'), table(['When', 'What', 'Who', 'Change', 'Reason'],
      (hist.events || []).slice().reverse().map((e) => [when(e.at), words(e.kind) + (e.subject ? ` (${e.subject})` : ''), e.actor, e.from ? `${words(e.from)} → ${words(e.to)}` : words(e.to), e.reason]), {caption: 'History'}));
    return frag(out);
  }

  async function workbench(id) {
    const [w, tabs] = await Promise.all([api('GET', `/api/v1/workspaces/${enc(id)}`), api('GET', `/api/v1/workspaces/${enc(id)}/tables`)]);
    const editor = h('textarea', {id: 'sql', class: 'sql', spellcheck: 'false', 'aria-describedby': 'sql-hint'},
      'SELECT imd_decile, sex, count(*) AS people\nFROM patients\nGROUP BY imd_decile, sex\nORDER BY imd_decile, sex');
    const insert = (text) => {
      const s = editor.selectionStart, e = editor.selectionEnd;
      editor.setRangeText(text, s, e, 'end');
      editor.focus();
    };
    const schema = h('nav', {class: 'schema', 'aria-label': 'Schema browser'}, h('h2', {}, 'Tables'),
      (tabs.tables || []).map((t) => h('details', {},
        h('summary', {}, t.name, h('span', {class: 'hint'}, ` v${t.version}`)),
        h('ul', {}, t.columns.map((c) => h('li', {}, h('a', {href: '#', title: `Insert ${t.name}.${c.name}`, onclick: (ev) => { ev.preventDefault(); insert(c.name); }}, h('code', {}, c.name)), ' ', h('span', {class: 'hint'}, c.type.toLowerCase())))))));
    const out = h('div', {id: 'result', 'aria-live': 'polite'});
    const run = h('button', {type: 'submit', id: 'run'}, 'Run query');
    const histBox = h('div', {id: 'history'});
    const showResult = (qid, res) => {
      out.replaceChildren(resultSummary(res), legend(res), resultTable(res),
        h('div', {class: 'actions'},
          res.status === 'released' ? h('a', {class: 'button secondary', href: `/api/v1/workspaces/${enc(id)}/queries/${enc(qid)}?format=csv`, download: `${qid}.csv`}, 'Download CSV') : null,
          h('details', {}, h('summary', {}, 'Decision record'), h('pre', {class: 'sql'}, JSON.stringify(res.decision, null, 2)))));
    };
    const form = h('form', {id: 'query-form'},
      h('label', {for: 'sql'}, h('strong', {}, 'SQL')),
      h('div', {class: 'hint', id: 'sql-hint'}, 'One SELECT of aggregates (count, sum, avg) grouped by dimensions. Results pass disclosure control: small cells are suppressed, counts are rounded. Ctrl+Enter runs.'),
      editor, h('div', {class: 'actions'}, run));
    const submit = busy(run, out, async () => {
      out.replaceChildren(h('p', {}, 'Running…'));
      const res = await api('POST', `/api/v1/workspaces/${enc(id)}/queries`, {sql: editor.value});
      showResult(res.query_id, res);
      loadHistory().catch((e) => histBox.replaceChildren(errorBox(e)));
    });
    form.addEventListener('submit', submit);
    editor.addEventListener('keydown', (ev) => {
      if (ev.key === 'Enter' && (ev.ctrlKey || ev.metaKey)) {
        ev.preventDefault();
        if (!run.disabled) submit(ev); // one run at a time: each is recorded and audited
      }
    });
    const loadHistory = async () => {
      const qs = (await api('GET', `/api/v1/workspaces/${enc(id)}/queries`)).queries || [];
      histBox.replaceChildren(table(['When', 'Query', 'Outcome', ''], qs.slice(0, 50).map((q) => {
        const b = h('button', {type: 'button', class: 'secondary'}, 'Open', h('span', {class: 'sr'}, ` query of ${when(q.created_at)}`));
        b.addEventListener('click', busy(b, out, async () => {
          const full = await api('GET', `/api/v1/workspaces/${enc(id)}/queries/${enc(q.query_id)}`);
          editor.value = full.sql;
          if (full.result) showResult(full.query_id, full.result);
          else out.replaceChildren(errorBox({message: full.error ? full.error.message : `The query is ${words(full.state)}.`}));
          editor.focus();
        }));
        return [when(q.created_at), h('code', {}, q.sql.length > 120 ? q.sql.slice(0, 120) + '…' : q.sql),
          q.status ? state(q.status) : q.error ? h('span', {class: 'state refused'}, words(q.error.code)) : state(q.state), b];
      }), {caption: 'Query history', empty: 'No queries yet.'}));
    };
    await loadHistory();
    return frag(h('h1', {}, `SQL workbench — ${w.name}`),
      h('div', {class: 'workbench'}, schema,
        h('div', {}, form, out, h('h2', {}, 'My query history'), h('p', {class: 'hint'}, 'Only you see your queries.'), histBox)));
  }

  async function dashboards() {
    const wss = ((await api('GET', '/api/v1/workspaces')).workspaces || []).filter((w) => (w.members || []).some((m) => m.user === me.user) && w.state === 'active');
    const out = [h('h1', {}, 'Dashboards')];
    for (const w of wss) {
      const ds = (await api('GET', `/api/v1/workspaces/${enc(w.id)}/dashboards`)).dashboards || [];
      const analyst = (w.members || []).some((m) => m.user === me.user && m.role === 'analyst');
      out.push(h('h2', {}, `Workspace ${w.name}`), ds.length
        ? h('ul', {}, ds.map((d) => h('li', {}, h('a', {href: `#/workspaces/${enc(w.id)}/dashboards/${enc(d.id)}`}, d.title), d.description ? ` — ${d.description}` : '')))
        : h('p', {}, 'No dashboards yet.'),
        analyst ? h('p', {}, h('a', {class: 'button secondary', href: `#/workspaces/${enc(w.id)}/dashboards/new`}, 'Create a dashboard from my queries')) : null);
    }
    if (!wss.length) out.push(h('p', {}, 'You are not a member of an active workspace.'));
    return frag(out);
  }

  async function dashboard(ws, id) {
    const [d, hist] = await Promise.all([api('GET', `/api/v1/workspaces/${enc(ws)}/dashboards/${enc(id)}`),
      api('GET', `/api/v1/workspaces/${enc(ws)}/dashboards/${enc(id)}/history`)]);
    const refresh = h('button', {type: 'button', id: 'refresh'}, 'Refresh through disclosure control');
    const out = h('div', {'aria-live': 'polite'});
    refresh.addEventListener('click', busy(refresh, out, async () => {
      await api('POST', `/api/v1/workspaces/${enc(ws)}/dashboards/${enc(id)}/refresh`, {});
      say('Refreshed: every panel was re-run through disclosure control and the release recorded.');
      render();
    }));
    const panels = d.panels.map((p, i) => {
      const pr = (d.results || []).find((r) => r.panel === i);
      const box = h('section', {class: 'panel', 'aria-labelledby': `panel-${i}`}, h('h2', {id: `panel-${i}`}, p.title));
      if (!pr || pr.error || !pr.result) {
        box.append(h('div', {class: 'notice'}, pr && pr.error ? pr.error.message : 'No released result yet; refresh the dashboard.'));
        return box;
      }
      const res = pr.result;
      if (p.chart === 'table') box.append(legend(res), resultTable(res));
      else box.append(chart(p, res));
      box.append(h('p', {class: 'hint'}, `Released ${when(pr.refreshed_at)} by ${pr.refreshed_by} · ${pr.release || ''}`),
        h('div', {class: 'actions'}, h('a', {class: 'button secondary', href: `/api/v1/workspaces/${enc(ws)}/dashboards/${enc(id)}/panels/${i}`, download: `${id}-panel-${i}.csv`}, 'Download CSV', h('span', {class: 'sr'}, ` of ${p.title}`)),
          p.notes ? h('span', {class: 'hint'}, p.notes) : null));
      return box;
    });
    // Every refresh is kept: when, by whom, and the release (or why there was none).
    const releases = hist.releases || [];
    const history = h('details', {id: 'release-history'}, h('summary', {}, `Release history (${releases.length} panel releases)`),
      table(['When', 'Panel', 'By', 'Release'], releases.map((r) => [when(r.refreshed_at), (d.panels[r.panel] || {}).title || `Panel ${r.panel + 1}`,
        r.refreshed_by, r.error ? h('span', {class: 'state refused'}, r.error.message) : h('code', {}, r.release)]), {caption: 'Release history'}));
    return frag(h('h1', {}, d.title), d.description ? h('p', {class: 'lead'}, d.description) : null,
      h('div', {class: 'actions'}, refresh), out, h('div', {class: 'panels'}, panels), history);
  }

  // newDashboard lets an analyst turn released queries into a dashboard for planners: each chosen
  // query becomes a panel with a chart. The service checks every query again and refreshes the
  // dashboard once, through disclosure control.
  async function newDashboard(ws) {
    const qs = ((await api('GET', `/api/v1/workspaces/${enc(ws)}/queries`)).queries || []).filter((q) => q.status === 'released').slice(0, 20);
    const out = h('div', {'aria-live': 'polite'});
    const title = h('input', {type: 'text', id: 'dash-title', required: true});
    const desc = h('input', {type: 'text', id: 'dash-desc'});
    const rows = [];
    for (const [i, q] of qs.entries()) {
      const full = await api('GET', `/api/v1/workspaces/${enc(ws)}/queries/${enc(q.query_id)}`);
      const cols = (full.result && full.result.columns) || [];
      const dims = cols.filter((c) => c.kind === 'dimension').map((c) => c.name);
      const meas = cols.filter((c) => c.kind === 'measure').map((c) => c.name);
      const pick = h('input', {type: 'checkbox', id: `p-${i}`, 'data-query': q.query_id});
      const ptitle = h('input', {type: 'text', id: `p-title-${i}`, 'aria-label': `Panel title for query ${i + 1}`});
      const chartSel = h('select', {id: `p-chart-${i}`, 'aria-label': `Chart for query ${i + 1}`}, ['bar', 'line', 'table'].map((c) => h('option', {}, c)));
      const x = h('select', {id: `p-x-${i}`, 'aria-label': `Horizontal axis for query ${i + 1}`}, dims.map((c) => h('option', {}, c)));
      const y = h('select', {id: `p-y-${i}`, 'aria-label': `Measure for query ${i + 1}`}, meas.map((c) => h('option', {}, c)));
      rows.push({q: full, pick, ptitle, chartSel, x, y});
      pick.addEventListener('change', () => { if (pick.checked && !ptitle.value) ptitle.value = `${meas[0] || 'value'} by ${dims.join(' and ')}`; });
    }
    const button = h('button', {type: 'submit'}, 'Create the dashboard');
    const form = h('form', {class: 'stack', id: 'new-dashboard'},
      h('label', {for: 'dash-title'}, 'Title'), title,
      h('label', {for: 'dash-desc'}, 'Description (optional)'), desc,
      h('h2', {}, 'Panels'), h('p', {class: 'hint'}, 'Choose released queries; each becomes a panel. Planners can refresh them but never change them.'),
      table(['', 'Query', 'Panel title', 'Chart', 'Across', 'Value'], rows.map((r, i) => [
        h('span', {}, r.pick, h('label', {for: `p-${i}`, class: 'sr'}, `Use query ${i + 1}`)), h('code', {}, r.q.sql), r.ptitle, r.chartSel, r.x, r.y]),
      {caption: 'Released queries', empty: 'You have no released queries in this workspace yet: run some in the workbench first.'}),
      h('div', {class: 'actions'}, button), out);
    form.addEventListener('submit', busy(button, out, async () => {
      const panels = rows.filter((r) => r.pick.checked).map((r) => ({title: r.ptitle.value || r.q.sql, sql: r.q.sql, chart: r.chartSel.value,
        x: r.chartSel.value === 'table' ? undefined : r.x.value, y: r.chartSel.value === 'table' ? undefined : r.y.value}));
      if (!panels.length) throw new Error('Choose at least one query.');
      const d = await api('POST', `/api/v1/workspaces/${enc(ws)}/dashboards`, {title: title.value, description: desc.value || undefined, panels});
      say(`Created the dashboard "${d.title}"; its panels were run through disclosure control.`);
      go(`#/workspaces/${enc(ws)}/dashboards/${enc(d.id)}`);
    }));
    return frag(h('h1', {}, 'Create a dashboard'), form);
  }

  // Charts drawn on the current page; disposed when the page is replaced, resized with the window.
  let charts = [];
  function disposeCharts() {
    for (const c of charts) c.dispose();
    charts = [];
  }
  window.addEventListener('resize', () => { for (const c of charts) c.resize(); });

  // chart draws a bar or line panel with ECharts (SVG, so marks are in the page). Suppressed
  // values are gaps, named in a legend below the chart; other dimensions become series.
  function chart(p, res) {
    const cols = res.columns.map((c) => c.name);
    const xi = cols.indexOf(p.x), yi = cols.indexOf(p.y);
    const label = (v, i, j) => (typeof v === 'string' && /^\d{4}-\d{2}-\d{2}T/.test(v) ? v.slice(0, 7) : v != null ? String(v) : isTotal(res, i, j) ? 'Total' : '(none)');
    const others = res.columns.map((c, j) => j).filter((j) => j !== xi && j !== yi && res.columns[j].kind === 'dimension');
    const xs = [], series = new Map(), gaps = [];
    res.rows.forEach((row, i) => {
      const x = label(row[xi], i, xi);
      if (!xs.includes(x)) xs.push(x);
      const key = others.map((j) => label(row[j], i, j)).join(' · ') || p.y;
      if (!series.has(key)) series.set(key, new Map());
      const st = (res.cells[i] || [])[yi] || 'ok';
      if (isSuppressed(st)) gaps.push({x, key, why: cellReason(st, res.decision)});
      series.get(key).set(x, isSuppressed(st) ? null : row[yi]);
    });
    const el = h('div', {class: 'chart', role: 'img', 'aria-label': `${p.chart} chart of ${p.y} by ${p.x}`});
    // The legend names each gap once per reason: "Gaps are suppressed values (4): a M, b F — why".
    const byWhy = new Map();
    for (const g of gaps) byWhy.set(g.why, (byWhy.get(g.why) || []).concat(`${g.x}${series.size > 1 ? ' ' + g.key : ''}`));
    const box = h('figure', {class: 'figure', 'data-chart': p.chart}, el,
      h('figcaption', {class: 'legend'}, h('span', {}, h('span', {class: 'swatch suppressed'}),
        gaps.length ? `Gaps are suppressed values (${gaps.length}): ` + [...byWhy].map(([why, where]) => `${where.join(', ')} — ${why}`).join(' ') : 'No values suppressed.')));
    if (!window.echarts) {
      el.replaceChildren(h('p', {class: 'alert'}, 'The chart library did not load.'));
      return box;
    }
    requestAnimationFrame(() => {
      if (!el.isConnected) return; // the page was replaced before the frame
      const c = window.echarts.init(el, null, {renderer: 'svg'});
      charts.push(c);
      c.setOption({
        aria: {enabled: true}, animation: false,
        tooltip: {trigger: 'axis'}, legend: {top: 0, type: 'scroll'},
        grid: {left: 8, right: 16, bottom: 8, top: 36, containLabel: true},
        color: ['#005eb8', '#ae2573', '#007f3b', '#ed8b00', '#330072', '#00a499', '#8a1538'],
        xAxis: {type: 'category', data: xs, name: p.x, nameLocation: 'middle', nameGap: xs.length > 8 ? 60 : 28,
          axisLabel: {rotate: xs.length > 8 ? 35 : 0, hideOverlap: true}},
        yAxis: {type: 'value', name: p.y},
        series: [...series.entries()].map(([name, vals]) => ({name, type: p.chart === 'line' ? 'line' : 'bar', connectNulls: false, data: xs.map((x) => (vals.has(x) ? vals.get(x) : null))})),
      });
    });
    return box;
  }

  async function reviews() {
    const items = (await api('GET', '/api/v1/reviews')).reviews || [];
    const out = [h('h1', {}, 'Output checking'),
      h('p', {class: 'lead'}, 'Results the disclosure checks flagged. Each needs two approvals from different checkers, never from the person who asked; one rejection refuses it.')];
    if (!items.length) out.push(h('p', {class: 'notice'}, 'Nothing is waiting for review.'));
    for (const it of items) {
      const dec = typeof it.decision === 'string' ? JSON.parse(it.decision) : it.decision;
      const res = it.result || {};
      const mine = it.requester === me.user || (it.reviews || []).some((r) => r.checker === me.user);
      const comment = h('textarea', {id: `comment-${it.release}`, rows: '2'});
      const msg = h('div', {'aria-live': 'polite'});
      const verdict = (v, label) => {
        const b = h('button', {type: 'button', class: v === 'approved' ? '' : 'danger', disabled: mine, 'data-verdict': v}, label);
        b.addEventListener('click', busy(b, msg, async () => {
          if (!comment.value.trim()) throw new Error('Add a comment: it is kept with the decision.');
          const r = await api('POST', `/api/v1/reviews/${enc(it.release)}`, {verdict: v, comment: comment.value.trim()});
          say(`Recorded your ${v === 'approved' ? 'approval' : 'rejection'}; the result is now ${words(r.status)}.`);
          render();
        }));
        return b;
      };
      out.push(h('section', {class: 'panel review', 'data-release': it.release, 'aria-labelledby': `rv-${it.release}`},
        h('h2', {id: `rv-${it.release}`}, `${it.workspace}: result ${it.release}`),
        h('p', {}, `Requested by ${it.requester}, ${when(it.created_at)}. `, h('strong', {}, 'Why flagged: '), ((dec && dec.reasons) || []).join(' ') || 'see the flags below'),
        dec && dec.flags && dec.flags.length ? h('ul', {}, dec.flags.map((f) => h('li', {}, `Row ${f.row + 1}, column ${(dec.columns || [])[f.column] || f.column}: ${f.rule} — ${f.note}`))) : null,
        legend(res), resultTable(res, dec && dec.flags),
        h('h3', {}, 'Reviews so far'),
        (it.reviews || []).length ? h('ul', {}, it.reviews.map((r) => h('li', {}, `${r.checker}: `, state(r.verdict), ` — ${r.comment} (${when(r.at)})`))) : h('p', {}, 'None yet.'),
        mine ? h('p', {class: 'notice'}, it.requester === me.user ? 'You asked for this result, so another checker must review it.' : 'You have reviewed this result; a second checker must now review it.') : null,
        h('div', {class: 'field'}, h('label', {for: `comment-${it.release}`}, 'Comment'), comment),
        h('div', {class: 'actions'}, verdict('approved', 'Approve'), verdict('rejected', 'Reject')), msg));
    }
    return frag(out);
  }

  async function agreements() {
    const ags = (await api('GET', '/api/v1/agreements')).agreements || [];
    const msg = h('div', {'aria-live': 'polite'});
    const rows = ags.map((a) => {
      const signed = (a.signatures || []).map((s) => s.organisation);
      let act = '';
      if (has('controller') && a.parties.includes(me.organisation) && !signed.includes(me.organisation) && !a.revoked_at) {
        act = h('button', {type: 'button', 'data-sign': a.id}, 'Sign', h('span', {class: 'sr'}, ` ${a.title}`));
        act.addEventListener('click', busy(act, msg, async () => {
          await api('POST', `/api/v1/agreements/${enc(a.id)}/sign`, {});
          say(`Signed "${a.title}" for ${orgName(me.organisation)}.`);
          render();
        }));
      }
      return [h('strong', {}, a.title), words(a.purpose_category), `${a.lawful_basis_art6}; ${a.condition_art9}`,
        a.parties.map((p) => `${orgName(p)}${signed.includes(p) ? ' ✓' : ' (not signed)'}`).join('; '),
        a.datasets.map((d) => d.dataset).join(', '), `${day(a.review_date)} / ${day(a.expiry)}`, state(a.state), act];
    });
    return frag(h('h1', {}, 'Data-sharing agreements'),
      has('controller') ? h('p', {}, h('a', {class: 'button', href: '#/agreements/new'}, 'Create an agreement')) : null, msg,
      table(['Agreement', 'Purpose', 'Legal basis', 'Parties', 'Datasets', 'Review / expiry', 'State', ''], rows, {caption: 'Agreements'}));
  }

  async function newAgreement() {
    const ds = (await api('GET', '/api/v1/datasets')).datasets || [];
    const out = h('div', {'aria-live': 'polite'});
    const field = (id, label, input, hint) => [h('label', {for: id}, label), hint ? h('div', {class: 'hint'}, hint) : null, input];
    const f = {
      title: h('input', {type: 'text', id: 'ag-title', required: true}),
      art6: h('select', {id: 'ag-art6'}, ['6(1)(e) public task', '6(1)(c) legal obligation', '6(1)(f) legitimate interests'].map((x) => h('option', {}, x))),
      art9: h('select', {id: 'ag-art9'}, ['9(2)(h) health or social care', '9(2)(i) public health', '9(2)(j) research'].map((x) => h('option', {}, x))),
      cat: h('select', {id: 'ag-cat'}, ['planning', 'research', 'direct_care'].map((x) => h('option', {value: x}, words(x)))),
      purpose: h('textarea', {id: 'ag-purpose', required: true, rows: '3'}),
      escalation: h('input', {type: 'text', id: 'ag-escalation', required: true}),
      review: h('input', {type: 'date', id: 'ag-review', required: true, value: new Date(Date.now() + 365 * 864e5).toISOString().slice(0, 10)}),
      expiry: h('input', {type: 'date', id: 'ag-expiry', required: true, value: new Date(Date.now() + 3 * 365 * 864e5).toISOString().slice(0, 10)}),
    };
    const parties = h('fieldset', {}, h('legend', {}, 'Parties (each must sign)'),
      Object.values(orgs).map((o, i) => h('div', {}, h('input', {type: 'checkbox', id: `party-${i}`, value: o.code, checked: o.code === me.organisation}), ' ', h('label', {for: `party-${i}`}, o.name))));
    const dsets = h('fieldset', {}, h('legend', {}, 'Datasets (all columns)'),
      ds.map((d, i) => h('div', {}, h('input', {type: 'checkbox', id: `agds-${i}`, value: d.name}), ' ', h('label', {for: `agds-${i}`}, `${d.title} (${d.name})`))));
    const button = h('button', {type: 'submit'}, 'Create the agreement');
    const form = h('form', {class: 'stack'},
      field('ag-title', 'Title', f.title), field('ag-art6', 'Lawful basis (UK GDPR Article 6)', f.art6), field('ag-art9', 'Condition (Article 9)', f.art9),
      field('ag-cat', 'Purpose category', f.cat, 'Planning and research apply the national data opt-out; direct care is exempt.'),
      field('ag-purpose', 'Purpose', f.purpose), parties, dsets,
      field('ag-escalation', 'Escalation route', f.escalation, 'Who to contact about concerns, and how they decide.'),
      field('ag-review', 'Review date', f.review), field('ag-expiry', 'Expiry', f.expiry),
      h('div', {class: 'actions'}, button), out);
    form.addEventListener('submit', busy(button, out, async () => {
      const iso = (v) => new Date(v + 'T00:00:00Z').toISOString();
      const a = await api('POST', '/api/v1/agreements', {title: f.title.value, lawful_basis_art6: f.art6.value, condition_art9: f.art9.value,
        purpose_category: f.cat.value, purpose: f.purpose.value, escalation_route: f.escalation.value, review_date: iso(f.review.value), expiry: iso(f.expiry.value),
        parties: [...parties.querySelectorAll('input:checked')].map((c) => c.value),
        datasets: [...dsets.querySelectorAll('input:checked')].map((c) => ({dataset: c.value}))});
      say(`Created "${a.title}"; each party must now sign it.`);
      go('#/agreements');
    }));
    return frag(h('h1', {}, 'Create a data-sharing agreement'), form);
  }

  // ---- shell ---------------------------------------------------------------------------------

  const routes = [
    [/^#?\/?$/, home, 'Home'],
    [/^#\/datasets$/, catalogue, 'Catalogue'],
    [/^#\/datasets\/([^/]+)$/, dataset, 'Dataset'],
    [/^#\/workspaces$/, workspaces, 'Workspaces'],
    [/^#\/workspaces\/new$/, requestWorkspace, 'Request a workspace'],
    [/^#\/workspaces\/([^/]+)$/, workspace, 'Workspace'],
    [/^#\/workspaces\/([^/]+)\/query$/, workbench, 'SQL workbench'],
    [/^#\/workspaces\/([^/]+)\/dashboards\/new$/, newDashboard, 'New dashboard'],
    [/^#\/workspaces\/([^/]+)\/dashboards\/([^/]+)$/, dashboard, 'Dashboard'],
    [/^#\/dashboards$/, dashboards, 'Dashboards'],
    [/^#\/reviews$/, reviews, 'Output checking'],
    [/^#\/agreements$/, agreements, 'Agreements'],
    [/^#\/agreements\/new$/, newAgreement, 'New agreement'],
  ];

  function nav() {
    const items = [['#/', 'Home'], ['#/datasets', 'Catalogue'], ['#/workspaces', 'Workspaces']];
    if (has('analyst') || has('planner')) items.push(['#/dashboards', 'Dashboards']);
    if (has('checker')) items.push(['#/reviews', 'Output checking']);
    items.push(['#/agreements', 'Agreements']);
    let here = location.hash || '#/';
    if (/^#\/workspaces\/[^/]+\/dashboards\//.test(here)) here = '#/dashboards';
    document.getElementById('nav').replaceChildren(h('ul', {}, items.map(([href, label]) =>
      h('li', {}, h('a', {href, 'aria-current': (href === '#/' ? here === '#/' || here === '' : here.startsWith(href)) ? 'page' : null}, label)))));
  }

  let generation = 0;
  async function render() {
    const gen = ++generation;
    const hash = location.hash || '#/';
    if (!me) return;
    nav();
    for (const [re, view, title] of routes) {
      const m = hash.match(re);
      if (!m) continue;
      main.setAttribute('aria-busy', 'true');
      let node;
      try {
        node = await view(...m.slice(1).map(decodeURIComponent));
      } catch (e) {
        node = e.status === 401 ? null : errorBox(e);
      }
      if (gen !== generation) return; // the reader has moved on
      main.removeAttribute('aria-busy');
      if (!node) return signIn(); // the session ended
      disposeCharts();
      main.replaceChildren(node);
      document.title = `${title} — North Riverside SDE`;
      const h1 = main.querySelector('h1');
      if (h1) { h1.setAttribute('tabindex', '-1'); h1.focus({preventScroll: false}); }
      return;
    }
    main.replaceChildren(h('h1', {}, 'Page not found'), h('p', {}, h('a', {href: '#/'}, 'Go to the home page')));
  }

  function signIn() {
    document.getElementById('nav').replaceChildren();
    document.getElementById('who').replaceChildren();
    const next = '/' + (location.hash || '');
    main.replaceChildren(h('h1', {}, 'North Riverside secure data environment'),
      h('p', {class: 'lead'}, 'Linked, pseudonymised health and care data for approved work. Analysts query it inside the environment; only checked summaries leave.'),
      h('p', {}, h('a', {class: 'button', id: 'sign-in', href: `/auth/login?next=${enc(next)}`}, 'Sign in')),
      h('p', {}, 'Anyone can read ', h('a', {href: '/transparency'}, 'how data is used'), '.'));
    document.title = 'Sign in — North Riverside SDE';
  }

  // The skip link moves focus to the page's content; it must not change the route.
  document.querySelector('a.skip').addEventListener('click', (ev) => {
    ev.preventDefault();
    const target = main.querySelector('h1') || main;
    target.setAttribute('tabindex', '-1');
    target.focus();
  });

  async function start() {
    try {
      me = await api('GET', '/api/v1/me');
    } catch (e) {
      if (e.status === 401) return signIn();
      main.replaceChildren(errorBox(e));
      return;
    }
    try {
      for (const o of (await api('GET', '/api/v1/organisations')).organisations || []) orgs[o.code] = o;
    } catch (_) { /* names fall back to codes */ }
    // Sign-out is a POST from this page: the service refuses one another site starts.
    document.getElementById('who').replaceChildren(h('span', {id: 'whoami'}, `${me.name} · ${me.roles.join(', ')}`),
      h('form', {method: 'post', action: '/auth/logout?next=/', class: 'inline'}, h('button', {type: 'submit', id: 'sign-out'}, 'Sign out')));
    window.addEventListener('hashchange', () => {
      if (keepStatus) keepStatus = false; else say('');
      render();
    });
    render();
  }
  start();
})();
