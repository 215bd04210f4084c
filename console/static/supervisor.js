/* Supervisor views in the agent console: the Queue view (every team's waiting and offered chats, with
 * their place and time waited, and the team's agents with their load and availability; assign from
 * it), and the live per-row unread figures (socket broadcasts leave the per-user figure out, so the
 * rows ask GET /api/v1/unread after a change). The Active view is a plain list (console.js,
 * `view=active`). Customer text goes in with textContent only.
 */
(function () {
  "use strict";
  var PC = window.ParleyConsole;
  if (!PC) return;

  function $(id) { return document.getElementById(id); }
  function h(tag, attrs) {
    var el = document.createElement(tag);
    Object.keys(attrs || {}).forEach(function (k) {
      var v = attrs[k];
      if (v === null || v === undefined || v === false) return;
      if (k === "class") el.className = v;
      else if (k.slice(0, 2) === "on") el.addEventListener(k.slice(2), v);
      else el.setAttribute(k, v === true ? "" : v);
    });
    for (var i = 2; i < arguments.length; i++) {
      var c = arguments[i];
      if (c === null || c === undefined || c === false) continue;
      el.appendChild(typeof c === "object" ? c : document.createTextNode(String(c)));
    }
    return el;
  }
  function waited(seconds) {
    var s = Math.max(0, Math.floor(seconds));
    if (s < 60) return s + "s";
    if (s < 3600) return Math.floor(s / 60) + "m " + (s % 60 ? (s % 60) + "s" : "").trim();
    return Math.floor(s / 3600) + "h " + Math.floor((s % 3600) / 60) + "m";
  }

  // Below 1320 px the top bar drops the name beside the avatar (supervisor.css): the avatar says it.
  var avatar = $("me-avatar");
  if (avatar) avatar.setAttribute("title", PC.me.name + " · " + PC.me.role);

  // ------------------------------------------------------------------ live unread figures per row
  var staleIds = new Set();
  var staleTimer = null;
  PC.onStale.push(function (conv) {
    staleIds.add(conv.id);
    clearTimeout(staleTimer);
    staleTimer = setTimeout(fetchUnread, 250);
  });
  function fetchUnread() {
    var ids = Array.from(staleIds).slice(0, 100);
    ids.forEach(function (id) { staleIds.delete(id); });
    if (!ids.length) return;
    PC.api("GET", "/unread?ids=" + encodeURIComponent(ids.join(","))).then(function (data) {
      var figures = (data && data.unread) || {};
      Object.keys(figures).forEach(function (id) {
        var c = PC.state.convs.get(id) || (PC.state.current && PC.state.current.id === id ? PC.state.current : null);
        if (c && c.unread !== figures[id]) PC.upsert(Object.assign({}, c, { unread: figures[id] }));
        else if (!c && PC.state.tile === "unread" && figures[id] > 0) refreshList();
      });
      if (staleIds.size) fetchUnread();
    }, function () { /* the next change asks again */ });
  }
  var listTimer = null;
  function refreshList() {
    clearTimeout(listTimer);
    listTimer = setTimeout(function () { PC.setView(PC.state.view, PC.state.tile); }, 300);
  }

  // ------------------------------------------------------------------ the Queue view
  var BOSS = PC.me.role === "admin" || PC.me.role === "supervisor";
  if (!BOSS) return;

  var panel = null;
  var shown = false;
  var seq = 0;
  var data = null;
  var loadedAt = 0;

  function ensurePanel() {
    if (panel) return panel;
    panel = h("section", { class: "queue-view", id: "queue-view", "data-testid": "queue-view", "aria-label": "Queues", hidden: true });
    var list = $("conv-list");
    list.parentNode.insertBefore(panel, list);
    return panel;
  }

  PC.onView.push(function (view) {
    var on = view === "queue";
    ensurePanel().hidden = !on;
    shown = on;
    if (on) loadQueue();
  });

  var queueTimer = null;
  function scheduleQueue() {
    if (!shown) return;
    clearTimeout(queueTimer);
    queueTimer = setTimeout(loadQueue, 300);
  }

  function loadQueue() {
    var mine = ++seq;
    if (!data) { clearPanel(); panel.appendChild(h("p", { class: "queue-empty" }, "Loading…")); }
    return PC.api("GET", "/supervisor/queue").then(function (d) {
      if (mine !== seq) return;
      data = d;
      loadedAt = Date.now();
      render();
    }, function (err) {
      if (mine !== seq) return;
      clearPanel();
      panel.appendChild(h("p", { class: "queue-empty" }, "Couldn't load the queues."));
      PC.report(err);
    });
  }
  function clearPanel() { while (panel.firstChild) panel.removeChild(panel.firstChild); }

  // Live updates must not pull the panel from under the user: render() keeps every element whose key
  // (team, waiting conversation, agent, option) is still there and only updates its text, so an Assign to
  // picker someone is using keeps its element, its focus and its choice while the queue refreshes.
  function sync(parent, items, key, make, update) {
    var old = new Map();
    Array.prototype.forEach.call(parent.children, function (el) { if (el._key !== undefined) old.set(el._key, el); });
    var want = items.map(function (it) {
      var k = String(key(it));
      var el = old.get(k);
      if (!el) { el = make(it); el._key = k; }
      update(el, it);
      return el;
    });
    Array.prototype.slice.call(parent.children).forEach(function (el) { if (want.indexOf(el) < 0) parent.removeChild(el); });
    want.forEach(function (el, i) { if (parent.children[i] !== el) parent.insertBefore(el, parent.children[i] || null); });
  }
  function fill(el) {  // el's content becomes the remaining arguments (text always as text)
    while (el.firstChild) el.removeChild(el.firstChild);
    for (var i = 1; i < arguments.length; i++) {
      var c = arguments[i];
      if (c === null || c === undefined || c === false) continue;
      el.appendChild(typeof c === "object" ? c : document.createTextNode(String(c)));
    }
  }
  var EMPTY = { empty: true };
  function emptyKey(it) { return it === EMPTY ? "empty" : null; }

  function render() {
    if (!panel || !data) return;
    var queues = data.queues || [];
    var since = (Date.now() - loadedAt) / 1000;
    sync(panel, queues.length ? queues : [EMPTY], function (q) { return emptyKey(q) || "team-" + q.team.id; },
      function (q) {
        if (q === EMPTY) return h("p", { class: "queue-empty" }, "No teams.");
        var sec = h("section", { class: "queue-team", "data-testid": "queue-team", "data-team-id": q.team.id });
        sec._title = h("h3", { class: "queue-team-name" });
        sec._waiting = h("ul", { class: "queue-list" });
        sec._agents = h("ul", { class: "queue-agents" });
        [sec._title, sec._waiting, h("h4", { class: "queue-sub" }, "Agents"), sec._agents].forEach(function (x) { sec.appendChild(x); });
        return sec;
      },
      function (sec, q) {
        if (q === EMPTY) return;
        fill(sec._title, q.team.name, h("span", { class: "queue-count", "data-testid": "queue-count" }, String(q.waiting.length) + " waiting"));
        sync(sec._waiting, q.waiting.length ? q.waiting : [EMPTY], function (w) { return emptyKey(w) || "c-" + w.conversation.id; },
          function (w) { return w === EMPTY ? h("li", { class: "queue-empty" }, "Nobody is waiting.") : waitingRow(); },
          function (li, w) { if (w !== EMPTY) updateWaitingRow(li, q, w, since); });
        sync(sec._agents, q.agents.length ? q.agents : [EMPTY], function (a) { return emptyKey(a) || "u-" + a.id; },
          function (a) {
            return a === EMPTY ? h("li", { class: "queue-empty" }, "No agents in this team.")
              : h("li", { "data-testid": "queue-agent", "data-user-id": a.id });
          },
          function (li, a) {
            if (a === EMPTY) return;
            li.className = "queue-agent" + (a.at_capacity ? " is-full" : "");
            fill(li, h("span", { class: "avail avail-" + a.availability, title: a.availability }),
              h("span", { class: "queue-agent-name" }, a.name),
              h("span", { class: "queue-agent-state" }, a.availability),
              h("span", { class: "queue-load", "data-testid": "queue-load", title: "Open chats / capacity" }, a.active_chats + " / " + a.capacity));
          });
      });
  }

  // A waiting conversation's card: its details (redrawn on each refresh) and its Assign to picker (kept).
  function waitingRow() {
    var li = h("li", { class: "queue-item", "data-testid": "queue-item" });
    li._info = h("div", { class: "queue-info" });
    var sel = h("select", { class: "queue-assign-to", "aria-label": "Assign to", "data-testid": "queue-assign-to" });
    var btn = h("button", { type: "button", class: "btn btn-sm btn-primary", "data-testid": "queue-assign" }, "Assign");
    li._select = sel;
    btn.addEventListener("click", function () {
      var uid = Number(sel.value);
      var id = li.getAttribute("data-id");
      if (!uid) { PC.toast("Pick an agent first.", "error"); sel.focus(); return; }
      btn.disabled = true;
      PC.api("POST", "/conversations/" + encodeURIComponent(id) + "/assign", { user_ids: [uid] }).then(function (conv) {
        PC.upsert(conv);
        PC.toast("Assigned to " + conv.assignees.map(function (a) { return a.name; }).join(", ") + ".", "ok");
        loadQueue();
      }, function (err) { btn.disabled = false; PC.report(err); });
    });
    li.appendChild(li._info);
    li.appendChild(h("div", { class: "queue-actions" }, sel, btn));
    return li;
  }
  function updateWaitingRow(li, q, w, since) {
    var c = w.conversation;
    var name = (c.contact && c.contact.name) || "Unknown contact";
    li.setAttribute("data-id", c.id);
    var lm = c.last_message;
    fill(li._info,
      h("div", { class: "queue-row" },
        h("span", { class: "queue-place", title: "Place in the queue" }, "#" + w.position),
        h("a", { href: "#c/" + c.id, class: "queue-name", "data-testid": "queue-open" }, name),
        h("span", { class: "queue-wait", title: "Waiting since " + (w.queued_at || "") }, waited(w.waiting_seconds + since))),
      lm ? h("div", { class: "queue-preview" }, String(lm.text || "").replace(/\s+/g, " ")) : null,
      w.offered_to ? h("div", { class: "queue-offer", "data-testid": "queue-offer" }, "Offered to " + w.offered_to.name) : null);
    // the picker's options are updated in place: the element, its focus and the chosen agent stay
    sync(li._select, [EMPTY].concat(q.agents), function (a) { return a === EMPTY ? "none" : "u-" + a.id; },
      function (a) { return h("option", { value: a === EMPTY ? "" : a.id }); },
      function (opt, a) {
        var text = a === EMPTY ? "Assign to…"
          : a.name + " · " + a.availability + " · " + a.active_chats + "/" + a.capacity + (a.at_capacity ? " (full)" : "");
        if (opt.textContent !== text) opt.textContent = text;
      });
  }

  // Live: the realtime listener's existing events reach supervisors' `all` room.
  function hook() {
    var socket = PC.socket;
    if (!socket) return;
    ["conversation", "conversation_removed", "availability", "notification", "connect"].forEach(function (ev) {
      socket.on(ev, scheduleQueue);
    });
  }
  hook();
  setInterval(function () { if (shown) render(); }, 15000); // waiting times keep counting
  ensurePanel();
  if (PC.state.view === "queue") { panel.hidden = false; shown = true; loadQueue(); }
})();
