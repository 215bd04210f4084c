/* Parley console: routing. Availability, notifications (sound and desktop when allowed), offers to
 * accept, transfer requests to accept or reject, transferring a conversation, and the contact's
 * journey; the conversation's team workspace (its canned replies in the composer, "Working for" when it
 * is not one of the agent's teams) and the settings of teams' canned replies and hours. Built on the hooks console.js exposes as window.ParleyConsole; text always goes in as
 * text nodes. The events it listens to are in docs/interfaces.md.
 */
(function () {
  "use strict";

  var PC = null;
  var state = { availability: null, availabilityChosen: 0, users: null, teams: null, journeyFor: null, journeySeq: 0, lastConv: null };
  var timers = new Map(); // card key -> interval id (countdowns)

  function $(id) { return document.getElementById(id); }
  function h(tag, attrs) {
    var el = document.createElement(tag);
    for (var k in attrs || {}) {
      if (!Object.prototype.hasOwnProperty.call(attrs, k)) continue;
      var v = attrs[k];
      if (v === null || v === undefined || v === false) continue;
      if (k === "class") el.className = v;
      else if (k.slice(0, 2) === "on" && typeof v === "function") el.addEventListener(k.slice(2), v);
      else el.setAttribute(k, v === true ? "" : String(v));
    }
    for (var i = 2; i < arguments.length; i++) add(el, arguments[i]);
    return el;
  }
  function add(el, c) {
    if (c === null || c === undefined || c === false) return;
    if (Array.isArray(c)) { c.forEach(function (x) { add(el, x); }); return; }
    el.appendChild(typeof c === "object" ? c : document.createTextNode(String(c)));
  }
  function clear(el) { while (el.firstChild) el.removeChild(el.firstChild); }
  function when(iso) {
    var t = Date.parse(iso || "");
    return isNaN(t) ? "" : new Date(t).toLocaleString([], { dateStyle: "medium", timeStyle: "short" });
  }
  function secondsLeft(iso) { return Math.max(0, Math.round((Date.parse(iso) - Date.now()) / 1000)); }
  function enc(s) { return encodeURIComponent(s); }

  // ------------------------------------------------------------------ alerts: sound + desktop
  var audio = null;
  function alertsOn() { try { return localStorage.getItem("parley.alerts") === "1"; } catch (e) { return false; } }
  function beep() {
    if (!alertsOn()) return;
    try {
      audio = audio || new (window.AudioContext || window.webkitAudioContext)();
      var o = audio.createOscillator(), g = audio.createGain();
      o.frequency.value = 880; g.gain.value = 0.08;
      o.connect(g); g.connect(audio.destination);
      o.start(); o.stop(audio.currentTime + 0.18);
    } catch (e) { /* no audio here */ }
  }
  // `onOpen`: what a click does (default: open conversation `convId`); `tag` groups repeats.
  function desktop(title, body, convId, onOpen, tag) {
    if (!alertsOn() || !("Notification" in window) || Notification.permission !== "granted") return;
    if (document.visibilityState === "visible" && document.hasFocus()) return; // the card is enough
    try {
      var n = new Notification(title, { body: body, tag: tag || convId || title });
      n.onclick = function () { window.focus(); if (onOpen) onOpen(); else if (convId) PC.open(convId); n.close(); };
    } catch (e) { /* some browsers only allow it from a service worker */ }
  }
  function paintAlerts(btn) {
    var on = alertsOn();
    btn.textContent = on ? "Alerts on" : "Alerts off";
    btn.setAttribute("aria-pressed", on ? "true" : "false");
    btn.title = on ? "Sound and desktop notifications are on (click to turn off)"
      : "Turn on sound and desktop notifications for new chats, offers and transfers";
  }
  function toggleAlerts(btn) {
    var on = !alertsOn();
    try { localStorage.setItem("parley.alerts", on ? "1" : "0"); } catch (e) { /* blocked storage */ }
    PC.api("PATCH", "/me", { notifications: { alerts: on } }).catch(function () { /* kept in this browser anyway */ });
    if (on) {
      try { audio = audio || new (window.AudioContext || window.webkitAudioContext)(); } catch (e) { audio = null; }
      if ("Notification" in window && Notification.permission === "default") Notification.requestPermission();
    }
    paintAlerts(btn);
  }

  // ------------------------------------------------------------------ top bar: availability
  function buildTopbar() {
    var me = document.querySelector(".me");
    if (!me || $("availability")) return;
    var sel = h("select", { id: "availability", class: "availability", "aria-label": "Your availability",
      "data-testid": "availability", title: "Only online agents get chats from the queue" },
      h("option", { value: "online" }, "● Online"), h("option", { value: "away" }, "◐ Away"),
      h("option", { value: "offline" }, "○ Offline"));
    sel.addEventListener("change", function () {
      var wanted = sel.value;
      state.availabilityChosen++;  // an answer to an earlier read (restore) must not undo this choice
      PC.api("POST", "/me/availability", { status: wanted }).then(function () { setAvailability(wanted); },
        function (err) { setAvailability(state.availability); PC.report(err); });
    });
    var bell = h("button", { type: "button", class: "btn btn-ghost btn-sm", id: "alerts-toggle", "data-testid": "alerts-toggle" });
    bell.addEventListener("click", function () { toggleAlerts(bell); });
    paintAlerts(bell);
    me.insertBefore(bell, me.firstChild);
    me.insertBefore(sel, me.firstChild);
  }
  function setAvailability(a) {
    state.availability = a;
    var sel = $("availability");
    if (sel && a) { sel.value = a; sel.setAttribute("data-value", a); }
  }

  // ------------------------------------------------------------------ notification cards
  function tray() {
    var t = $("notices");
    if (!t) { t = h("div", { id: "notices", class: "notices", "aria-live": "polite", "data-testid": "notices" }); document.body.appendChild(t); }
    return t;
  }
  function dropCard(key) {
    var el = document.querySelector('.notice[data-key="' + key + '"]');
    if (el) el.remove();
    if (timers.has(key)) { clearInterval(timers.get(key)); timers.delete(key); }
  }
  function card(key, kind, title, text, actions, opts) {
    dropCard(key);
    opts = opts || {};
    var box = h("div", { class: "notice notice-" + kind, "data-key": key, "data-kind": kind, "data-testid": "notice", role: "status" });
    var countdown = opts.expiresAt ? h("span", { class: "notice-timer", "data-testid": "notice-timer" }) : null;
    box.appendChild(h("div", { class: "notice-head" }, h("b", null, title), countdown,
      h("button", { type: "button", class: "notice-x", "aria-label": "Dismiss", onclick: function () { dropCard(key); } }, "×")));
    if (text) box.appendChild(h("div", { class: "notice-text" }, text));
    if (actions && actions.length) box.appendChild(h("div", { class: "notice-actions" }, actions));
    tray().appendChild(box);
    if (countdown) {
      var tick = function () {
        var s = secondsLeft(opts.expiresAt);
        countdown.textContent = s + " s";
        if (s <= 0) dropCard(key);
      };
      tick();
      timers.set(key, setInterval(tick, 1000));
    } else if (opts.ttl !== 0) {
      setTimeout(function () { dropCard(key); }, opts.ttl || 9000);
    }
    return box;
  }
  function button(label, cls, testid, fn) {
    var b = h("button", { type: "button", class: "btn btn-sm " + (cls || ""), "data-testid": testid }, label);
    b.addEventListener("click", function () { b.disabled = true; fn(b); });
    return b;
  }
  function who(c) { return (c.contact && c.contact.name) || "A customer"; }
  function openBtn(convId, key) {
    return button("Open", "btn-ghost", "notice-open", function () { if (key) dropCard(key); PC.open(convId); });
  }
  function accept(convId, key) {
    return PC.api("POST", "/conversations/" + enc(convId) + "/accept").then(function (conv) {
      dropCard(key);
      PC.upsert(conv);
      PC.open(convId);
    }, function (err) { dropCard(key); PC.report(err); });
  }

  function onNotification(n) {
    if (!n || !n.kind) return;
    var c = n.conversation || {};
    var team = c.team ? c.team.name : "";
    if (n.kind === "queued") {
      var key = "q:" + c.id;
      card(key, "queued", "New chat in " + team + "'s queue",
        who(c) + (n.position ? " · place " + n.position : "") + (n.reason ? " · " + String(n.reason).replace(/_/g, " ") : ""),
        [openBtn(c.id, key), button("Take it", "btn-primary", "notice-take", function () { accept(c.id, key); })]);
      beep(); desktop("New chat waiting", who(c) + " · " + team, c.id);
    } else if (n.kind === "offered") {
      var ok = "o:" + n.offer_id;
      card(ok, "offered", "Chat offered to you", who(c) + " · " + team,
        [button("Accept", "btn-primary", "notice-accept", function () { accept(c.id, ok); })], { expiresAt: n.expires_at });
      beep(); desktop("A chat is offered to you", who(c) + " — accept it in Parley", c.id);
    } else if (n.kind === "offer_ended") {
      dropCard("o:" + n.offer_id);
      if (n.status === "expired") PC.toast("The chat with " + who(c) + " went to someone else (not accepted in time).");
    } else if (n.kind === "assigned") {
      var ak = "a:" + c.id;
      dropCard("q:" + c.id);
      card(ak, "assigned", "New chat for you", who(c) + " · " + team, [openBtn(c.id, ak)]);
      beep(); desktop("New chat for you", who(c) + " · " + team, c.id);
    } else if (n.kind === "transfer") {
      onTransfer(n.transfer || {}, c);
    }
  }

  function onTransfer(t, c) {
    var key = "t:" + t.id;
    var mine = t.to_user && Number(t.to_user.id) === PC.me.id;
    var from = t.from_user ? t.from_user.name : "A colleague";
    if (t.status === "pending" && mine) {
      card(key, "transfer", from + " asks you to take a chat", who(c) + " · " + (c.team ? c.team.name : ""), [
        button("Accept", "btn-primary", "transfer-accept", function () { decide(t.id, "accept", key, c.id); }),
        button("Reject", "", "transfer-reject", function () { decide(t.id, "reject", key, c.id); }),
        openBtn(c.id, null)], { expiresAt: t.expires_at });
      beep(); desktop(from + " asks you to take a chat", who(c), c.id);
      return;
    }
    dropCard(key);
    if (t.status === "pending") { PC.toast("Transfer request sent to " + (t.to_user ? t.to_user.name : "your colleague") + "."); return; }
    var target = t.to_user ? t.to_user.name : t.to_team ? t.to_team.name : "";
    var words = {
      accepted: mine ? "You took over the chat with " + who(c) + "." : target + " accepted: the chat with " + who(c) + " is theirs now.",
      rejected: mine ? "You declined the chat with " + who(c) + "." : target + " declined: you keep the chat with " + who(c) + ".",
      expired: mine ? "The transfer request for " + who(c) + " expired." : target + " did not answer in time: you keep the chat with " + who(c) + ".",
      cancelled: "The transfer request for " + who(c) + " is void (the chat changed hands or closed).",
      done: t.to_team ? "The chat with " + who(c) + " moved to " + target + "'s queue." :
        (mine ? "The chat with " + who(c) + " was reassigned to you." : "The chat with " + who(c) + " was reassigned to " + target + "."),
    }[t.status];
    if (words) {
      card(key, "transfer-" + t.status, "Transfer " + t.status, words, mine && t.status !== "rejected" && t.status !== "expired" ? [openBtn(c.id, key)] : []);
      if (!mine) beep();
    }
  }
  function decide(id, verb, key, convId) {
    PC.api("POST", "/transfers/" + id + "/" + verb).then(function (res) {
      dropCard(key);
      if (res && res.conversation) PC.upsert(res.conversation);
      if (verb === "accept") PC.open(convId);
    }, function (err) { dropCard(key); PC.report(err); });
  }

  // ------------------------------------------------------------------ details: take / transfer / journey
  function panel() {
    var p = $("routing-panel");
    if (p) return p;
    var body = $("details-body");
    if (!body) return null;
    p = h("section", { class: "panel", id: "routing-panel", "data-testid": "routing-panel" },
      h("h3", { class: "panel-title" }, "Routing"),
      h("div", { id: "routing-actions", class: "routing-actions" }),
      h("div", { class: "panel-head" }, h("h3", { class: "panel-title" }, "Journey")),
      h("ol", { id: "journey", class: "journey", "data-testid": "journey" }));
    body.appendChild(p);
    return p;
  }

  function loadPickers() {
    var jobs = [];
    if (!state.users) jobs.push(PC.api("GET", "/users").then(function (d) { state.users = (d && d.users) || []; }));
    if (!state.teams) jobs.push(PC.api("GET", "/teams").then(function (d) { state.teams = (d && d.teams) || []; }));
    return Promise.all(jobs);
  }

  function renderActions(c) {
    var box = $("routing-actions");
    if (!box) return;
    clear(box);
    if (!c || c.status !== "open" || c.owner !== "human") {
      box.appendChild(h("p", { class: "muted" }, c && c.owner === "bot" ? "The bot has this conversation." : "Closed."));
      return;
    }
    var mine = (c.assignees || []).some(function (a) { return Number(a.id) === PC.me.id; });
    var boss = PC.me.role === "admin" || PC.me.role === "supervisor";
    if (c.phase === "waiting" || c.phase === "assigning") {
      box.appendChild(button(c.phase === "assigning" ? "Accept" : "Take it", "btn-primary", "take", function (b) {
        accept(c.id, "q:" + c.id).then(function () { b.disabled = false; });
      }));
    }
    if (c.phase === "transferring") box.appendChild(h("p", { class: "muted", "data-testid": "transferring" }, "A transfer request is waiting for an answer."));
    if (c.phase === "transferring") return;
    if (!(mine || boss)) {
      box.appendChild(h("p", { class: "muted" }, "Its assignee or a supervisor can transfer it."));
      return;
    }

    var people = h("select", { "aria-label": "Transfer to a colleague", "data-testid": "transfer-user" }, h("option", { value: "" }, "Colleague…"));
    var teams = h("select", { "aria-label": "Transfer to a team's queue", "data-testid": "transfer-team" }, h("option", { value: "" }, "Team…"));
    var go = button(mine ? "Ask" : "Reassign", "btn-primary", "transfer-go", function (b) {
      var body = people.value ? { to_user_id: Number(people.value) } : teams.value ? { to_team_id: Number(teams.value) } : null;
      if (!body) { b.disabled = false; PC.toast("Pick a colleague or a team.", "error"); return; }
      PC.api("POST", "/conversations/" + enc(c.id) + "/transfer", body).then(function (res) {
        b.disabled = false;
        if (res && res.conversation) PC.upsert(res.conversation); else PC.remove(c.id);
      }, function (err) { b.disabled = false; PC.report(err); });
    });
    people.addEventListener("change", function () { if (people.value) teams.value = ""; });
    teams.addEventListener("change", function () { if (teams.value) people.value = ""; });
    box.appendChild(h("div", { class: "transfer-row" }, h("span", { class: "muted" }, "Transfer"), people, teams, go));
    loadPickers().then(function () {
      state.users.forEach(function (u) {
        var inTeam = (u.teams || []).some(function (t) { return c.team && Number(t.id) === Number(c.team.id); });
        var assigned = (c.assignees || []).some(function (a) { return Number(a.id) === Number(u.id); });
        if (assigned || !(inTeam || u.role === "admin" || u.role === "supervisor")) return;
        people.appendChild(h("option", { value: u.id, disabled: u.availability === "offline" && mine },
          u.name + " (" + (u.availability || "offline") + ")"));
      });
      state.teams.forEach(function (t) {
        if (c.team && Number(t.id) === Number(c.team.id)) return;
        teams.appendChild(h("option", { value: t.id }, t.name + " (" + String(t.routing.policy).replace("_", " ") + ")"));
      });
    }, PC.report);
  }

  function loadJourney(c) {
    var list = $("journey");
    if (!list || !c || !c.contact) return;
    var seq = ++state.journeySeq;
    PC.api("GET", "/contacts/" + c.contact.id + "/journey").then(function (j) {
      if (seq !== state.journeySeq) return;
      clear(list);
      ((j && j.conversations) || []).slice().reverse().forEach(function (x) {
        var steps = h("ol", { class: "journey-steps", hidden: x.id !== c.id });
        (x.steps || []).forEach(function (s) {
          var li = h("li", { class: "journey-step", "data-testid": "journey-step", title: when(s.at) + (s.actor ? " · " + s.actor.name : "") },
            h("span", { class: "journey-time" }, new Date(Date.parse(s.at)).toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" })),
            " ", s.text, s.data && (s.data.user || s.data.to_user || s.data.to_team) ? " → " + (s.data.user || s.data.to_user || s.data.to_team) : "");
          li.addEventListener("click", function () { openAt(x.id, s.message_id); });
          steps.appendChild(li);
        });
        var head = h("button", { type: "button", class: "journey-head" + (x.id === c.id ? " is-current" : ""), "data-testid": "journey-item", "data-state": x.state },
          h("span", { class: "chip chip-journey chip-" + String(x.state).toLowerCase() }, x.state),
          h("span", null, x.channel + " · " + x.team.name + (x.agents.length ? " · " + x.agents.map(function (a) { return a.name; }).join(", ") : "")),
          h("span", { class: "journey-time" }, when(x.created_at)));
        head.addEventListener("click", function () {
          if (x.id !== c.id) PC.open(x.id); else steps.hidden = !steps.hidden;
        });
        list.appendChild(h("li", { class: "journey-item" }, head, steps));
      });
    }, function (err) { if (err.status !== 404) PC.report(err); });
  }

  /** Open a conversation and scroll to the message that was the last at that step. */
  function openAt(convId, messageId) {
    PC.open(convId);
    if (!messageId) return;
    var tries = 0;
    var t = setInterval(function () {
      var el = document.querySelector('#messages [data-id="' + messageId + '"]');
      if (el || ++tries > 30) {
        clearInterval(t);
        if (el) { el.scrollIntoView({ block: "center" }); el.classList.add("is-flash"); setTimeout(function () { el.classList.remove("is-flash"); }, 1600); }
      }
    }, 100);
  }

  function onChrome(c) {
    if (!panel()) return;
    // Rebuilt only when what it shows changes: a new message must not reset a half-made choice.
    var key = [c.id, c.phase, c.status, c.owner, c.team && c.team.id,
      (c.assignees || []).map(function (a) { return a.id; }).join(",")].join("|");
    if (key === state.lastConv) return;
    state.lastConv = key;
    renderActions(c);
    loadJourney(c);
  }

  // ------------------------------------------------------------------ the conversation's team: workspace
  // An agent works a conversation with its team's settings (canned replies, routing, hours), whatever
  // their own team: GET /conversations/<id>/workspace. Canned text goes into the composer as a value.
  var ws = { data: null, forConv: null, seq: 0, picker: null, items: [], active: 0, mode: null };

  function onWorkspaceChrome(c) {
    // console.js rebuilds the chips on every render: put the team's back each time.
    var chips = $("conv-chips");
    var w = ws.data && ws.forConv === c.id ? ws.data : null;
    if (chips && c.team) {
      var behalf = w ? w.on_behalf
        : !!PC.me.teams && !PC.me.teams.some(function (t) { return Number(t.id) === Number(c.team.id); });
      chips.appendChild(h("span", { class: "chip chip-team" + (behalf ? " chip-behalf" : ""), "data-testid": "chip-team",
        title: behalf ? "Not one of your teams: you work with this team's replies, routing and hours" : "This conversation's team" },
        behalf ? "Working for " + c.team.name : c.team.name));
      if (w && w.hours && !w.hours.always_open) {
        chips.appendChild(h("span", { class: "chip " + (w.hours.open_now ? "chip-open" : "chip-closed"), "data-testid": "chip-hours",
          title: w.hours.open_now ? "Within the team's hours" : "Opens " + (w.hours.next_opening_text || "") },
          w.hours.open_now ? "Team open" : "Team closed"));
      }
    }
    var key = c.id + "|" + (c.team && c.team.id);
    if (ws.key === key) return;
    ws.key = key;
    loadWorkspace(c);
  }
  function loadWorkspace(c) {
    var seq = ++ws.seq;
    ws.data = null; ws.forConv = null;
    closePicker();
    return PC.api("GET", "/conversations/" + enc(c.id) + "/workspace").then(function (w) {
      if (seq !== ws.seq || !w) return;
      ws.data = w; ws.forConv = c.id;
      if (ws.picker) filterPicker(ws.mode === "slash" ? ($("reply-input").value || "").slice(1) : (ws.picker.querySelector(".canned-search") || {}).value);
      var cur = PC.state.current;
      if (cur && cur.id === c.id) { var chips = $("conv-chips"); if (chips) { var old = chips.querySelectorAll(".chip-team, .chip-hours"); old.forEach(function (x) { x.remove(); }); } onWorkspaceChrome(cur); }
    }, function (err) { if (err.status !== 404) PC.report(err); });
  }
  function replies() { return (ws.data && ws.data.canned_replies) || []; }

  function buildCannedButton() {
    var tabs = document.querySelector("#composer .composer-tabs");
    if (!tabs || $("canned-open")) return;
    var btn = h("button", { type: "button", class: "composer-tab canned-open", id: "canned-open", "data-testid": "canned-open",
      title: "Canned replies of this conversation's team (or type / at the start)", "aria-haspopup": "listbox" }, "/ Canned");
    btn.addEventListener("click", function () { if (ws.picker) closePicker(); else openPicker("button"); });
    tabs.insertBefore(btn, $("composer-hint"));
    var ta = $("reply-input");
    ta.addEventListener("input", function () {
      var m = /^\/([\w-]*)$/.exec(ta.value);
      if (m) { if (!ws.picker) openPicker("slash"); filterPicker(m[1]); }
      else if (ws.picker && ws.mode === "slash") closePicker();
    });
    // Capture: while the list is open, Enter picks instead of sending (console.js listens on the textarea).
    $("composer").addEventListener("keydown", function (e) {
      if (!ws.picker) return;
      if (e.key === "ArrowDown" || e.key === "ArrowUp") { move(e.key === "ArrowDown" ? 1 : -1); }
      else if (e.key === "Enter" || e.key === "Tab") { if (!ws.items.length) return; pick(ws.items[ws.active]); }
      else if (e.key === "Escape") { closePicker(); ta.focus(); }
      else return;
      e.preventDefault(); e.stopPropagation();
    }, true);
    document.addEventListener("click", function (e) {
      if (ws.picker && !e.target.closest(".canned-picker") && !e.target.closest("#canned-open")) closePicker();
    });
  }
  function openPicker(mode) {
    closePicker();
    ws.mode = mode;
    var team = ws.data && ws.data.team ? ws.data.team.name : "this team";
    var search = h("input", { type: "search", class: "canned-search", "data-testid": "canned-search", placeholder: "Filter " + team + "'s replies…", "aria-label": "Filter canned replies" });
    var list = h("ul", { class: "canned-list", role: "listbox", "data-testid": "canned-list" });
    ws.picker = h("div", { class: "canned-picker", "data-testid": "canned-picker" },
      h("div", { class: "canned-head" }, "Canned replies · " + team), mode === "button" ? search : null, list);
    search.addEventListener("input", function () { filterPicker(search.value); });
    $("composer").insertBefore(ws.picker, $("reply-input"));
    filterPicker(mode === "slash" ? ($("reply-input").value || "").slice(1) : "");
    if (mode === "button") search.focus();
  }
  function closePicker() {
    if (ws.picker) ws.picker.remove();
    ws.picker = null; ws.items = []; ws.mode = null;
  }
  function filterPicker(q) {
    if (!ws.picker) return;
    q = String(q || "").toLowerCase();
    ws.items = replies().filter(function (r) {
      return !q || r.short_code.indexOf(q) >= 0 || (r.text || r.body).toLowerCase().indexOf(q) >= 0;
    });
    ws.active = 0;
    paintPicker();
  }
  function paintPicker() {
    var list = ws.picker.querySelector(".canned-list");
    clear(list);
    if (!ws.data) { list.appendChild(h("li", { class: "muted canned-empty" }, "Loading…")); return; }
    if (!ws.items.length) { list.appendChild(h("li", { class: "muted canned-empty" }, replies().length ? "No reply matches." : "No canned replies for " + ws.data.team.name + " yet.")); return; }
    ws.items.forEach(function (r, i) {
      var li = h("li", { class: "canned-item" + (i === ws.active ? " is-active" : ""), role: "option", "data-testid": "canned-item",
        "data-code": r.short_code, "aria-selected": i === ws.active ? "true" : "false" },
        h("b", null, "/" + r.short_code), r.scope === "personal" ? h("span", { class: "chip chip-journey" }, "mine") : null,
        h("span", { class: "canned-text" }, r.text || r.body));
      li.addEventListener("mousedown", function (e) { e.preventDefault(); });
      li.addEventListener("click", function () { pick(r); });
      list.appendChild(li);
    });
  }
  function move(d) {
    if (!ws.items.length) return;
    ws.active = (ws.active + d + ws.items.length) % ws.items.length;
    paintPicker();
    var el = ws.picker.querySelector(".canned-item.is-active");
    if (el && el.scrollIntoView) el.scrollIntoView({ block: "nearest" });
  }
  /** Put the filled-in text into the composer, as its value (never markup); the agent edits, then sends. */
  function pick(r) {
    var ta = $("reply-input");
    var text = r.text || r.body;
    if (ws.mode === "slash" || /^\/[\w-]*$/.test(ta.value)) ta.value = text;
    else {
      var a = ta.selectionStart || 0, b = ta.selectionEnd || 0;
      ta.value = ta.value.slice(0, a) + text + ta.value.slice(b);
      ta.selectionStart = ta.selectionEnd = a + text.length;
    }
    closePicker();
    ta.dispatchEvent(new Event("input", { bubbles: true }));
    ta.focus();
  }

  // ------------------------------------------------------------------ team settings: replies and hours
  var DAYS = [["mon", "Mon"], ["tue", "Tue"], ["wed", "Wed"], ["thu", "Thu"], ["fri", "Fri"], ["sat", "Sat"], ["sun", "Sun"]];
  function manager() { return PC.me.role === "admin" || PC.me.role === "supervisor"; }

  function buildSettingsButton() {
    var me = document.querySelector(".me");
    if (!me || $("team-settings-open")) return;
    var btn = h("button", { type: "button", class: "btn btn-ghost btn-sm", id: "team-settings-open", "data-testid": "team-settings-open",
      title: manager() ? "Teams' canned replies and opening hours" : "Your canned replies" }, manager() ? "Replies & hours" : "My replies");
    btn.addEventListener("click", openSettings);
    me.insertBefore(btn, me.firstChild);
  }
  function openSettings() {
    var dlg = $("team-settings");
    if (dlg) dlg.remove();
    var scope = h("select", { id: "ts-scope", "data-testid": "ts-scope", "aria-label": "Whose replies" },
      h("option", { value: "" }, "My personal replies"));
    var body = h("div", { class: "ts-body" });
    dlg = h("dialog", { id: "team-settings", class: "team-settings", "data-testid": "team-settings", "aria-label": "Canned replies and hours" },
      h("div", { class: "ts-top" }, h("h2", null, "Canned replies and hours"), scope,
        h("button", { type: "button", class: "btn btn-ghost btn-sm", onclick: function () { dlg.close(); dlg.remove(); } }, "Close ×")),
      body);
    document.body.appendChild(dlg);
    if (dlg.showModal) dlg.showModal(); else dlg.setAttribute("open", "");
    loadPickers().then(function () {
      var mine = (PC.me.teams || []).map(function (t) { return Number(t.id); });
      state.teams.forEach(function (t) {
        if (manager() || mine.indexOf(Number(t.id)) >= 0) scope.appendChild(h("option", { value: t.id }, t.name));
      });
      if (manager() && state.teams.length) scope.value = String(state.teams[0].id);
      paintSettings(body, scope.value);
    }, PC.report);
    scope.addEventListener("change", function () { paintSettings(body, scope.value); });
  }
  function paintSettings(body, teamId) {
    clear(body);
    var list = h("ul", { class: "ts-replies", "data-testid": "ts-replies" });
    var editable = !teamId || manager();
    body.appendChild(h("h3", { class: "panel-title" }, teamId ? "Team replies" : "Personal replies (only you see them)"));
    body.appendChild(h("p", { class: "muted" }, "Placeholders: {{contact.name}} and {{agent.name}} are filled in when a reply is inserted."));
    body.appendChild(list);
    function reload() {
      PC.api("GET", "/canned_replies" + (teamId ? "?team_id=" + enc(teamId) : "")).then(function (d) {
        clear(list);
        var rows = ((d && d.canned_replies) || []).filter(function (r) { return teamId ? r.team && String(r.team.id) === String(teamId) : r.scope === "personal"; });
        if (!rows.length) list.appendChild(h("li", { class: "muted" }, "None yet."));
        rows.forEach(function (r) { list.appendChild(replyRow(r, reload)); });
      }, PC.report);
    }
    reload();
    if (editable) body.appendChild(replyForm(null, teamId, reload));
    if (teamId) hoursSection(body, teamId);
    if (teamId && PC.me.role === "admin" && window.ParleyTeamRouting) window.ParleyTeamRouting(body, teamId, PC.api); // team_routing.js
  }
  function replyRow(r, reload) {
    var li = h("li", { class: "ts-reply", "data-testid": "ts-reply", "data-code": r.short_code },
      h("b", null, "/" + r.short_code), h("span", { class: "canned-text" }, r.body));
    if (r.can_edit) {
      li.appendChild(h("span", { class: "ts-reply-actions" },
        button("Edit", "btn-ghost btn-sm", "ts-edit", function (b) { b.disabled = false; li.replaceWith(replyForm(r, null, reload)); }),
        button("Delete", "btn-ghost btn-sm", "ts-delete", function (b) {
          if (!window.confirm("Delete /" + r.short_code + "?")) { b.disabled = false; return; }
          PC.api("DELETE", "/canned_replies/" + r.id).then(reload, function (err) { b.disabled = false; PC.report(err); });
        })));
    }
    return li;
  }
  function replyForm(r, teamId, reload) {
    var code = h("input", { type: "text", maxlength: "40", placeholder: "short-code", "aria-label": "Short code", "data-testid": "ts-code", value: r ? r.short_code : "" });
    var text = h("textarea", { rows: "3", maxlength: "4000", placeholder: "Hi {{contact.name}}, …", "aria-label": "Reply text", "data-testid": "ts-text" });
    text.value = r ? r.body : "";
    var err = h("span", { class: "composer-error", role: "alert" });
    var save = button(r ? "Save" : "Add reply", "btn-primary btn-sm", "ts-save", function (b) {
      var req = r ? PC.api("PATCH", "/canned_replies/" + r.id, { short_code: code.value, body: text.value })
        : PC.api("POST", "/canned_replies", { short_code: code.value, body: text.value, team_id: teamId ? Number(teamId) : null });
      req.then(function () { if (!r) { code.value = ""; text.value = ""; } b.disabled = false; err.textContent = ""; reload(); if (r) form.remove(); },
        function (e) { b.disabled = false; err.textContent = e.message || "Could not save."; });
    });
    var form = h("div", { class: "ts-form" }, code, text, h("div", { class: "ts-row" }, save, err));
    return form;
  }
  function hoursSection(body, teamId) {
    var box = h("section", { class: "ts-hours", "data-testid": "ts-hours" }, h("h3", { class: "panel-title" }, "Opening hours"));
    body.appendChild(box);
    PC.api("GET", "/teams/" + enc(teamId) + "/hours").then(function (hrs) {
      var status = h("p", { class: "muted", "data-testid": "ts-hours-status" }, hrs.always_open ? "Always open (no hours set)."
        : (hrs.open_now ? "Open now." : "Closed now; opens " + hrs.next_opening_text + "."));
      box.appendChild(status);
      if (!manager()) return;
      var tz = h("input", { type: "text", "aria-label": "Timezone", "data-testid": "ts-tz", placeholder: "Europe/Paris",
        value: hrs.timezone || (Intl.DateTimeFormat().resolvedOptions().timeZone || "UTC") });
      var rows = DAYS.map(function (d) {
        var iv = (hrs.intervals || []).filter(function (x) { return x.day === d[0]; })[0];
        var on = h("input", { type: "checkbox", "aria-label": d[1] + " open", "data-day": d[0] });
        on.checked = hrs.always_open ? ["sat", "sun"].indexOf(d[0]) < 0 : !!iv;
        var from = h("input", { type: "time", "aria-label": d[1] + " opens", value: iv ? iv.start : "09:00" });
        var to = h("input", { type: "time", "aria-label": d[1] + " closes", value: iv ? (iv.end === "24:00" ? "23:59" : iv.end) : "17:00" });
        return { day: d[0], on: on, from: from, to: to, el: h("div", { class: "ts-day" }, h("label", null, on, " " + d[1]), from, "–", to) };
      });
      var msg = h("textarea", { rows: "2", maxlength: "1000", "aria-label": "Out-of-hours message", "data-testid": "ts-ooh" });
      msg.value = hrs.out_of_hours_message || "Thanks for your message. Our team is away right now; we open again {{next_opening}} and will answer you here then.";
      var err = h("span", { class: "composer-error", role: "alert" });
      var save = button("Save hours", "btn-primary btn-sm", "ts-hours-save", function (b) {
        var intervals = rows.filter(function (r) { return r.on.checked; }).map(function (r) {
          return { day: r.day, start: r.from.value, end: r.to.value === "23:59" ? "24:00" : r.to.value };
        });
        PC.api("PUT", "/teams/" + enc(teamId) + "/hours", { timezone: tz.value.trim(), intervals: intervals, out_of_hours_message: msg.value })
          .then(function () { clear(box); box.remove(); hoursSection(body, teamId); }, function (e) { b.disabled = false; err.textContent = e.message; });
      });
      var always = button("Always open", "btn-ghost btn-sm", "ts-hours-clear", function (b) {
        PC.api("DELETE", "/teams/" + enc(teamId) + "/hours").then(function () { clear(box); box.remove(); hoursSection(body, teamId); },
          function (e) { b.disabled = false; err.textContent = e.message; });
      });
      add(box, [h("label", { class: "ts-tz" }, "Timezone ", tz), rows.map(function (r) { return r.el; }),
        h("label", { class: "ts-ooh" }, "Out-of-hours message ({{next_opening}} becomes the next opening time)", msg),
        h("div", { class: "ts-row" }, save, always, err)]);
    }, PC.report);
  }

  // ------------------------------------------------------------------ wiring
  function wireSocket(socket) {
    socket.on("notification", onNotification);
    socket.on("conversation_removed", function (p) { if (p && p.id) PC.remove(p.id); });
    socket.on("availability", function (a) {
      if (!a || Number(a.user_id) !== PC.me.id) return;
      setAvailability(a.availability);
      if (a.automatic && a.availability === "offline") PC.toast("You were set offline: no console was open for 5 minutes.");
    });
    socket.on("connect", restore);
  }
  /** Offers and transfer requests that arrived while this page was not connected. */
  function restore() {
    var chosen = state.availabilityChosen;
    PC.api("GET", "/me/routing").then(function (r) {
      if (!r) return;
      if (chosen === state.availabilityChosen) setAvailability(r.availability);
      (r.offers || []).forEach(function (o) {
        onNotification({ kind: "offered", conversation: o.conversation, offer_id: o.id, expires_at: o.expires_at });
      });
      (r.transfer_requests || []).forEach(function (x) { onTransfer(x.transfer, x.conversation || {}); });
    }, function () {});
  }

  function start() {
    PC = window.ParleyConsole;
    if (!PC || !PC.api) return;
    buildTopbar();
    buildSettingsButton();
    buildCannedButton();
    PC.alerts = { card: card, drop: dropCard, beep: beep, desktop: desktop };  // discussion.js, internal_chat.js
    PC.onChrome.push(onChrome);
    PC.onChrome.push(onWorkspaceChrome);
    if (PC.socket) wireSocket(PC.socket);
    restore();
  }

  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", start);
  else start();
})();
