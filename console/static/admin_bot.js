/* Parley · bot training admin. Vanilla JS, no build step; every user-provided text goes in with
   textContent (never innerHTML). Talks to /api/v1/bot/... with the session cookie + CSRF header. */
(function () {
  "use strict";

  const A = window.ParleyAdmin, el = A.el;  // admin_common.js
  const state = { data: null, selected: null, models: null, runs: [], polling: null, versions: [] };

  // ---------------------------------------------------------------------------------- helpers

  function clear(node) { while (node.firstChild) node.removeChild(node.firstChild); return node; }
  function $(id) { return document.getElementById(id); }

  /** /api/v1/bot/...: errors carry `status`, `code` and `problems` (the studio marks the fields). */
  function api(method, path, body) { return A.api(method, "/bot" + path, body); }

  function flash(message, kind) {
    const box = $("flash");
    box.textContent = message;
    box.className = "admin-flash " + (kind || "ok");
    box.hidden = false;
    clearTimeout(flash.timer);
    flash.timer = setTimeout(() => { box.hidden = true; }, kind === "error" ? 9000 : 4000);
  }

  function problemsBox(title, problems, kind) {
    return el("div", { class: "problems " + (kind || "error"), "data-testid": "problems" }, [
      el("strong", { text: title }),
      el("ul", {}, problems.map((p) => el("li", { text: p }))),
    ]);
  }

  function pct(value) { return value === null || value === undefined ? "–" : (value * 100).toFixed(1) + "%"; }
  function num(value, digits) { return value === null || value === undefined ? "–" : Number(value).toFixed(digits); }
  function when(iso) { return iso ? new Date(iso).toLocaleString() : ""; }
  function lines(text) { return text.split("\n").map((l) => l.trim()).filter(Boolean); }
  function shortVersion(v) { return v ? v.replace(/^(\d{8}T\d{6})\d*Z-/, "$1-") : "–"; }

  // ---------------------------------------------------------------------------------- tabs

  function showTab(name) {
    document.querySelectorAll(".admin-tab").forEach((tab) => {
      tab.classList.toggle("active", tab.dataset.tab === name);
      tab.setAttribute("aria-selected", tab.dataset.tab === name ? "true" : "false");
    });
    document.querySelectorAll(".admin-panel").forEach((panel) => { panel.hidden = panel.dataset.panel !== name; });
    if (location.hash !== "#" + name) history.replaceState(null, "", "#" + name);
    const loaders = { data: loadData, train: loadTrain, models: loadModels, handoffs: loadHandoffs, history: loadHistory };
    loaders[name]().catch((e) => flash(e.message, "error"));
  }

  // ---------------------------------------------------------------------------------- data

  async function loadData() {
    state.data = await api("GET", "/data");
    renderIntentList();
    const problems = $("data-problems");
    clear(problems);
    problems.hidden = !state.data.problems.length;
    if (state.data.problems.length) {
      problems.appendChild(problemsBox("The training data has problems (the bot still trains on the rest):",
        state.data.problems, "warn"));
    }
    const v = state.data.version;
    $("data-meta").textContent = state.data.intents.length + " intents · files: " + state.data.files.join(", ") +
      (v ? " · version " + v.id + " by " + (v.author || "Parley") + ", " + when(v.created_at) : "");
    if (state.selected && state.selected !== "__new__") {
      const found = state.data.intents.find((i) => i.name === state.selected);
      if (found) renderEditor(found); else { state.selected = null; clear($("intent-editor")); }
    }
  }

  function renderIntentList() {
    const list = clear($("intent-list"));
    const filter = $("intent-filter").value.trim().toLowerCase();
    state.data.intents
      .filter((i) => !filter || i.name.includes(filter) || i.examples.some((e) => e.toLowerCase().includes(filter)))
      .forEach((intent) => {
        const flags = [];
        if (intent.handoff) flags.push(el("span", { class: "chip chip-human", text: "hands off" }));
        if (!intent.response && !intent.handoff) flags.push(el("span", { class: "chip chip-warn", text: "no answer" }));
        if (!intent.examples.length) flags.push(el("span", { class: "chip chip-warn", text: "no examples" }));
        const item = el("li", {
          class: "intent-item" + (state.selected === intent.name ? " selected" : ""),
          "data-intent": intent.name, tabindex: "0",
          on: { click: () => selectIntent(intent.name), keydown: (e) => { if (e.key === "Enter") selectIntent(intent.name); } },
        }, [
          el("span", { class: "intent-name", text: intent.name }),
          el("span", { class: "muted", text: String(intent.examples.length) }),
          ...flags,
        ]);
        list.appendChild(item);
      });
  }

  function selectIntent(name) {
    state.selected = name;
    renderIntentList();
    const intent = state.data.intents.find((i) => i.name === name);
    if (intent) renderEditor(intent);
  }

  function renderEditor(intent) {
    const isNew = intent === null;
    const box = clear($("intent-editor"));
    const name = el("input", { type: "text", id: "ed-name", value: isNew ? "" : intent.name, placeholder: "e.g. gift_cards",
      "aria-label": "Intent name", "data-testid": "ed-name" });
    if (!isNew) name.disabled = true;
    const examples = el("textarea", { id: "ed-examples", rows: "14", "data-testid": "ed-examples",
      "aria-label": "Examples, one per line" });
    examples.value = isNew ? "" : intent.examples.join("\n");
    const responseName = isNew ? null : (intent.response || (intent.handoff ? null : "utter_" + intent.name));
    const texts = el("textarea", { id: "ed-response", rows: "4", "data-testid": "ed-response",
      "aria-label": "Answer variants, one per line" });
    texts.value = isNew ? "" : (intent.response_texts || []).join("\n");
    const results = el("div", { id: "ed-results" });
    const used = isNew ? [] : intent.used_in.map((u) => u.kind + " '" + u.name + "' (" + u.file + ")");
    box.append(
      el("h2", { text: isNew ? "New intent" : intent.name }),
      el("label", { class: "field" }, [el("span", { class: "field-label", text: "Name" }), name]),
      el("label", { class: "field" }, [
        el("span", { class: "field-label", text: "Examples — one customer message per line" }), examples]),
      el("label", { class: "field" }, [
        el("span", { class: "field-label", text: isNew
          ? "Answer — one variant per line (leave empty only for handoff intents)"
          : "Answer (" + (responseName || "none: this intent hands off") + ") — one variant per line" }),
        texts]),
      used.length ? el("p", { class: "muted", text: "Used in " + used.join(", ") }) : null,
      el("div", { class: "row" }, [
        el("button", { type: "button", class: "btn", text: "Check", "data-testid": "ed-check",
          on: { click: () => submitIntent(intent, false) } }),
        el("button", { type: "button", class: "btn btn-primary", text: "Save", "data-testid": "ed-save",
          on: { click: () => submitIntent(intent, true) } }),
        isNew ? null : el("button", { type: "button", class: "btn btn-danger", text: "Delete intent",
          "data-testid": "ed-delete", on: { click: () => deleteIntent(intent) } }),
      ]),
      results,
    );
  }

  function intentChanges(intent) {
    const examples = lines($("ed-examples").value);
    const texts = lines($("ed-response").value);
    if (intent === null) {
      return [{ op: "add_intent", intent: $("ed-name").value.trim(), examples, response: texts }];
    }
    const changes = [];
    if (examples.join("\n") !== intent.examples.join("\n")) {
      changes.push({ op: "set_examples", intent: intent.name, examples });
    }
    const current = (intent.response_texts || []).join("\n");
    if (texts.join("\n") !== current && texts.length) {
      changes.push({ op: "set_response", response: intent.response || "utter_" + intent.name, texts,
        intent: intent.name });
    }
    return changes;
  }

  async function submitIntent(intent, save) {
    const results = clear($("ed-results"));
    const changes = intentChanges(intent);
    if (!changes.length) { results.appendChild(el("p", { class: "muted", text: "Nothing changed." })); return; }
    try {
      if (!save) {
        const check = await api("POST", "/data/check", { changes, base_hash: state.data.data_hash });
        if (check.introduced.length) results.appendChild(problemsBox("This change would introduce:", check.introduced));
        else results.appendChild(el("p", { class: "ok-text", text: "No new problems. " + check.summary.join(" ") }));
        if (check.stale) results.appendChild(problemsBox("", ["The data changed since you loaded it: reload."], "warn"));
        Object.entries(check.diff).forEach(([file, diff]) => {
          results.appendChild(el("details", {}, [el("summary", { text: file }), el("pre", { class: "diff", text: diff })]));
        });
        return;
      }
      const done = await api("POST", "/data/changes", { changes, base_hash: state.data.data_hash });
      flash("Saved as version " + done.version.id + ": " + done.summary.join(" "));
      state.data = done.data;
      state.selected = intent === null ? changes[0].intent : intent.name;
      await loadData();
    } catch (e) {
      if (e.problems && e.problems.length) results.appendChild(problemsBox(e.message, e.problems));
      else results.appendChild(problemsBox(e.message, []));
    }
  }

  async function deleteIntent(intent) {
    if (!window.confirm("Delete intent '" + intent.name + "' with its " + intent.examples.length + " examples?")) return;
    const results = clear($("ed-results"));
    try {
      const done = await api("POST", "/data/changes", {
        changes: [{ op: "delete_intent", intent: intent.name }], base_hash: state.data.data_hash });
      flash("Saved as version " + done.version.id + ": " + done.summary.join(" "));
      state.selected = null;
      clear($("intent-editor"));
      await loadData();
    } catch (e) {
      results.appendChild(problemsBox(e.message, e.problems || []));
    }
  }

  // ---------------------------------------------------------------------------------- runs

  function engineOptions(select, engines, selected) {
    clear(select);
    engines.forEach((engine) => select.appendChild(el("option", { value: engine, text: engine, selected: engine === selected })));
  }

  async function loadTrain() {
    await loadModelsData();
    const engines = ["embedded"].concat(state.models.rasa_installed ? ["rasa"] : []);
    const preferred = state.models.engines_in_use.find((e) => engines.includes(e)) || "embedded";
    engineOptions($("train-engine"), engines, $("train-engine").value || preferred);
    engineOptions($("eval-engine"), engines, $("eval-engine").value || preferred);
    fillModelSelect($("eval-model"), $("eval-engine").value);
    $("train-start").disabled = false;
    $("eval-start").disabled = !$("eval-model").value;
    await loadRuns();
  }

  function fillModelSelect(select, engine, selected) {
    const keep = selected || select.value;
    clear(select);
    (state.models[engine] ? state.models[engine].versions : []).forEach((v) => {
      const label = shortVersion(v.version) + (v.active ? " (active)" : "");
      select.appendChild(el("option", { value: v.version, text: label, selected: v.version === keep }));
    });
  }

  async function loadRuns() {
    const payload = await api("GET", "/runs");
    state.runs = payload.runs;
    renderRuns();
    const busy = state.runs.some((r) => r.status === "queued" || r.status === "running");
    if (busy && !state.polling) {
      state.polling = setInterval(() => loadRuns().catch(() => {}), 2000);
    } else if (!busy && state.polling) {
      clearInterval(state.polling);
      state.polling = null;
      loadModelsData().then(() => {
        fillModelSelect($("eval-model"), $("eval-engine").value);
        $("eval-start").disabled = !$("eval-model").value;
      }).catch(() => {});
    }
  }

  function renderRuns() {
    const box = clear($("runs"));
    if (!state.runs.length) { box.appendChild(el("p", { class: "muted", text: "No runs yet." })); return; }
    const table = el("table", { class: "grid" }, [el("thead", {}, [el("tr", {}, [
      "#", "What", "Engine", "Status", "Progress", "Result", "Started", ""].map((h) => el("th", { text: h })))])]);
    const body = el("tbody");
    state.runs.forEach((run) => {
      const bar = el("div", { class: "bar" }, [el("div", { class: "bar-fill", style: "width:" + Math.round(run.progress * 100) + "%" })]);
      let result = "";
      if (run.status === "failed") result = run.error || "failed";
      else if (run.result && run.kind === "train") result = "model " + shortVersion(run.result.model_version) + " in " + num(run.result.train_seconds, 1) + "s";
      else if (run.result) result = run.result.protocol_label + ": accuracy " + pct(run.result.intent_accuracy) +
        ", handoff recall " + pct(run.result.handoff_recall) + ", false handoffs " + pct(run.result.false_handoff_rate);
      const what = run.kind === "train" ? "Train" : "Evaluate " + shortVersion(run.model_version);
      body.appendChild(el("tr", { "data-run": String(run.id), "data-status": run.status }, [
        el("td", { text: String(run.id) }),
        el("td", { text: what }),
        el("td", { text: run.engine }),
        el("td", {}, [el("span", { class: "chip chip-" + run.status, text: run.status })]),
        el("td", {}, [bar, el("div", { class: "muted small", text: run.stage })]),
        el("td", { class: run.status === "failed" ? "error-text" : "", text: result }),
        el("td", { class: "muted small", text: when(run.started_at || run.created_at) }),
        el("td", {}, [(run.status === "running" || run.status === "queued") && !run.cancel_requested
          ? el("button", { type: "button", class: "btn btn-sm", text: "Cancel",
            on: { click: () => api("POST", "/runs/" + run.id + "/cancel").then(loadRuns).catch((e) => flash(e.message, "error")) } })
          : null]),
      ]));
      if (run.kind === "evaluate" && run.result && run.result.per_intent) body.appendChild(evaluationDetails(run.result));
    });
    table.appendChild(body);
    box.appendChild(table);
  }

  function evaluationDetails(result) {
    const intents = Object.entries(result.per_intent).sort((a, b) => a[1].f1 - b[1].f1);
    const reasons = Object.entries(result.handoff_reasons || {}).map(([r, n]) => r.replace(/_/g, " ") + " " + n).join(", ");
    return el("tr", { class: "details-row" }, [el("td", { colspan: "8" }, [el("details", {}, [
      el("summary", { text: "Details: macro F1 " + num(result.macro_f1, 3) + ", rephrase rate " + pct(result.rephrase_rate) +
        ", " + result.n_examples + " examples tested" }),
      el("div", { class: "cols" }, [
        el("table", { class: "grid" }, [
          el("thead", {}, [el("tr", {}, ["intent (worst first)", "precision", "recall", "F1", "support"].map((t) => el("th", { text: t })))]),
          el("tbody", {}, intents.map(([name, m]) => el("tr", {}, [el("td", { text: name }), el("td", { text: num(m.precision, 3) }),
            el("td", { text: num(m.recall, 3) }), el("td", { text: num(m.f1, 3) }), el("td", { text: String(m.support) })]))),
        ]),
        scopePanel(result),
        el("div", {}, [
          el("strong", { text: "Most confused (expected → predicted)" }),
          el("ul", { class: "small" }, (result.most_confused || []).map((c) => el("li", { text: c.count + " × " + c.expected + " → " + c.predicted }))),
          el("p", { class: "small muted", text: "Handoffs by reason: " + (reasons || "none") }),
        ]),
      ]),
    ])])]);
  }

  // Out-of-scope detection and the threshold sweep, drawn as an inline SVG (no library, no CDN).
  const SVG = "http://www.w3.org/2000/svg";
  const SWEEP_LINES = [
    ["in_scope_accuracy", "in-scope accuracy", "sweep-accuracy"],
    ["handoff_recall", "handoff recall", "sweep-recall"],
    ["false_handoff_rate", "false handoffs", "sweep-false"],
  ];

  function svg(tag, attrs, text) {
    const node = document.createElementNS(SVG, tag);
    Object.entries(attrs || {}).forEach(([key, value]) => node.setAttribute(key, String(value)));
    if (text !== undefined) node.textContent = text;
    return node;
  }

  function scopePanel(result) {
    const figures = "Out of scope: AUROC " + num(result.auroc, 3) + ", FPR95 " + pct(result.fpr95) +
      "; calibration error (ECE) " + num(result.ece, 3);
    const sweep = result.sweep || [];
    const box = el("div", { class: "scope-panel", "data-testid": "scope-panel" }, [
      el("strong", { text: "Threshold sweep" }),
      el("p", { class: "small muted", text: figures }),
    ]);
    if (!sweep.length) return box;
    const W = 360, H = 220, L = 40, R = 10, T = 10, B = 36;
    const x = (t) => L + t * (W - L - R);
    const y = (v) => T + (1 - v) * (H - T - B);
    const plot = svg("svg", { viewBox: "0 0 " + W + " " + H, width: W, height: H, class: "sweep-plot", role: "img",
      "aria-label": "In-scope accuracy, handoff recall and false handoffs against the confidence threshold" });
    [0, 0.25, 0.5, 0.75, 1].forEach((v) => {
      plot.appendChild(svg("line", { x1: L, x2: W - R, y1: y(v), y2: y(v), class: "sweep-grid" }));
      plot.appendChild(svg("text", { x: L - 4, y: y(v) + 4, "text-anchor": "end", class: "sweep-tick" }, Math.round(v * 100) + "%"));
      plot.appendChild(svg("text", { x: x(v), y: H - B + 14, "text-anchor": "middle", class: "sweep-tick" }, String(v)));
    });
    plot.appendChild(svg("text", { x: (L + W - R) / 2, y: H - 4, "text-anchor": "middle", class: "sweep-tick" },
      "confidence threshold"));
    const handoff = result.thresholds && typeof result.thresholds.handoff === "number" ? result.thresholds.handoff : null;
    if (handoff !== null) {
      plot.appendChild(svg("line", { x1: x(handoff), x2: x(handoff), y1: T, y2: H - B, class: "sweep-now" }));
    }
    SWEEP_LINES.forEach(([key, , cls]) => {
      const points = sweep.filter((p) => p[key] !== null && p[key] !== undefined).map((p) => x(p.threshold).toFixed(1) + "," + y(p[key]).toFixed(1));
      if (points.length) plot.appendChild(svg("polyline", { points: points.join(" "), class: "sweep-line " + cls, "data-series": key }));
    });
    box.appendChild(plot);
    box.appendChild(el("ul", { class: "sweep-legend small" }, SWEEP_LINES.map(([, label, cls]) =>
      el("li", {}, [el("span", { class: "swatch " + cls }), label]))
      .concat(handoff !== null ? [el("li", {}, [el("span", { class: "swatch sweep-now" }), "handoff threshold now (" + handoff + ")"])] : [])));
    return box;
  }

  async function startTrain() {
    try {
      const run = await api("POST", "/runs", { kind: "train", engine: $("train-engine").value });
      flash("Training started (run " + run.id + ").");
      await loadRuns();
    } catch (e) { flash(e.message, "error"); }
  }

  async function startEvaluate(engine, version) {
    const protocol = $("eval-protocol").value;
    try {
      const run = await api("POST", "/runs", {
        kind: "evaluate", engine: engine || $("eval-engine").value, model_version: version || $("eval-model").value,
        protocol, fraction: Number($("eval-fraction").value), folds: Number($("eval-folds").value),
        seed: Number($("eval-seed").value || 0),
      });
      flash("Evaluation started (run " + run.id + ").");
      if (version) showTab("train"); else await loadRuns();
    } catch (e) { flash(e.message, "error"); }
  }

  // ---------------------------------------------------------------------------------- models

  async function loadModelsData() { state.models = await api("GET", "/models"); }

  async function loadModels() {
    await loadModelsData();
    const box = clear($("models"));
    ["rasa", "embedded"].forEach((engine) => {
      const info = state.models[engine];
      if (!info || (!info.versions.length && !state.models.engines_in_use.includes(engine))) return;
      const inUse = state.models.engines_in_use.includes(engine);
      const table = el("table", { class: "grid" }, [el("thead", {}, [el("tr", {}, [
        "Version", "Trained", "Examples", "Intents", "Train time", "Data version", "Accuracy", "Handoff recall",
        "False handoffs", ""].map((h) => el("th", { text: h })))])]);
      const body = el("tbody");
      info.versions.forEach((v) => {
        const ev = v.evaluations[0] || {};
        body.appendChild(el("tr", { class: v.active ? "active-row" : "", "data-version": v.version }, [
          el("td", {}, [el("code", { text: shortVersion(v.version), title: v.version }), v.active ? el("span", { class: "chip chip-open", text: "active" }) : null]),
          el("td", { class: "small", text: when(v.trained_at) }),
          el("td", { text: String(v.n_examples) }),
          el("td", { text: String(v.intents) }),
          el("td", { text: num(v.train_seconds, 1) + "s" }),
          el("td", { text: v.data_version ? String(v.data_version) : "–" }),
          el("td", { text: pct(ev.intent_accuracy), title: ev.label || "" }),
          el("td", { text: pct(ev.handoff_recall) }),
          el("td", { text: pct(ev.false_handoff_rate) }),
          el("td", { class: "actions" }, [
            el("button", { type: "button", class: "btn btn-sm", text: "Evaluate",
              on: { click: () => startEvaluate(engine, v.version) } }),
            v.active ? null : el("button", { type: "button", class: "btn btn-sm btn-primary", text: "Activate",
              "data-testid": "activate-" + v.version, on: { click: () => activate(engine, v.version) } }),
          ]),
        ]));
      });
      table.appendChild(body);
      box.appendChild(el("div", { class: "card" }, [
        el("div", { class: "row spread" }, [
          el("h2", { text: engine === "rasa" ? "Rasa models" : "Embedded models" }),
          el("span", { class: "muted", text: inUse ? "answering customers (PARLEY_BOT_ENGINES)" : "not in PARLEY_BOT_ENGINES" }),
          info.rollback_to ? el("button", { type: "button", class: "btn btn-sm", "data-testid": "rollback-" + engine,
            text: "Roll back to " + shortVersion(info.rollback_to), on: { click: () => rollback(engine) } }) : null,
        ]),
        info.versions.length ? table : el("p", { class: "muted", text: "No models yet: train one." }),
      ]));
    });
    const engines = ["embedded"].concat(state.models.rasa ? ["rasa"] : []);
    engineOptions($("cmp-engine"), engines, $("cmp-engine").value || state.models.engines_in_use[0] || "embedded");
    fillCompare();
    renderRasa(state.models.rasa_server);
  }

  function fillCompare() {
    const engine = $("cmp-engine").value;
    const info = state.models[engine];
    if (!info) return;
    const candidate = info.versions.find((v) => !v.active);
    fillModelSelect($("cmp-a"), engine, $("cmp-a").value || info.active);
    fillModelSelect($("cmp-b"), engine, $("cmp-b").value || (candidate && candidate.version));
  }

  async function activate(engine, version) {
    try {
      const done = await api("POST", "/models/" + engine + "/" + encodeURIComponent(version) + "/activate");
      flash(engine + " model " + shortVersion(done.active) + " is now active." +
        (done.external_server ? " External Rasa server: " + done.external_server : ""));
      await loadModels();
    } catch (e) { flash(e.message, "error"); }
  }

  async function rollback(engine) {
    try {
      const done = await api("POST", "/models/" + engine + "/rollback");
      flash("Rolled back: " + engine + " model " + shortVersion(done.active) + " is active again.");
      await loadModels();
    } catch (e) { flash(e.message, "error"); }
  }

  async function compare() {
    const box = clear($("comparison"));
    try {
      const engine = $("cmp-engine").value;
      const a = $("cmp-a").value;
      const b = $("cmp-b").value;
      const result = await api("GET", "/compare?engine=" + encodeURIComponent(engine) + "&a=" + encodeURIComponent(a) +
        "&b=" + encodeURIComponent(b));
      if (result.not_evaluated.length) {
        box.appendChild(el("p", { class: "muted", text: "Not evaluated yet: " + result.not_evaluated.map(shortVersion).join(", ") +
          " — evaluate both with the same method to compare them." }));
      }
      if (!result.comparisons.length && !result.not_evaluated.length) {
        box.appendChild(el("p", { class: "muted", text: "These two were not evaluated with the same method yet." }));
      }
      result.comparisons.forEach((cmp) => {
        const rows = cmp.headline.map((h) => el("tr", {}, [
          el("td", { text: h.metric.replace(/_/g, " ") }), el("td", { text: pct(h.a) }), el("td", { text: pct(h.b) }),
          el("td", { class: deltaClass(h.metric, h.delta), text: h.delta === null ? "–" : (h.delta > 0 ? "+" : "") + (h.delta * 100).toFixed(1) }),
        ]));
        const intents = cmp.per_intent.map((r) => el("tr", {}, [
          el("td", { text: r.intent }), el("td", { text: num(r.a, 3) }), el("td", { text: num(r.b, 3) }),
          el("td", { class: deltaClass("f1", r.delta), text: r.delta === null ? "–" : (r.delta > 0 ? "+" : "") + r.delta.toFixed(3) }),
        ]));
        const confused = (list) => el("ul", { class: "small" }, list.map((c) => el("li", { text: c.count + " × " + c.expected + " → " + c.predicted })));
        box.appendChild(el("div", { class: "comparison", "data-testid": "comparison" }, [
          el("h3", { text: cmp.protocol }),
          el("table", { class: "grid" }, [el("thead", {}, [el("tr", {}, ["", "A " + shortVersion(a), "B " + shortVersion(b), "Δ (points)"].map((t) => el("th", { text: t })))]), el("tbody", {}, rows)]),
          el("details", {}, [el("summary", { text: "Per-intent F1" }), el("table", { class: "grid" }, [
            el("thead", {}, [el("tr", {}, ["intent", "A", "B", "Δ"].map((t) => el("th", { text: t })))]), el("tbody", {}, intents)])]),
          el("div", { class: "cols" }, [
            el("div", {}, [el("strong", { text: "Most confused (A)" }), confused(cmp.confused_a)]),
            el("div", {}, [el("strong", { text: "Most confused (B)" }), confused(cmp.confused_b)]),
          ]),
        ]));
      });
    } catch (e) { flash(e.message, "error"); }
  }

  function deltaClass(metric, delta) {
    if (delta === null || delta === 0) return "";
    const lowerIsBetter = metric === "false_handoff_rate" || metric === "rephrase_rate" || metric === "out_of_scope_rephrase_rate";
    return (delta > 0) !== lowerIsBetter ? "better" : "worse";
  }

  function renderRasa(status) {
    const box = clear($("rasa-status"));
    if (!status || status.mode === "not_in_use") {
      box.appendChild(el("p", { class: "muted", text: "Rasa does not answer customers in this process (PARLEY_BOT_ENGINES)." +
        (status && status.active_version ? " Active Rasa model: " + shortVersion(status.active_version) + "." : "") }));
      return;
    }
    const facts = [
      ["Mode", status.mode], ["State", status.state], ["URL", status.url], ["PID", status.pid],
      ["Serving", shortVersion(status.model_version)], ["Active", shortVersion(status.active_version)],
      ["Restarts", status.restarts], ["Since", when(status.started_at)],
    ];
    box.appendChild(el("dl", { class: "facts" }, facts.flatMap(([k, v]) => [el("dt", { text: k }), el("dd", { text: v === null || v === undefined ? "–" : String(v) })])));
    if (status.data_changed_since_training) box.appendChild(problemsBox("", ["The training data changed since the active Rasa model was trained: train and activate a new one."], "warn"));
    if (status.last_error) box.appendChild(problemsBox("Last error", [status.last_error]));
    if (status.log_tail && status.log_tail.length) {
      box.appendChild(el("details", {}, [el("summary", { text: "Server log (last lines)" }), el("pre", { class: "log", text: status.log_tail.join("\n") })]));
    }
  }

  // ---------------------------------------------------------------------------------- handoffs

  async function loadHandoffs() {
    if (!state.data) state.data = await api("GET", "/data");
    const reason = $("ho-reason").value;
    const payload = await api("GET", "/handoffs?days=" + $("ho-days").value + (reason ? "&reason=" + encodeURIComponent(reason) : ""));
    $("ho-meta").textContent = payload.messages + " message(s) in " + payload.groups.length + " group(s)";
    const list = clear($("ho-groups"));
    if (!payload.groups.length) list.appendChild(el("li", { class: "muted", text: "No handoff messages left to learn from." }));
    payload.groups.forEach((group) => list.appendChild(groupItem(group)));
  }

  function groupItem(group) {
    const select = el("select", { "aria-label": "Intent", "data-testid": "learn-intent" });
    select.appendChild(el("option", { value: "", text: "Add to intent…" }));
    state.data.intents.forEach((i) => select.appendChild(el("option", { value: i.name, text: i.name, selected: i.name === group.bot_guess })));
    select.appendChild(el("option", { value: "__new__", text: "New intent…" }));
    const newName = el("input", { type: "text", placeholder: "new_intent_name", hidden: true, "aria-label": "New intent name" });
    const answer = el("input", { type: "text", placeholder: "Its answer", hidden: true, "aria-label": "Answer of the new intent" });
    select.addEventListener("change", () => { newName.hidden = answer.hidden = select.value !== "__new__"; });
    const feedback = el("div");
    const add = el("button", { type: "button", class: "btn btn-sm btn-primary", text: "Add", "data-testid": "learn-add",
      on: { click: async () => {
        clear(feedback);
        const isNew = select.value === "__new__";
        const intent = isNew ? newName.value.trim() : select.value;
        if (!intent) { feedback.appendChild(problemsBox("Pick an intent.", [])); return; }
        try {
          const done = await api("POST", "/handoffs/learn", { message_ids: group.message_ids, intent, new_intent: isNew,
            response: isNew && answer.value.trim() ? [answer.value.trim()] : [], texts: group.variants });
          flash(done.version ? "Added to '" + intent + "' (version " + done.version.id + "); the next training uses it." : "Already in '" + intent + "'.");
          state.data = null;
          await loadHandoffs();
        } catch (e) { feedback.appendChild(problemsBox(e.message, e.problems || [])); }
      } } });
    const dismiss = el("button", { type: "button", class: "btn btn-sm btn-ghost", text: "Dismiss",
      on: { click: () => api("POST", "/handoffs/dismiss", { message_ids: group.message_ids }).then(loadHandoffs).catch((e) => flash(e.message, "error")) } });
    return el("li", { class: "group", "data-testid": "handoff-group" }, [
      el("div", { class: "row spread" }, [
        el("span", { class: "group-text", text: group.text }),
        el("span", { class: "badge", text: String(group.count) }),
      ]),
      el("div", { class: "chips" }, Object.entries(group.reasons).map(([r, n]) => el("span", { class: "chip", text: r.replace(/_/g, " ") + " × " + n }))
        .concat(group.bot_guess ? [el("span", { class: "chip chip-bot", text: "bot guessed " + group.bot_guess })] : [])),
      group.variants.length > 1 ? el("details", {}, [el("summary", { text: group.variants.length + " phrasings" }),
        el("ul", { class: "small" }, group.variants.map((v) => el("li", { text: v })))]) : null,
      el("div", { class: "row" }, [select, newName, answer, add, dismiss]),
      feedback,
    ]);
  }

  // ---------------------------------------------------------------------------------- history

  async function loadHistory() {
    const payload = await api("GET", "/data/versions");
    state.versions = payload.versions;
    const list = clear($("versions"));
    if (!payload.versions.length) list.appendChild(el("li", { class: "muted", text: "No change yet." }));
    payload.versions.forEach((v) => {
      list.appendChild(el("li", { class: "version-item", tabindex: "0", on: { click: () => showVersion(v.id) } }, [
        el("strong", { text: "#" + v.id + " " }), el("span", { class: "chip", text: v.kind }),
        el("div", { text: v.summary }),
        el("div", { class: "muted small", text: (v.author || "Parley") + " · " + when(v.created_at) }),
      ]));
    });
  }

  async function showVersion(id) {
    const box = clear($("version-detail"));
    try {
      const v = await api("GET", "/data/versions/" + id);
      box.append(
        el("h2", { text: "Version " + v.id }),
        el("p", { text: v.summary }),
        el("p", { class: "muted", text: (v.author || "Parley") + " · " + when(v.created_at) }),
        el("button", { type: "button", class: "btn btn-sm", text: "Restore this version", on: { click: async () => {
          if (!window.confirm("Put the training data back as it was in version " + v.id + "?")) return;
          try {
            const done = await api("POST", "/data/versions/" + v.id + "/restore", {});
            flash("Restored as version " + done.version.id + ".");
            await loadHistory();
          } catch (e) { flash(e.message, "error"); }
        } } }),
      );
      if (!v.diffs.length) box.appendChild(el("p", { class: "muted", text: "No file changed." }));
      v.diffs.forEach((d) => box.appendChild(el("details", { open: true }, [el("summary", { text: d.file }), el("pre", { class: "diff", text: d.diff })])));
    } catch (e) { flash(e.message, "error"); }
  }

  // ---------------------------------------------------------------------------------- wiring

  document.addEventListener("DOMContentLoaded", () => {
    document.querySelectorAll(".admin-tab").forEach((tab) => tab.addEventListener("click", () => showTab(tab.dataset.tab)));
    $("intent-filter").addEventListener("input", renderIntentList);
    $("new-intent").addEventListener("click", () => { state.selected = "__new__"; renderIntentList(); renderEditor(null); });
    $("train-start").addEventListener("click", startTrain);
    $("eval-start").addEventListener("click", () => startEvaluate());
    $("eval-engine").addEventListener("change", () => {
      fillModelSelect($("eval-model"), $("eval-engine").value);
      $("eval-start").disabled = !$("eval-model").value;
    });
    $("eval-protocol").addEventListener("change", () => {
      const cv = $("eval-protocol").value === "cv";
      $("eval-folds-label").hidden = !cv;
      $("eval-fraction-label").hidden = cv;
    });
    $("cmp-engine").addEventListener("change", () => { $("cmp-a").value = ""; $("cmp-b").value = ""; fillCompare(); });
    $("cmp-go").addEventListener("click", compare);
    $("ho-reason").addEventListener("change", () => loadHandoffs().catch((e) => flash(e.message, "error")));
    $("ho-days").addEventListener("change", () => loadHandoffs().catch((e) => flash(e.message, "error")));
    const initial = (location.hash || "#data").slice(1);
    showTab(["data", "train", "models", "handoffs", "history"].includes(initial) ? initial : "data");
  });
})();
