/* Admin page for SMS/WhatsApp channels. Plain JS; secrets are write-only (never rendered back). */
(function () {
  "use strict";
  var A = window.ParleyAdmin, api = A.api, h = A.el, toast = A.toast;  // admin_common.js
  var FIELDS = {
    twilio: [
      ["name", "Name", "text", "SMS & WhatsApp (Twilio)"],
      ["number", "Number (E.164)", "text", "+15550001111"],
      ["account_sid", "Account SID", "text", "AC…"],
      ["auth_token", "Auth token", "password", ""],
      ["messaging_service_sid", "Messaging Service SID (optional)", "text", "MG…"],
    ],
    whatsapp_cloud: [
      ["name", "Name", "text", "WhatsApp (Cloud API)"],
      ["phone_number_id", "Phone number id", "text", "1098…"],
      ["business_account_id", "Business account id (optional)", "text", ""],
      ["token", "Access token", "password", ""],
      ["app_secret", "App secret", "password", ""],
      ["verify_token", "Verify token", "password", ""],
    ],
  };
  var SECRET = { auth_token: 1, token: 1, app_secret: 1, verify_token: 1 };

  function $(id) { return document.getElementById(id); }

  function formFields(form, kind, current) {
    while (form.firstChild) form.removeChild(form.firstChild);
    FIELDS[kind].forEach(function (f) {
      var id = "f-" + kind + "-" + f[0] + "-" + (current ? current.id : "new");
      form.appendChild(h("label", { for: id }, f[1] + (current && SECRET[f[0]] ? (current.secrets[f[0]] ? " (set)" : " (not set)") : "")));
      form.appendChild(h("input", { id: id, name: f[0], type: f[2], placeholder: current && SECRET[f[0]] ? "leave empty to keep" : f[3],
        value: current && !SECRET[f[0]] && current[f[0]] != null ? current[f[0]] : null, autocomplete: "off" }));
    });
    if (kind === "twilio") {
      var wid = "f-wa-" + (current ? current.id : "new");
      form.appendChild(h("label", { for: wid }, "Also WhatsApp through Twilio"));
      form.appendChild(h("input", { id: wid, name: "whatsapp", type: "checkbox", checked: !current || current.whatsapp }));
    }
    form.appendChild(h("button", { type: "submit", class: "btn btn-primary btn-sm ch-submit" }, current ? "Save" : "Add channel"));
  }
  function collect(form, editing) {
    var body = {};
    Array.prototype.forEach.call(form.elements, function (el) {
      if (!el.name) return;
      if (el.type === "checkbox") { body[el.name] = el.checked; return; }
      var v = el.value.trim();
      if (editing && SECRET[el.name] && !v) return; // keep the stored secret
      if (!v && editing) { if (el.name === "messaging_service_sid" || el.name === "business_account_id") body[el.name] = null; return; }
      if (v) body[el.name] = v;
    });
    return body;
  }

  function templatesEditor(ch) {
    var box = h("div", { class: "ch-templates" }, h("h3", { class: "panel-title" }, "WhatsApp templates"));
    var rows = h("div");
    function addRow(t) {
      t = t || {};
      var row = h("div", { class: "ch-template-row" },
        h("input", { name: "name", placeholder: "name (what agents pick)", value: t.name || null, "aria-label": "Template name" }),
        h("input", { name: "provider_id", placeholder: "Content SID / template name", value: t.provider_id || null, "aria-label": "Provider id" }),
        h("input", { name: "language", placeholder: "en", value: t.language || null, "aria-label": "Language" }),
        h("input", { name: "body", placeholder: "Hi {{1}}, your order {{2}}…", value: t.body || null, "aria-label": "Body" }),
        h("button", { type: "button", class: "btn btn-ghost btn-sm", onclick: function () { row.remove(); } }, "×"));
      rows.appendChild(row);
    }
    (ch.templates || []).forEach(addRow);
    box.appendChild(rows);
    box.appendChild(h("button", { type: "button", class: "btn btn-sm", onclick: function () { addRow(); } }, "Add template"));
    box.appendChild(h("button", { type: "button", class: "btn btn-primary btn-sm", onclick: function () {
      var list = Array.prototype.map.call(rows.children, function (row) {
        var get = function (n) { return row.querySelector('[name="' + n + '"]').value.trim(); };
        return { name: get("name"), provider_id: get("provider_id"), language: get("language") || "en", body: get("body") };
      }).filter(function (t) { return t.name || t.provider_id; });
      api("PATCH", "/channels/" + ch.id, { templates: list }).then(function () { toast("Templates saved."); load(); },
        function (e) { toast(e.message, "error"); });
    } }, "Save templates"));
    return box;
  }

  function card(ch) {
    var base = location.origin;
    var urls = ch.kind === "twilio"
      ? [["Incoming messages", base + "/webhooks/twilio"], ["Status callback", base + "/webhooks/twilio/status"]]
      : [["Callback URL (GET verify, POST events)", base + "/webhooks/whatsapp"]];
    var secrets = h("span");
    Object.keys(ch.secrets || {}).forEach(function (k) {
      secrets.appendChild(h("span", { class: ch.secrets[k] ? "ch-secret-set" : "ch-secret-unset" }, k + (ch.secrets[k] ? " ✓ " : " missing ")));
    });
    var edit = h("form", { class: "ch-form", hidden: true });
    formFields(edit, ch.kind, ch);
    edit.addEventListener("submit", function (e) {
      e.preventDefault();
      api("PATCH", "/channels/" + ch.id, collect(edit, true)).then(function () { toast("Saved."); load(); },
        function (err) { toast(err.message, "error"); });
    });
    var el = h("article", { class: "ch-card", "data-testid": "channel", "data-kind": ch.kind },
      h("div", { class: "ch-card-head" },
        h("span", { class: "ch-name" }, ch.name),
        h("span", { class: "tag tag-channel" }, ch.kind === "twilio" ? "Twilio" : "Cloud API"),
        h("span", { class: "tag" }, ch.kind === "twilio" ? ch.number : "id " + ch.phone_number_id),
        ch.source === "env" ? h("span", { class: "tag", title: "Seeded from environment variables" }, "env") : null,
        h("span", { class: "tag" }, ch.enabled ? "enabled" : "disabled"),
        h("span", { class: "ch-actions" },
          h("button", { type: "button", class: "btn btn-sm", onclick: function () { edit.hidden = !edit.hidden; } }, "Edit"),
          h("button", { type: "button", class: "btn btn-sm", onclick: function () {
            api("PATCH", "/channels/" + ch.id, { enabled: !ch.enabled }).then(load, function (e) { toast(e.message, "error"); });
          } }, ch.enabled ? "Disable" : "Enable"),
          h("button", { type: "button", class: "btn btn-sm", onclick: function () {
            if (!window.confirm("Remove " + ch.name + "? Messages already sent stay.")) return;
            api("DELETE", "/channels/" + ch.id).then(load, function (e) { toast(e.message, "error"); });
          } }, "Remove"))),
      h("div", { class: "ch-urls" }, secrets),
      h("div", { class: "ch-urls" }, urls.map(function (u) { return h("div", null, u[0] + ": ", h("code", null, u[1])); })),
      edit,
      templatesEditor(ch));
    return el;
  }

  function load() {
    return api("GET", "/channels").then(function (data) {
      var list = $("ch-list");
      while (list.firstChild) list.removeChild(list.firstChild);
      var chs = (data && data.channels) || [];
      if (!chs.length) list.appendChild(h("p", { class: "ch-muted" }, "No channel yet. Add one below, or set the PARLEY_TWILIO_* / PARLEY_WHATSAPP_* variables."));
      chs.forEach(function (ch) { list.appendChild(card(ch)); });
    }, function (e) { toast(e.message, "error"); });
  }

  function boot() {
    var form = $("ch-add");
    formFields(form, "twilio", null);
    document.querySelectorAll(".seg[data-kind]").forEach(function (b) {
      b.addEventListener("click", function () {
        document.querySelectorAll(".seg[data-kind]").forEach(function (x) { x.classList.toggle("is-active", x === b); });
        form.setAttribute("data-kind", b.getAttribute("data-kind"));
        formFields(form, b.getAttribute("data-kind"), null);
      });
    });
    form.addEventListener("submit", function (e) {
      e.preventDefault();
      var body = collect(form, false);
      body.kind = form.getAttribute("data-kind");
      $("ch-add-error").textContent = "";
      api("POST", "/channels", body).then(function () { toast("Channel added."); formFields(form, body.kind, null); load(); },
        function (err) { $("ch-add-error").textContent = err.message; });
    });
    load();
  }
  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", boot); else boot();
})();
