/* Broadcast (supervisors and admins): one message to a tag or to picked contacts, SMS text or a WhatsApp
   template, then the summary (counts, each recipient's delivery status) refreshed while it goes out.
   Uses the console's api() (window.ParleyConsole); every text goes in with textContent. */
(function () {
  "use strict";
  var PC = window.ParleyConsole;
  if (!PC || !(PC.me && (PC.me.role === "admin" || PC.me.role === "supervisor"))) return;

  var h = window.ParleyAdmin.el;  // the console's DOM builder (admin_common.js): h(tag, attrs, [children])
  function field(label, control) { return h("label", { class: "nc-field" }, [h("span", { text: label }), control]); }

  var dlg, els = {}, picked = new Map(), templates = [], timer = null;

  function build() {
    els.tag = h("select", { "data-testid": "bc-tag" });
    els.search = h("input", { type: "search", placeholder: "…or pick contacts: search", "data-testid": "bc-search", oninput: search });
    els.results = h("ul", { class: "nc-results", "data-testid": "bc-results" });
    els.picked = h("p", { class: "nc-hint", "data-testid": "bc-picked" });
    els.channel = h("select", { "data-testid": "bc-channel", onchange: paint }, [
      h("option", { value: "sms", text: "SMS" }), h("option", { value: "whatsapp", text: "WhatsApp (approved template)" })]);
    els.text = h("textarea", { rows: "4", maxlength: "4096", "data-testid": "bc-text" });
    els.template = h("select", { "data-testid": "bc-template", onchange: paintParams });
    els.params = h("div", { class: "nc-vars" });
    els.textBox = field("Message", els.text);
    els.templateBox = h("div", {}, [field("Template", els.template), els.params]);
    els.error = h("p", { class: "nc-error", role: "alert", "data-testid": "bc-error", hidden: true });
    els.send = h("button", { type: "submit", class: "btn btn-primary", "data-testid": "bc-send", text: "Send broadcast" });
    els.form = h("form", { method: "dialog", class: "nc-form", onsubmit: submit }, [
      h("h2", { text: "Broadcast" }),
      h("fieldset", {}, [h("legend", { text: "Recipients" }), field("Tag", els.tag), els.search, els.results, els.picked]),
      field("Channel", els.channel), els.textBox, els.templateBox,
      h("p", { class: "nc-hint", text: "Each customer gets their own conversation. Blocked customers, those who texted STOP and those without a number are skipped." }),
      els.error,
      h("div", { class: "nc-actions" }, [
        h("button", { type: "button", class: "btn", text: "Close", onclick: close }), els.send])]);
    els.summary = h("div", { class: "nc-form", "data-testid": "bc-summary", hidden: true });
    dlg = h("dialog", { class: "nc-dialog", "data-testid": "broadcast-dialog", "aria-label": "Broadcast" }, [els.form, els.summary]);
    dlg.addEventListener("close", function () { clearInterval(timer); });
    document.body.appendChild(dlg);
  }

  function close() { clearInterval(timer); dlg.close(); }
  function error(msg) { els.error.hidden = !msg; els.error.textContent = msg || ""; }

  function open() {
    if (!dlg) build();
    picked = new Map();
    els.text.value = ""; els.search.value = ""; els.results.textContent = "";
    els.form.hidden = false; els.summary.hidden = true;
    error(null);
    paintPicked();
    Promise.all([PC.api("GET", "/tags"), PC.api("GET", "/outreach/options")]).then(function (res) {
      els.tag.textContent = "";
      els.tag.appendChild(h("option", { value: "", text: "— no tag —" }));
      ((res[0] && res[0].tags) || []).forEach(function (t) {
        els.tag.appendChild(h("option", { value: t.tag, text: t.tag + " (" + t.contacts + ")" }));
      });
      templates = (res[1] && res[1].templates) || [];
      els.template.textContent = "";
      templates.forEach(function (t, i) { els.template.appendChild(h("option", { value: String(i), text: t.name + " · " + t.language })); });
      paint();
    }, function (err) { error(err.message); });
    dlg.showModal();
  }

  function paint() {
    var wa = els.channel.value === "whatsapp";
    els.textBox.hidden = wa; els.templateBox.hidden = !wa;
    paintParams();
  }
  function paintParams() {
    els.params.textContent = "";
    var t = templates[Number(els.template.value)];
    ((t && t.variables) || []).forEach(function (v) {
      els.params.appendChild(field(v, h("input", { type: "text", "data-testid": "bc-param" })));
    });
  }

  var searchSeq = 0;
  function search() {
    var q = els.search.value.trim(), mine = ++searchSeq;
    els.results.textContent = "";
    if (q.length < 2) return;
    PC.api("GET", "/contacts?q=" + encodeURIComponent(q)).then(function (res) {
      if (mine !== searchSeq) return;
      ((res && res.contacts) || []).forEach(function (c) {
        els.results.appendChild(h("li", {}, [h("button", { type: "button", "data-testid": "bc-result",
          text: c.name + (c.phone ? " · " + c.phone : ""), onclick: function () { picked.set(c.id, c.name); paintPicked(); } })]));
      });
    }, function (err) { error(err.message); });
  }
  function paintPicked() {
    els.picked.textContent = picked.size ? "Picked: " + Array.from(picked.values()).join(", ") : "";
  }

  function submit(e) {
    e.preventDefault();
    error(null);
    var body = { channel: els.channel.value };
    if (picked.size) body.contact_ids = Array.from(picked.keys());
    else if (els.tag.value) body.tag = els.tag.value;
    else { error("Pick a tag or some contacts."); return; }
    if (body.channel === "whatsapp") {
      var t = templates[Number(els.template.value)];
      if (!t) { error("No WhatsApp template is configured."); return; }
      body.template = { name: t.name, language: t.language,
        params: Array.prototype.map.call(els.params.querySelectorAll("input"), function (i) { return i.value; }) };
    } else body.text = els.text.value;
    els.send.disabled = true;
    PC.api("POST", "/broadcasts", body).then(function (b) {
      els.form.hidden = true; els.summary.hidden = false;
      showSummary(b);
      timer = setInterval(function () {
        PC.api("GET", "/broadcasts/" + b.id + "?limit=500").then(function (fresh) {
          showSummary(fresh);
          if (fresh.state === "done" && !fresh.counts.queued && !fresh.counts.pending) clearInterval(timer);
        }, function () { clearInterval(timer); });
      }, 3000);
    }, function (err) { error(err.message); }).then(function () { els.send.disabled = false; });
  }

  var LABELS = [["recipients", "Recipients"], ["pending", "Preparing"], ["queued", "Queued"], ["sent", "Sent"],
    ["delivered", "Delivered"], ["read", "Read"], ["failed", "Failed"], ["skipped_blocked", "Skipped: blocked"],
    ["skipped_opted_out", "Skipped: opted out (STOP)"], ["skipped_no_address", "Skipped: no number"]];

  function showSummary(b) {
    var s = els.summary;
    s.textContent = "";
    s.appendChild(h("h2", { text: "Broadcast #" + b.id + (b.tag ? " · " + b.tag : "") }));
    s.appendChild(h("p", { class: "nc-hint", text: b.text }));
    var dl = h("dl", { class: "bc-counts" });
    LABELS.forEach(function (l) {
      if (l[0] !== "recipients" && !b.counts[l[0]]) return;
      dl.appendChild(h("div", { "data-testid": "bc-count-" + l[0] }, [h("dt", { text: l[1] }), h("dd", { text: String(b.counts[l[0]]) })]));
    });
    s.appendChild(dl);
    var table = h("table", { class: "bc-recipients", "data-testid": "bc-recipients" });
    (b.recipients || []).forEach(function (r) {
      table.appendChild(h("tr", { "data-status": r.status }, [h("td", { text: r.name || "(hidden)" }),
        h("td", { text: r.status.replace(/_/g, " ") }), h("td", { text: r.error || "" })]));
    });
    s.appendChild(table);
    s.appendChild(h("div", { class: "nc-actions" }, [h("button", { type: "button", class: "btn", text: "Close", onclick: close })]));
  }

  var sidebar = document.querySelector(".sidebar");
  if (sidebar) {
    var anchor = sidebar.querySelector(".nc-open");
    sidebar.insertBefore(h("button", { type: "button", class: "btn nc-open", "data-testid": "broadcast-open", text: "Broadcast", onclick: open }),
      anchor ? anchor.nextSibling : sidebar.firstChild);
  }
})();
