/* Agent assist in the conversation view: ask for a drafted reply from the knowledge base (sources shown),
   edit it, send it or discard it. What the agent did with each draft is recorded per intent (server side).
   Independent of console.js: it follows the open conversation through the URL (#c/<id>) and the owner chip. */
(function () {
  "use strict";
  var CSRF = (document.querySelector('meta[name="csrf-token"]') || {}).content || "";
  var panel = document.getElementById("assist-panel");
  if (!panel) return;
  var current = null;   // conversation public id
  var draft = null;     // the draft on screen

  function call(method, path, body) {
    return fetch("/api/v1" + path, {
      method: method, credentials: "same-origin",
      headers: { "X-CSRF-Token": CSRF, "Content-Type": "application/json" },
      body: body === undefined ? undefined : JSON.stringify(body)
    }).then(function (r) {
      return r.json().then(function (data) {
        if (!r.ok) throw new Error((data && data.error && data.error.message) || ("HTTP " + r.status));
        return data;
      });
    });
  }
  function el(tag, attrs, children) {
    var e = document.createElement(tag);
    Object.keys(attrs || {}).forEach(function (k) {
      if (k === "text") e.textContent = attrs[k];
      else if (k.slice(0, 2) === "on") e.addEventListener(k.slice(2), attrs[k]);
      else e.setAttribute(k, attrs[k]);
    });
    (children || []).forEach(function (c) { if (c) e.appendChild(c); });
    return e;
  }
  function conversationId() {
    var m = /^#c\/(.+)$/.exec(location.hash || "");
    return m ? decodeURIComponent(m[1]) : null;
  }
  function handedOver() {
    var owner = document.querySelector('#conv-chips [data-testid="chip-owner"]');
    var status = document.querySelector('#conv-chips [data-testid="chip-status"]');
    return !!owner && owner.classList.contains("chip-human") && !!status && status.textContent === "open";
  }

  function render(message) {
    panel.textContent = "";
    if (!current || !handedOver()) { panel.hidden = true; return; }
    panel.hidden = false;
    var head = el("div", { class: "assist-head" }, [
      el("span", { class: "assist-title", text: "Assist" }),
      el("button", { type: "button", class: "btn btn-sm", "data-testid": "assist-draft", onclick: requestDraft,
                     text: draft ? "New draft" : "Draft a reply" })
    ]);
    panel.appendChild(head);
    if (message) panel.appendChild(el("p", { class: "assist-note", "data-testid": "assist-message", text: message }));
    if (!draft) return;
    panel.appendChild(el("p", { class: "assist-label assist-" + draft.mode, "data-testid": "assist-label", text: draft.label }));
    if (draft.note) panel.appendChild(el("p", { class: "assist-note", text: draft.note }));
    var box = el("textarea", { class: "assist-text", rows: "4", "data-testid": "assist-text", "aria-label": "Drafted reply" });
    box.value = draft.text;
    panel.appendChild(box);
    var sources = el("ul", { class: "assist-sources", "data-testid": "assist-sources" });
    (draft.sources || []).forEach(function (s) {
      var d = el("details", null, [el("summary", { text: (s.id ? s.id + " · " : "") + s.title }), el("div", { text: s.text })]);
      sources.appendChild(el("li", null, [d]));
    });
    panel.appendChild(el("div", { class: "assist-sources-head", text: "Sources" }));
    panel.appendChild(sources);
    var err = el("span", { class: "assist-error", role: "alert" });
    panel.appendChild(el("div", { class: "assist-actions" }, [
      err,
      el("button", { type: "button", class: "btn btn-ghost btn-sm", "data-testid": "assist-discard", text: "Discard",
                     onclick: function () { decide("discard", undefined, err); } }),
      el("button", { type: "button", class: "btn btn-primary btn-sm", "data-testid": "assist-send", text: "Send to customer",
                     onclick: function () { decide("send", { text: box.value }, err); } })
    ]));
  }

  function requestDraft() {
    var id = current;
    render("Drafting…");
    call("POST", "/conversations/" + encodeURIComponent(id) + "/assist/drafts", {}).then(function (r) {
      if (id !== current) return;
      draft = r.draft;
      render(r.draft ? null : (r.message || "No draft: nothing in the knowledge base answers this."));
    }, function (e) { if (id === current) { draft = null; render(e.message); } });
  }

  function decide(what, body, errEl) {
    var id = current, d = draft;
    call("POST", "/conversations/" + encodeURIComponent(id) + "/assist/drafts/" + d.id + "/" + what, body === undefined ? {} : body)
      .then(function () {
        if (id !== current) return;
        draft = null;
        render(what === "send" ? "Sent." : "Draft discarded.");
      }, function (e) { errEl.textContent = e.message; });
  }

  function sync() {
    var id = conversationId();
    if (id !== current) { current = id; draft = null; }
    if (!draft) render(null);
    else if (!handedOver()) render(null);
  }
  // admins: the knowledge-base page
  if (document.body.getAttribute("data-user-role") === "admin") {
    var adminMenu = document.getElementById("admin-menu-list");  // the top bar's Admin menu (admin_menu.js)
    var me = document.querySelector(".me");
    if (adminMenu) {
      var item = document.createElement("li");
      item.appendChild(el("a", { href: "/admin/knowledge", class: "admin-menu-item", "data-testid": "knowledge-link", text: "Knowledge" }));
      adminMenu.appendChild(item);
    } else if (me) me.insertBefore(el("a", { href: "/admin/knowledge", class: "btn btn-ghost btn-sm", "data-testid": "knowledge-link", text: "Knowledge" }), me.firstChild);
  }
  window.addEventListener("hashchange", sync);
  var chips = document.getElementById("conv-chips");
  if (chips && window.MutationObserver) new MutationObserver(function () { if (!draft || !handedOver()) sync(); }).observe(chips, { childList: true, subtree: true });
  sync();
})();
