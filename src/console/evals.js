/* evals.js: the console's Evaluations section (#/evals, #/evals/ID, #/evals/ID/runs/RUN): the
 * project's evals from the Evals API, each eval's runs (live while one is queued or in progress,
 * with cancel and delete), a run's output items (paged, filtered by pass or fail) and its
 * per-criterion pass rates with 95% Wilson intervals, a form that starts a run, and the viewer of
 * `ftune eval --json` reports opened from a local file. Uses console.js's helpers (h, svg, api,
 * fill, field, options, barChart, heatMap); it keeps no data of its own and creates no evals. */
"use strict";

const RUN_TERMINAL = ["completed", "failed", "canceled"];
const ITEMS_PAGE = 10;           /* output items per page of a run's page */
const RUNS_SHOWN = 100;          /* runs listed on an eval's page (the API's largest page) */
const EVALS_SHOWN = 100;         /* evals listed on the Evaluations page */
const Z95 = 1.959963984540054;   /* the normal quantile of 0.975, as EVAL_Z95 in src/eval/metrics.h */

/* The Wilson score interval of k successes in n at z (the same formula as
 * eval_wilson_interval in src/eval/metrics.c): [lo, hi], or [NaN, NaN] when n is 0. */
function wilson(k, n, z) {
  z = z === undefined ? Z95 : z;
  if (!(n > 0) || k < 0 || k > n || !(z > 0)) return [NaN, NaN];
  const z2 = z * z, denom = n + z2;
  const centre = (k + z2 / 2) / denom;
  const half = z * Math.sqrt(k * (n - k) / n + z2 / 4) / denom;
  return [k === 0 ? 0 : Math.max(0, centre - half), k === n ? 1 : Math.min(1, centre + half)];
}

const pct = v => typeof v === "number" && isFinite(v) ? (100 * v).toFixed(1) + "%" : "–";
const evalPath = (id, rest) => "/evals/" + encodeURIComponent(id) + (rest || "");
const runPath = (id, run, rest) => evalPath(id, "/runs/" + encodeURIComponent(run) + (rest || ""));

/* The text of a criterion, e.g. "exact: string_check eq" or "sim: text_similarity bleu ≥ 0.5". */
function criterionText(t) {
  const how = t.type === "string_check" ? t.operation : t.type === "text_similarity" ? `${t.evaluation_metric} ≥ ${t.pass_threshold}` : "";
  return `${t.name}: ${t.type}${how ? " " + how : ""}`;
}

/* result_counts as one bar: passed, failed and errored segments, in proportion to total. */
function countsBar(rc) {
  const W = 220, H = 16, total = rc ? rc.total : 0;
  const say = rc ? `${rc.passed} passed, ${rc.failed} failed, ${rc.errored} errored of ${total}` : "no results yet";
  const root = svg("svg", {class: "chart counts-bar", width: W, height: H, viewBox: `0 0 ${W} ${H}`, role: "img", "aria-label": say,
                           "data-passed": rc ? rc.passed : 0, "data-failed": rc ? rc.failed : 0, "data-errored": rc ? rc.errored : 0, "data-total": total});
  root.append(svg("title", {}, say));
  root.append(svg("rect", {class: "frame", x: 0.5, y: 0.5, width: W - 1, height: H - 1}));
  let x = 0;
  for (const [k, cls] of [["passed", "seg-pass"], ["failed", "seg-fail"], ["errored", "seg-errored"]]) {
    const n = rc ? rc[k] : 0;
    if (!total || !n) continue;
    const w = n / total * W;
    root.append(svg("rect", {class: "seg " + cls, x: x, y: 0, width: w, height: H}, svg("title", {}, `${n} ${k}`)));
    x += w;
  }
  return root;
}

function countsText(rc) {
  return rc ? `${rc.passed} passed · ${rc.failed} failed · ${rc.errored} errored · ${rc.total} total` : "–";
}

function usageText(run) {
  return (run.per_model_usage || []).map(u => `${u.model_name}: ${fmtNum(u.invocation_count)} calls, ${fmtNum(u.prompt_tokens)} prompt + ` +
    `${fmtNum(u.completion_tokens)} completion tokens` + (u.cached_tokens ? ` (${fmtNum(u.cached_tokens)} cached)` : "")).join("; ") || "–";
}

function criteriaText(run) {
  return (run.per_testing_criteria_results || []).map(p => `${p.testing_criteria}: ${p.passed} passed, ${p.failed} failed`).join("; ") || "–";
}

/* Every page of a list endpoint up to max entries. */
async function listAll(path, max) {
  const out = [];
  let after = null;
  for (;;) {
    const doc = await api("GET", path + (path.includes("?") ? "&" : "?") + "limit=100" + (after ? "&after=" + encodeURIComponent(after) : ""));
    out.push(...doc.data);
    if (!doc.has_more || !doc.data.length || out.length >= max) return out.slice(0, max);
    after = doc.data[doc.data.length - 1].id;
  }
}

/* ---- #/evals ---- */

async function viewEvals(token) {
  const m = main();
  const list = h("div", {id: "evals-list", "aria-live": "polite"}), formBox = h("div", {class: "panel"}), report = h("section", {});
  fill(m, h("h1", {text: "Evaluations"}), h("h2", {text: "Evals"}), list, h("h2", {text: "Start a run"}), formBox,
    h("h2", {text: "An ftune eval report"}), report);
  reportViewer(report);
  let evals;
  try { evals = await listAll("/evals?order=desc", EVALS_SHOWN); } catch (e) { if (token === viewToken) showError(list, e); return; }
  if (token !== viewToken) return;
  fill(list, evals.length ? h("table", {id: "evals-table"},
    h("thead", {}, h("tr", {}, ["Name", "Eval", "Created", "Testing criteria"].map(t => h("th", {scope: "col", text: t})))),
    h("tbody", {}, evals.map(e => h("tr", {"data-eval": e.id},
      h("td", {}, h("a", {href: "#/evals/" + e.id, text: e.name || e.id})), h("td", {}, h("code", {text: e.id})),
      h("td", {text: fmtTime(e.created_at)}), h("td", {}, (e.testing_criteria || []).map(t => h("div", {text: criterionText(t)})))))))
    : h("p", {class: "muted"}, "No evals yet: create one with ", h("code", {text: "client.evals.create(...)"}), " (see the README's Evals API)."));
  runForm(formBox, token, evals, null);
}

/* The viewer of an `ftune eval --json` report read from a local file (nothing is uploaded). */
function reportViewer(box) {
  const [fileF, fileIn] = field("Report (ftune eval --json)", h("input", {id: "eval-file", type: "file", accept: ".json,application/json"}));
  const out = h("div", {id: "eval-report", "aria-live": "polite"});
  fill(box, h("p", {class: "muted"}, "Open a report that ", h("code", {text: "ftune eval --json FILE"}),
    " wrote; it is read by this page only (nothing is uploaded)."), h("div", {class: "row"}, fileF), out);
  fileIn.addEventListener("change", () => {
    const f = fileIn.files[0];
    if (!f) return;
    f.text().then(t => renderEval(out, JSON.parse(t), f.name)).catch(e => showError(out, new Error(`${f.name}: ${e.message}`)));
  });
}

function renderEval(out, r, name) {
  if (!r || !Array.isArray(r.candidates)) throw new Error("not an ftune eval JSON report (no candidates)");
  const cands = r.candidates;
  const acc = cands.map(c => ({name: c.name, value: c.accuracy.accuracy, lo: c.accuracy.ci95_lo, hi: c.accuracy.ci95_hi}));
  const tok = cands.map(c => ({name: c.name, value: c.mean_prompt_tokens}));
  const lat = cands.map(c => ({name: c.name, value: c.latency ? c.latency.p50_s * 1000 : 0}));
  fill(out, h("h2", {}, "Report ", h("code", {text: name})),
    h("p", {id: "eval-verdict", text: r.verdict || ""}),
    h("p", {class: "muted", text: `${r.n} examples; answers compared ${r.normalisation === "none" ? "exactly" : "after " + r.normalisation}.`}),
    h("table", {id: "eval-table"}, h("thead", {}, h("tr", {}, ["Candidate", "Model", "Accuracy", "95% CI", "Failed", "Prompt tokens", "Completion tokens", "p50 ms", "p95 ms"].map(t => h("th", {scope: "col", text: t})))),
      h("tbody", {}, cands.map(c => h("tr", {}, h("td", {text: c.name}), h("td", {text: c.model + (c.adapter ? " + adapter" : "")}),
        h("td", {class: "num", text: pct(c.accuracy.accuracy)}), h("td", {class: "num", text: `${pct(c.accuracy.ci95_lo)} – ${pct(c.accuracy.ci95_hi)}`}),
        h("td", {class: "num", text: c.n_failed}), h("td", {class: "num", text: fmtNum(c.mean_prompt_tokens, 1)}), h("td", {class: "num", text: fmtNum(c.mean_completion_tokens, 1)}),
        h("td", {class: "num", text: c.latency ? fmtNum(c.latency.p50_s * 1000, 0) : "–"}), h("td", {class: "num", text: c.latency ? fmtNum(c.latency.p95_s * 1000, 0) : "–"}))))),
    h("div", {class: "grid2"},
      h("figure", {class: "panel"}, h("figcaption", {text: "Accuracy with 95% confidence interval"}), barChart("eval-chart-accuracy", "accuracy per candidate with 95% confidence interval", acc, {vmax: 1, fmt: pct})),
      h("figure", {class: "panel"}, h("figcaption", {text: "Mean prompt tokens per request"}), barChart("eval-chart-prompt-tokens", "mean prompt tokens per request", tok, {fmt: v => fmtNum(v, 0)})),
      h("figure", {class: "panel"}, h("figcaption", {text: "Median latency (ms)"}), barChart("eval-chart-latency", "median latency per request in milliseconds", lat, {fmt: v => fmtNum(v, 0)}))),
    cands.some(c => c.labels) ? h("div", {}, h("h2", {text: "Confusion matrices (rows: expected, columns: predicted)"}),
      h("div", {class: "grid2"}, cands.filter(c => c.labels).map(c => h("figure", {class: "panel"}, h("figcaption", {text: c.name}), heatMap(c.name, c.labels.confusion))))) : null,
    (r.comparisons || []).length ? h("div", {}, h("h2", {text: "Against " + cands[0].name + " (paired)"}),
      h("table", {id: "eval-comparisons"}, h("thead", {}, h("tr", {}, ["Candidate", "Difference", "95% CI", "Only this right", "Only baseline right", "McNemar p"].map(t => h("th", {scope: "col", text: t})))),
        h("tbody", {}, r.comparisons.map(p => h("tr", {}, h("td", {text: p.candidate}), h("td", {class: "num", text: pct(p.difference)}),
          h("td", {class: "num", text: `${pct(p.difference_ci95_lo)} – ${pct(p.difference_ci95_hi)}`}), h("td", {class: "num", text: p.only_candidate_right}),
          h("td", {class: "num", text: p.only_baseline_right}), h("td", {class: "num", text: p.mcnemar_p === null ? "–" : p.mcnemar_p.toFixed(4)}))))))
      : "");
}

/* ---- the form that starts a run ---- */

/* Pasted JSONL rows: one {"item": {...}[, "sample": {...}]} object per line; errors name the line. */
function parseRows(text) {
  const rows = [];
  text.split("\n").forEach((line, i) => {
    if (!line.trim()) return;
    let row;
    try { row = JSON.parse(line); } catch (e) { throw new Error(`pasted rows, line ${i + 1}: not JSON (${e.message})`); }
    if (!row || typeof row !== "object" || Array.isArray(row) || !row.item || typeof row.item !== "object")
      throw new Error(`pasted rows, line ${i + 1}: a row is an object {"item": {...}} (with "sample" for rows with their answers)`);
    rows.push(row);
  });
  if (!rows.length) throw new Error("pasted rows: none given (one JSON object per line)");
  return rows;
}

async function runForm(box, token, evals, evalId) {
  if (!evals.length) { fill(box, h("p", {class: "muted", text: "Create an eval first."})); return; }
  let models = [], files = [];
  try {
    [models, files] = await Promise.all([api("GET", "/models").then(d => d.data.map(x => x.id)), api("GET", "/files?purpose=evals").then(d => d.data)]);
  } catch (e) { if (token === viewToken) showError(box, e); return; }
  if (token !== viewToken) return;
  const [evalF, ev] = field("Eval", h("select", {id: "run-eval"}, options(evals.map(e => [e.id, `${e.name || "(no name)"} (${e.id})`]), evalId || evals[0].id)));
  const [nameF, name] = field("Run name", h("input", {id: "run-name", type: "text", maxlength: 256}));
  const [typeF, type] = field("Answers", h("select", {id: "run-type"}, options([["completions", "generated by a model (completions)"], ["jsonl", "given in the rows' sample (jsonl)"]], "completions")));
  const [srcF, src] = field("Rows", h("select", {id: "run-source"}, options([["paste", "pasted below"], ["upload", "a JSONL file to upload"]]
    .concat(files.map(f => [f.id, `${f.filename} (${f.id})`])), "paste")));
  const [pasteF, paste] = field("Rows, one JSON object per line: {\"item\": {...}} (and \"sample\": {\"output_text\": ...} for jsonl)",
    h("textarea", {id: "run-rows", rows: 5, spellcheck: "false"}));
  const [uploadF, upload] = field("JSONL file (uploaded with purpose evals)", h("input", {id: "run-file", type: "file", accept: ".jsonl,application/jsonl"}));
  const [modelF, model] = field("Model", h("select", {id: "run-model"}, options(models)));
  const [sysF, sys] = field("System message template", h("textarea", {id: "run-system", rows: 2}));
  const [userF, user] = field("User message template ({{item.field}} for a field of the row's item)", h("textarea", {id: "run-user", rows: 2}));
  const [tempF, temp] = field("Temperature", h("input", {id: "run-temperature", type: "number", min: 0, max: 2, step: 0.1, value: 0, size: 5}));
  const [topF, topP] = field("Top p", h("input", {id: "run-top-p", type: "number", min: 0, max: 1, step: 0.05, size: 5}));
  const [maxF, maxTok] = field("Max completion tokens", h("input", {id: "run-max-tokens", type: "number", min: 1, value: 16, size: 6}));
  const [seedF, seed] = field("Seed", h("input", {id: "run-seed", type: "number", size: 6}));
  const gen = h("fieldset", {id: "run-generation"}, h("legend", {text: "Generation"}), h("div", {class: "row"}, modelF, tempF, topF, maxF, seedF), sysF, userF);
  const out = h("div", {id: "run-form-result", role: "status"});
  const send = h("button", {type: "submit", id: "run-start"}, "Start run");
  const sync = () => {
    gen.hidden = type.value !== "completions";
    pasteF.hidden = src.value !== "paste";
    uploadF.hidden = src.value !== "upload";
  };
  type.addEventListener("change", sync);
  src.addEventListener("change", sync);
  sync();

  async function source() {
    if (src.value === "paste") return {type: "file_content", content: parseRows(paste.value)};
    if (src.value !== "upload") return {type: "file_id", id: src.value};
    if (!upload.files.length) throw new Error("Choose a JSONL file to upload.");
    const fd = new FormData();
    fd.append("purpose", "evals");
    fd.append("file", upload.files[0], upload.files[0].name);
    const f = await api("POST", "/files", fd);
    src.append(...options([[f.id, `${f.filename} (${f.id})`]]));
    src.value = f.id;
    sync();
    return {type: "file_id", id: f.id};
  }
  function dataSource(s) {
    if (type.value === "jsonl") return {type: "jsonl", source: s};
    if (!user.value.trim()) throw new Error("The user message template is empty.");
    const template = (sys.value.trim() ? [{role: "system", content: sys.value}] : []).concat([{role: "user", content: user.value}]);
    const sampling = {};
    const num = (el, key, parse) => { if (el.value.trim() !== "") sampling[key] = parse(el.value); };
    num(temp, "temperature", parseFloat);
    num(topP, "top_p", parseFloat);
    num(maxTok, "max_completion_tokens", v => parseInt(v, 10));
    num(seed, "seed", v => parseInt(v, 10));
    return {type: "completions", model: model.value, input_messages: {type: "template", template: template}, sampling_params: sampling, source: s};
  }
  async function start(e) {
    e.preventDefault();
    send.disabled = true;
    try {
      const ds = dataSource(await source());
      const body = {data_source: ds};
      if (name.value.trim()) body.name = name.value.trim();
      const run = await api("POST", evalPath(ev.value, "/runs"), body);
      location.hash = `#/evals/${run.eval_id}/runs/${run.id}`;
    } catch (err) { showError(out, err); }
    send.disabled = false;
  }
  fill(box, h("form", {id: "run-form", onsubmit: start},
    h("div", {class: "row"}, evalF, nameF, typeF, srcF), pasteF, uploadF, gen, h("div", {class: "row"}, send), out));
}

/* ---- #/evals/ID: an eval and its runs ---- */

async function viewEval(token, id) {
  const m = main();
  const head = h("div", {}), runs = h("div", {id: "runs-list"}), msg = h("div", {role: "status", "aria-live": "polite"}), formBox = h("div", {class: "panel"});
  fill(m, h("p", {}, h("a", {href: "#/evals", text: "← Evaluations"})), head, msg, h("h2", {text: "Runs"}), runs, h("h2", {text: "Start a run"}), formBox);
  let ev;
  try { ev = await api("GET", evalPath(id)); } catch (e) { if (token === viewToken) showError(head, e); return; }
  if (token !== viewToken) return;
  fill(head, h("h1", {}, "Eval ", h("span", {text: ev.name || ""}), " ", h("code", {text: ev.id})),
    h("dl", {class: "kv"}, [["Created", fmtTime(ev.created_at)], ["Metadata", ev.metadata && Object.keys(ev.metadata).length ? JSON.stringify(ev.metadata) : "–"],
      ["Item schema", JSON.stringify((((ev.data_source_config || {}).schema || {}).properties || {}).item || {})]].map(([k, v]) => [h("dt", {text: k}), h("dd", {text: v})])),
    h("h2", {text: "Testing criteria"}), h("ul", {id: "eval-criteria"}, (ev.testing_criteria || []).map(t => h("li", {text: criterionText(t)}))),
    h("button", {type: "button", class: "secondary", id: "eval-delete", onclick: async () => {
      if (!confirm(`Delete the eval ${ev.name || ev.id} and all its runs?`)) return;
      try { await api("DELETE", evalPath(id)); location.hash = "#/evals"; } catch (e) { showError(msg, e); }
    }}, "Delete eval"));
  runForm(formBox, token, [ev], id);

  async function act(runId, what) {
    try {
      if (what === "cancel") await api("POST", runPath(id, runId));
      else await api("DELETE", runPath(id, runId));
      fill(msg, h("p", {class: "ok", text: what === "cancel" ? `Run ${runId} canceled.` : `Run ${runId} deleted.`}));
    } catch (e) { showError(msg, e); }
    load();
  }
  let shown = null;
  async function load() {
    clearTimeout(pollTimer);
    let list;
    try { list = await listAll(evalPath(id, "/runs?order=desc"), RUNS_SHOWN); } catch (e) { if (token === viewToken) showError(runs, e); return; }
    if (token !== viewToken) return;
    const now = JSON.stringify(list);
    if (now !== shown) { /* redrawn only when something changed: a focused button keeps its focus */
      shown = now;
      fill(runs, list.length ? h("table", {id: "runs-table"},
        h("thead", {}, h("tr", {}, ["Run", "Status", "Model", "Created", "Results", "Per criterion", "Tokens", ""].map(t => h("th", {scope: "col", text: t})))),
        h("tbody", {}, list.map(r => h("tr", {"data-run": r.id, "data-status": r.status},
          h("td", {}, h("a", {href: `#/evals/${id}/runs/${r.id}`, text: r.name || r.id})), h("td", {}, statusBadge(r.status)),
          h("td", {text: r.model || "–"}), h("td", {text: fmtTime(r.created_at)}),
          h("td", {}, countsBar(r.result_counts), h("div", {class: "stats counts", text: countsText(r.result_counts)})),
          h("td", {class: "stats", text: criteriaText(r)}), h("td", {class: "stats", text: usageText(r)}),
          h("td", {},
            h("button", {type: "button", class: "secondary run-cancel", disabled: RUN_TERMINAL.includes(r.status), "aria-label": "Cancel run " + (r.name || r.id), onclick: () => act(r.id, "cancel")}, "Cancel"), " ",
            h("button", {type: "button", class: "secondary run-delete", "aria-label": "Delete run " + (r.name || r.id), onclick: () => act(r.id, "delete")}, "Delete"))))))
        : h("p", {class: "muted", text: "No runs yet."}));
    }
    clearTimeout(pollTimer); /* a button's load may have overlapped the poll's: one timer stays */
    if (list.some(r => !RUN_TERMINAL.includes(r.status))) pollTimer = setTimeout(load, POLL_MS);
  }
  load();
}

/* ---- #/evals/ID/runs/RUN: a run, its pass rates and its output items ---- */

/* The answer text of an output item's sample: a jsonl row's output_text or the generated messages. */
function sampleText(s) {
  if (!s) return "";
  if (typeof s.output_text === "string") return s.output_text;
  return (s.output || []).map(o => typeof o.content === "string" ? o.content : JSON.stringify(o.content)).join("\n");
}

async function viewRun(token, id, runId) {
  const m = main();
  const head = h("div", {}), actions = h("div", {class: "row"}), summary = h("div", {class: "grid2"}), msg = h("div", {role: "status", "aria-live": "polite"});
  const [filterF, filter] = field("Show", h("select", {id: "items-filter"}, options([["", "all items"], ["pass", "passed"], ["fail", "failed (and errored)"]], "")));
  const items = h("div", {id: "items-list", "aria-live": "polite"}), pager = h("div", {class: "row"});
  fill(m, h("p", {}, h("a", {href: "#/evals/" + id, text: "← Eval"})), head, actions, msg, summary,
    h("h2", {text: "Output items"}), h("div", {class: "row"}, filterF), items, pager);
  const cursors = [null];          /* the `after` of each page seen; the last is the page shown */
  let run = null, shownRun = null;
  filter.addEventListener("change", () => { cursors.length = 1; cursors[0] = null; loadItems(); });

  function drawRun() {
    const r = run;
    fill(head, h("h1", {}, "Run ", h("span", {text: r.name || ""}), " ", h("code", {text: r.id}), " ", statusBadge(r.status)));
    fill(actions,
      h("button", {type: "button", id: "run-cancel", disabled: RUN_TERMINAL.includes(r.status), onclick: async () => {
        try { run = await api("POST", runPath(id, runId)); fill(msg, h("p", {class: "ok", text: "The run is now " + run.status + "."})); refresh(); } catch (e) { showError(msg, e); }
      }}, "Cancel run"),
      h("button", {type: "button", id: "run-delete", class: "secondary", onclick: async () => {
        try { await api("DELETE", runPath(id, runId)); location.hash = "#/evals/" + id; } catch (e) { showError(msg, e); }
      }}, "Delete run"));
    const rates = (r.per_testing_criteria_results || []).map(p => {
      const n = p.passed + p.failed, [lo, hi] = wilson(p.passed, n);
      return {name: p.testing_criteria, value: n ? p.passed / n : 0, lo: n ? lo : undefined, hi: n ? hi : undefined};
    });
    const ds = r.data_source || {};
    fill(summary,
      h("section", {class: "panel", id: "run-summary"}, h("h2", {text: "Results"}), countsBar(r.result_counts),
        h("p", {class: "stats", id: "run-counts", "data-total": r.result_counts.total, "data-passed": r.result_counts.passed,
                "data-failed": r.result_counts.failed, "data-errored": r.result_counts.errored, text: countsText(r.result_counts)}),
        h("dl", {class: "kv"}, [["Model", r.model || "–"], ["Data source", ds.type || "–"], ["Created", fmtTime(r.created_at)],
          ["Per criterion", criteriaText(r)], ["Tokens", usageText(r)], ["Error", r.error && r.error.message ? `${r.error.code}: ${r.error.message}` : "–"]]
          .map(([k, v]) => [h("dt", {text: k}), h("dd", {text: v})]))),
      h("figure", {class: "panel"}, h("figcaption", {text: "Pass rate per testing criterion, with its 95% Wilson interval"}),
        barChart("run-chart-pass-rates", "pass rate per testing criterion with 95% Wilson interval", rates, {vmax: 1, fmt: pct}),
        h("table", {id: "run-rates"}, h("thead", {}, h("tr", {}, ["Criterion", "Passed", "Of", "Pass rate", "95% interval"].map(t => h("th", {scope: "col", text: t})))),
          h("tbody", {}, rates.map((x, i) => {
            const p = r.per_testing_criteria_results[i];
            return h("tr", {"data-criterion": x.name, "data-lo": x.lo, "data-hi": x.hi}, h("td", {text: x.name}), h("td", {class: "num", text: p.passed}),
              h("td", {class: "num", text: p.passed + p.failed}), h("td", {class: "num", text: pct(x.value)}),
              h("td", {class: "num", text: x.lo === undefined ? "–" : `${pct(x.lo)} – ${pct(x.hi)}`}));
          })))));
  }

  async function loadItems() {
    const after = cursors[cursors.length - 1];
    let doc;
    try {
      doc = await api("GET", runPath(id, runId, `/output_items?limit=${ITEMS_PAGE}` + (filter.value ? "&status=" + filter.value : "") +
                                                (after ? "&after=" + encodeURIComponent(after) : "")));
    } catch (e) { if (token === viewToken) showError(items, e); return; }
    if (token !== viewToken) return;
    const crit = (run && run.per_testing_criteria_results || []).map(p => p.testing_criteria);
    fill(items, doc.data.length ? h("table", {id: "items-table"},
      h("thead", {}, h("tr", {}, ["Row", "Status", "Item", "Answer"].concat(crit.length ? crit : ["Graders"]).map(t => h("th", {scope: "col", text: t})))),
      h("tbody", {}, doc.data.map(it => {
        const s = it.sample || {}, err = s.error && s.error.message ? s.error : null;
        const res = it.results || [];
        return h("tr", {"data-item": it.id, "data-row": it.datasource_item_id, "data-status": err ? "errored" : it.status},
          h("td", {class: "num", text: it.datasource_item_id}), h("td", {}, h("span", {class: "status status-" + (err ? "errored" : it.status), text: err ? "errored" : it.status})),
          h("td", {}, h("code", {class: "item-json", text: JSON.stringify(it.datasource_item)})),
          h("td", {}, err ? h("span", {class: "error", text: `${err.code}: ${err.message}`}) : h("span", {class: "answer", text: sampleText(s)})),
          (crit.length ? crit : [null]).map((name, i) => {
            const g = name === null ? res[0] : res.find(x => x.name === name) || res[i];
            return h("td", {class: "grade"}, g ? `${g.passed ? "pass" : "fail"} (score ${fmtNum(g.score, 3)})` : "–");
          }));
      }))) : h("p", {class: "muted", text: filter.value ? "No items with this status." : "No items yet."}));
    const page = cursors.length;
    fill(pager,
      h("button", {type: "button", class: "secondary", id: "items-prev", disabled: page === 1, onclick: () => { cursors.pop(); loadItems(); }}, "Previous page"),
      h("span", {class: "muted", id: "items-page", text: `page ${page}`}),
      h("button", {type: "button", class: "secondary", id: "items-next", disabled: !doc.has_more, onclick: () => { cursors.push(doc.last_id); loadItems(); }}, "Next page"));
  }

  async function refresh() {
    clearTimeout(pollTimer);
    try { run = await api("GET", runPath(id, runId)); } catch (e) { if (token === viewToken) showError(head, e); return; }
    if (token !== viewToken) return;
    const now = JSON.stringify(run);
    if (now !== shownRun) { shownRun = now; drawRun(); await loadItems(); }
    if (token !== viewToken) return;
    clearTimeout(pollTimer);
    if (!RUN_TERMINAL.includes(run.status)) pollTimer = setTimeout(refresh, POLL_MS);
  }
  refresh();
}
