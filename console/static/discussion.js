/* Parley console: a conversation's internal discussion (the Discussion button in its header opens a panel:
 * members, invite picker, entries, composer; view-only once the conversation is closed) and the caller's
 * @mentions (a Mentions button with an unread badge in the left navigation, and a card per new mention —
 * sound and desktop only when the user's alerts are on, through routing.js's alerts). Built on the hooks
 * console.js exposes as window.ParleyConsole; every text goes in as a text node. API: docs/discussions.md.
 */
(function () {
  "use strict";

  var PC = null;
  var st = { convId: null, status: null, open: false, data: null, seq: 0, mentions: [], unread: 0, listOpen: false };

  function $(id) { return document.getElementById(id); }
  // The console's DOM builder (admin_common.js, loaded before this script): attributes, events, text nodes.
  var h = window.ParleyAdmin.el;
  function clear(el) { while (el.firstChild) el.removeChild(el.firstChild); }
  function enc(s) { return encodeURIComponent(s); }
  function when(iso) {
    var t = Date.parse(iso || "");
    return isNaN(t) ? "" : new Date(t).toLocaleString([], { dateStyle: "short", timeStyle: "short" });
  }
  function base() { return "/conversations/" + enc(st.convId) + "/discussion"; }

  // ------------------------------------------------------------------ the panel
  function panel() {
    var p = $("discussion");
    if (p) return p;
    p = h("section", { id: "discussion", class: "discussion", "data-testid": "discussion", "aria-label": "Internal discussion", hidden: true });
    var msgs = $("messages");
    msgs.parentNode.insertBefore(p, msgs);
    return p;
  }
  function toggleButton() {
    var b = $("discussion-toggle");
    if (b) return b;
    b = h("button", { type: "button", class: "btn btn-sm", id: "discussion-toggle", "data-testid": "discussion-toggle",
      "aria-expanded": "false", "aria-controls": "discussion", title: "Talk about this conversation with colleagues" }, "Discussion");
    b.addEventListener("click", function () { setOpen(!st.open); });
    var actions = document.querySelector(".conv-actions");
    actions.insertBefore(b, actions.firstChild);
    return b;
  }
  function setOpen(open) {
    st.open = open;
    var b = toggleButton();
    b.setAttribute("aria-expanded", open ? "true" : "false");
    b.classList.toggle("is-active", open);
    b.classList.remove("has-news");
    panel().hidden = !open;
    if (open) load(); else watch(null);
  }

  /** Which discussion this console shows: supervisors and admins who are no members hear its entries live
   *  only while it is open (console/discussion_sockets.py checks they may read it). */
  function watch(convId) {
    if (PC.socket && PC.socket.connected) PC.socket.emit("discussion_watch", { conversation_id: convId });
  }
  function rewatch() { if (st.open && st.data) watch(st.convId); }

  function load() {
    var seq = ++st.seq, id = st.convId;
    var p = panel();
    return PC.api("GET", base()).then(function (d) {
      if (seq !== st.seq || id !== st.convId) return;
      st.data = d;
      render();
      watch(id);
    }, function (err) {
      if (seq !== st.seq || id !== st.convId) return;
      st.data = null;
      if (err.status === 404) renderStart(); else { clear(p); p.appendChild(h("p", { class: "composer-error" }, err.message)); }
    });
  }

  function closedNote() {
    return h("p", { class: "discussion-closed", "data-testid": "discussion-view-only", role: "status" },
      "View-only: the conversation is closed. Reopen it to write here.");
  }

  function renderStart() {
    var p = panel();
    clear(p);
    p.appendChild(h("div", { class: "discussion-head" }, h("h3", { class: "panel-title" }, "Internal discussion")));
    if (st.status !== "open") { p.appendChild(h("p", { class: "muted" }, "No discussion was held.")); p.appendChild(closedNote()); return; }
    p.appendChild(h("p", { class: "muted" }, "Invite colleagues who can see this conversation to talk about it. The customer never sees it."));
    p.appendChild(invitePicker("Start discussion", "POST", base()));
  }

  function invitePicker(label, method, path) {
    var box = h("div", { class: "discussion-invite" });
    var list = h("div", { class: "discussion-candidates", "data-testid": "discussion-candidates" }, h("span", { class: "muted" }, "Loading…"));
    var err = h("span", { class: "composer-error", role: "alert" });
    var go = h("button", { type: "button", class: "btn btn-primary btn-sm", "data-testid": "discussion-invite" }, label);
    box.appendChild(list);
    box.appendChild(h("div", { class: "discussion-row" }, go, err));
    PC.api("GET", base() + "/candidates").then(function (r) {
      clear(list);
      var others = (r.users || []).filter(function (u) { return !u.member && u.id !== PC.me.id; });
      if (!others.length) list.appendChild(h("span", { class: "muted" }, "Nobody else can see this conversation."));
      others.forEach(function (u) {
        list.appendChild(h("label", { class: "discussion-candidate" },
          h("input", { type: "checkbox", value: u.id, "data-testid": "discussion-candidate" }), " " + u.name + " ",
          h("span", { class: "muted" }, "@" + u.handle)));
      });
    }, function (e) { clear(list); err.textContent = e.message; });
    go.addEventListener("click", function () {
      var ids = Array.prototype.map.call(list.querySelectorAll("input:checked"), function (i) { return Number(i.value); });
      if (method !== "POST" || (!ids.length && st.data)) { err.textContent = "Pick someone to invite."; return; }
      go.disabled = true;
      PC.api(method, path, { user_ids: ids }).then(function (d) { st.data = d; render(); },
        function (e) { go.disabled = false; err.textContent = e.message; });
    });
    return box;
  }

  function entryEl(e) {
    var sys = e.kind === "system";
    return h("li", { class: "discussion-entry" + (sys ? " is-system" : ""), "data-testid": "discussion-entry", "data-kind": e.kind },
      sys ? null : h("b", { class: "discussion-author" }, e.author ? e.author.name : "Someone"),
      h("span", { class: "discussion-text" }, e.text),
      h("time", { class: "discussion-time", datetime: e.created_at }, when(e.created_at)));
  }

  function render() {
    var d = st.data, p = panel();
    clear(p);
    var inviteBtn = d.writable ? h("button", { type: "button", class: "btn btn-ghost btn-sm", "data-testid": "discussion-invite-open" }, "Invite…") : null;
    p.appendChild(h("div", { class: "discussion-head" }, h("h3", { class: "panel-title" }, "Internal discussion"),
      h("span", { class: "discussion-members", "data-testid": "discussion-members" },
        d.members.map(function (m) { return m.name; }).join(", ")), inviteBtn));
    var slot = h("div");
    p.appendChild(slot);
    if (inviteBtn) inviteBtn.addEventListener("click", function () {
      clear(slot);
      slot.appendChild(invitePicker("Invite", "POST", base() + "/members"));
    });
    var ul = h("ul", { class: "discussion-entries", id: "discussion-entries", "data-testid": "discussion-entries" });
    d.entries.forEach(function (e) { ul.appendChild(entryEl(e)); });
    p.appendChild(ul);
    if (d.view_only) p.appendChild(closedNote());
    else if (!d.member) p.appendChild(h("p", { class: "muted" }, "You can read this discussion; a member can invite you to write."));
    else p.appendChild(composer());
    ul.scrollTop = ul.scrollHeight;
  }

  function composer() {
    var input = h("textarea", { class: "composer-input discussion-input", rows: "2", maxlength: "4096", "data-testid": "discussion-input",
      "aria-label": "Write in the discussion", placeholder: "Write to your colleagues… @handle notifies a member" });
    var err = h("span", { class: "composer-error", role: "alert", "data-testid": "discussion-error" });
    var send = h("button", { type: "submit", class: "btn btn-primary btn-sm", "data-testid": "discussion-send" }, "Send");
    var form = h("form", { class: "discussion-composer" }, input, h("div", { class: "discussion-row" }, err, send));
    form.addEventListener("submit", function (ev) {
      ev.preventDefault();
      var text = input.value;
      if (!text.trim()) return;
      send.disabled = true;
      err.textContent = "";
      var id = st.convId;
      PC.api("POST", base() + "/entries", { text: text }).then(function (e) {
        send.disabled = false;
        input.value = "";
        if (id === st.convId) append(e);
      }, function (e) {
        send.disabled = false;
        err.textContent = e.message;
        if (e.code === "discussion_closed") load();
      });
    });
    input.addEventListener("keydown", function (ev) {
      if (ev.key === "Enter" && !ev.shiftKey) { ev.preventDefault(); form.requestSubmit ? form.requestSubmit() : send.click(); }
    });
    return form;
  }

  function append(e) {
    if (!st.data) return;
    if (st.data.entries.some(function (x) { return x.id === e.id; })) return;
    st.data.entries.push(e);
    var ul = $("discussion-entries");
    if (ul) { ul.appendChild(entryEl(e)); ul.scrollTop = ul.scrollHeight; }
  }

  function onEntry(p) {
    if (!p || !p.entry) return;
    if (p.conversation_id !== st.convId) return;
    if (st.open) { if (st.data) append(p.entry); }  // not loaded yet: the load brings it
    else toggleButton().classList.add("has-news");
  }

  /** console.js calls this whenever the open conversation (or its state) changes. */
  function onChrome(c) {
    if (!c) return;
    toggleButton();
    var changed = c.id !== st.convId, reopenedOrClosed = !changed && c.status !== st.status;
    st.convId = c.id;
    st.status = c.status;
    if (changed) { st.data = null; setOpen(false); }
    else if (reopenedOrClosed && st.open) load();
  }

  // ------------------------------------------------------------------ mentions
  function mentionsButton() {
    var b = $("mentions-toggle");
    if (b) return b;
    var tabs = document.querySelector(".view-tabs");
    if (!tabs) return null;
    b = h("button", { type: "button", class: "mentions-toggle", id: "mentions-toggle", "data-testid": "mentions-toggle",
      "aria-expanded": "false", "aria-controls": "mentions-list" }, "@ Mentions ",
      h("span", { class: "badge", id: "mentions-badge", "data-testid": "mentions-badge", hidden: true }, "0"));
    var list = h("ul", { class: "mentions-list", id: "mentions-list", "data-testid": "mentions-list", hidden: true });
    b.addEventListener("click", function () {
      st.listOpen = !st.listOpen;
      b.setAttribute("aria-expanded", st.listOpen ? "true" : "false");
      list.hidden = !st.listOpen;
      if (st.listOpen) loadMentions();
    });
    tabs.parentNode.insertBefore(b, tabs.nextSibling);
    b.parentNode.insertBefore(list, b.nextSibling);
    return b;
  }
  function loadMentions() {
    return PC.api("GET", "/mentions").then(function (r) {
      st.mentions = r.mentions || [];
      st.unread = r.unread || 0;
      paintMentions();
    }, function () {});
  }
  function paintMentions() {
    mentionsButton();
    var badge = $("mentions-badge");
    badge.textContent = String(st.unread);
    badge.hidden = !st.unread;
    var list = $("mentions-list");
    clear(list);
    if (!st.mentions.length) list.appendChild(h("li", { class: "muted mentions-empty" }, "Nobody mentioned you yet."));
    st.mentions.forEach(function (m) {
      var li = h("li", { class: "mention-item" + (m.read_at ? "" : " is-unread"), "data-testid": "mention-item", tabindex: "0" },
        h("div", { class: "mention-head" }, h("b", null, m.author ? m.author.name : "Someone"),
          h("span", { class: "muted" }, m.source === "note" ? " in a note" : " in a discussion"),
          h("time", { class: "discussion-time" }, when(m.created_at))),
        h("div", { class: "mention-text" }, m.text));
      li.addEventListener("click", function () { openMention(m); });
      li.addEventListener("keydown", function (ev) { if (ev.key === "Enter") openMention(m); });
      list.appendChild(li);
    });
  }
  function openMention(m) {
    PC.open(m.conversation_id);
    if (m.source === "discussion") setTimeout(function () { if (st.convId === m.conversation_id && !st.open) setOpen(true); }, 300);
    if (!m.read_at) PC.api("POST", "/mentions/" + m.id + "/read").then(loadMentions, function () {});
  }
  function onNotification(n) {
    if (!n || n.kind !== "mention" || !n.mention) return;
    var m = n.mention, c = n.conversation || {};
    var who = m.author ? m.author.name : "Someone";
    var title = who + " mentioned you" + (m.source === "note" ? " in a note" : " in a discussion");
    var alerts = PC.alerts;
    if (alerts && alerts.card) {
      var key = "m:" + m.id;
      var open = h("button", { type: "button", class: "btn btn-sm btn-ghost", "data-testid": "notice-open" }, "Open");
      open.addEventListener("click", function () { alerts.drop(key); openMention(m); });
      alerts.card(key, "mention", title, m.text, [open]);
      alerts.beep();
      alerts.desktop(title, m.text, c.id);
    } else {
      PC.toast(title + ": " + m.text);
    }
    loadMentions();
  }

  function start() {
    PC = window.ParleyConsole;
    if (!PC || !PC.api || !$("messages")) return;
    PC.onChrome.push(onChrome);
    mentionsButton();
    loadMentions();
    var hook = function () {
      if (!PC.socket) return false;
      PC.socket.on("discussion_entry", onEntry);
      PC.socket.on("notification", onNotification);
      PC.socket.on("connect", loadMentions);
      PC.socket.on("connect", rewatch);  // a new socket is in no room: say again what is open
      return true;
    };
    if (!hook()) { var t = setInterval(function () { if (hook()) clearInterval(t); }, 200); }
  }

  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", start);
  else start();
})();
