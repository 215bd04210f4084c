/* Parley agent console. Plain JS, no build step.
 *
 * Everything customers (or anybody) typed is put into the page with textContent / createTextNode,
 * never innerHTML. The contract lives in docs/interfaces.md.
 */
(function () {
  "use strict";

  var MAX_LEN = 4096;
  var API = "/api/v1";
  var body = document.body;
  var ME = {
    id: Number(body.getAttribute("data-user-id")),
    name: body.getAttribute("data-user-name") || "",
    email: body.getAttribute("data-user-email") || "",
    role: body.getAttribute("data-user-role") || "agent",
    teams: null, // filled from GET /me
  };
  var csrfMeta = document.querySelector('meta[name="csrf-token"]');
  var CSRF = csrfMeta ? csrfMeta.getAttribute("content") || "" : "";

  var HANDOFF_REASONS = {
    customer_asked: "Customer asked for a person",
    out_of_scope: "Outside what the bot can handle",
    low_confidence: "Bot wasn't confident enough",
    repeated_fallback: "Bot still didn't understand after asking to rephrase",
    bot_error: "The bot failed (engine error)",
    policy: "A rule requires a person",
    no_grounded_answer: "No answer in the knowledge base",
  };
  var VIEWS = ["team", "mine", "bot", "active", "queue"];
  var BOSS_VIEWS = ["active", "queue"]; // supervisors and admins (supervisor.js draws the Queue view)
  var TILE_NAMES = { assigned_to_me: "Assigned to me", my_unreplied: "My unreplied", unassigned: "Unassigned",
    unreplied: "Unreplied", unread: "Unread" };
  var STATUSES = ["open", "closed"];

  // ------------------------------------------------------------------ state
  var state = {
    view: load("parley.view", "team", VIEWS),
    status: load("parley.status", "open", STATUSES),
    q: "",
    tile: null, // a dashboard tile's list (`filter=`), or null
    convs: new Map(), // id -> Conversation, only those that belong in the current list
    listSeq: 0,
    listLoaded: false,
    currentId: null,
    current: null,
    openSeq: 0,
    messages: new Map(), // id -> Message, of the open conversation
    mode: "reply",
    drafts: new Map(),
    users: null,
    usersAt: 0,
    counters: null,
    sending: false,
    packetCollapsed: load("parley.packetCollapsed", "0", ["0", "1"]) === "1",
  };

  if (BOSS_VIEWS.indexOf(state.view) >= 0 && !isBoss()) state.view = "team";
  function isBoss() { return ME.role === "admin" || ME.role === "supervisor"; }

  // ------------------------------------------------------------------ dom helpers
  function $(id) { return document.getElementById(id); }

  /** h("div", {class: "x", "data-id": 3}, "text", childNode, ...) - text always as text nodes. */
  function h(tag, attrs) {
    var el = document.createElement(tag);
    if (attrs) {
      for (var k in attrs) {
        if (!Object.prototype.hasOwnProperty.call(attrs, k)) continue;
        var v = attrs[k];
        if (v === null || v === undefined || v === false) continue;
        if (k === "class") el.className = v;
        else if (k === "text") el.textContent = String(v);
        else if (k.slice(0, 2) === "on" && typeof v === "function") el.addEventListener(k.slice(2), v);
        else el.setAttribute(k, v === true ? "" : String(v));
      }
    }
    for (var i = 2; i < arguments.length; i++) append(el, arguments[i]);
    return el;
  }
  function append(el, child) {
    if (child === null || child === undefined || child === false) return;
    if (Array.isArray(child)) { child.forEach(function (c) { append(el, c); }); return; }
    el.appendChild(typeof child === "object" ? child : document.createTextNode(String(child)));
  }
  function clear(el) { while (el.firstChild) el.removeChild(el.firstChild); }

  function load(key, dflt, allowed) {
    try {
      var v = window.localStorage.getItem(key);
      return allowed.indexOf(v) >= 0 ? v : dflt;
    } catch (e) { return dflt; }
  }
  function save(key, value) {
    try { window.localStorage.setItem(key, value); } catch (e) { /* storage may be blocked */ }
  }

  // ------------------------------------------------------------------ formatting
  function parseTime(iso) {
    if (!iso) return null;
    var t = Date.parse(iso);
    return isNaN(t) ? null : new Date(t);
  }
  function ts(iso) { var d = parseTime(iso); return d ? d.getTime() : 0; }
  function sameDay(a, b) {
    return a.getFullYear() === b.getFullYear() && a.getMonth() === b.getMonth() && a.getDate() === b.getDate();
  }
  function fmtClock(iso) {
    var d = parseTime(iso);
    return d ? d.toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" }) : "";
  }
  function fmtFull(iso) {
    var d = parseTime(iso);
    return d ? d.toLocaleString([], { dateStyle: "medium", timeStyle: "short" }) : "";
  }
  function fmtListTime(iso) {
    var d = parseTime(iso);
    if (!d) return "";
    var now = new Date();
    if (sameDay(d, now)) return fmtClock(iso);
    var y = new Date(now); y.setDate(now.getDate() - 1);
    if (sameDay(d, y)) return "Yesterday";
    if (now - d < 6 * 864e5) return d.toLocaleDateString([], { weekday: "short" });
    if (d.getFullYear() === now.getFullYear()) return d.toLocaleDateString([], { month: "short", day: "numeric" });
    return d.toLocaleDateString([], { year: "numeric", month: "short", day: "numeric" });
  }
  function fmtDay(iso) {
    var d = parseTime(iso);
    if (!d) return "";
    var now = new Date();
    if (sameDay(d, now)) return "Today";
    var y = new Date(now); y.setDate(now.getDate() - 1);
    if (sameDay(d, y)) return "Yesterday";
    return d.toLocaleDateString([], { weekday: "long", month: "long", day: "numeric", year: d.getFullYear() === now.getFullYear() ? undefined : "numeric" });
  }
  function fmtAgo(iso) {
    var d = parseTime(iso);
    if (!d) return "";
    var s = Math.max(0, (Date.now() - d.getTime()) / 1000);
    if (s < 60) return "just now";
    if (s < 3600) return Math.floor(s / 60) + "m";
    if (s < 86400) return Math.floor(s / 3600) + "h";
    return Math.floor(s / 86400) + "d";
  }
  function pct(x) {
    if (typeof x !== "number" || isNaN(x)) return "–";
    return Math.round(x * 100) + "%";
  }
  function reasonWords(code) {
    if (!code) return "Handed off";
    if (HANDOFF_REASONS[code]) return HANDOFF_REASONS[code];
    var s = String(code).replace(/[_-]+/g, " ").trim();
    return s.charAt(0).toUpperCase() + s.slice(1);
  }
  var SVG_NS = "http://www.w3.org/2000/svg";
  var ICONS = {
    bot: "M20 9V7c0-1.1-.9-2-2-2h-3c0-1.66-1.34-3-3-3S9 3.34 9 5H6c-1.1 0-2 .9-2 2v2c-1.66 0-3 1.34-3 3s1.34 3 3 3v4c0 1.1.9 2 2 2h12c1.1 0 2-.9 2-2v-4c1.66 0 3-1.34 3-3s-1.34-3-3-3zM7.5 11.5c0-.83.67-1.5 1.5-1.5s1.5.67 1.5 1.5S9.83 13 9 13s-1.5-.67-1.5-1.5zM16 17H8v-2h8v2zm-1-4c-.83 0-1.5-.67-1.5-1.5S14.17 10 15 10s1.5.67 1.5 1.5S15.83 13 15 13z",
    clock: "M11.99 2C6.47 2 2 6.48 2 12s4.47 10 9.99 10C17.52 22 22 17.52 22 12S17.52 2 11.99 2zM12 20c-4.42 0-8-3.58-8-8s3.58-8 8-8 8 3.58 8 8-3.58 8-8 8zm.5-13H11v6l5.25 3.15.75-1.23-4.5-2.67z",
    lock: "M18 8h-1V6c0-2.76-2.24-5-5-5S7 3.24 7 6v2H6c-1.1 0-2 .9-2 2v10c0 1.1.9 2 2 2h12c1.1 0 2-.9 2-2V10c0-1.1-.9-2-2-2zM9 6c0-1.66 1.34-3 3-3s3 1.34 3 3v2H9V6zm9 14H6V10h12v10zm-6-3c1.1 0 2-.9 2-2s-.9-2-2-2-2 .9-2 2 .9 2 2 2z",
  };
  /** A small inline SVG icon (no emoji: they depend on the system's fonts). */
  function icon(name) {
    var svg = document.createElementNS(SVG_NS, "svg");
    svg.setAttribute("viewBox", "0 0 24 24");
    svg.setAttribute("class", "ic");
    svg.setAttribute("aria-hidden", "true");
    var p = document.createElementNS(SVG_NS, "path");
    p.setAttribute("d", ICONS[name]);
    p.setAttribute("fill", "currentColor");
    svg.appendChild(p);
    return svg;
  }
  function cap(s) { s = String(s || ""); return s.charAt(0).toUpperCase() + s.slice(1); }
  function charLen(s) { return Array.from(s).length; } // code points, like the server's len()

  function initials(name) {
    var words = String(name || "?").trim().split(/\s+/).filter(Boolean);
    if (!words.length) return "?";
    var a = Array.from(words[0]);
    if (words.length === 1) return a.slice(0, 2).join("");
    return a[0] + Array.from(words[1])[0];
  }
  var AVATAR_COLORS = ["#6366f1", "#0ea5e9", "#14b8a6", "#22c55e", "#f59e0b", "#ef4444", "#ec4899", "#8b5cf6", "#64748b", "#0891b2"];
  function colorFor(key) {
    var s = String(key), hash = 0;
    for (var i = 0; i < s.length; i++) hash = (hash * 31 + s.charCodeAt(i)) | 0;
    return AVATAR_COLORS[Math.abs(hash) % AVATAR_COLORS.length];
  }
  function avatar(name, key, cls) {
    var el = h("span", { class: "avatar" + (cls ? " " + cls : ""), title: name || "", "aria-hidden": "true" }, initials(name));
    el.style.background = colorFor(key === undefined ? name : key);
    return el;
  }
  function paintAvatar(el, name, key) {
    el.textContent = initials(name);
    el.style.background = colorFor(key === undefined ? name : key);
    el.setAttribute("title", name || "");
  }

  // ------------------------------------------------------------------ toasts
  function toast(message, kind) {
    var box = $("toasts");
    var el = h("div", { class: "toast" + (kind ? " toast-" + kind : ""), role: kind === "error" ? "alert" : "status", "data-testid": "toast" }, message);
    el.addEventListener("click", function () { el.remove(); });
    box.appendChild(el);
    while (box.children.length > 4) box.removeChild(box.firstChild);
    setTimeout(function () { el.remove(); }, kind === "error" ? 7000 : 3500);
  }

  // ------------------------------------------------------------------ api
  var loggedOut = false;
  function handleLoggedOut() {
    if (loggedOut) return;
    loggedOut = true;
    toast("Your session has ended. Taking you to the sign-in page…", "error");
    setTimeout(function () { window.location.href = "/login"; }, 1500);
  }
  function pageExpired() {
    // Signed in again elsewhere: this page's CSRF token is stale. A reload picks up the new one.
    if (loggedOut) return;
    loggedOut = true;
    toast("This page has expired. Reloading…", "error");
    setTimeout(function () { window.location.reload(); }, 1200);
  }
  function ApiError(status, code, message) {
    var e = new Error(message);
    e.status = status; e.code = code;
    return e;
  }
  var STATUS_MESSAGES = {
    400: "The request was not accepted.", 401: "You are not signed in.", 403: "You are not allowed to do that.",
    404: "Not found.", 409: "Someone changed this at the same time. Try again.", 413: "Message too long.",
    422: "That change is not possible in the conversation's current state.", 429: "Too many requests. Slow down a little.",
  };
  function api(method, path, payload) {
    var opts = { method: method, credentials: "same-origin", headers: { Accept: "application/json" } };
    if (method !== "GET") {
      opts.headers["Content-Type"] = "application/json";
      opts.headers["X-CSRF-Token"] = CSRF;
      opts.body = JSON.stringify(payload === undefined ? {} : payload);
    }
    return fetch(API + path, opts).then(
      function (res) {
        if (res.status === 204) return null;
        return res.text().then(function (raw) {
          var data = null;
          try { data = raw ? JSON.parse(raw) : null; } catch (e) { data = null; }
          if (!res.ok) {
            var err = (data && data.error) || {};
            if (res.status === 401 && err.code === "csrf") pageExpired();
            else if (res.status === 401) handleLoggedOut();
            throw ApiError(res.status, err.code || "http_" + res.status,
              err.message || STATUS_MESSAGES[res.status] || "Something went wrong (HTTP " + res.status + ").");
          }
          return data;
        });
      },
      function () { throw ApiError(0, "network", "Can't reach the server. Check your connection."); }
    );
  }
  function report(err) {
    if (err && err.status === 401) return; // handled by the redirect
    toast((err && err.message) || "Something went wrong.", "error");
  }

  // ------------------------------------------------------------------ counters
  var TILE_KEYS = ["assigned_to_me", "my_unreplied", "unassigned", "unreplied", "unread"];
  function renderCounters(c) {
    if (!c) return;
    state.counters = c;
    TILE_KEYS.forEach(function (k) {
      var el = $("tile-" + k);
      var n = Number(c[k]) || 0;
      el.textContent = String(n);
      var tile = el.closest(".tile");
      if (tile && tile.classList.contains("tile-alert")) tile.classList.toggle("is-hot", n > 0);
    });
    var mine = Number(c.my_unreplied) || 0;
    document.title = mine > 0 ? "(" + mine + ") Parley" : "Parley";
  }
  function loadCounters() {
    return api("GET", "/counters").then(renderCounters, report);
  }

  // ------------------------------------------------------------------ list
  function isMine(conv) {
    return (conv.assignees || []).some(function (a) { return Number(a.id) === ME.id; });
  }
  function inMyTeams(conv) {
    if (ME.role === "admin" || ME.role === "supervisor") return true;
    if (!ME.teams || !conv.team) return true;
    if (isMine(conv)) return true;
    return ME.teams.some(function (t) { return Number(t.id) === Number(conv.team.id); });
  }
  function matchesQuery(conv) {
    var q = state.q.toLowerCase();
    if (!q) return true;
    var hay = [conv.id, conv.name, conv.contact && conv.contact.name, conv.last_message && conv.last_message.text]
      .filter(Boolean).join("\n").toLowerCase();
    return hay.indexOf(q) >= 0;
  }
  /** Does this conversation belong in the list as currently filtered? */
  function belongs(conv) {
    if (state.view === "queue") return false;
    if (conv.status !== listStatus()) return false;
    if (state.inbox && Number(conv.inbox_id) !== Number(state.inbox)) return false;
    if (state.tile && !inTile(conv)) return false;
    if (state.view === "active") { /* every open conversation the server lets us hear of */ }
    else if (state.view === "bot") { if (conv.owner !== "bot") return false; }
    else if (state.view === "mine") { if (!isMine(conv)) return false; }
    else if (conv.owner !== "human" || !inMyTeams(conv)) return false;
    // The server decided what matched the search; only judge newcomers here.
    return state.convs.has(conv.id) || matchesQuery(conv);
  }
  /** The dashboard tiles' rules (models/conversations/inbox.py `tile_condition`), for live updates. */
  function inTile(c) {
    var human = c.owner === "human" && c.status === "open";
    if (state.tile === "unassigned") return human && !(c.assignees || []).length;
    if (state.tile === "assigned_to_me") return c.status === "open" && isMine(c);
    if (state.tile === "unreplied") return human && Number(c.unreplied) > 0;
    if (state.tile === "my_unreplied") return human && isMine(c) && Number(c.unreplied) > 0;
    if (state.tile === "unread") return human && Number(c.unread) > 0;
    return true;
  }
  function listStatus() { return state.view === "active" ? "open" : state.status; }
  function sortedConvs() {
    return Array.from(state.convs.values()).sort(function (a, b) {
      return ts(b.last_activity_at) - ts(a.last_activity_at) || (a.id < b.id ? -1 : 1);
    });
  }

  function loadList() {
    var seq = ++state.listSeq;
    var list = $("conv-list");
    if (state.view === "queue") { setListState(null); return Promise.resolve(); } // supervisor.js
    if (!state.listLoaded) setListState("Loading…");
    var qs = "?view=" + encodeURIComponent(state.view) + "&status=" + encodeURIComponent(listStatus());
    if (state.tile) qs += "&filter=" + encodeURIComponent(state.tile);
    if (state.q) qs += "&q=" + encodeURIComponent(state.q);
    if (state.inbox) qs += "&inbox_id=" + encodeURIComponent(state.inbox); // console_inboxes.js
    return api("GET", "/conversations" + qs).then(function (data) {
      if (seq !== state.listSeq) return;
      state.listLoaded = true;
      state.convs = new Map();
      clear(list);
      itemEls = new Map();
      ((data && data.conversations) || []).forEach(function (c) { state.convs.set(c.id, c); });
      renderList();
    }, function (err) {
      if (seq !== state.listSeq) return;
      setListState("Couldn't load conversations.");
      report(err);
    });
  }
  function setListState(text) {
    var el = $("list-state");
    if (text) { el.textContent = text; el.hidden = false; } else { el.hidden = true; }
  }

  var itemEls = new Map();
  function renderList() {
    var list = $("conv-list");
    var convs = sortedConvs();
    var keep = new Set();
    convs.forEach(function (c, i) {
      keep.add(c.id);
      var el = renderItem(c, itemEls.get(c.id));
      itemEls.set(c.id, el);
      if (list.children[i] !== el) list.insertBefore(el, list.children[i] || null);
    });
    itemEls.forEach(function (el, id) {
      if (!keep.has(id)) { el.remove(); itemEls.delete(id); }
    });
    if (!convs.length && state.view !== "queue") {
      var what = state.view === "bot" ? "bot" : state.view === "mine" ? "of your" : state.view === "active" ? "" : "team";
      setListState(state.q ? "No conversations match “" + state.q + "”." : state.tile ? "Nothing in " + TILE_NAMES[state.tile] + "." :
        "No " + listStatus() + " " + (what ? what + " " : "") + "conversations.");
    } else setListState(null);
  }

  function renderItem(c, el) {
    if (!el) {
      el = h("li", { class: "conv-item", tabindex: "0", role: "button", "data-testid": "conv-item" });
      el.addEventListener("click", function () { navigateTo(el.getAttribute("data-id")); });
      el.addEventListener("keydown", function (e) {
        if (e.key === "Enter" || e.key === " ") { e.preventDefault(); navigateTo(el.getAttribute("data-id")); }
        else if (e.key === "ArrowDown" && el.nextElementSibling) { e.preventDefault(); el.nextElementSibling.focus(); }
        else if (e.key === "ArrowUp" && el.previousElementSibling) { e.preventDefault(); el.previousElementSibling.focus(); }
      });
    }
    el.setAttribute("data-id", c.id);
    el.setAttribute("data-status", c.status);
    el.setAttribute("data-owner", c.owner);
    el.classList.toggle("is-selected", c.id === state.currentId);
    el.classList.toggle("is-unread", (Number(c.unread) || 0) > 0);
    clear(el);

    var contact = c.contact || {};
    var name = contact.name || "Unknown contact";
    var dot = h("span", { class: "presence-dot" + (contact.online ? " is-online" : ""), title: contact.online ? "Online" : "Offline", "data-testid": "presence" });
    var av = h("span", { class: "avatar-wrap" }, avatar(name, "c" + contact.id), dot);

    var lm = c.last_message;
    var preview = h("span", { class: "conv-preview" });
    if (lm) {
      var who = lm.sender_type === "bot" ? "Bot: " : lm.sender_type === "agent" ? "Agent: " : lm.sender_type === "system" ? "" : "";
      if (who) preview.appendChild(h("span", { class: "preview-who" }, who));
      preview.appendChild(document.createTextNode(String(lm.text || "").replace(/\s+/g, " ")));
    } else {
      preview.appendChild(h("span", { class: "preview-who" }, "No messages yet"));
    }
    var unreplied = Number(c.unreplied) || 0;
    var unread = Number(c.unread) || 0;

    var meta = h("div", { class: "conv-meta" },
      h("span", { class: "tag tag-channel", title: "Channel" }, channelLabel(c.channel)),
      c.team ? h("span", { class: "tag tag-team", title: "Team" }, c.team.name) : null,
      c.customer_status && c.customer_status.state === "never_joined" ? h("span", { class: "tag tag-never-joined", title: "Invited, has not opened the link yet", "data-testid": "never-joined" }, "Never joined") : null,
      c.owner === "human" && c.status === "open" && c.waiting_since
        ? h("span", { class: "tag tag-waiting", title: "Waiting since " + fmtFull(c.waiting_since) }, icon("clock"), fmtAgo(c.waiting_since))
        : null,
      c.owner === "bot" && state.view !== "bot" ? h("span", { class: "tag tag-bot" }, icon("bot"), "Bot") : null,
      c.owner === "bot" && !(c.assignees || []).length ? null : assigneeStack(c.assignees || [])
    );

    el.appendChild(av);
    el.appendChild(h("div", { class: "conv-main" },
      h("div", { class: "conv-row" },
        h("span", { class: "conv-name-sm", "data-testid": "conv-item-name" }, c.name ? c.name + " · " + name : name),
        h("span", { class: "conv-time", title: fmtFull(c.last_activity_at) }, fmtListTime(c.last_activity_at))),
      h("div", { class: "conv-row" }, preview,
        unread > 0 ? h("span", { class: "badge badge-unread", title: unread + " unread", "data-testid": "unread-badge" }, String(unread)) : null,
        unreplied > 0 ? h("span", { class: "badge", title: unreplied + " unreplied", "data-testid": "unreplied-badge" }, String(unreplied)) : null),
      meta));
    return el;
  }
  function assigneeStack(list) {
    if (!list.length) return h("span", { class: "stack" }, h("span", { class: "preview-who" }, "Unassigned"));
    var stack = h("span", { class: "stack", title: list.map(function (a) { return a.name; }).join(", ") });
    list.slice(0, 3).forEach(function (a) { stack.appendChild(avatar(a.name, "u" + a.id, "avatar-xs")); });
    if (list.length > 3) stack.appendChild(h("span", { class: "avatar avatar-xs", "aria-hidden": "true" }, "+" + (list.length - 3)));
    return stack;
  }
  function channelLabel(ch) {
    var m = { webchat: "Webchat", whatsapp: "WhatsApp", sms: "SMS", whatsapp_cloud: "WhatsApp" };
    return m[ch] || cap(ch || "unknown");
  }

  /** The caller may no longer see it (restricted to others, moved to another team). */
  function removeConversation(id) {
    state.convs.delete(id);
    renderList();
    if (id === state.currentId) { closeConversation(); location.hash = ""; }
  }

  /** Apply a Conversation (socket event or API answer) everywhere it shows. */
  function upsertConversation(conv) {
    if (!conv || !conv.id) return;
    if (conv.unread === undefined) { // broadcasts leave the per-user figure out: keep ours, and ask (supervisor.js)
      var known = state.convs.get(conv.id) || (state.current && state.current.id === conv.id ? state.current : null);
      conv.unread = known ? known.unread : 0;
      (window.ParleyConsole.onStale || []).forEach(function (fn) { fn(conv); });
    }
    if (belongs(conv)) state.convs.set(conv.id, conv);
    else state.convs.delete(conv.id);
    renderList();
    if (conv.id === state.currentId) {
      state.current = conv;
      renderConversationChrome();
    }
  }

  // ------------------------------------------------------------------ view / filters
  function setView(view, tile) {
    if (VIEWS.indexOf(view) < 0 || (BOSS_VIEWS.indexOf(view) >= 0 && !isBoss())) return;
    state.view = view; save("parley.view", view);
    state.tile = tile || null;
    paintFilters();
    resetList();
    loadList();
  }
  function setStatus(status) {
    if (STATUSES.indexOf(status) < 0) return;
    state.status = status; save("parley.status", status);
    paintFilters();
    resetList();
    loadList();
  }
  function resetList() {
    state.listLoaded = false;
    state.convs = new Map();
    itemEls = new Map();
    clear($("conv-list"));
  }
  function paintFilters() {
    var chip = $("tile-filter");
    if (chip) {
      chip.hidden = !state.tile;
      $("tile-filter-name").textContent = state.tile ? TILE_NAMES[state.tile] : "";
    }
    document.querySelectorAll(".tile[data-tile]").forEach(function (t) {
      t.classList.toggle("is-active", t.getAttribute("data-tile") === state.tile);
    });
    $("workspace").setAttribute("data-view", state.view);
    (window.ParleyConsole.onView || []).forEach(function (fn) { fn(state.view); });
    document.querySelectorAll(".view-tab").forEach(function (b) {
      var on = b.getAttribute("data-view") === state.view;
      b.classList.toggle("is-active", on);
      b.setAttribute("aria-selected", on ? "true" : "false");
    });
    document.querySelectorAll(".seg[data-status]").forEach(function (b) {
      var on = b.getAttribute("data-status") === state.status;
      b.classList.toggle("is-active", on);
      b.setAttribute("aria-pressed", on ? "true" : "false");
    });
  }

  // ------------------------------------------------------------------ conversation
  function navigateTo(id) {
    if (!id) return;
    if (location.hash !== "#c/" + id) location.hash = "c/" + id; // hashchange opens it
    else openConversation(id);
  }
  function routeFromHash() {
    var m = /^#c\/(.+)$/.exec(location.hash || "");
    if (m) {
      var id = decodeURIComponent(m[1]);
      if (id !== state.currentId) openConversation(id);
    } else if (state.currentId) {
      closeConversation();
    }
  }

  function saveDraft() {
    if (state.currentId) state.drafts.set(state.currentId, $("reply-input").value);
  }

  function openConversation(id) {
    saveDraft();
    var seq = ++state.openSeq;
    state.currentId = id;
    state.current = state.convs.get(id) || null;
    state.messages = new Map();
    closePicker();
    $("empty-state").hidden = true;
    $("conv-pane").hidden = false;
    $("workspace").setAttribute("data-pane", "conv");
    $("details-empty").hidden = true;
    $("details-body").hidden = !state.current;
    $("composer-error").textContent = "";
    $("reply-input").value = state.drafts.get(id) || "";
    setMode("reply");
    updateCounter();
    itemEls.forEach(function (el, key) { el.classList.toggle("is-selected", key === id); });
    renderConversationChrome();
    var box = $("messages");
    clear(box);
    box.appendChild(h("div", { class: "day-sep" }, "Loading messages…"));

    return Promise.all([
      api("GET", "/conversations/" + encodeURIComponent(id)),
      api("GET", "/conversations/" + encodeURIComponent(id) + "/messages"),
    ]).then(function (res) {
      if (seq !== state.openSeq) return;
      var conv = res[0], msgs = (res[1] && res[1].messages) || [];
      state.current = conv;
      if (state.convs.has(conv.id) || belongs(conv)) upsertConversation(conv);
      msgs.forEach(function (m) { state.messages.set(m.id, m); });
      renderConversationChrome();
      renderMessages(true);
      markRead();
      if (window.matchMedia("(min-width: 761px)").matches) $("reply-input").focus({ preventScroll: true });
    }, function (err) {
      if (seq !== state.openSeq) return;
      report(err);
      if (err.status === 404 || err.status === 403) {
        history.replaceState(null, "", location.pathname + location.search);
        closeConversation();
      } else {
        clear(box);
        box.appendChild(h("div", { class: "day-sep" }, "Couldn't load this conversation."));
      }
    });
  }

  function closeConversation() {
    saveDraft();
    state.openSeq++;
    state.currentId = null;
    state.current = null;
    state.messages = new Map();
    closePicker();
    $("conv-pane").hidden = true;
    $("empty-state").hidden = false;
    $("details-body").hidden = true;
    $("details-empty").hidden = false;
    $("workspace").setAttribute("data-pane", "list");
    $("workspace").classList.remove("show-details");
    itemEls.forEach(function (el) { el.classList.remove("is-selected"); });
  }

  /** Refetch the open conversation (after a reconnect) and merge what we missed. */
  function refreshCurrent() {
    var id = state.currentId;
    if (!id) return;
    var seq = state.openSeq;
    Promise.all([
      api("GET", "/conversations/" + encodeURIComponent(id)),
      api("GET", "/conversations/" + encodeURIComponent(id) + "/messages"),
    ]).then(function (res) {
      if (seq !== state.openSeq || id !== state.currentId) return;
      state.current = res[0];
      ((res[1] && res[1].messages) || []).forEach(function (m) { state.messages.set(m.id, m); });
      renderConversationChrome();
      renderMessages(false);
    }, function () { /* the list refresh reports errors */ });
  }

  var readTimer = null;
  function markRead() {
    var id = state.currentId;
    if (!id || document.visibilityState === "hidden") return;
    clearTimeout(readTimer);
    readTimer = null;
    api("POST", "/conversations/" + encodeURIComponent(id) + "/read").then(function () {
      var c = state.convs.get(id);
      if (c && c.unread) { c.unread = 0; renderList(); }
      if (state.current && state.current.id === id) state.current.unread = 0;
    }, function (err) { if (err.status !== 404) report(err); });
  }
  function scheduleRead() {
    clearTimeout(readTimer);
    readTimer = setTimeout(markRead, 700);
  }

  // --- header, packet, details
  function renderConversationChrome() {
    var c = state.current;
    if (!c) {
      $("conv-name").textContent = state.currentId ? "Loading…" : "";
      clear($("conv-chips"));
      $("handoff-packet").hidden = true;
      ["btn-close", "btn-reopen", "btn-return-bot"].forEach(function (b) { $(b).hidden = true; });
      return;
    }
    var contact = c.contact || {};
    var name = contact.name || "Unknown contact";
    $("conv-name").textContent = c.name ? c.name + " · " + name : name;
    $("conv-name").setAttribute("title", c.name ? c.name + " · " + name : name);
    paintAvatar($("conv-avatar"), name, "c" + contact.id);
    paintPresence($("conv-presence"), contact.online);

    var chips = $("conv-chips");
    clear(chips);
    chips.appendChild(h("span", { class: "chip chip-" + c.status, "data-testid": "chip-status" }, c.status));
    chips.appendChild(h("span", { class: "chip chip-" + c.owner, "data-testid": "chip-owner" }, c.owner === "bot" ? [icon("bot"), "Bot"] : "Human"));
    if (c.phase) chips.appendChild(h("span", { class: "chip chip-phase chip-phase-" + c.phase, "data-testid": "chip-phase" }, c.phase));
    chips.appendChild(h("span", { class: "chip" }, channelLabel(c.channel)));

    $("btn-close").hidden = c.status !== "open";
    $("btn-reopen").hidden = c.status !== "closed";
    $("btn-return-bot").hidden = !(c.status === "open" && c.owner === "human");

    var hint = "";
    if (c.status === "closed") hint = "This conversation is closed.";
    else if (c.owner === "bot") hint = "The bot is handling this conversation.";
    $("composer-hint").textContent = hint;

    renderPacket(c.handoff, c.owner === "bot");
    renderDetails(c);
    // Other panels (routing.js: accept, transfer, journey) follow the open conversation.
    (window.ParleyConsole.onChrome || []).forEach(function (fn) { fn(c); });
  }
  function paintPresence(el, online) {
    el.classList.toggle("is-online", !!online);
    el.setAttribute("title", online ? "Online" : "Offline");
  }

  function renderPacket(p, past) {
    var box = $("handoff-packet");
    clear(box);
    if (!p) { box.hidden = true; return; }
    box.hidden = false;
    box.classList.toggle("is-collapsed", state.packetCollapsed);
    box.classList.toggle("is-past", !!past); // the bot owns it again: an earlier handoff
    var toggle = h("button", { type: "button", class: "hp-toggle", "aria-expanded": state.packetCollapsed ? "false" : "true",
      title: state.packetCollapsed ? "Show the handoff details" : "Hide the handoff details" }, state.packetCollapsed ? "Show" : "Hide");
    toggle.addEventListener("click", function () {
      state.packetCollapsed = !state.packetCollapsed;
      save("parley.packetCollapsed", state.packetCollapsed ? "1" : "0");
      renderPacket(p, past);
    });
    box.appendChild(h("div", { class: "hp-head" },
      h("span", { class: "hp-label" }, past ? "Earlier handoff" : "Handoff"),
      h("span", { class: "hp-reason", "data-testid": "handoff-reason", "data-reason": p.reason || "" }, reasonWords(p.reason)),
      h("span", { class: "hp-time", title: fmtFull(p.created_at) }, p.created_at ? fmtListTime(p.created_at) + " · " + fmtAgo(p.created_at) + (fmtAgo(p.created_at) === "just now" ? "" : " ago") : ""),
      toggle));
    box.appendChild(h("div", { class: "hp-facts" },
      h("span", null, "Intent ", h("b", { class: "mono" }, p.intent || "–")),
      h("span", null, "Confidence ", h("b", null, pct(p.confidence)))));
    if (p.summary) box.appendChild(h("p", { class: "hp-summary", "data-testid": "handoff-summary" }, p.summary));
    var ranking = (p.ranking || []).slice(0, 4);
    if (ranking.length > 1) {
      var r = h("div", { class: "hp-ranking", title: "What else the bot considered" });
      ranking.forEach(function (x) { r.appendChild(h("span", { class: "tag mono" }, x.name + " " + pct(x.confidence))); });
      box.appendChild(r);
    }
    // Every bot stage's view (e.g. the intent engine's guess, then what the LLM agent searched and found).
    var stages = p.stages || [];
    if (stages.length > 1 || (stages[0] && stages[0].details && stages[0].details.searches)) {
      var st = h("div", { class: "hp-stages", "data-testid": "handoff-stages" });
      stages.forEach(function (v) {
        var searched = ((v.details && v.details.searches) || []).map(function (x) { return "“" + x.query + "” → " + x.hits.length; });
        st.appendChild(h("span", null, h("b", { class: "mono" }, v.engine), " " + (v.intent || "–") + " " + pct(v.confidence) +
          (v.reason ? " · " + reasonWords(v.reason) : " · answered") + (searched.length ? " · searched " + searched.join(", ") : "")));
      });
      box.appendChild(st);
    }
  }

  function renderDetails(c) {
    $("details-body").hidden = false;
    $("details-empty").hidden = true;
    var contact = c.contact || {};
    var name = contact.name || "Unknown contact";
    paintAvatar($("contact-avatar"), name, "c" + contact.id);
    paintPresence($("contact-presence"), contact.online);
    $("contact-name").textContent = name;
    var meta = $("contact-meta");
    clear(meta);
    meta.appendChild(h("span", { "data-testid": "contact-online" }, contact.online ? "Online now" : "Offline"));
    meta.appendChild(document.createTextNode(" · " + channelLabel(c.channel) + (contact.id != null ? " · #" + contact.id : "")));

    var ul = $("assignees");
    clear(ul);
    var list = c.assignees || [];
    if (!list.length) ul.appendChild(h("li", { class: "assignees-empty" }, "Nobody yet"));
    list.forEach(function (a) {
      ul.appendChild(h("li", { class: "assignee", "data-testid": "assignee", "data-user-id": a.id },
        avatar(a.name, "u" + a.id, "avatar-sm"),
        h("span", { class: "assignee-name", title: a.email || "" }, a.name + (Number(a.id) === ME.id ? " (you)" : "")),
        h("button", { type: "button", class: "assignee-remove", title: "Remove " + a.name, "aria-label": "Remove " + a.name,
          onclick: function () { assign(list.filter(function (x) { return x.id !== a.id; }).map(function (x) { return x.id; })); } }, "×")));
    });
    $("assign-me").hidden = isMine(c);

    var props = $("conv-props");
    clear(props);
    function row(k, v, cls) { if (v === null || v === undefined || v === "") return; props.appendChild(h("dt", null, k)); props.appendChild(h("dd", { class: cls || null }, v)); }
    row("Status", cap(c.status));
    row("Owner", c.owner === "bot" ? "Bot" : "Human");
    row("Phase", c.phase ? cap(c.phase) : "—");
    row("Team", c.team ? c.team.name : "—");
    row("Channel", channelLabel(c.channel));
    row("Unreplied", String(Number(c.unreplied) || 0));
    if (c.waiting_since) row("Waiting", fmtAgo(c.waiting_since) + " (since " + fmtClock(c.waiting_since) + ")");
    row("Last activity", fmtFull(c.last_activity_at));
    row("Started", fmtFull(c.created_at));
    row("ID", c.id, "mono");
  }

  // --- messages
  function sortedMessages() {
    return Array.from(state.messages.values()).sort(function (a, b) {
      return ts(a.created_at) - ts(b.created_at) || (Number(a.id) - Number(b.id));
    });
  }
  function nearBottom(box) { return box.scrollHeight - box.scrollTop - box.clientHeight < 120; }

  function renderMessages(scrollToEnd) {
    var box = $("messages");
    var stick = scrollToEnd || nearBottom(box);
    clear(box);
    var lastDay = null;
    var list = sortedMessages();
    if (!list.length) box.appendChild(h("div", { class: "day-sep" }, "No messages yet."));
    list.forEach(function (m) {
      var day = fmtDay(m.created_at);
      if (day !== lastDay) { box.appendChild(h("div", { class: "day-sep" }, day)); lastDay = day; }
      box.appendChild(renderMessage(m));
    });
    box.setAttribute("data-last-day", lastDay || "");
    if (stick) box.scrollTop = box.scrollHeight;
  }

  // Delivery only moves forward; a failed one may start again (an agent's retry). A copy of a message
  // that arrives late (the POST's answer after the socket's "sent") must not undo a newer status.
  // "Queued" after "failed" is a retry only when this console asked for one (`retrying`); otherwise it is
  // a copy read before the failure and delivered after it (the POST's answer, or a push from the request's
  // thread overtaken by the delivery worker's), and it would hide the error and its Retry button.
  var DELIVERY_RANK = { failed: -1, queued: 0, sent: 1, delivered: 3, read: 4 };
  var retrying = new Set();
  function staleCopy(old, m) {
    if (!old || !old.delivery_status || !m.delivery_status || old.delivery_status === m.delivery_status) return false;
    var a = DELIVERY_RANK[old.delivery_status], b = DELIVERY_RANK[m.delivery_status];
    if (a === undefined || b === undefined) return false;
    if (m.delivery_status === "failed") return a >= 3;
    if (old.delivery_status === "failed" && m.delivery_status === "queued") return !retrying.has(m.id);
    return b < a;
  }
  function addMessage(m) {
    if (!m || m.id === undefined || m.id === null) return;
    var existed = state.messages.has(m.id);
    if (existed && staleCopy(state.messages.get(m.id), m)) return;
    if (m.delivery_status !== "queued") retrying.delete(m.id);
    state.messages.set(m.id, m);
    var box = $("messages");
    if (existed) {
      var old = box.querySelector('[data-testid="message"][data-id="' + cssEscape(String(m.id)) + '"]');
      if (old) old.replaceWith(renderMessage(m));
      return;
    }
    var list = sortedMessages();
    if (list[list.length - 1] !== m || box.querySelector(".day-sep:only-child")) { renderMessages(m.sender_type === "agent"); return; }
    var stick = nearBottom(box) || (m.sender_type === "agent" && m.author && Number(m.author.id) === ME.id);
    var day = fmtDay(m.created_at);
    if (day !== box.getAttribute("data-last-day")) {
      box.appendChild(h("div", { class: "day-sep" }, day));
      box.setAttribute("data-last-day", day);
    }
    box.appendChild(renderMessage(m));
    if (stick) box.scrollTop = box.scrollHeight;
  }
  function cssEscape(s) { return window.CSS && CSS.escape ? CSS.escape(s) : s.replace(/["\\]/g, "\\$&"); }

  function renderMessage(m) {
    var sender = m.sender_type || (m.direction === "in" ? "contact" : "agent");
    var side = sender === "system" ? "system" : sender === "contact" ? "in" : "out";
    var cls = "msg msg-" + side + " msg-" + sender + (m.private ? " msg-private" : "");
    var el = h("div", { class: cls, "data-testid": "message", "data-sender": sender, "data-id": m.id, "data-private": m.private ? "true" : "false" });

    var meta = h("div", { class: "msg-meta" });
    if (m.private) meta.appendChild(h("span", { class: "note-label" }, icon("lock"), "Private note"));
    if (sender === "contact") {
      var c = state.current && state.current.contact;
      meta.appendChild(h("span", { class: "msg-author" }, (m.author && m.author.name) || (c && c.name) || "Customer"));
    } else if (sender === "bot") {
      meta.appendChild(h("span", { class: "bot-label", "data-testid": "bot-label" }, icon("bot"), "Bot"));
    } else if (sender === "agent") {
      meta.appendChild(h("span", { class: "msg-author" }, m.author ? (Number(m.author.id) === ME.id ? "You" : m.author.name) : "Agent"));
    }
    if (m.bot && (m.bot.intent || typeof m.bot.confidence === "number")) {
      var nlu = (m.bot.intent || "?") + " · " + pct(m.bot.confidence);
      if (m.bot.decision === "handoff") nlu += " · handoff";
      meta.appendChild(h("span", { class: "bot-nlu", title: "Intent · confidence", "data-testid": "bot-nlu" }, nlu));
    }
    if (sender !== "system") meta.appendChild(h("span", { title: fmtFull(m.created_at) }, fmtClock(m.created_at)));
    if (sender !== "system") el.appendChild(meta);

    el.appendChild(h("div", { class: "bubble", title: sender === "system" ? fmtFull(m.created_at) : null }, m.text == null ? "" : String(m.text)));

    if (side === "out" && !m.private && m.delivery_status && m.delivery_status !== "received") {
      var st = m.delivery_status;
      var label = { sent: "✓ Sent", delivered: "✓✓ Delivered", read: "✓✓ Read", failed: "⚠ Not delivered" }[st] || cap(st);
      el.appendChild(h("div", { class: "msg-status" + (st === "failed" ? " is-failed" : ""), "data-testid": "delivery-status" }, label));
    }
    // Other scripts add to a message (console_channels.js: files, the error and its retry action).
    ((window.ParleyConsole || {}).onMessage || []).forEach(function (fn) { fn(el, m); });
    return el;
  }

  // ------------------------------------------------------------------ composer
  function setMode(mode) {
    state.mode = mode === "note" ? "note" : "reply";
    var note = state.mode === "note";
    $("composer").classList.toggle("is-note", note);
    document.querySelectorAll(".composer-tab").forEach(function (b) {
      var on = b.getAttribute("data-mode") === state.mode;
      b.classList.toggle("is-active", on);
      b.setAttribute("aria-selected", on ? "true" : "false");
    });
    $("reply-input").setAttribute("placeholder", note
      ? "Write a private note — only your team sees it; @handle notifies a colleague… (Enter to save)"
      : "Write a reply… (Enter to send, Shift+Enter for a new line)");
    $("reply-send").textContent = note ? "Add note" : "Send";
  }
  function updateCounter() {
    var n = charLen($("reply-input").value);
    var el = $("char-count");
    el.textContent = n + " / " + MAX_LEN;
    var over = n > MAX_LEN;
    el.classList.toggle("is-over", over);
    $("reply-send").disabled = over || state.sending;
    var err = $("composer-error");
    if (over) err.textContent = "Too long by " + (n - MAX_LEN) + " characters (max " + MAX_LEN + ").";
    else if (err.getAttribute("data-kind") === "length") err.textContent = "";
    err.setAttribute("data-kind", over ? "length" : "");
  }
  function autoGrow() {
    var ta = $("reply-input");
    ta.style.height = "auto";
    ta.style.height = Math.min(ta.scrollHeight + 2, Math.round(window.innerHeight * 0.4)) + "px";
  }

  function send() {
    var id = state.currentId;
    if (!id || state.sending) return;
    var ta = $("reply-input");
    var text = ta.value.replace(/^\s*\n/, "").replace(/\s+$/, "");
    if (!text.trim()) return;
    if (charLen(text) > MAX_LEN) { updateCounter(); return; }
    var isPrivate = state.mode === "note";
    state.sending = true;
    $("reply-send").disabled = true;
    $("composer-error").textContent = "";
    var payload = { text: text, private: isPrivate };
    var pick = window.ParleyConsole.replyChannel; // console_channels.js: the reply channel the agent picked
    if (!isPrivate && typeof pick === "function" && pick()) payload.channel = pick();
    api("POST", "/conversations/" + encodeURIComponent(id) + "/messages", payload).then(function (msg) {
      if (ta.value.replace(/^\s*\n/, "").replace(/\s+$/, "") === text) ta.value = "";
      state.drafts.delete(id);
      if (msg && id === state.currentId) addMessage(msg);
      var box = $("messages");
      box.scrollTop = box.scrollHeight;
    }, function (err) {
      $("composer-error").textContent = err.message;
      $("composer-error").setAttribute("data-kind", "server");
      report(err);
    }).then(function () {
      state.sending = false;
      updateCounter();
      autoGrow();
    });
  }

  // ------------------------------------------------------------------ actions
  function act(path) {
    var id = state.currentId;
    if (!id) return Promise.resolve();
    return api("POST", "/conversations/" + encodeURIComponent(id) + path).then(upsertConversation, report);
  }
  function assign(userIds) {
    var id = state.currentId;
    if (!id) return Promise.resolve();
    return api("POST", "/conversations/" + encodeURIComponent(id) + "/assign", { user_ids: userIds }).then(function (conv) {
      upsertConversation(conv);
      closePicker();
    }, report);
  }
  function assignMe() {
    var c = state.current;
    if (!c) return;
    var ids = (c.assignees || []).map(function (a) { return a.id; });
    if (ids.indexOf(ME.id) < 0) ids.push(ME.id);
    assign(ids);
  }

  function loadUsers() {
    if (state.users && Date.now() - state.usersAt < 60000) return Promise.resolve(state.users);
    return api("GET", "/users").then(function (data) {
      state.users = (data && data.users) || [];
      state.usersAt = Date.now();
      return state.users;
    });
  }
  function openPicker() {
    var c = state.current;
    if (!c) return;
    var picker = $("picker");
    picker.hidden = false;
    $("assign-open").setAttribute("aria-expanded", "true");
    var ul = $("picker-list");
    clear(ul);
    ul.appendChild(h("li", { class: "preview-who" }, "Loading…"));
    $("picker-search").value = "";
    loadUsers().then(function (users) {
      if (picker.hidden) return;
      var only = window.ParleyConsole.assignableIds; // console_menu.js: a restricted conversation's named users
      if (only) users = users.filter(function (u) { return only.has(Number(u.id)); });
      var current = new Set((state.current.assignees || []).map(function (a) { return Number(a.id); }));
      clear(ul);
      if (!users.length) ul.appendChild(h("li", { class: "preview-who" }, "No one to assign."));
      users.slice().sort(function (a, b) { return (a.id === ME.id ? -1 : b.id === ME.id ? 1 : 0) || String(a.name).localeCompare(b.name); })
        .forEach(function (u) {
          var teams = (u.teams || []).map(function (t) { return t.name; }).join(", ");
          ul.appendChild(h("li", { "data-filter": (u.name + " " + u.email + " " + teams).toLowerCase() },
            h("label", null,
              h("input", { type: "checkbox", value: u.id, checked: current.has(Number(u.id)), "data-testid": "assign-option" }),
              avatar(u.name, "u" + u.id, "avatar-sm"),
              h("span", { class: "pk-text" },
                h("span", null, u.name + (u.id === ME.id ? " (you)" : ""),
                  h("span", { class: "avail avail-" + String(u.availability || "offline").toLowerCase(), title: cap(u.availability || "offline") })),
                h("span", { class: "pk-sub" }, [cap(u.role), teams].filter(Boolean).join(" · "))))));
        });
      $("picker-search").focus();
    }, function (err) { closePicker(); report(err); });
  }
  function closePicker() {
    $("picker").hidden = true;
    $("assign-open").setAttribute("aria-expanded", "false");
  }
  function applyPicker() {
    var ids = Array.from($("picker-list").querySelectorAll("input[type=checkbox]:checked")).map(function (i) { return Number(i.value); });
    assign(ids);
  }

  // ------------------------------------------------------------------ realtime
  function setConn(text) {
    var el = $("conn-state");
    if (text) { el.textContent = text; el.hidden = false; } else el.hidden = true;
  }

  function resync() {
    loadCounters();
    loadList();
    refreshCurrent();
  }

  function connectSocket() {
    if (typeof window.io !== "function") {
      setConn("Live updates unavailable");
      toast("The realtime library did not load; refresh the page to get live updates.", "error");
      return;
    }
    setConn("Connecting…");
    var socket = window.io("/console", { transports: ["websocket", "polling"], tryAllTransports: true });
    var everConnected = false;
    window.ParleyConsole.socket = socket;

    socket.on("connect", function () {
      setConn(null);
      // Events may have been missed while (re)connecting: take a fresh picture.
      if (everConnected || bootDone) resync();
      everConnected = true;
    });
    socket.on("disconnect", function (reason) {
      setConn("Reconnecting…");
      if (reason === "io server disconnect") {
        // The server closed the connection (e.g. signed out elsewhere): check, then try again.
        api("GET", "/me").then(function () { setTimeout(function () { socket.connect(); }, 1000); }, function () {});
      }
    });
    socket.on("connect_error", function () {
      setConn("Offline — reconnecting…");
      if (!socket.active) {
        // Refused by the server's connect handler: most likely not signed in any more.
        api("GET", "/me").then(function () { setTimeout(function () { socket.connect(); }, 3000); }, function () {});
      }
    });

    socket.on("conversation", upsertConversation);
    socket.on("message", function (m) {
      if (!m) return;
      if (m.conversation_id === state.currentId) {
        addMessage(m);
        if (m.sender_type === "contact") scheduleRead();
      }
      var c = state.convs.get(m.conversation_id);
      if (c && !m.private && ts(m.created_at) >= ts(c.last_message && c.last_message.created_at)) {
        c.last_message = { text: m.text, sender_type: m.sender_type, created_at: m.created_at };
        if (ts(m.created_at) > ts(c.last_activity_at)) c.last_activity_at = m.created_at;
        renderList();
      }
    });
    socket.on("counters", renderCounters);
    socket.on("presence", function (p) {
      if (!p) return;
      var changed = false;
      state.convs.forEach(function (c) {
        if (c.contact && Number(c.contact.id) === Number(p.contact_id)) { c.contact.online = !!p.online; changed = true; }
      });
      if (changed) renderList();
      var cur = state.current;
      if (cur && cur.contact && Number(cur.contact.id) === Number(p.contact_id)) {
        cur.contact.online = !!p.online;
        paintPresence($("conv-presence"), cur.contact.online);
        renderDetails(cur);
      }
    });
    socket.on("error", function (e) {
      toast((e && e.message) || "Realtime error.", "error");
    });
  }

  // ------------------------------------------------------------------ wiring
  var bootDone = false;
  function wire() {
    paintAvatar($("me-avatar"), ME.name, "u" + ME.id);

    document.querySelectorAll(".view-tab").forEach(function (b) {
      b.addEventListener("click", function () { setView(b.getAttribute("data-view")); });
    });
    document.querySelectorAll(".seg[data-status]").forEach(function (b) {
      b.addEventListener("click", function () { setStatus(b.getAttribute("data-status")); });
    });
    if ($("tile-filter-clear")) $("tile-filter-clear").addEventListener("click", function () { setView(state.view); });
    document.querySelectorAll(".tile[data-goto]").forEach(function (t) {
      t.addEventListener("click", function () {
        if (state.status !== "open") { state.status = "open"; save("parley.status", "open"); }
        setView(t.getAttribute("data-goto"), t.getAttribute("data-tile"));
      });
    });

    var searchTimer = null;
    $("search").addEventListener("input", function () {
      clearTimeout(searchTimer);
      searchTimer = setTimeout(function () {
        var q = $("search").value.trim();
        if (q === state.q) return;
        state.q = q;
        resetList();
        loadList();
      }, 300);
    });
    $("search").addEventListener("keydown", function (e) {
      if (e.key === "Escape" && $("search").value) { $("search").value = ""; $("search").dispatchEvent(new Event("input")); }
    });

    document.querySelectorAll(".composer-tab").forEach(function (b) {
      b.addEventListener("click", function () { setMode(b.getAttribute("data-mode")); $("reply-input").focus(); });
    });
    var ta = $("reply-input");
    ta.addEventListener("input", function () { updateCounter(); autoGrow(); });
    ta.addEventListener("keydown", function (e) {
      if (e.key === "Enter" && !e.shiftKey && !e.isComposing && e.keyCode !== 229) {
        e.preventDefault();
        send();
      }
    });
    $("composer").addEventListener("submit", function (e) { e.preventDefault(); send(); });

    $("btn-close").addEventListener("click", function () { act("/close"); });
    $("btn-reopen").addEventListener("click", function () { act("/reopen"); });
    $("btn-return-bot").addEventListener("click", function () { act("/return-to-bot"); });
    $("assign-me").addEventListener("click", assignMe);
    $("assign-open").addEventListener("click", function () { if ($("picker").hidden) openPicker(); else closePicker(); });
    $("picker-cancel").addEventListener("click", closePicker);
    $("picker-apply").addEventListener("click", applyPicker);
    $("picker-search").addEventListener("input", function () {
      var q = $("picker-search").value.trim().toLowerCase();
      $("picker-list").querySelectorAll("li[data-filter]").forEach(function (li) {
        li.hidden = q && li.getAttribute("data-filter").indexOf(q) < 0;
      });
    });
    $("picker").addEventListener("keydown", function (e) { if (e.key === "Escape") { closePicker(); $("assign-open").focus(); } });
    document.addEventListener("click", function (e) {
      if (!$("picker").hidden && !e.target.closest(".picker-wrap")) closePicker();
    });

    $("back-btn").addEventListener("click", function () {
      history.pushState(null, "", location.pathname + location.search);
      closeConversation();
    });
    function showDetails(on) {
      $("workspace").classList.toggle("show-details", on);
      $("details-toggle").setAttribute("aria-expanded", on ? "true" : "false");
    }
    $("details-toggle").addEventListener("click", function () { showDetails(!$("workspace").classList.contains("show-details")); });
    $("details-close").addEventListener("click", function () { showDetails(false); $("details-toggle").focus(); });

    window.addEventListener("hashchange", routeFromHash);
    document.addEventListener("visibilitychange", function () {
      if (document.visibilityState === "visible" && state.current && state.current.unread) markRead();
    });
    setInterval(function () {
      renderList();
      if (state.current) renderPacket(state.current.handoff, state.current.owner === "bot");
    }, 60000);
  }

  function boot() {
    window.ParleyConsole = { state: state, me: ME, socket: null, onChrome: [], api: api, toast: toast, report: report,
      open: navigateTo, upsert: upsertConversation, remove: removeConversation, addMessage: addMessage, retrying: function (id) { retrying.add(id); }, onMessage: [],
      onView: [], onStale: [], setView: setView, reload: function () { resetList(); loadList(); } };
    wire();
    paintFilters();
    setMode("reply");
    updateCounter();
    api("GET", "/me").then(function (me) {
      if (!me) return;
      ME.teams = me.teams || [];
      if (me.name) ME.name = me.name;
      if (me.role) ME.role = me.role;
    }, function () {});
    Promise.all([loadCounters(), loadList()]).then(function () { bootDone = true; });
    routeFromHash();
    connectSocket();
  }

  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", boot);
  else boot();
})();
