/* Internal chat (Converso): the "Chats" tab beside the inboxes. Colleagues write to each other one to one
 * (or to themselves, as notes): the list with unread badges, a thread, a composer with a file. Live through
 * `internal_message` and `internal_unread` on /console (docs/internal_chat.md); a message that arrives
 * while its thread is not in view shows a notification card (the console's tray, sound and desktop alerts
 * when the user turned alerts on). Built on console.js's hooks; text always goes in as text nodes.
 */
(function () {
  "use strict";

  var PC = null;
  var st = { open: false, chats: new Map(), people: [], current: null, oldest: null, total: 0, seq: 0 };

  function $(id) { return document.getElementById(id); }
  // The console's DOM builder (admin_common.js, loaded before this script): attributes, events, text nodes.
  var h = window.ParleyAdmin.el;
  function clear(el) { while (el && el.firstChild) el.removeChild(el.firstChild); }
  function when(iso) {
    var t = Date.parse(iso || "");
    return isNaN(t) ? "" : new Date(t).toLocaleString([], { dateStyle: "short", timeStyle: "short" });
  }
  function nameOf(chat) { return chat.kind === "self" ? "Notes to self" : (chat.other ? chat.other.name : "A colleague"); }
  function csrf() { var m = document.querySelector('meta[name="csrf-token"]'); return m ? m.getAttribute("content") : ""; }

  // ------------------------------------------------------------------ alerts (the console's preference)
  // Cards, sound and desktop alerts are the console's (routing.js: PC.alerts), as for offers and transfers.
  function notice(chat, msg) {
    var alerts = PC.alerts;
    var title = (msg.author ? msg.author.name : "A colleague") + " wrote to you";
    var key = "ichat:" + chat.id;
    if (!alerts) { PC.toast(title + ": " + preview(msg)); return; }
    var open = h("button", { type: "button", class: "btn btn-sm btn-primary", "data-testid": "notice-open-chat",
      onclick: function () { alerts.drop(key); openChat(chat.id); } }, "Open");
    alerts.card(key, "internal", title, preview(msg), [open]);
    setTimeout(function () { alerts.drop(key); }, 9000);
    alerts.beep();
    alerts.desktop(title, preview(msg), null, function () { openChat(chat.id); }, key);
  }
  function preview(m) {
    var t = (m.text || "").replace(/\s+/g, " ");
    if (!t && m.files && m.files.length) t = "File: " + m.files[0].filename;
    return t.length > 90 ? t.slice(0, 89) + "…" : t;
  }

  // ------------------------------------------------------------------ tab, badge, panel
  function build() {
    var tabs = document.querySelector(".view-tabs");
    var ws = $("workspace");
    if (!tabs || !ws || $("ichat-tab")) return false;
    var badge = h("span", { class: "ichat-badge", id: "ichat-badge", "data-testid": "chats-unread", hidden: true });
    tabs.appendChild(h("button", { type: "button", role: "tab", class: "view-tab ichat-tab", id: "ichat-tab",
      "data-testid": "view-chats", title: "Internal chat with colleagues (never seen by customers)", onclick: toggle }, "Chats", badge));
    tabs.querySelectorAll(".view-tab:not(.ichat-tab)").forEach(function (b) { b.addEventListener("click", close); });
    document.querySelector(".sidebar").appendChild(h("div", { class: "ichat-list", id: "ichat-list", "data-testid": "ichat-list" },
      h("div", { class: "ichat-start" },
        h("select", { id: "ichat-people", "aria-label": "Start a chat with", "data-testid": "ichat-people" }),
        h("button", { type: "button", class: "btn btn-sm", "data-testid": "ichat-start", onclick: startChat }, "Chat")),
      h("ul", { class: "ichat-chats", id: "ichat-chats", "data-testid": "ichat-chats" })));
    var input = h("textarea", { id: "ichat-input", class: "composer-input", rows: "2", "data-testid": "ichat-input",
      placeholder: "Write to your colleague… (Enter to send)", "aria-label": "Internal message", maxlength: "4096" });
    input.addEventListener("keydown", function (e) { if (e.key === "Enter" && !e.shiftKey) { e.preventDefault(); send(); } });
    var file = h("input", { type: "file", id: "ichat-file", "data-testid": "ichat-file", "aria-label": "Attach a file" });
    file.addEventListener("change", function () { $("ichat-file-name").textContent = file.files.length ? file.files[0].name : ""; });
    ws.appendChild(h("section", { class: "ichat-thread", id: "ichat-thread", "aria-label": "Internal chat", "data-testid": "ichat-thread" },
      h("header", { class: "ichat-head" }, h("h2", { id: "ichat-title", "data-testid": "ichat-title" }, "Chats"),
        h("span", { class: "ichat-private" }, "Internal · customers never see this"),
        PC.me && PC.me.role === "admin" ? h("button", { type: "button", class: "btn btn-ghost btn-sm", id: "ichat-delete",
          "data-testid": "ichat-delete", hidden: true, onclick: deleteChat }, "Delete chat") : null),
      h("div", { class: "ichat-messages", id: "ichat-messages", role: "log", "aria-live": "polite", "data-testid": "ichat-messages" },
        h("p", { class: "ichat-empty" }, "Pick a colleague on the left, or write notes to yourself.")),
      h("form", { class: "composer ichat-composer", id: "ichat-composer", hidden: true, onsubmit: function (e) { e.preventDefault(); send(); } },
        input,
        h("div", { class: "composer-footer" },
          h("label", { class: "btn btn-ghost btn-sm ichat-attach" }, "Attach", file),
          h("span", { class: "ichat-file-name", id: "ichat-file-name" }),
          h("span", { class: "composer-error", id: "ichat-error", role: "alert", "data-testid": "ichat-error" }),
          h("button", { type: "submit", class: "btn btn-primary btn-sm", "data-testid": "ichat-send" }, "Send")))));
    return true;
  }
  function paintBadge() {
    var b = $("ichat-badge");
    if (!b) return;
    b.textContent = st.total > 99 ? "99+" : String(st.total);
    b.hidden = st.total <= 0;
  }
  function toggle() { if (st.open) close(); else openPanel(); }
  function openPanel() {
    st.open = true;
    $("workspace").classList.add("ichat-open");
    $("ichat-tab").classList.add("is-active");
    document.querySelectorAll(".view-tab:not(.ichat-tab)").forEach(function (b) { b.classList.remove("is-active"); });
    loadList(); loadPeople();
  }
  function close() {
    if (!st.open) return;
    st.open = false;
    $("workspace").classList.remove("ichat-open");
    $("ichat-tab").classList.remove("is-active");
    var view = PC.state && PC.state.view;
    document.querySelectorAll(".view-tab:not(.ichat-tab)").forEach(function (b) {
      b.classList.toggle("is-active", b.getAttribute("data-view") === view);
    });
  }

  // ------------------------------------------------------------------ the list
  function loadList() {
    return PC.api("GET", "/internal_chats").then(function (d) {
      st.chats = new Map();
      (d.chats || []).forEach(function (c) { st.chats.set(c.id, c); });
      st.total = d.unread_total || 0;
      paintBadge(); renderList();
    }, PC.report);
  }
  function loadPeople() {
    PC.api("GET", "/internal_chats/people").then(function (d) {
      st.people = d.users || [];
      var sel = $("ichat-people");
      clear(sel);
      st.people.forEach(function (u) {
        sel.appendChild(h("option", { value: u.id }, u.id === PC.me.id ? "Me (notes)" : u.name));
      });
    }, PC.report);
  }
  function renderList() {
    var ul = $("ichat-chats");
    if (!ul) return;
    clear(ul);
    var chats = Array.from(st.chats.values()).sort(function (a, b) {
      return (b.last_message_at || b.created_at || "").localeCompare(a.last_message_at || a.created_at || "");
    });
    if (!chats.length) ul.appendChild(h("li", { class: "ichat-none" }, "No chats yet."));
    chats.forEach(function (c) {
      var last = c.last_message;
      ul.appendChild(h("li", { class: "ichat-item" + (st.current === c.id ? " is-current" : ""), "data-chat-id": c.id,
        "data-testid": "ichat-item", onclick: function () { openChat(c.id); } },
        h("span", { class: "ichat-name" }, nameOf(c)),
        c.unread ? h("span", { class: "ichat-badge", "data-testid": "ichat-item-unread" }, String(c.unread)) : null,
        h("span", { class: "ichat-preview" }, last ? (last.mine ? "You: " : "") + preview(last) : "")));
    });
  }
  function startChat() {
    var id = Number($("ichat-people").value);
    if (!id) return;
    PC.api("POST", "/internal_chats", { user_id: id }).then(function (c) {
      st.chats.set(c.id, c); renderList(); openChat(c.id);
    }, PC.report);
  }

  // ------------------------------------------------------------------ a thread
  function openChat(id) {
    if (!st.open) openPanel();
    st.current = id; st.oldest = null;
    var card = document.querySelector('.notice[data-key="ichat:' + id + '"]');
    if (card) card.remove();
    var seq = ++st.seq;
    var c = st.chats.get(id);
    $("ichat-title").textContent = c ? nameOf(c) : "Chat";
    $("ichat-composer").hidden = false;
    if ($("ichat-delete")) $("ichat-delete").hidden = false;
    clear($("ichat-messages"));
    renderList();
    PC.api("GET", "/internal_chats/" + id + "/messages").then(function (d) {
      if (seq !== st.seq) return;
      if (!st.chats.has(id)) loadList().then(function () { var x = st.chats.get(id); if (x) $("ichat-title").textContent = nameOf(x); });
      var box = $("ichat-messages");
      var fetched = d.messages || [];
      var newest = fetched.length ? fetched[fetched.length - 1].id : 0;
      // messages that arrived live while this page was loading are newer than it: kept after it
      var live = Array.from(box.querySelectorAll(".ichat-msg")).filter(function (el) { return Number(el.getAttribute("data-id")) > newest; });
      clear(box);
      if (d.has_more) box.appendChild(olderButton());
      fetched.forEach(function (m) { box.appendChild(messageEl(m)); });
      live.forEach(function (el) { box.appendChild(el); });
      st.oldest = d.messages && d.messages.length ? d.messages[0].id : null;
      box.scrollTop = box.scrollHeight;
      markRead(id);
      $("ichat-input").focus();
    }, PC.report);
  }
  function olderButton() {
    return h("button", { type: "button", class: "btn btn-ghost btn-sm ichat-older", "data-testid": "ichat-older", onclick: function (e) {
      var btn = e.currentTarget, id = st.current;
      PC.api("GET", "/internal_chats/" + id + "/messages?before=" + st.oldest).then(function (d) {
        if (id !== st.current) return;
        var box = $("ichat-messages"), first = btn.nextSibling;
        btn.remove();
        (d.messages || []).forEach(function (m) { box.insertBefore(messageEl(m), first); });
        if (d.has_more) box.insertBefore(olderButton(), box.firstChild);
        if (d.messages && d.messages.length) st.oldest = d.messages[0].id;
      }, PC.report);
    } }, "Older messages");
  }
  function messageEl(m) {
    var mine = m.author && m.author.id === PC.me.id;
    return h("div", { class: "ichat-msg" + (mine ? " is-mine" : ""), "data-testid": "ichat-msg", "data-id": m.id },
      h("div", { class: "ichat-meta" }, (m.author ? m.author.name : "Deleted user") + " · " + when(m.created_at)),
      m.text ? h("div", { class: "ichat-text" }, m.text) : null,
      (m.files || []).map(function (f) {
        return h("a", { class: "ichat-file", href: f.url, target: "_blank", rel: "noopener", "data-testid": "ichat-file-link" }, "File: " + f.filename);
      }));
  }
  function markRead(id) {
    PC.api("POST", "/internal_chats/" + id + "/read").then(function (r) {
      var c = st.chats.get(id);
      if (c) c.unread = r.unread;
      st.total = r.unread_total; paintBadge(); renderList();
    }, function () {});
  }
  function upload(fileInput) {
    if (!fileInput.files.length) return Promise.resolve(null);
    var fd = new FormData();
    fd.append("file", fileInput.files[0]);
    return fetch("/api/v1/internal_files", { method: "POST", body: fd, credentials: "same-origin",
      headers: { "X-CSRF-Token": csrf(), Accept: "application/json" } }).then(function (res) {
      return res.json().catch(function () { return {}; }).then(function (d) {
        if (!res.ok) throw new Error((d.error && d.error.message) || "The file was not uploaded.");
        return d.id;
      });
    });
  }
  function send() {
    var id = st.current, input = $("ichat-input"), file = $("ichat-file"), err = $("ichat-error");
    if (!id) return;
    var text = input.value;
    if (!text.trim() && !file.files.length) return;
    err.textContent = "";
    upload(file).then(function (fileId) {
      var body = { text: text.trim() ? text : null };
      if (fileId) body.attachment_id = fileId;
      return PC.api("POST", "/internal_chats/" + id + "/messages", body);
    }).then(function (m) {
      input.value = ""; file.value = ""; $("ichat-file-name").textContent = "";
      addMessage(m);
    }, function (e) { err.textContent = e.message; });
  }
  function addMessage(m) {
    if (m.chat_id !== st.current) return;
    var box = $("ichat-messages");
    if (box.querySelector('.ichat-msg[data-id="' + m.id + '"]')) return;
    box.appendChild(messageEl(m));
    box.scrollTop = box.scrollHeight;
  }
  function deleteChat() {
    var id = st.current;
    if (!id || !window.confirm("Delete this chat with all its messages and files? This cannot be undone.")) return;
    PC.api("DELETE", "/internal_chats/" + id).then(function () { forget(id); }, PC.report);
  }
  function forget(id) {
    st.chats.delete(id);
    if (st.current === id) {
      st.current = null;
      clear($("ichat-messages"));
      $("ichat-title").textContent = "Chats";
      $("ichat-composer").hidden = true;
      if ($("ichat-delete")) $("ichat-delete").hidden = true;
    }
    renderList();
  }

  // ------------------------------------------------------------------ live
  function onMessage(e) {
    if (!e || !e.message || !e.chat) return;
    var m = e.message, c = st.chats.get(e.chat.id);
    if (!c) { c = { id: e.chat.id, kind: e.chat.kind, other: e.chat.other, unread: 0 }; st.chats.set(c.id, c); }
    c.last_message = { id: m.id, text: m.text, created_at: m.created_at, mine: !!(m.author && m.author.id === PC.me.id), files: m.files };
    c.last_message_at = m.created_at;
    c.unread = e.unread; st.total = e.unread_total;
    var inView = st.open && st.current === c.id && document.visibilityState === "visible";
    if (inView) { addMessage(m); if (e.unread) markRead(c.id); }
    else if (e.unread && !(m.author && m.author.id === PC.me.id)) { notice(c, m); }
    paintBadge(); renderList();
  }
  function onUnread(e) {
    if (!e) return;
    st.total = e.unread_total;
    if (e.deleted) forget(e.chat_id);
    else { var c = st.chats.get(e.chat_id); if (c) c.unread = e.unread; renderList(); }
    paintBadge();
  }

  function start() {
    PC = window.ParleyConsole;
    if (!PC || !PC.api || !build()) return;
    var wired = false;
    var wire = function () {
      if (wired || !PC.socket) return;
      wired = true;
      PC.socket.on("internal_message", onMessage);
      PC.socket.on("internal_unread", onUnread);
      PC.socket.on("connect", loadList);
    };
    wire();
    if (!wired) { var t = setInterval(function () { wire(); if (wired) clearInterval(t); }, 200); }
    loadList();
  }

  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", start);
  else start();
})();
