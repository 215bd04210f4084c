/* New chat (start a conversation, invite a customer) and the customer's status in the conversation header:
   never joined · online · offline (left N minutes ago), with invite / resend / end / renew actions.
   Uses the console's api() and hooks (window.ParleyConsole); every text goes in with textContent. */
(function () {
  "use strict";
  var PC = window.ParleyConsole;
  if (!PC) return;

  var h = window.ParleyAdmin.el;  // the console's DOM builder (admin_common.js): h(tag, attrs, [children])
  function field(label, control) { return h("label", { class: "nc-field" }, [h("span", { text: label }), control]); }

  // ------------------------------------------------------------------ the dialog
  var dlg, els = {}, options = null, picked = null;

  function build() {
    els.search = h("input", { type: "search", placeholder: "Search contacts…", "data-testid": "nc-search", oninput: search });
    els.results = h("ul", { class: "nc-results", "data-testid": "nc-results" });
    els.name = h("input", { type: "text", maxlength: "200", "data-testid": "nc-name" });
    els.phone = h("input", { type: "tel", placeholder: "+14155550123", "data-testid": "nc-phone" });
    els.email = h("input", { type: "email", placeholder: "kim@example.com", "data-testid": "nc-email" });
    els.pickedBox = h("p", { class: "nc-picked", "data-testid": "nc-picked", hidden: true });
    els.channel = h("select", { "data-testid": "nc-channel", onchange: paint }, [
      h("option", { value: "sms", text: "SMS" }), h("option", { value: "whatsapp", text: "WhatsApp" }),
      h("option", { value: "email", text: "Email invite" }), h("option", { value: "webchat", text: "Webchat invite (link by SMS)" })]);
    els.inbox = h("select", { "data-testid": "nc-inbox" });
    els.text = h("textarea", { rows: "4", maxlength: "4096", "data-testid": "nc-text" });
    els.template = h("select", { "data-testid": "nc-template", onchange: paintVars });
    els.vars = h("div", { class: "nc-vars" });
    els.templateBox = h("div", { hidden: true }, [
      h("p", { class: "nc-hint", "data-testid": "nc-window", text: "WhatsApp's 24-hour window is closed: only an approved template can be sent." }),
      field("Template", els.template), els.vars]);
    els.textBox = field("First message", els.text);
    els.preplan = h("input", { type: "checkbox", "data-testid": "nc-preplan" });
    els.preplanBox = h("label", { class: "nc-check" }, [els.preplan, " Prepare only: send the invitation later"]);
    els.error = h("p", { class: "nc-error", role: "alert", "data-testid": "nc-error", hidden: true });
    els.send = h("button", { type: "submit", class: "btn btn-primary", "data-testid": "nc-send", text: "Send" });
    var form = h("form", { method: "dialog", class: "nc-form", onsubmit: submit }, [
      h("h2", { text: "New chat" }),
      h("fieldset", {}, [h("legend", { text: "Customer" }), els.search, els.results, els.pickedBox,
        h("p", { class: "nc-hint", text: "…or a new contact:" }),
        field("Name", els.name), field("Phone", els.phone), field("Email", els.email)]),
      field("Channel", els.channel), field("Inbox", els.inbox), els.textBox, els.templateBox, els.preplanBox,
      els.error,
      h("div", { class: "nc-actions" }, [
        h("button", { type: "button", class: "btn", text: "Cancel", onclick: function () { dlg.close(); } }), els.send])]);
    dlg = h("dialog", { class: "nc-dialog", "data-testid": "new-chat-dialog", "aria-label": "New chat" }, [form]);
    document.body.appendChild(dlg);
  }

  function open() {
    if (!dlg) build();
    picked = null;
    [els.search, els.name, els.phone, els.email, els.text].forEach(function (e) { e.value = ""; });
    els.results.textContent = ""; els.pickedBox.hidden = true; els.preplan.checked = false;
    error(null);
    loadOptions().then(paint);
    dlg.showModal();
  }

  function loadOptions() {
    var q = picked ? "?contact_id=" + encodeURIComponent(picked.id) : "";
    return PC.api("GET", "/outreach/options" + q).then(function (o) { options = o; }, function (e) { error(e.message); });
  }

  var searchTimer = null;
  function search() {
    clearTimeout(searchTimer);
    searchTimer = setTimeout(function () {
      var q = els.search.value.trim();
      els.results.textContent = "";
      if (!q) return;
      PC.api("GET", "/outreach/contacts?q=" + encodeURIComponent(q)).then(function (r) {
        els.results.textContent = "";
        (r.contacts || []).forEach(function (c) {
          els.results.appendChild(h("li", {}, [h("button", { type: "button", "data-testid": "nc-result",
            text: c.name + (c.phone ? " · " + c.phone : "") + (c.email ? " · " + c.email : ""),
            onclick: function () { pick(c); } })]));
        });
      }, function (e) { error(e.message); });
    }, 200);
  }

  function pick(c) {
    picked = c;
    els.results.textContent = "";
    els.pickedBox.hidden = false;
    els.pickedBox.textContent = "To: " + c.name + (c.phone ? " · " + c.phone : "") + (c.email ? " · " + c.email : "");
    loadOptions().then(paint);
  }

  function paint() {
    var ch = els.channel.value;
    var kind = ch === "email" ? "webchat" : ch === "webchat" ? "sms" : ch;
    els.inbox.textContent = "";
    var inboxes = ((options && options.inboxes) || []).filter(function (i) { return i.kind === kind; });
    if (!inboxes.length) els.inbox.appendChild(h("option", { value: "", text: "Default (your team)" }));
    inboxes.forEach(function (i) {
      els.inbox.appendChild(h("option", { value: String(i.id), selected: i.is_default, text: i.name + " (" + i.team + ")" }));
    });
    var templatesOnly = ch === "whatsapp" && !(options && options.whatsapp_window_open);
    els.textBox.hidden = templatesOnly;
    els.templateBox.hidden = !templatesOnly;
    els.preplanBox.hidden = !(ch === "email" || ch === "webchat");
    if (templatesOnly) {
      els.template.textContent = "";
      ((options && options.templates) || []).forEach(function (t) {
        els.template.appendChild(h("option", { value: t.name, text: t.name + " — " + t.body }));
      });
      paintVars();
    }
  }

  function paintVars() {
    els.vars.textContent = "";
    var t = ((options && options.templates) || []).filter(function (x) { return x.name === els.template.value; })[0];
    (t ? t.variables : []).forEach(function (v, i) {
      els.vars.appendChild(field(v || "Variable " + (i + 1), h("input", { type: "text", "data-var": String(i), "data-testid": "nc-var" })));
    });
  }

  function error(text) { els.error.hidden = !text; els.error.textContent = text || ""; }

  function submit(e) {
    e.preventDefault();
    var ch = els.channel.value;
    var body = { channel: ch === "webchat" ? "sms" : ch, invite: ch === "webchat" || ch === "email",
                 pre_plan: !els.preplanBox.hidden && els.preplan.checked };
    if (picked) body.contact_id = picked.id;
    else {
      body.contact = { name: els.name.value };
      if (els.phone.value.trim()) body.contact.phone = els.phone.value.trim();
      if (els.email.value.trim()) body.contact.email = els.email.value.trim();
    }
    if (els.inbox.value) body.inbox_id = Number(els.inbox.value);
    if (!els.templateBox.hidden) {
      body.template = { name: els.template.value, variables: Array.prototype.map.call(
        els.vars.querySelectorAll("input"), function (i) { return i.value; }) };
    } else if (els.text.value.trim()) body.text = els.text.value;
    els.send.disabled = true;
    PC.api("POST", "/conversations", body).then(function (conv) {
      dlg.close();
      PC.toast(body.pre_plan ? "Prepared: send the invitation when ready." : "Sent.", "success");
      PC.upsert(conv);
      PC.open(conv.id);
    }, function (err) { error(err.message); }).then(function () { els.send.disabled = false; });
  }

  // ------------------------------------------------------------------ the header: status and actions
  function ago(iso) {
    var mins = Math.max(0, Math.round((Date.now() - Date.parse(iso)) / 60000));
    return mins < 1 ? "just now" : mins < 60 ? mins + " min ago" : Math.round(mins / 60) + " h ago";
  }

  function statusText(c) {
    var s = c.customer_status || {};
    if (s.state === "never_joined") return s.invitation_sent ? "Never joined" : "Invitation not sent";
    if (c.contact && c.contact.online) return "Online";
    return "Offline" + (s.last_seen_at ? " · left " + ago(s.last_seen_at) : "");
  }

  function act(label, testid, fn) { return h("button", { type: "button", class: "btn btn-sm", "data-testid": testid, text: label, onclick: fn }); }

  function change(path, body, done) {
    var id = PC.state.currentId;
    return PC.api("POST", "/conversations/" + encodeURIComponent(id) + path, body).then(function () {
      return PC.api("GET", "/conversations/" + encodeURIComponent(id));
    }).then(function (conv) { PC.upsert(conv); if (done) PC.toast(done, "success"); },
      function (e) { PC.toast(e.message, "error"); });
  }

  function resend(c) {
    PC.api("GET", "/conversations/" + encodeURIComponent(c.id) + "/invitation").then(function (inv) {
      var fixed = window.prompt("Send the invitation " + (inv.sends ? "again " : "") + "to (" + inv.via + "):", inv.address);
      if (fixed === null) return;
      var body = {};
      if (fixed.trim() && fixed.trim() !== inv.address) body[inv.via === "email" ? "email" : "phone"] = fixed.trim();
      change("/invite", body, "Invitation sent.");
    }, function (e) { PC.toast(e.message, "error"); });
  }

  function paintHeader(c) {
    var bar = document.getElementById("outreach-bar");
    if (!bar) {
      bar = h("div", { id: "outreach-bar", class: "outreach-bar" });
      var chips = document.getElementById("conv-chips");
      chips.parentNode.insertBefore(bar, chips.nextSibling);
    }
    bar.textContent = "";
    var s = c.customer_status || {};
    var state = s.state === "never_joined" ? "never_joined" : c.contact && c.contact.online ? "online" : "offline";
    bar.appendChild(h("span", { class: "chip chip-customer chip-customer-" + state, "data-testid": "customer-status",
      "data-state": state, text: statusText(c) }));
    if (!s.invited) return;
    if (c.status === "open" && s.state === "never_joined")
      bar.appendChild(act(s.invitation_sent ? "Resend invitation" : "Send invitation", "invite", function () { resend(c); }));
    if (c.status === "open") bar.appendChild(act("End session", "end-session", function () { change("/end", {}, "Session ended."); }));
    else bar.appendChild(act("Renew", "renew-session", function () { change("/renew", {}, "Session renewed."); }));
  }

  PC.onChrome.push(paintHeader);
  function refreshCurrent(contactId) {
    var c = PC.state.current;
    if (!c || !c.contact || Number(c.contact.id) !== Number(contactId)) return;
    PC.api("GET", "/conversations/" + encodeURIComponent(c.id)).then(PC.upsert, function () {});
  }
  var hooked = false;
  function hookSocket() {
    if (hooked || !PC.socket) return;
    hooked = true;
    PC.socket.on("presence", function (p) { if (p) refreshCurrent(p.contact_id); });
  }
  var hooking = setInterval(function () { hookSocket(); if (hooked) clearInterval(hooking); }, 250);
  setInterval(function () {
    if (PC.state.current) paintHeader(PC.state.current); // "left N min ago" keeps counting
  }, 30000);

  var sidebar = document.querySelector(".sidebar");
  if (sidebar) sidebar.insertBefore(h("button", { type: "button", class: "btn btn-primary nc-open", "data-testid": "new-chat",
    text: "New chat", onclick: open }), sidebar.firstChild);
})();
