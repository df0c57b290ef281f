/* console.js: the ftune web console, a single page with hash routes (#/jobs, #/jobs/ID, #/files,
 * #/playground; the Evaluations pages, #/evals..., are in evals.js), its helpers and charts. It
 * talks only to this server's /v1 API, sending the key the user
 * entered (kept in sessionStorage, sent as "Authorization: Bearer KEY"; no key is sent when none
 * was entered, for servers without keys). Charts are SVG drawn here. Everything from the server
 * or a file is put in the page as text (textContent), never as HTML. It keeps no data of its own. */
"use strict";

const KEY_STORE = "ftune.apiKey";
const POLL_MS = 1500;            /* a running job's page and the jobs list refresh this often */
const EVENTS_PAGE = 1000;        /* the events endpoint's largest page */
const EVENTS_SHOWN = 200;        /* newest events listed on a job's page (the charts use all) */
const PREVIEW_EXAMPLES = 5;      /* examples shown by a file's preview */
const TERMINAL = ["succeeded", "failed", "cancelled"];
const JOB_STATUSES = ["validating_files", "queued", "running", "paused", "succeeded", "failed", "cancelled"];
const SVG_NS = "http://www.w3.org/2000/svg";

let pollTimer = null;            /* the current view's refresh; cleared on every route change */
let viewToken = 0;               /* bumped per route change: late answers for an old view are dropped */

/* ---- DOM helpers ---- */

function h(tag, attrs, ...children) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === null || v === undefined || v === false) continue;
    if (k.startsWith("on")) el.addEventListener(k.slice(2), v);
    else if (k === "text") el.textContent = v;
    else el.setAttribute(k, v === true ? "" : String(v));
  }
  for (const c of children.flat(Infinity)) {
    if (c === null || c === undefined || c === false) continue;
    el.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
  return el;
}

function svg(tag, attrs, ...children) {
  const el = document.createElementNS(SVG_NS, tag);
  for (const [k, v] of Object.entries(attrs || {})) if (v !== null && v !== undefined) el.setAttribute(k, String(v));
  for (const c of children.flat(Infinity)) if (c !== null && c !== undefined) el.append(c instanceof Node ? c : document.createTextNode(String(c)));
  return el;
}

let fieldCount = 0;
/* A labelled control: returns [wrapper, control]. */
function field(label, control) {
  if (!control.id) control.id = "f" + (++fieldCount);
  return [h("div", {class: "field"}, h("label", {for: control.id, text: label}), control), control];
}

function options(values, selected) {
  return values.map(v => {
    const [value, text] = Array.isArray(v) ? v : [v, v];
    return h("option", {value: value, selected: value === selected}, text);
  });
}

function fmtTime(t) { return t ? new Date(t * 1000).toLocaleString() : "–"; }
function fmtNum(v, d) { return typeof v === "number" ? (d === undefined ? v.toLocaleString() : v.toFixed(d)) : "–"; }
function fmtDuration(s) {
  if (s === null || s === undefined || s < 0) return "–";
  if (s < 60) return s + " s";
  if (s < 3600) return Math.floor(s / 60) + " min " + (s % 60) + " s";
  return Math.floor(s / 3600) + " h " + Math.floor((s % 3600) / 60) + " min";
}
function statusBadge(s) { return h("span", {class: "status status-" + s, text: s}); }
function main() { return document.getElementById("main"); }
/* Replaces el's children (nested arrays flattened; null, undefined, false and "" left out). */
function fill(el, ...kids) {
  el.replaceChildren(...kids.flat(Infinity).filter(k => k !== null && k !== undefined && k !== false && k !== ""));
}

/* ---- the API ---- */

function apiKey() { return sessionStorage.getItem(KEY_STORE) || ""; }

class ApiError extends Error {
  constructor(status, body) {
    const e = body && body.error ? body.error : null;
    super(e && e.message ? e.message : "HTTP " + status);
    this.status = status;
    this.code = e ? e.code : null;
  }
}

function headers(extra) {
  const hd = Object.assign({}, extra || {});
  if (apiKey()) hd["Authorization"] = "Bearer " + apiKey();
  return hd;
}

async function api(method, path, body) {
  const init = {method: method, headers: headers()};
  if (body instanceof FormData) init.body = body;
  else if (body !== undefined) {
    init.body = JSON.stringify(body);
    init.headers["Content-Type"] = "application/json";
  }
  const r = await fetch("/v1" + path, init);
  const text = await r.text();
  let doc = null;
  try { doc = text ? JSON.parse(text) : null; } catch (e) { doc = null; }
  if (!r.ok) {
    if (r.status === 401) askForKey();
    throw new ApiError(r.status, doc);
  }
  return doc !== null ? doc : text;
}

async function apiText(path) {
  const r = await fetch("/v1" + path, {headers: headers()});
  if (!r.ok) {
    let doc = null;
    try { doc = await r.json(); } catch (e) { doc = null; }
    if (r.status === 401) askForKey();
    throw new ApiError(r.status, doc);
  }
  return r.text();
}

function askForKey() {
  const status = document.getElementById("key-status");
  status.textContent = apiKey() ? "This key was refused: enter another." : "This server requires an API key: enter it here.";
  status.className = "error";
  document.getElementById("api-key").focus();
}

function showError(where, e) {
  fill(where, h("p", {class: "error", role: "alert", text: String(e.message || e)}));
}

/* ---- charts ---- */

/* A line chart of series [{name, cls, points: [[x, y], ...]}] into a new <svg id=id>. yFmt formats
 * the axis; yMin/yMax fix the range (else from the data). Each point is a <circle> with data-x,
 * data-y, so that tests can count them. */
function lineChart(id, title, series, opt) {
  const W = 560, H = 260, L = 56, R = 16, T = 16, B = 40;
  const pts = series.flatMap(s => s.points);
  const root = svg("svg", {id: id, class: "chart", width: W, height: H, viewBox: `0 0 ${W} ${H}`, role: "img",
                           "aria-label": title + (pts.length ? "" : ": no points yet")});
  root.append(svg("title", {}, title));
  let x0 = 0, x1 = 1, y0 = opt.yMin, y1 = opt.yMax;
  if (pts.length) {
    x0 = Math.min(...pts.map(p => p[0])); x1 = Math.max(...pts.map(p => p[0]));
    if (y0 === undefined) y0 = Math.min(...pts.map(p => p[1]));
    if (y1 === undefined) y1 = Math.max(...pts.map(p => p[1]));
  }
  if (y0 === undefined) y0 = 0;
  if (y1 === undefined) y1 = 1;
  if (x1 === x0) x1 = x0 + 1;
  if (y1 === y0) { y0 -= 0.5; y1 += 0.5; }
  const sx = x => L + (x - x0) / (x1 - x0) * (W - L - R);
  const sy = y => T + (1 - (y - y0) / (y1 - y0)) * (H - T - B);
  for (let i = 0; i <= 4; i++) {
    const v = y0 + (y1 - y0) * i / 4, y = sy(v);
    root.append(svg("line", {class: "grid", x1: L, x2: W - R, y1: y, y2: y}));
    root.append(svg("text", {x: L - 6, y: y + 4, "text-anchor": "end"}, opt.yFmt(v)));
  }
  root.append(svg("line", {class: "axis", x1: L, x2: L, y1: T, y2: H - B}));
  root.append(svg("line", {class: "axis", x1: L, x2: W - R, y1: H - B, y2: H - B}));
  const ticks = Math.min(5, Math.max(1, Math.round(x1 - x0)));
  for (let i = 0; i <= ticks; i++) {
    const v = Math.round(x0 + (x1 - x0) * i / ticks);
    root.append(svg("text", {x: sx(v), y: H - B + 16, "text-anchor": "middle"}, String(v)));
  }
  root.append(svg("text", {x: (L + W - R) / 2, y: H - 6, "text-anchor": "middle"}, opt.xLabel || "step"));
  for (const s of series) {
    if (!s.points.length) continue;
    root.append(svg("polyline", {class: "series-" + s.cls, points: s.points.map(p => sx(p[0]) + "," + sy(p[1])).join(" ")}));
    for (const p of s.points)
      root.append(svg("circle", {class: "point point-" + s.cls, cx: sx(p[0]), cy: sy(p[1]), r: 2.5, "data-x": p[0], "data-y": p[1]},
                      svg("title", {}, `${s.name}, step ${p[0]}: ${opt.yFmt(p[1], true)}`)));
  }
  return root;
}

function legend(series) {
  return h("div", {class: "legend"}, series.map(s =>
    h("span", {}, h("span", {class: "swatch swatch-" + s.cls, "aria-hidden": "true"}), `${s.name} (${s.points.length})`)));
}

/* Horizontal bars: rows [{name, value, lo, hi}] (lo/hi: an interval drawn over the bar). */
function barChart(id, title, rows, opt) {
  const W = 620, rowH = 30, L = 190, R = 70, T = 10;
  const H = T + rows.length * rowH + 28;
  const vmax = opt.vmax || Math.max(1e-9, ...rows.map(r => Math.max(r.value || 0, r.hi || 0)));
  const sx = v => L + Math.max(0, v) / vmax * (W - L - R);
  const root = svg("svg", {id: id, class: "chart", width: W, height: H, viewBox: `0 0 ${W} ${H}`, role: "img", "aria-label": title});
  root.append(svg("title", {}, title));
  rows.forEach((r, i) => {
    const y = T + i * rowH;
    root.append(svg("text", {x: L - 8, y: y + 19, "text-anchor": "end"}, r.name.length > 28 ? r.name.slice(0, 27) + "…" : r.name));
    root.append(svg("rect", {class: "bar", x: L, y: y + 5, width: Math.max(0, sx(r.value || 0) - L), height: rowH - 10, "data-value": r.value,
                             "data-lo": r.lo, "data-hi": r.hi}));
    if (r.lo !== undefined && r.hi !== undefined) {
      root.append(svg("line", {class: "ci", x1: sx(r.lo), x2: sx(r.hi), y1: y + rowH / 2, y2: y + rowH / 2}));
      for (const v of [r.lo, r.hi]) root.append(svg("line", {class: "ci", x1: sx(v), x2: sx(v), y1: y + 9, y2: y + rowH - 9}));
    }
    root.append(svg("text", {x: Math.max(sx(r.value || 0), r.hi !== undefined ? sx(r.hi) : 0) + 6, y: y + 19}, opt.fmt(r.value)));
  });
  root.append(svg("line", {class: "axis", x1: L, x2: L, y1: T, y2: H - 28}));
  root.append(svg("text", {x: L, y: H - 8}, "0"));
  root.append(svg("text", {x: W - R, y: H - 8, "text-anchor": "end"}, opt.fmt(vmax)));
  return root;
}

/* The relative luminance of an "rgb(r,g,b)" colour (WCAG 2). */
function luminance(r, g, b) {
  const lin = v => (v /= 255) <= 0.03928 ? v / 12.92 : Math.pow((v + 0.055) / 1.055, 2.4);
  return 0.2126 * lin(r) + 0.7152 * lin(g) + 0.0722 * lin(b);
}

/* A confusion matrix {rows, columns, counts} as a heat map, shaded by the share of its row; the
 * count in each cell in whichever of black or white contrasts more with the cell. */
function heatMap(name, cm) {
  const k = cm.rows.length, cols = cm.columns.length, size = k <= 12 ? 34 : k <= 30 ? 24 : 14;
  const L = 130, T = 70, W = L + cols * size + 20, H = T + k * size + 10;
  const root = svg("svg", {class: "chart confusion", "data-candidate": name, width: W, height: H, viewBox: `0 0 ${W} ${H}`,
                           role: "img", "aria-label": `confusion matrix of ${name}: expected labels in rows, predicted in columns`});
  root.append(svg("title", {}, `confusion matrix of ${name}`));
  const clip = t => t.length > 16 ? t.slice(0, 15) + "…" : t;
  cm.columns.forEach((c, p) => root.append(svg("text", {transform: `translate(${L + (p + 0.5) * size} ${T - 6}) rotate(-45)`}, clip(c))));
  cm.rows.forEach((r, e) => {
    root.append(svg("text", {x: L - 6, y: T + (e + 0.5) * size + 4, "text-anchor": "end"}, clip(r)));
    const support = cm.counts[e].reduce((a, b) => a + b, 0);
    cm.counts[e].forEach((n, p) => {
      const share = support ? n / support : 0;
      const rgb = [255 - 224 * share, 255 - 160 * share, 255 - 87 * share].map(Math.round);
      const x = L + p * size, y = T + e * size, lum = luminance(...rgb);
      root.append(svg("rect", {class: "cell" + (e === p ? " diag" : ""), x: x, y: y, width: size, height: size, fill: `rgb(${rgb.join(",")})`, "data-count": n},
                      svg("title", {}, `expected ${r}, predicted ${cm.columns[p]}: ${n}`)));
      const white = 1.05 / (lum + 0.05) >= (lum + 0.05) / 0.05; /* white or black: one of them has 4.58:1 or more */
      if (size >= 24) root.append(svg("text", {class: "count" + (white ? " on-dark" : ""), x: x + size / 2, y: y + size / 2 + 4, "text-anchor": "middle"}, String(n)));
    });
  });
  return root;
}

/* ---- jobs ---- */

function jobDuration(j) {
  if (!j.created_at) return null;
  const end = j.finished_at || (TERMINAL.includes(j.status) ? null : Math.floor(Date.now() / 1000));
  return end ? end - j.created_at : null;
}

async function viewJobs(token) {
  const m = main();
  const [statusF, status] = field("Status", h("select", {}, options([["", "any"]].concat(JOB_STATUSES), "")));
  const [mdF, md] = field("Metadata (key=value)", h("input", {type: "text", placeholder: "team=support"}));
  const list = h("div", {"aria-live": "polite"});
  const createBox = h("div", {class: "panel"});
  fill(m, h("h1", {text: "Fine-tuning jobs"}),
    h("form", {class: "row", onsubmit: e => { e.preventDefault(); load(); }}, statusF, mdF, h("button", {type: "submit"}, "Filter")),
    list, h("h2", {text: "New job"}), createBox);

  async function load() {
    let q = "?limit=100";
    const pair = md.value.trim();
    if (pair) {
      const i = pair.indexOf("=");
      if (i <= 0) { showError(list, new Error("Metadata filter: write key=value.")); return; }
      q += "&metadata[" + encodeURIComponent(pair.slice(0, i)) + "]=" + encodeURIComponent(pair.slice(i + 1));
    }
    let doc;
    try { doc = await api("GET", "/fine_tuning/jobs" + q); } catch (e) { if (token === viewToken) showError(list, e); return; }
    if (token !== viewToken) return;
    const jobs = doc.data.filter(j => !status.value || j.status === status.value);
    fill(list, jobs.length ? h("table", {id: "jobs-table"},
      h("thead", {}, h("tr", {}, ["Job", "Status", "Model", "Suffix", "Created", "Duration", "Trained tokens"].map(t => h("th", {scope: "col", class: t === "Trained tokens" ? "num" : null, text: t})))),
      h("tbody", {}, jobs.map(j => h("tr", {"data-job": j.id},
        h("td", {}, h("a", {href: "#/jobs/" + j.id, text: j.id})), h("td", {}, statusBadge(j.status)),
        h("td", {text: j.model}), h("td", {text: j.user_provided_suffix || "–"}), h("td", {text: fmtTime(j.created_at)}),
        h("td", {text: fmtDuration(jobDuration(j))}), h("td", {class: "num", text: fmtNum(j.trained_tokens)})))))
      : h("p", {class: "muted", text: "No jobs" + (status.value || pair ? " match these filters." : " yet.")}));
    clearTimeout(pollTimer);
    if (doc.data.some(j => !TERMINAL.includes(j.status))) pollTimer = setTimeout(load, POLL_MS * 2);
  }
  load();
  jobForm(createBox, token);
}

async function jobForm(box, token) {
  let files = [], models = [];
  try {
    [files, models] = await Promise.all([api("GET", "/files?purpose=fine-tune").then(d => d.data), api("GET", "/models").then(d => d.data)]);
  } catch (e) { if (token === viewToken) showError(box, e); return; }
  if (token !== viewToken) return;
  const fileOpts = files.map(f => [f.id, `${f.filename} (${f.id})`]);
  const [modelF, model] = field("Model", h("select", {id: "job-model"}, options(models.map(x => x.id))));
  const [trainF, train] = field("Training file", h("select", {id: "job-training-file"}, options(fileOpts)));
  const [validF, valid] = field("Validation file", h("select", {id: "job-validation-file"}, options([["", "none"]].concat(fileOpts), "")));
  const [suffixF, suffix] = field("Suffix", h("input", {id: "job-suffix", type: "text", maxlength: 64}));
  const [epochsF, epochs] = field("Epochs", h("input", {id: "job-epochs", type: "text", value: "auto", size: 6}));
  const [batchF, batch] = field("Batch size", h("input", {id: "job-batch", type: "text", value: "auto", size: 6}));
  const [lrF, lr] = field("LR multiplier", h("input", {id: "job-lr", type: "text", value: "auto", size: 6}));
  const [mdF, md] = field("Metadata (key=value, comma-separated)", h("input", {id: "job-metadata", type: "text"}));
  const out = h("div", {role: "status"});
  const hp = (v, isInt) => v.trim() === "auto" || !v.trim() ? "auto" : (isInt ? parseInt(v, 10) : parseFloat(v));
  async function create(e) {
    e.preventDefault();
    const body = {model: model.value, training_file: train.value,
                  method: {type: "supervised", supervised: {hyperparameters: {n_epochs: hp(epochs.value, true), batch_size: hp(batch.value, true), learning_rate_multiplier: hp(lr.value, false)}}}};
    if (valid.value) body.validation_file = valid.value;
    if (suffix.value.trim()) body.suffix = suffix.value.trim();
    if (md.value.trim()) {
      body.metadata = {};
      for (const pair of md.value.split(",")) {
        const i = pair.indexOf("=");
        if (i > 0) body.metadata[pair.slice(0, i).trim()] = pair.slice(i + 1).trim();
      }
    }
    try {
      const job = await api("POST", "/fine_tuning/jobs", body);
      location.hash = "#/jobs/" + job.id;
    } catch (err) { showError(out, err); }
  }
  if (!files.length) {
    fill(box, h("p", {class: "muted"}, "Upload a training file first (", h("a", {href: "#/files", text: "Files"}), ")."));
    return;
  }
  fill(box, h("form", {id: "job-form", onsubmit: create},
    h("div", {class: "row"}, modelF, trainF, validF, suffixF),
    h("div", {class: "row"}, epochsF, batchF, lrF, mdF, h("button", {type: "submit"}, "Create job")), out));
}

/* Every event of a job, oldest first: pages newest-first until one already known is met. */
async function fetchEvents(id, known) {
  const fresh = [];
  let after = null;
  for (;;) {
    const doc = await api("GET", `/fine_tuning/jobs/${encodeURIComponent(id)}/events?limit=${EVENTS_PAGE}` + (after ? "&after=" + encodeURIComponent(after) : ""));
    let met = false;
    for (const ev of doc.data) {
      if (known.has(ev.id)) { met = true; break; }
      fresh.push(ev);
    }
    if (met || !doc.has_more || !doc.data.length) break;
    after = doc.data[doc.data.length - 1].id;
  }
  return fresh.reverse();
}

async function viewJob(token, id) {
  const m = main();
  const head = h("div", {}), actions = h("div", {class: "row"}), details = h("div", {class: "grid2"});
  const charts = h("div", {class: "grid2"}), ckpts = h("div", {}), events = h("div", {});
  const msg = h("div", {role: "status", "aria-live": "polite"});
  fill(m, h("p", {}, h("a", {href: "#/jobs", text: "← Jobs"})), head, actions, msg,
    h("h2", {text: "Metrics"}), charts, details, h("h2", {text: "Checkpoints"}), ckpts, h("h2", {text: "Events"}), events);
  const known = new Set(), all = [];
  let job = null;

  async function act(what) {
    try {
      job = await api("POST", `/fine_tuning/jobs/${encodeURIComponent(id)}/${what}`);
      fill(msg, h("p", {class: "ok", text: `${what}: the job is now ${job.status}.`}));
      refresh();
    } catch (e) { showError(msg, e); }
  }

  function drawJob() {
    const j = job;
    fill(head, h("h1", {}, "Job ", h("code", {text: j.id}), " ", statusBadge(j.status)));
    const can = {cancel: !TERMINAL.includes(j.status), pause: ["running", "queued"].includes(j.status), resume: j.status === "paused"};
    const useModel = j.fine_tuned_model;
    fill(actions,
      h("button", {type: "button", id: "job-cancel", disabled: !can.cancel, onclick: () => act("cancel")}, "Cancel"),
      h("button", {type: "button", id: "job-pause", class: "secondary", disabled: !can.pause, onclick: () => act("pause")}, "Pause"),
      h("button", {type: "button", id: "job-resume", class: "secondary", disabled: !can.resume, onclick: () => act("resume")}, "Resume"),
      h("button", {type: "button", class: "secondary", disabled: !useModel, onclick: () => { location.hash = "#/playground?model=" + encodeURIComponent(useModel); }}, "Use in playground"));
    const hyper = j.method && j.method[j.method.type] ? j.method[j.method.type].hyperparameters : j.hyperparameters;
    const kv = pairs => h("dl", {class: "kv"}, pairs.map(([k, v]) => [h("dt", {text: k}), h("dd", {text: v === null || v === undefined || v === "" ? "–" : String(v)})]));
    fill(details,
      h("section", {class: "panel"}, h("h2", {text: "Job"}), kv([["Model", j.model], ["Fine-tuned model", j.fine_tuned_model], ["Suffix", j.user_provided_suffix],
        ["Created", fmtTime(j.created_at)], ["Finished", fmtTime(j.finished_at)], ["Duration", fmtDuration(jobDuration(j))],
        ["Trained tokens", fmtNum(j.trained_tokens)], ["Training file", j.training_file], ["Validation file", j.validation_file],
        ["Result files", (j.result_files || []).join(", ")], ["Seed", j.seed], ["Metadata", j.metadata ? JSON.stringify(j.metadata) : null],
        ["Error", j.error && j.error.message ? `${j.error.code}: ${j.error.message}` : null]])),
      h("section", {class: "panel", id: "job-hyperparameters"}, h("h2", {text: "Hyperparameters (" + (j.method ? j.method.type : "supervised") + ")"}),
        kv(Object.entries(hyper || {}))));
  }

  function drawMetrics() {
    const metrics = all.filter(e => e.type === "metrics" && e.data);
    const pick = key => metrics.filter(e => typeof e.data[key] === "number").map(e => [e.data.step, e.data[key]]);
    const loss = [{name: "training loss", cls: "train", points: pick("train_loss")}, {name: "validation loss", cls: "valid", points: pick("valid_loss")}];
    const acc = [{name: "training token accuracy", cls: "train", points: pick("train_mean_token_accuracy")},
                 {name: "validation token accuracy", cls: "valid", points: pick("valid_mean_token_accuracy")}];
    const last = metrics.length ? metrics[metrics.length - 1].data : null;
    fill(charts,
      h("figure", {class: "panel"}, lineChart("chart-loss", "Loss per step", loss, {yFmt: v => v.toFixed(2), yMin: 0}), legend(loss)),
      h("figure", {class: "panel"}, lineChart("chart-accuracy", "Mean token accuracy per step", acc, {yFmt: (v, exact) => exact ? (100 * v).toFixed(1) + "%" : Math.round(100 * v) + "%", yMin: 0, yMax: 1}), legend(acc)));
    if (last) charts.append(h("p", {class: "muted", id: "job-progress", text: `step ${last.step}${last.total_steps ? " of " + last.total_steps : ""}`}));
    const older = all.length - EVENTS_SHOWN;
    fill(events, all.length ? h("table", {id: "events-table"},
      h("thead", {}, h("tr", {}, ["Time", "Level", "Message"].map(t => h("th", {scope: "col", text: t})))),
      h("tbody", {}, all.slice(-EVENTS_SHOWN).reverse().map(e => h("tr", {}, h("td", {text: fmtTime(e.created_at)}), h("td", {text: e.level}), h("td", {text: e.message})))))
      : h("p", {class: "muted", text: "No events yet."}), older > 0 ? h("p", {class: "muted", text: `${older} older events not listed.`}) : null);
  }

  async function drawCheckpoints() {
    const doc = await api("GET", `/fine_tuning/jobs/${encodeURIComponent(id)}/checkpoints?limit=100`);
    if (token !== viewToken) return;
    const keys = ["train_loss", "train_mean_token_accuracy", "valid_loss", "valid_mean_token_accuracy"];
    fill(ckpts, doc.data.length ? h("table", {id: "checkpoints-table"},
      h("thead", {}, h("tr", {}, ["Step", "Model"].concat(keys, [""]).map(t => h("th", {scope: "col", text: t})))),
      h("tbody", {}, doc.data.map(c => h("tr", {}, h("td", {class: "num", text: c.step_number}), h("td", {}, h("code", {text: c.fine_tuned_model_checkpoint})),
        keys.map(k => h("td", {class: "num", text: fmtNum(c.metrics[k], 4)})),
        h("td", {}, h("button", {type: "button", class: "secondary", "aria-label": "Use checkpoint at step " + c.step_number + " in the playground",
          onclick: () => { location.hash = "#/playground?model=" + encodeURIComponent(c.fine_tuned_model_checkpoint); }}, "Use in playground"))))))
      : h("p", {class: "muted", text: "No checkpoints yet (one per epoch)."}));
  }

  /* One refresh at a time (a button's refresh may come while the poll's runs): another asked for
   * meanwhile runs after it, so that no event is fetched twice. */
  let running = null, again = false;
  function refresh() {
    if (running) { again = true; return; }
    running = doRefresh().finally(() => {
      running = null;
      if (again) { again = false; refresh(); }
    });
  }

  async function doRefresh() {
    clearTimeout(pollTimer);
    try {
      const [j, fresh] = await Promise.all([api("GET", "/fine_tuning/jobs/" + encodeURIComponent(id)), fetchEvents(id, known)]);
      if (token !== viewToken) return;
      job = j;
      for (const e of fresh) { known.add(e.id); all.push(e); }
      drawJob();
      drawMetrics();
      await drawCheckpoints();
    } catch (e) { if (token === viewToken) showError(msg, e); return; }
    if (token === viewToken && !TERMINAL.includes(job.status)) pollTimer = setTimeout(refresh, POLL_MS);
  }
  refresh();
}

/* ---- files ---- */

async function viewFiles(token) {
  const m = main();
  const [fileF, fileIn] = field("JSONL file", h("input", {id: "upload-file", type: "file", accept: ".jsonl,application/jsonl,application/json"}));
  const [purposeF, purpose] = field("Purpose", h("select", {id: "upload-purpose"}, options(["fine-tune", "evals", "user_data", "batch", "assistants"], "fine-tune")));
  const [methodF, method] = field("Method", h("select", {id: "upload-method"}, options(["supervised", "dpo"], "supervised")));
  const [modelF, model] = field("Count tokens with", h("select", {id: "upload-model"}, options([["", "no model"]])));
  const out = h("div", {id: "upload-result", "aria-live": "polite"});
  const list = h("div", {});
  fill(m, h("h1", {text: "Files"}),
    h("form", {class: "panel", id: "upload-form", onsubmit: upload}, h("div", {class: "row"}, fileF, purposeF, methodF, modelF, h("button", {type: "submit"}, "Upload and validate"))),
    out, h("h2", {text: "Uploaded files"}), list);
  api("GET", "/models").then(d => { if (token === viewToken) model.append(...options(d.data.map(x => x.id))); }).catch(() => {});

  async function upload(e) {
    e.preventDefault();
    if (!fileIn.files.length) { showError(out, new Error("Choose a file to upload.")); return; }
    const fd = new FormData();
    fd.append("purpose", purpose.value);
    fd.append("file", fileIn.files[0], fileIn.files[0].name);
    fill(out, h("p", {class: "muted", text: "Uploading…"}));
    try {
      const f = await api("POST", "/files", fd);
      fill(out, h("p", {class: "ok", text: `Uploaded ${f.filename} as ${f.id} (${fmtNum(f.bytes)} bytes).`}));
      loadList();
      if (f.purpose === "fine-tune") await validate(f.id);
    } catch (err) {
      fill(out, h("div", {class: "panel", id: "upload-refused"}, h("p", {class: "error", role: "alert", text: "The server refused the upload: " + err.message})));
    }
  }

  async function validate(id) {
    const q = `?method=${method.value}` + (model.value ? `&model=${encodeURIComponent(model.value)}&preview=${PREVIEW_EXAMPLES}` : "");
    const box = h("div", {class: "panel", id: "validation-report"}, h("p", {class: "muted", text: `Validating ${id}…`}));
    out.append(box);
    let rep;
    try { rep = await api("GET", `/files/${encodeURIComponent(id)}/validation${q}`); } catch (e) { showError(box, e); return; }
    const st = rep.statistics, dist = (name, d) => d ? h("tr", {}, h("th", {scope: "row", text: name}), ["min", "mean", "median", "p90", "max"].map(k => h("td", {class: "num", text: fmtNum(d[k], k === "mean" ? 2 : 0)}))) : null;
    fill(box,
      h("h2", {}, "Validation of ", h("code", {text: rep.file}), " ", h("span", {class: rep.valid ? "ok" : "error", id: "validation-verdict", text: rep.verdict})),
      rep.problems.length ? h("table", {id: "validation-problems"},
        h("thead", {}, h("tr", {}, ["Line", "Severity", "Path", "Code", "Message"].map(t => h("th", {scope: "col", text: t})))),
        h("tbody", {}, rep.problems.map(p => h("tr", {class: "problem-" + p.severity}, h("td", {class: "num", text: p.line || "file"}),
          h("td", {class: p.severity === "error" ? "error" : "warn", text: p.severity}), h("td", {}, h("code", {text: p.path})), h("td", {}, h("code", {text: p.code})), h("td", {text: p.message})))))
        : h("p", {class: "ok", text: "No problems found."}),
      rep.problems_not_listed ? h("p", {class: "muted", text: `${rep.problems_not_listed} more problems not listed.`}) : null,
      h("h2", {text: "Statistics"}),
      h("table", {id: "validation-statistics"}, h("thead", {}, h("tr", {}, ["per example", "min", "mean", "median", "p90", "max"].map(t => h("th", {scope: "col", text: t})))),
        h("tbody", {}, dist("messages", st.messages_per_example), dist("tokens", st.tokens_per_example), dist("assistant (trained) tokens", st.assistant_tokens_per_example))),
      h("p", {}, `Examples: ${rep.examples} (${rep.valid_examples} valid). Epochs (auto): ${st.n_epochs === null ? "–" : st.n_epochs}. ` +
        (st.trained_tokens !== null ? `Tokens trained: ${fmtNum(st.trained_tokens)}. ` : "Token counts: choose a model. ") +
        `Without a system message: ${st.examples_without_system_message}; duplicates: ${st.duplicate_examples}; same prompt, different answer: ${st.conflicting_examples}.` +
        (rep.model ? ` Chat template: ${rep.model.chat_template}.` : "")),
      rep.preview ? templatePreview(rep) : null);
  }

  /* The examples as the model reads them (its chat template, tokenized and decoded back), with
   * the trained tokens marked. */
  function templatePreview(rep) {
    return h("section", {id: "template-preview"},
      h("h2", {text: `The first ${rep.preview.length} valid examples as ${rep.model.id} reads them`}),
      h("p", {class: "muted"}, "Rendered with its chat template (", rep.model.chat_template, "); ",
        h("mark", {class: "seg-trained", text: "marked text"}), " is trained (the loss is computed on those tokens)."),
      rep.preview.map(p => h("figure", {class: "panel preview-rendered"},
        h("figcaption", {class: "muted", text: `line ${p.line}: ${p.tokens} tokens`}),
        h("pre", {}, p.segments.map(g => g.trained ? h("mark", {class: "seg-trained", text: g.text}) : g.text)))));
  }

  async function previewRendered(f, where) {
    let rep;
    const q = `?method=${method.value}&max_problems=0&model=${encodeURIComponent(model.value)}&preview=${PREVIEW_EXAMPLES}`;
    try { rep = await api("GET", `/files/${encodeURIComponent(f.id)}/validation${q}`); } catch (e) { showError(where, e); return; }
    fill(where, rep.preview ? templatePreview(rep) : h("p", {class: "muted", text: "No valid examples to show."}));
  }

  async function preview(f, where) {
    let text;
    try { text = await apiText(`/files/${encodeURIComponent(f.id)}/content`); } catch (e) { showError(where, e); return; }
    const lines = text.split("\n").filter(l => l.trim()).slice(0, PREVIEW_EXAMPLES);
    fill(where, h("h2", {}, "Preview of ", h("code", {text: f.filename}), ` (first ${lines.length} examples)`),
      ...lines.map((l, i) => {
        let ex;
        try { ex = JSON.parse(l); } catch (e) { return h("p", {class: "error", text: `example ${i + 1}: not JSON`}); }
        const msgs = ex.messages || (ex.input && ex.input.messages) || [];
        const extra = ex.preferred_output ? [{role: "assistant (preferred)", content: (ex.preferred_output[0] || {}).content}, {role: "assistant (not preferred)", content: (ex.non_preferred_output && ex.non_preferred_output[0] || {}).content}] : [];
        return h("div", {class: "panel chat preview-example"}, h("span", {class: "muted", text: `example ${i + 1}`}),
          msgs.concat(extra).map(x => h("div", {class: "msg msg-" + String(x.role).split(" ")[0]}, h("span", {class: "role", text: x.role}),
            typeof x.content === "string" ? x.content : JSON.stringify(x.content || x.tool_calls || ""))));
      }));
  }

  async function loadList() {
    let doc;
    try { doc = await api("GET", "/files"); } catch (e) { if (token === viewToken) showError(list, e); return; }
    if (token !== viewToken) return;
    const where = h("div", {id: "file-detail"});
    fill(list, doc.data.length ? h("table", {id: "files-table"},
      h("thead", {}, h("tr", {}, ["File", "Name", "Purpose", "Bytes", "Created", ""].map(t => h("th", {scope: "col", text: t})))),
      h("tbody", {}, doc.data.map(f => h("tr", {"data-file": f.id}, h("td", {}, h("code", {text: f.id})), h("td", {text: f.filename}), h("td", {text: f.purpose}),
        h("td", {class: "num", text: fmtNum(f.bytes)}), h("td", {text: fmtTime(f.created_at)}),
        h("td", {},
          f.purpose === "fine-tune" ? h("button", {type: "button", class: "secondary", "aria-label": "Validate " + f.filename, onclick: () => { fill(out); validate(f.id); }}, "Validate") : null, " ",
          h("button", {type: "button", class: "secondary", "aria-label": "Preview " + f.filename, onclick: () => (model.value && f.purpose === "fine-tune" ? previewRendered(f, where) : preview(f, where))}, "Preview"), " ",
          h("button", {type: "button", class: "secondary", "aria-label": "Delete " + f.filename, onclick: async () => {
            try { await api("DELETE", "/files/" + encodeURIComponent(f.id)); loadList(); } catch (e) { showError(where, e); }
          }}, "Delete")))))) : h("p", {class: "muted", text: "No files yet."}), where);
  }
  loadList();
}

/* ---- playground ---- */

/* Streams one chat completion; calls onDelta(text) per piece; returns {text, usage, firstMs, totalMs}. */
async function streamChat(body, onDelta) {
  const t0 = performance.now();
  const r = await fetch("/v1/chat/completions", {method: "POST", headers: headers({"Content-Type": "application/json"}), body: JSON.stringify(body)});
  if (!r.ok) {
    let doc = null;
    try { doc = await r.json(); } catch (e) { doc = null; }
    if (r.status === 401) askForKey();
    throw new ApiError(r.status, doc);
  }
  const reader = r.body.getReader(), dec = new TextDecoder();
  let buf = "", text = "", usage = null, firstMs = null, done = false;
  while (!done) {
    const {value, done: end} = await reader.read();
    if (end) break;
    buf += dec.decode(value, {stream: true});
    let cut;
    while ((cut = buf.indexOf("\n\n")) >= 0) {
      const block = buf.slice(0, cut);
      buf = buf.slice(cut + 2);
      for (const line of block.split("\n")) {
        if (!line.startsWith("data:")) continue;
        const data = line.slice(5).trim();
        if (data === "[DONE]") { done = true; break; }
        const ev = JSON.parse(data);
        if (ev.error) throw new ApiError(500, ev);
        if (ev.usage) usage = ev.usage;
        for (const ch of ev.choices || []) {
          const piece = ch.delta && ch.delta.content;
          if (piece) {
            if (firstMs === null) firstMs = performance.now() - t0;
            text += piece;
            onDelta(piece);
          }
        }
      }
    }
  }
  return {text: text, usage: usage, firstMs: firstMs, totalMs: performance.now() - t0};
}

function pythonSnippet(body) {
  const py = v => JSON.stringify(v, null, 4).replace(/\btrue\b/g, "True").replace(/\bfalse\b/g, "False").replace(/\bnull\b/g, "None");
  const args = Object.entries(body).filter(([k]) => k !== "stream" && k !== "stream_options")
    .map(([k, v]) => `    ${k}=${py(v).replace(/\n/g, "\n    ")},`);
  return [
    "from openai import OpenAI",
    "",
    `client = OpenAI(base_url="${location.origin}/v1", api_key="YOUR_KEY")`,
    "stream = client.chat.completions.create(",
    ...args,
    "    stream=True,",
    "    stream_options={\"include_usage\": True},",
    ")",
    "for chunk in stream:",
    "    if chunk.choices and chunk.choices[0].delta.content:",
    "        print(chunk.choices[0].delta.content, end=\"\", flush=True)",
    "    if chunk.usage:",
    "        print(\"\\n\", chunk.usage)",
  ].join("\n");
}

async function viewPlayground(token, params) {
  const m = main();
  let models = [];
  try { models = (await api("GET", "/models")).data.map(x => x.id); } catch (e) { if (token === viewToken) showError(m, e); return; }
  if (token !== viewToken) return;
  const want = params.get("model");
  if (want && !models.includes(want)) models.unshift(want); /* a checkpoint: retrievable, not listed */
  const [aF, modelA] = field("Model", h("select", {id: "pg-model-a"}, options(models, want || models[0])));
  const [bF, modelB] = field("Compare with", h("select", {id: "pg-model-b"}, options([["", "no second model"]].concat(models), "")));
  const [sysF, system] = field("System message", h("textarea", {id: "pg-system", rows: 2}));
  const [userF, user] = field("Message", h("textarea", {id: "pg-message", rows: 3}));
  const [maxF, maxTok] = field("Max tokens", h("input", {id: "pg-max-tokens", type: "number", min: 1, value: 64, size: 6}));
  const [tempF, temp] = field("Temperature", h("input", {id: "pg-temperature", type: "number", min: 0, max: 2, step: 0.1, value: 0, size: 5}));
  const sides = [0, 1].map(i => ({history: [], log: h("div", {class: "chat", id: "pg-chat-" + "ab"[i], "aria-live": "polite"}),
                                  stats: h("div", {class: "stats", id: "pg-stats-" + "ab"[i]}), title: h("h2", {})}));
  const snippet = h("pre", {id: "pg-snippet", tabindex: 0, "aria-label": "The request as Python code"});
  const copyMsg = h("span", {role: "status", class: "muted"});
  const send = h("button", {type: "submit", id: "pg-send"}, "Send");
  fill(m, h("h1", {text: "Playground"}),
    h("form", {id: "pg-form", onsubmit: run}, h("div", {class: "row"}, aF, bF, maxF, tempF), sysF, userF,
      h("div", {class: "row"}, send, h("button", {type: "button", class: "secondary", onclick: clear}, "Clear conversation"))),
    h("div", {class: "grid2"}, sides.map(s => h("section", {class: "panel"}, s.title, s.log, s.stats))),
    h("h2", {text: "The request in Python (openai)"}), snippet,
    h("div", {class: "row"}, h("button", {type: "button", class: "secondary", onclick: copy}, "Copy code"), copyMsg));

  function bodyFor(model, history) {
    const msgs = (system.value.trim() ? [{role: "system", content: system.value}] : []).concat(history);
    const b = {model: model, messages: msgs, max_tokens: parseInt(maxTok.value, 10) || 64, temperature: parseFloat(temp.value) || 0,
               stream: true, stream_options: {include_usage: true}};
    return b;
  }
  function clear() { for (const s of sides) { s.history = []; fill(s.log); s.stats.textContent = ""; } }
  async function copy() {
    try { await navigator.clipboard.writeText(snippet.textContent); copyMsg.textContent = "Copied."; }
    catch (e) {
      const range = document.createRange();
      range.selectNodeContents(snippet);
      getSelection().removeAllRanges();
      getSelection().addRange(range);
      copyMsg.textContent = "Selected: press Ctrl+C to copy.";
    }
  }
  async function runSide(s, model, text) {
    s.title.textContent = model;
    s.history.push({role: "user", content: text});
    s.log.append(h("div", {class: "msg msg-user"}, h("span", {class: "role", text: "user"}), text));
    const out = h("div", {class: "msg msg-assistant"}, h("span", {class: "role", text: "assistant"}));
    const body = h("span", {class: "reply"});
    out.append(body);
    s.log.append(out);
    s.stats.textContent = "generating…";
    const req = bodyFor(model, s.history.slice());
    try {
      let pieces = 0;
      const r = await streamChat(req, piece => { body.textContent += piece; body.setAttribute("data-pieces", ++pieces); });
      s.history.push({role: "assistant", content: r.text});
      const u = r.usage;
      s.stats.textContent = (u ? `prompt ${u.prompt_tokens} tokens · completion ${u.completion_tokens} tokens · ` : "") +
        (r.firstMs !== null ? `first token ${Math.round(r.firstMs)} ms · ` : "") + `total ${Math.round(r.totalMs)} ms` +
        (u && r.totalMs > 0 ? ` · ${(u.completion_tokens / (r.totalMs / 1000)).toFixed(1)} tokens/s` : "");
      s.stats.setAttribute("data-done", "1");
    } catch (e) {
      s.history.pop();
      body.textContent = "";
      fill(out, h("span", {class: "error", role: "alert", text: e.message}));
      s.stats.textContent = "";
    }
  }
  async function run(e) {
    e.preventDefault();
    const text = user.value.trim();
    if (!text) { user.focus(); return; }
    send.disabled = true;
    const runs = [runSide(sides[0], modelA.value, text)];
    if (modelB.value) runs.push(runSide(sides[1], modelB.value, text));
    snippet.textContent = pythonSnippet(bodyFor(modelA.value, sides[0].history.slice()));
    await Promise.all(runs);
    send.disabled = false;
    user.value = "";
  }
  snippet.textContent = pythonSnippet(bodyFor(modelA.value || "MODEL", [{role: "user", content: "Hello"}]));
}

/* ---- routing ---- */

const ROUTES = [
  [/^#\/jobs\/([^/?]+)$/, (t, m) => viewJob(t, decodeURIComponent(m[1])), "jobs"],
  [/^#\/jobs$/, t => viewJobs(t), "jobs"],
  [/^#\/files$/, t => viewFiles(t), "files"],
  [/^#\/playground$/, (t, m, p) => viewPlayground(t, p), "playground"],
  [/^#\/evals\/([^/?]+)\/runs\/([^/?]+)$/, (t, m) => viewRun(t, decodeURIComponent(m[1]), decodeURIComponent(m[2])), "evals"],
  [/^#\/evals\/([^/?]+)$/, (t, m) => viewEval(t, decodeURIComponent(m[1])), "evals"],
  [/^#\/evals$/, t => viewEvals(t), "evals"],
];

function route() {
  clearTimeout(pollTimer);
  const token = ++viewToken;
  const hash = location.hash || "#/jobs";
  const q = hash.indexOf("?");
  const path = q >= 0 ? hash.slice(0, q) : hash, params = new URLSearchParams(q >= 0 ? hash.slice(q + 1) : "");
  for (const [re, fn, section] of ROUTES) {
    const m = path.match(re);
    if (!m) continue;
    for (const a of document.querySelectorAll("nav a"))
      if (a.dataset.section === section) a.setAttribute("aria-current", "page"); else a.removeAttribute("aria-current");
    document.title = "ftune console: " + section;
    fn(token, m, params);
    return;
  }
  fill(main(), h("h1", {text: "Not found"}), h("p", {}, "No page here: see ", h("a", {href: "#/jobs", text: "Jobs"}), "."));
}

function setUpKey() {
  const input = document.getElementById("api-key"), status = document.getElementById("key-status");
  const say = () => { status.className = "muted"; status.textContent = apiKey() ? "a key is set for this tab" : "no key set"; };
  document.getElementById("key-form").addEventListener("submit", e => {
    e.preventDefault();
    if (input.value.trim()) sessionStorage.setItem(KEY_STORE, input.value.trim());
    input.value = "";
    say();
    route();
  });
  document.getElementById("key-forget").addEventListener("click", () => { sessionStorage.removeItem(KEY_STORE); say(); route(); });
  say();
}

/* Started once every script (evals.js too) is loaded. */
window.addEventListener("DOMContentLoaded", () => {
  setUpKey();
  window.addEventListener("hashchange", route);
  route();
});
