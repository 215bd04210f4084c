/* SMS & WhatsApp in the agent console: the reply channel, WhatsApp's 24-hour window and templates,
 * files (attach, show, download), delivery errors with a retry action, and the contact's identities
 * (link a number, merge two contacts). Hooks into console.js through window.ParleyConsole.
 * Everything from customers goes into the page as text nodes, never as HTML.
 */
(function () {
  "use strict";
  var PC = window.ParleyConsole;
  if (!PC) return;
  var CSRF = (document.querySelector('meta[name="csrf-token"]') || {}).content || "";
  var LABEL = { webchat: "Webchat", sms: "SMS", whatsapp: "WhatsApp", webchat_user: "Signed-in user" };
  var cur = { convId: null, activity: null, options: null, picked: null, contactId: null };

  function $(id) { return document.getElementById(id); }
  function h(tag, attrs) {
    var el = document.createElement(tag);
    Object.keys(attrs || {}).forEach(function (k) {
      var v = attrs[k];
      if (v === null || v === undefined || v === false) return;
      if (k === "class") el.className = v;
      else if (k === "text") el.textContent = String(v);
      else if (k.slice(0, 2) === "on" && typeof v === "function") el.addEventListener(k.slice(2), v);
      else el.setAttribute(k, v === true ? "" : String(v));
    });
    for (var i = 2; i < arguments.length; i++) {
      var c = arguments[i];
      if (c === null || c === undefined || c === false) continue;
      if (Array.isArray(c)) c.forEach(function (x) { if (x) el.appendChild(typeof x === "object" ? x : document.createTextNode(String(x))); });
      else el.appendChild(typeof c === "object" ? c : document.createTextNode(String(c)));
    }
    return el;
  }
  function clear(el) { while (el.firstChild) el.removeChild(el.firstChild); }
  function size(n) {
    if (typeof n !== "number") return "";
    return n < 1024 ? n + " B" : n < 1048576 ? Math.round(n / 1024) + " KB" : (n / 1048576).toFixed(1) + " MB";
  }
  function hoursLeft(iso) {
    var t = Date.parse(iso || "");
    if (isNaN(t)) return "";
    var mins = Math.max(0, Math.round((t - Date.now()) / 60000));
    return mins >= 60 ? Math.floor(mins / 60) + " h " + (mins % 60) + " min" : mins + " min";
  }

  // ---------------------------------------------------------------- composer: channel, window, template, attach
  var bar = h("div", { class: "cc-bar", "data-testid": "reply-channel-bar" },
    h("label", { class: "cc-label", for: "cc-channel" }, "Reply on"),
    h("select", { id: "cc-channel", class: "cc-select", "data-testid": "reply-channel", "aria-label": "Reply channel" }),
    h("span", { id: "cc-window", class: "cc-window", "data-testid": "wa-window", hidden: true }),
    h("button", { type: "button", id: "cc-template-btn", class: "btn btn-ghost btn-sm", "data-testid": "template-open", hidden: true }, "Template…"),
    h("button", { type: "button", id: "cc-attach-btn", class: "btn btn-ghost btn-sm", "data-testid": "attach", title: "Send a file" }, "Attach file"),
    h("input", { type: "file", id: "cc-file", hidden: true, "data-testid": "attach-input" }));
  var tplForm = h("div", { id: "cc-template", class: "cc-template", hidden: true, "data-testid": "template-form" });
  var composer = $("composer");
  var input = $("reply-input");
  if (composer && input) {
    composer.insertBefore(bar, input);
    composer.insertBefore(tplForm, input);
  }

  PC.replyChannel = function () { return cur.picked; };

  $("cc-channel").addEventListener("change", function () { cur.picked = $("cc-channel").value; paintChannel(); });
  $("cc-template-btn").addEventListener("click", function () { tplForm.hidden = !tplForm.hidden; if (!tplForm.hidden) paintTemplateForm(); });
  $("cc-attach-btn").addEventListener("click", function () { $("cc-file").click(); });
  $("cc-file").addEventListener("change", function () {
    var file = $("cc-file").files && $("cc-file").files[0];
    $("cc-file").value = "";
    if (file) upload(file);
  });

  function option(ch) { return (cur.options && cur.options.channels || []).filter(function (o) { return o.channel === ch; })[0]; }

  function paintChannel() {
    var sel = $("cc-channel");
    clear(sel);
    var opts = (cur.options && cur.options.channels) || [];
    opts.forEach(function (o) {
      var why = o.available ? "" : o.reason === "no_address" ? " (no number)" : " (not configured)";
      sel.appendChild(h("option", { value: o.channel, disabled: !o.available, selected: o.channel === cur.picked }, (LABEL[o.channel] || o.channel) + why));
    });
    var wa = option("whatsapp");
    var onWa = cur.picked === "whatsapp" && wa;
    var win = $("cc-window");
    win.hidden = !onWa;
    $("cc-template-btn").hidden = !(onWa && (wa.templates || []).length);
    if (onWa) {
      var open = wa.window && wa.window.open;
      win.className = "cc-window " + (open ? "is-open" : "is-closed");
      win.textContent = open ? "24-hour window open · closes in " + hoursLeft(wa.window.closes_at)
        : "24-hour window closed · only templates";
      win.setAttribute("data-open", open ? "true" : "false");
    }
    if (!onWa) tplForm.hidden = true;
  }

  function paintTemplateForm() {
    clear(tplForm);
    var wa = option("whatsapp");
    var templates = (wa && wa.templates) || [];
    if (!templates.length) { tplForm.appendChild(h("p", null, "No templates are configured for WhatsApp (admins: Channels page).")); return; }
    var sel = h("select", { class: "cc-select", "data-testid": "template-select", "aria-label": "Template" },
      templates.map(function (t) { return h("option", { value: t.name }, t.name + " (" + t.language + ")"); }));
    var vars = h("div", { class: "cc-vars" });
    var preview = h("p", { class: "cc-preview" });
    function fill() {
      var t = templates.filter(function (x) { return x.name === sel.value; })[0];
      clear(vars);
      (t.variables || []).forEach(function (label, i) {
        vars.appendChild(h("input", { class: "cc-var", placeholder: label, "aria-label": label, "data-index": i, "data-testid": "template-var" }));
      });
      preview.textContent = t.body || "";
      vars.querySelectorAll("input").forEach(function (inp) {
        inp.addEventListener("input", function () {
          var values = Array.prototype.map.call(vars.querySelectorAll("input"), function (x) { return x.value; });
          preview.textContent = (t.body || "").replace(/\{\{\s*(\d+)\s*\}\}/g, function (m, n) { return values[n - 1] || m; });
        });
      });
    }
    sel.addEventListener("change", fill);
    var send = h("button", { type: "button", class: "btn btn-primary btn-sm", "data-testid": "template-send" }, "Send template");
    send.addEventListener("click", function () {
      var values = Array.prototype.map.call(vars.querySelectorAll("input"), function (x) { return x.value.trim(); });
      send.disabled = true;
      PC.api("POST", "/conversations/" + encodeURIComponent(cur.convId) + "/template", { name: sel.value, variables: values })
        .then(function (msg) { tplForm.hidden = true; if (msg) PC.addMessage(msg); }, PC.report)
        .then(function () { send.disabled = false; });
    });
    tplForm.appendChild(h("div", { class: "cc-template-row" }, sel, send));
    tplForm.appendChild(vars);
    tplForm.appendChild(preview);
    fill();
  }

  function upload(file) {
    var id = cur.convId;
    if (!id) return;
    var note = composer.classList.contains("is-note");
    var fd = new FormData();
    fd.append("file", file, file.name);
    var text = input.value.trim();
    if (text) fd.append("text", text);
    if (note) fd.append("private", "true");
    else if (cur.picked) fd.append("channel", cur.picked);
    $("cc-attach-btn").disabled = true;
    fetch("/api/v1/conversations/" + encodeURIComponent(id) + "/attachments", {
      method: "POST", credentials: "same-origin", headers: { "X-CSRF-Token": CSRF, Accept: "application/json" }, body: fd,
    }).then(function (r) {
      return r.json().catch(function () { return null; }).then(function (data) {
        if (!r.ok) throw new Error((data && data.error && data.error.message) || (r.status === 413 ? "The file is too large." : "Upload failed (HTTP " + r.status + ")."));
        return data;
      });
    }).then(function (msg) {
      if (text && input.value.trim() === text) input.value = "";
      if (msg && id === cur.convId) PC.addMessage(msg);
    }, function (err) { PC.toast(err.message, "error"); }).then(function () { $("cc-attach-btn").disabled = false; });
  }

  function loadOptions(conv) {
    var id = conv.id;
    PC.api("GET", "/conversations/" + encodeURIComponent(id) + "/reply-options").then(function (opts) {
      if (id !== cur.convId || !opts) return;
      var prev = cur.picked;
      cur.options = opts;
      var still = prev && (option(prev) || {}).available;
      cur.picked = still ? prev : opts.default_channel;
      paintChannel();
    }, function () { /* the conversation view reports errors */ });
  }

  // ---------------------------------------------------------------- messages: files, errors, retry
  PC.onMessage = PC.onMessage || [];
  PC.onMessage.push(function (el, m) {
    var meta = el.querySelector(".msg-meta");
    if (meta && m.channel && m.channel !== "webchat" && !m.private) {
      meta.appendChild(h("span", { class: "tag tag-channel cc-via", "data-testid": "message-channel" }, LABEL[m.channel] || m.channel));
    }
    var files = m.attachments || [];
    if (files.length) {
      var box = h("div", { class: "cc-files", "data-testid": "attachments" });
      files.forEach(function (a) {
        if (a.state === "ready" && a.url) {
          if (a.inline) {
            box.appendChild(h("a", { href: a.url, target: "_blank", rel: "noopener", class: "cc-thumb-link" },
              h("img", { src: a.url, alt: a.filename, class: "cc-thumb", loading: "lazy" })));
          }
          box.appendChild(h("a", { href: a.url, download: a.filename, class: "cc-file", "data-testid": "attachment" },
            "📎 " + a.filename, h("span", { class: "cc-size" }, " " + size(a.size))));
        } else if (a.state === "pending") {
          box.appendChild(h("span", { class: "cc-file is-pending" }, "Fetching " + a.filename + "…"));
        } else {
          box.appendChild(h("span", { class: "cc-file is-refused", "data-testid": "attachment-refused" }, "File not kept: " + (a.error || a.state)));
        }
      });
      var bubble = el.querySelector(".bubble");
      if (bubble && bubble.nextSibling) el.insertBefore(box, bubble.nextSibling); else el.appendChild(box);
    }
    if (m.delivery_status === "failed" && !m.private && m.direction === "out") {
      var err = m.error || {};
      var row = h("div", { class: "cc-error", "data-testid": "delivery-error" },
        h("span", null, (err.message || "Not delivered.") + (err.code ? " (" + err.code + ")" : "")));
      var retry = h("button", { type: "button", class: "btn btn-sm", "data-testid": "retry" }, "Retry");
      retry.addEventListener("click", function () {
        retry.disabled = true;
        PC.retrying(m.id);
        PC.api("POST", "/messages/" + m.id + "/retry").then(function (msg) { if (msg) PC.addMessage(msg); },
          function (e) { retry.disabled = false; PC.report(e); });
      });
      row.appendChild(retry);
      el.appendChild(row);
    }
  });

  // ---------------------------------------------------------------- the contact: identities, link, merge
  var panel = h("section", { class: "panel", id: "cc-contact", "data-testid": "contact-channels" },
    h("h3", { class: "panel-title" }, "Channels"),
    h("ul", { class: "cc-identities", id: "cc-identities" }),
    h("form", { class: "cc-link", id: "cc-link", autocomplete: "off" },
      h("select", { class: "cc-select", name: "channel", "aria-label": "Channel" },
        h("option", { value: "whatsapp" }, "WhatsApp"), h("option", { value: "sms" }, "SMS")),
      h("input", { name: "address", placeholder: "+4915112345678", "aria-label": "Phone number", "data-testid": "link-number" }),
      h("button", { type: "submit", class: "btn btn-sm" }, "Link")),
    h("details", { class: "cc-merge" },
      h("summary", null, "Merge with another contact…"),
      h("input", { id: "cc-merge-q", placeholder: "Name, email or number", "aria-label": "Find a contact", "data-testid": "merge-search" }),
      h("ul", { id: "cc-merge-results", class: "cc-merge-results" })));
  var details = $("details-body");
  if (details) {
    var first = details.querySelector(".panel");
    details.insertBefore(panel, first ? first.nextSibling : null);
  }

  function loadContact(contactId) {
    PC.api("GET", "/contacts/" + contactId).then(function (c) {
      if (!c || contactId !== cur.contactId) return;
      var ul = $("cc-identities");
      clear(ul);
      (c.identities || []).forEach(function (i) {
        ul.appendChild(h("li", null, h("span", { class: "tag tag-channel" }, LABEL[i.channel] || i.channel), " ", i.address || "visitor"));
      });
    }, function () {});
  }
  $("cc-link").addEventListener("submit", function (e) {
    e.preventDefault();
    var form = $("cc-link");
    var body = { channel: form.elements.channel.value, address: form.elements.address.value.trim() };
    if (!cur.contactId || !body.address) return;
    PC.api("POST", "/contacts/" + cur.contactId + "/identities", body).then(function () {
      form.elements.address.value = "";
      PC.toast("Linked. You can now reply on " + LABEL[body.channel] + ".");
      loadContact(cur.contactId);
      if (PC.state.current) loadOptions(PC.state.current);
    }, PC.report);
  });
  var searchTimer = null;
  $("cc-merge-q").addEventListener("input", function () {
    clearTimeout(searchTimer);
    searchTimer = setTimeout(function () {
      var q = $("cc-merge-q").value.trim();
      var ul = $("cc-merge-results");
      clear(ul);
      if (q.length < 2) return;
      PC.api("GET", "/contacts?q=" + encodeURIComponent(q)).then(function (data) {
        clear(ul);
        ((data && data.contacts) || []).filter(function (c) { return c.id !== cur.contactId; }).forEach(function (c) {
          var b = h("button", { type: "button", class: "btn btn-sm" }, "Merge into this contact");
          b.addEventListener("click", function () {
            if (!window.confirm("Merge " + c.name + " into this contact? Their identities and conversations move here.")) return;
            PC.api("POST", "/contacts/" + cur.contactId + "/merge", { contact_id: c.id }).then(function () {
              PC.toast("Merged."); clear(ul); $("cc-merge-q").value = ""; loadContact(cur.contactId);
              if (PC.state.current) loadOptions(PC.state.current);
            }, PC.report);
          });
          ul.appendChild(h("li", null, h("span", null, c.name + (c.phone ? " · " + c.phone : "") + (c.email ? " · " + c.email : "")), " ", b));
        });
      }, PC.report);
    }, 300);
  });

  // ---------------------------------------------------------------- following the open conversation
  PC.onChrome = PC.onChrome || [];
  PC.onChrome.push(function (conv) {
    if (!conv) return;
    if (conv.id !== cur.convId) {
      cur.convId = conv.id; cur.options = null; cur.picked = null; tplForm.hidden = true;
      clear($("cc-channel"));
    }
    if (conv.last_activity_at !== cur.activity || !cur.options) { cur.activity = conv.last_activity_at; loadOptions(conv); }
    var contactId = conv.contact && conv.contact.id;
    if (contactId && contactId !== cur.contactId) { cur.contactId = contactId; loadContact(contactId); }
  });
  if (PC.state && PC.state.current) PC.onChrome[PC.onChrome.length - 1](PC.state.current);

  // ---------------------------------------------------------------- admins: the Inboxes page (widgets and numbers)
  if (PC.me && PC.me.role === "admin") {
    var adminMenu = document.getElementById("admin-menu-list");  // the top bar's Admin menu (admin_menu.js)
    var me = document.querySelector(".me");
    if (adminMenu) adminMenu.insertBefore(h("li", {}, h("a", { href: "/inboxes", class: "admin-menu-item", "data-testid": "channels-link" }, "Inboxes")),
                                          adminMenu.children[2] || null);
    else if (me) me.insertBefore(h("a", { href: "/inboxes", class: "btn btn-ghost btn-sm", "data-testid": "channels-link" }, "Inboxes"), me.firstChild);
  }
})();
