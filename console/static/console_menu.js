/* The conversation's menu (⋯ in the header): name it, restrict who sees it (assignees, supervisors,
 * admins), block the contact (then end the conversation), open the contact's page, delete it (admins).
 * Also keeps window.ParleyConsole.assignableIds: a restricted conversation's named users, the only ones
 * the assignee picker offers. Built on console.js's hooks; text always goes in with textContent.
 */
(function () {
  "use strict";
  var PC = null;
  var current = null;   // the open conversation (as console.js last rendered it)
  var vis = null;       // GET /conversations/<id>/visibility for it
  var visSeq = 0;

  function $(id) { return document.getElementById(id); }
  function h(tag, attrs) {
    var el = document.createElement(tag);
    Object.keys(attrs || {}).forEach(function (k) {
      var v = attrs[k];
      if (v === null || v === undefined || v === false) return;
      if (k.slice(0, 2) === "on") el.addEventListener(k.slice(2), v);
      else el.setAttribute(k, v === true ? "" : String(v));
    });
    for (var i = 2; i < arguments.length; i++) {
      var c = arguments[i];
      if (c === null || c === undefined || c === false) continue;
      el.appendChild(typeof c === "object" ? c : document.createTextNode(String(c)));
    }
    return el;
  }
  function clear(el) { while (el.firstChild) el.removeChild(el.firstChild); }
  function path(suffix) { return "/conversations/" + encodeURIComponent(current.id) + (suffix || ""); }

  // ------------------------------------------------------------------ the panel under the ⋯ button
  function panel() { return $("conv-menu-panel"); }
  function closeMenu() {
    var p = panel();
    if (p) { p.hidden = true; clear(p); }
    var b = $("conv-menu-btn");
    if (b) b.setAttribute("aria-expanded", "false");
  }
  function show(children) {
    var p = panel();
    clear(p);
    children.forEach(function (c) { if (c) p.appendChild(c); });
    p.hidden = false;
    $("conv-menu-btn").setAttribute("aria-expanded", "true");
  }
  function item(label, testid, fn, danger) {
    return h("button", { type: "button", class: "menu-item" + (danger ? " menu-danger" : ""), "data-testid": testid, onclick: fn }, label);
  }

  function openMenu() {
    if (!current) return;
    var me = PC.me;
    show([
      item("Name conversation…", "menu-name", nameForm),
      vis && vis.may_change ? item("Restrict visibility…", "menu-restrict", restrictForm) : null,
      current.contact && current.contact.blocked
        ? (me.role === "admin" || me.role === "supervisor" ? item("Unblock contact", "menu-unblock", unblock) : null)
        : item("Block contact…", "menu-block", blockForm, true),
      h("a", { class: "menu-item", href: "/contacts#" + (current.contact ? current.contact.id : ""), "data-testid": "menu-contact" }, "Contact page"),
      me.role === "admin" ? item("Delete conversation…", "menu-delete", deleteForm, true) : null,
    ]);
  }

  function form(title, fields, submitLabel, onSubmit, danger) {
    var err = h("p", { class: "menu-error", role: "alert" });
    var f = h("form", { class: "menu-form" }, h("strong", null, title));
    fields.forEach(function (x) { f.appendChild(x); });
    f.appendChild(h("div", { class: "menu-buttons" },
      h("button", { type: "button", class: "btn btn-ghost btn-sm", onclick: closeMenu }, "Cancel"),
      h("button", { type: "submit", class: "btn btn-sm " + (danger ? "btn-danger" : "btn-primary"), "data-testid": "menu-submit" }, submitLabel)));
    f.appendChild(err);
    f.addEventListener("submit", function (e) {
      e.preventDefault();
      onSubmit(f).catch(function (x) { err.textContent = (x && x.message) || String(x); });
    });
    show([f]);
    var first = f.querySelector("input, textarea");
    if (first) first.focus();
  }

  function nameForm() {
    var input = h("input", { type: "text", name: "name", maxlength: "200", "data-testid": "menu-name-input", "aria-label": "Name" });
    input.value = current.name || "";
    form("Name this conversation", [input], "Save", function () {
      return PC.api("PATCH", path(), { name: input.value }).then(function (conv) { PC.upsert(conv); closeMenu(); });
    });
  }

  function restrictForm() {
    var box = h("div", { class: "menu-users" }, "Loading…");
    form("Who may see this conversation", [box, h("p", { class: "menu-hint" }, "Nobody ticked: everyone in its team, as usual.")], "Save", function () {
      var ids = Array.from(box.querySelectorAll("input:checked")).map(function (i) { return Number(i.value); });
      return PC.api("PUT", path("/visibility"), { user_ids: ids.length ? ids : null }).then(function () {
        closeMenu(); PC.toast(ids.length ? "Only they see it now." : "Restriction lifted.");
        refreshVisibility();
      });
    });
    PC.api("GET", "/users").then(function (d) {
      clear(box);
      var named = new Set(((vis && vis.users) || []).map(function (u) { return Number(u.id); }));
      ((d && d.users) || []).forEach(function (u) {
        box.appendChild(h("label", null, h("input", { type: "checkbox", value: u.id, checked: named.has(Number(u.id)), "data-testid": "restrict-option" }),
          " " + u.name + (Number(u.id) === PC.me.id ? " (you)" : "")));
      });
    }, function (x) { box.textContent = x.message; });
  }

  function blockForm() {
    var reason = h("textarea", { name: "reason", rows: "2", maxlength: "250", "data-testid": "block-reason", "aria-label": "Reason (optional)", placeholder: "Reason (optional, at most 250 characters)" });
    var contactId = current.contact && current.contact.id;
    var convId = current.id;
    form("Block " + ((current.contact && current.contact.name) || "this contact") + " on every channel?", [reason,
      h("p", { class: "menu-hint" }, "Their new messages start nothing and reach nobody. What was said stays.")], "Block", function () {
      return PC.api("POST", "/contacts/" + contactId + "/block", { reason: reason.value || null }).then(function (res) {
        PC.toast("Contact blocked.");
        if (res && res.open_conversation === convId && current && current.id === convId && current.status === "open") askToEnd(convId);
        else closeMenu();
      });
    }, true);
  }

  function unblock() {
    var contactId = current.contact && current.contact.id;
    PC.api("DELETE", "/contacts/" + contactId + "/block").then(function () { closeMenu(); PC.toast("Contact unblocked."); }, PC.report);
  }

  function askToEnd(convId) {
    show([h("div", { class: "menu-form", "data-testid": "block-end-prompt" },
      h("strong", null, "The contact is blocked. End this conversation now?"),
      h("div", { class: "menu-buttons" },
        h("button", { type: "button", class: "btn btn-ghost btn-sm", onclick: closeMenu, "data-testid": "block-keep-open" }, "Not yet"),
        h("button", { type: "button", class: "btn btn-sm btn-primary", "data-testid": "block-end", onclick: function () {
          PC.api("POST", "/conversations/" + encodeURIComponent(convId) + "/close").then(function (conv) { PC.upsert(conv); closeMenu(); }, PC.report);
        } }, "End conversation")))]);
  }

  function deleteForm() {
    var convId = current.id;
    form("Delete this conversation for good? Its messages and files go; an audit record stays.", [], "Delete", function () {
      return PC.api("DELETE", path()).then(function () { closeMenu(); PC.toast("Conversation deleted."); PC.remove(convId); });
    }, true);
  }

  // ------------------------------------------------------------------ following the open conversation
  function refreshVisibility() {
    if (!current) { vis = null; PC.assignableIds = null; return; }
    var seq = ++visSeq, id = current.id;
    PC.api("GET", path("/visibility")).then(function (v) {
      if (seq !== visSeq || !current || current.id !== id) return;
      vis = v;
      vis.conversation = id;
      PC.assignableIds = v && v.restricted ? new Set(v.users.map(function (u) { return Number(u.id); })) : null;
      restrictedChip();
    }, function () { /* gone or out of reach: console.js says so */ });
  }

  function ensureButton() {
    if ($("conv-menu-btn")) return;
    var actions = document.querySelector(".conv-actions");
    if (!actions) return;
    var wrap = h("span", { class: "conv-menu-wrap" },
      h("button", { type: "button", class: "btn btn-ghost btn-sm", id: "conv-menu-btn", "aria-haspopup": "true", "aria-expanded": "false",
        "aria-label": "More actions", title: "More actions", "data-testid": "conv-menu",
        onclick: function () { if (panel().hidden) openMenu(); else closeMenu(); } }, "⋯"),
      h("div", { class: "conv-menu-panel", id: "conv-menu-panel", role: "menu", "data-testid": "conv-menu-panel", hidden: true }));
    actions.insertBefore(wrap, actions.firstChild);
    document.addEventListener("keydown", function (e) { if (e.key === "Escape") closeMenu(); });
  }

  function restrictedChip() {
    var chips = $("conv-chips");
    if (!chips || !current || !vis || vis.conversation !== current.id || !vis.restricted) return;
    if (chips.querySelector("[data-testid=chip-restricted]")) return;
    chips.appendChild(h("span", { class: "chip chip-restricted", "data-testid": "chip-restricted",
      title: "Only " + vis.users.map(function (u) { return u.name; }).join(", ") + " see it" }, "Restricted"));
  }

  function onChrome(c) {
    var changed = !current || current.id !== c.id;
    current = c;
    ensureButton();
    var chips = $("conv-chips");
    if (chips && c.contact && c.contact.blocked) {
      chips.appendChild(h("span", { class: "chip chip-blocked", "data-testid": "chip-blocked",
        title: "The contact is blocked: their new messages reach nobody" }, "Blocked"));
    }
    if (changed) { closeMenu(); refreshVisibility(); } else restrictedChip();
  }

  function start() {
    PC = window.ParleyConsole;
    if (!PC || !PC.api) return;
    PC.assignableIds = null;
    PC.onChrome.push(onChrome);
  }

  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", start);
  else start();
})();
