/* Parley console: routing. Availability, notifications (sound and desktop when allowed), offers to
 * accept, transfer requests to accept or reject, transferring a conversation, and the contact's
 * journey. Built on the hooks console.js exposes as window.ParleyConsole; text always goes in as
 * text nodes. The events it listens to are in docs/interfaces.md.
 */
(function () {
  "use strict";

  var PC = null;
  var state = { availability: null, users: null, teams: null, journeyFor: null, journeySeq: 0, lastConv: null };
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
  function desktop(title, body, convId) {
    if (!alertsOn() || !("Notification" in window) || Notification.permission !== "granted") return;
    if (document.visibilityState === "visible" && document.hasFocus()) return; // the card is enough
    try {
      var n = new Notification(title, { body: body, tag: convId || title });
      n.onclick = function () { window.focus(); if (convId) PC.open(convId); n.close(); };
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
    PC.api("GET", "/me/routing").then(function (r) {
      if (!r) return;
      setAvailability(r.availability);
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
    PC.onChrome.push(onChrome);
    if (PC.socket) wireSocket(PC.socket);
    restore();
  }

  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", start);
  else start();
})();
