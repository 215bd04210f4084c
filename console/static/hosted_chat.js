/* The hosted chat page (/c/<token>): a customer's personal link, the webchat as a full page.
   Reads and writes through /c/<token>/…; hears replies live on the /webchat socket as the link's identity.
   Messages, files, a bot's buttons and image, the typing dots, earlier chats and the rating are drawn by the
   webchat's one renderer (webchat_render.js, loaded first), the widget's own: nothing a person wrote is ever
   parsed as HTML. Language: the browser's (navigator.languages), from the widget's catalogues. */
(function () {
  "use strict";
  var token = document.body.getAttribute("data-token");
  if (!token || !window.ParleyRender) return;
  var base = "/c/" + encodeURIComponent(token);
  var logEl = document.getElementById("hc-log");
  var list = document.getElementById("hc-list");
  var earlierEl = document.getElementById("hc-earlier");
  var input = document.getElementById("hc-input");
  var send = document.getElementById("hc-send");
  var notice = document.getElementById("hc-notice");
  var sub = document.getElementById("hc-sub");
  var formEl = document.getElementById("hc-form");
  var attach = document.getElementById("hc-attach");
  var fileInput = document.getElementById("hc-file");
  var seen = new Map(); // message id -> element
  var state = null;
  var noticeKey = null; // the notice shown, as [key, English], so a language change redoes it
  var ratingCard = null;
  var ratedIds = {};
  var typingTimer = null;

  // ------------------------------------------------------------------ language (the widget's catalogues)
  var LOCALES = ["en", "de", "fr", "es"];
  var strings = {};
  function tx(key, english, vars) {
    var s = typeof strings[key] === "string" && strings[key] ? strings[key] : english;
    if (vars) s = s.replace(/\{(\w+)\}/g, function (m, name) { return vars[name] != null ? String(vars[name]) : m; });
    return s;
  }
  function browserLocale() {
    var langs = (navigator.languages && navigator.languages.length ? navigator.languages : [navigator.language]) || [];
    for (var i = 0; i < langs.length; i++) {
      var l = String(langs[i] || "").toLowerCase().split(/[-_]/)[0];
      if (LOCALES.indexOf(l) >= 0) return l;
    }
    return "en";
  }
  var render = window.ParleyRender.create({ tx: tx, origin: window.location.origin, onChoice: sendText });
  window.ParleyRender.adoptCss(document);
  var typing = render.typing();
  logEl.appendChild(typing);

  function applyLocale(lang) {
    document.documentElement.setAttribute("lang", lang);
    document.body.setAttribute("data-locale", lang);
    input.setAttribute("placeholder", tx("placeholder", "Type your message…"));
    document.querySelector("label[for=hc-input]").textContent = tx("message_label", "Message");
    send.textContent = tx("send", "Send");
    attach.setAttribute("aria-label", tx("attach", "Send a file"));
    attach.setAttribute("title", tx("attach", "Send a file"));
    if (sub.getAttribute("data-key") === "on") sub.textContent = tx("hosted_connected", "Connected");
    if (sub.getAttribute("data-key") === "off") sub.textContent = tx("hosted_reconnecting", "Reconnecting…");
    if (noticeKey) notice.textContent = tx(noticeKey[0], noticeKey[1]);
    render.relabel(list);
    render.relocalize();
  }
  function loadLocale() {
    var lang = browserLocale();
    if (lang === "en") { applyLocale("en"); return Promise.resolve(); }
    return fetch("/webchat/i18n/" + lang + ".json", { credentials: "omit" }).then(function (r) {
      return r.ok ? r.json() : null;
    }).then(function (data) {
      strings = (data && data.strings) || {};
      applyLocale(data ? lang : "en");
    }, function () { applyLocale("en"); });
  }

  // ------------------------------------------------------------------ the page's JSON
  function call(method, path, body) {
    var opts = { method: method, headers: { Accept: "application/json" }, credentials: "omit" };
    if (body !== undefined) { opts.headers["Content-Type"] = "application/json"; opts.body = JSON.stringify(body); }
    return fetch(base + path, opts).then(function (res) {
      return res.json().catch(function () { return {}; }).then(function (data) {
        if (!res.ok) {
          var err = new Error((data.error && data.error.message) || tx("failed", "That did not go through. Please try again."));
          err.status = res.status;
          err.code = data.error && data.error.code;
          throw err;
        }
        return data;
      });
    });
  }

  // ------------------------------------------------------------------ messages
  function lastMessage() {
    var items = list.querySelectorAll('[data-testid="parley-message"]');
    return items.length ? items[items.length - 1] : null;
  }
  function scrollDown() { logEl.scrollTop = logEl.scrollHeight; }

  function add(m) {
    if (!m || m.id == null) return;
    if (seen.has(String(m.id))) { render.files(seen.get(String(m.id)), m.files); return; } // its files may come later
    if (m.sender_type === "contact") render.clearChoices(list); // buttons apply until the customer writes
    else showTyping(false);
    var el = render.message(m.sender_type, m.text, { id: m.id, created_at: m.created_at, rich: m.rich, files: m.files },
                            lastMessage());
    seen.set(String(m.id), el);
    var firstLocal = list.querySelector('[data-status="pending"], [data-status="failed"]');
    list.insertBefore(el, firstLocal);
    scrollDown();
  }

  function showTyping(on) {
    clearTimeout(typingTimer);
    typing.hidden = !on;
    if (on) { scrollDown(); typingTimer = setTimeout(function () { typing.hidden = true; }, 15000); }
  }

  /** What the customer wrote (or a bot button's title): a pending bubble until the server has it. */
  function sendText(text) {
    render.clearChoices(list);
    var el = render.message("contact", text, { status: "pending" }, lastMessage());
    list.appendChild(el);
    scrollDown();
    post(el, text);
  }
  function post(el, text) {
    render.setMeta(el, "pending");
    var clientId = el.getAttribute("data-client-id");
    if (!clientId) {
      clientId = "h" + Date.now().toString(36) + Math.random().toString(36).slice(2, 10);
      el.setAttribute("data-client-id", clientId);
    }
    return call("POST", "/messages", { text: text, client_id: clientId }).then(function (m) {
      var key = String(m.id);
      if (seen.has(key)) { el.remove(); } // the socket brought it first
      else {
        el.setAttribute("data-id", key);
        seen.set(key, el);
        render.setMeta(el, "sent", m.created_at);
      }
      if (state && m.conversation_id !== state.conversation_id) refresh();
    }, function (err) {
      render.setMeta(el, "failed", null, err.message, function () { list.appendChild(el); post(el, text); });
      fail(err);
    });
  }

  // ------------------------------------------------------------------ state, notices, rating
  function paint(data) {
    if (state && data.conversation_id !== state.conversation_id && ratingCard) {
      list.appendChild(ratingCard); // a new chat: the rating of the ended one stays above it
      ratingCard = null;
    }
    state = data;
    (data.messages || []).forEach(add);
    var readOnly = data.state === "read_only";
    input.disabled = send.disabled = attach.disabled = readOnly;
    document.body.setAttribute("data-state", data.state);
    if (readOnly) localizeNotice("hosted_read_only", "This chat has ended. You can still read it.");
    else if (data.state === "write_again") localizeNotice("hosted_write_again", "This chat has ended. Write to us to start a new one.");
    else localizeNotice(null);
    if (data.rating_wanted && !ratingCard && !ratedIds[data.conversation_id]) showRating(data.conversation_id);
  }

  /** The stars for a closed chat whose inbox asks for a rating; POST /c/<token>/rating. */
  function showRating(conversationId) {
    ratingCard = render.ratingCard(function (rating, done) {
      call("POST", "/rating", { conversation_id: conversationId, score: rating.score, comment: rating.comment }).then(
        function () { done({ ok: true }); },
        function (err) { done({ ok: false, error: { code: err.code, message: err.message } }); });
    }, function () { ratedIds[conversationId] = true; });
    logEl.appendChild(ratingCard);
    scrollDown();
  }

  function localizeNotice(key, english) {
    noticeKey = key ? [key, english] : null;
    notice.hidden = !key;
    notice.textContent = key ? tx(key, english) : "";
  }

  function fail(err) {
    if (err.status === 410 || err.status === 403 || err.status === 404) {
      input.disabled = send.disabled = attach.disabled = true;
      document.body.setAttribute("data-state", "gone");
    }
    noticeKey = null;
    notice.hidden = false;
    notice.textContent = err.message;
  }

  function connected(on) {
    sub.setAttribute("data-key", on ? "on" : "off");
    sub.textContent = on ? tx("hosted_connected", "Connected") : tx("hosted_reconnecting", "Reconnecting…");
  }

  /** The customer's own earlier webchat conversations, except those this page already shows. */
  function showEarlier(data) {
    var ids = {};
    ((state && state.messages) || []).forEach(function (m) { ids[m.conversation_id] = true; });
    render.earlier(earlierEl, ((data && data.conversations) || []).filter(function (c) { return !ids[c.conversation_id]; }));
  }

  function connect(visitorToken) {
    if (typeof window.io !== "function") return;
    var socket = window.io("/webchat", { auth: { token: visitorToken }, transports: ["websocket", "polling"] });
    // Leaving says goodbye at once, so the agent sees "offline" now rather than after the ping timeout.
    window.addEventListener("pagehide", function () { socket.disconnect(); });
    window.addEventListener("pageshow", function (e) { if (e.persisted) { socket.connect(); refresh(); } });
    socket.on("connect", function () { connected(true); });
    socket.on("disconnect", function () { connected(false); showTyping(false); });
    socket.on("files", function (d) { if (d) render.files(seen.get(String(Number(d.id))), d.files); });
    socket.on("typing", function (t) { showTyping(!!(t && t.typing)); });
    socket.on("earlier", showEarlier);
    socket.on("ended", function () { refresh(); }); // the state says read-only or write again, and the rating
    socket.on("message", function (m) {
      if (state && m && m.conversation_id === state.conversation_id) add(m);
      else refresh();
    });
  }

  /** A file from the customer: POST /c/<token>/upload; it shows as their message, with its link. */
  function upload(file) {
    var body = new FormData();
    body.append("file", file, file.name);
    attach.disabled = true;
    fetch(base + "/upload", { method: "POST", body: body, credentials: "omit", headers: { Accept: "application/json" } })
      .then(function (res) {
        return res.json().catch(function () { return {}; }).then(function (data) {
          if (!res.ok) {
            var err = new Error((data.error && data.error.message) || tx("failed", "That did not go through. Please try again."));
            err.status = res.status;
            throw err;
          }
          return data;
        });
      }).then(function (m) {
        render.clearChoices(list);
        add(m);
        if (state && m.conversation_id !== state.conversation_id) refresh();
      }, fail).then(function () { attach.disabled = !!(state && state.state === "read_only"); });
  }
  attach.addEventListener("click", function () { fileInput.click(); });
  fileInput.addEventListener("change", function () {
    var file = fileInput.files && fileInput.files[0];
    fileInput.value = "";
    if (file) upload(file);
  });

  function refresh() { return call("GET", "/messages").then(paint, fail); }

  formEl.addEventListener("submit", function (e) {
    e.preventDefault();
    var text = input.value.replace(/\s+$/, "");
    if (!text.trim()) return;
    input.value = "";
    sendText(text);
    input.focus();
  });
  input.addEventListener("keydown", function (e) {
    if (e.key === "Enter" && !e.shiftKey && !e.isComposing) { e.preventDefault(); formEl.requestSubmit(); }
  });

  loadLocale().then(function () { return call("POST", "/session", {}); }).then(function (data) {
    paint(data);
    connected(true);
    connect(data.visitor_token);
    setInterval(refresh, 15000); // an end or a renewal shows within seconds even without a message
  }, fail);
})();
