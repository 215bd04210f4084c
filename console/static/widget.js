/* Parley webchat widget. Embed with one tag:
 *
 *   <script src="https://parley.example.com/widget/widget.js" defer></script>
 *
 * Optional attributes on that tag: data-widget-key="wk_…" (the inbox it belongs to, from the admin's
 * Inboxes page; without it, the default chat inbox), data-color="#4f46e5" (accent), data-title="Chat with us".
 * The inbox's own title, greeting and colour, fetched from the server, win over the attributes.
 * Everything renders inside an open Shadow DOM (window.ParleyWidget.root) so the host page's CSS
 * and ours never meet. All message text is set with textContent.
 */
(function () {
  "use strict";

  if (window.ParleyWidget && window.ParleyWidget.root) return; // embedded twice: keep the first

  var TOKEN_KEY = "parley_visitor_token";
  var MAX_LEN = 4096;
  var ACK_TIMEOUT_MS = 20000;
  var TYPING_TIMEOUT_MS = 15000;

  var script = document.currentScript;
  if (!script || !script.src) {
    // Inserted in an unusual way (some tag managers): find our own tag by its path.
    var tags = document.querySelectorAll("script[src]");
    for (var i = tags.length - 1; i >= 0; i--) {
      if (/\/widget(\.min)?\.js(\?|#|$)/.test(tags[i].src)) { script = tags[i]; break; }
    }
  }
  var origin;
  try {
    origin = new URL(script && script.src ? script.src : "/", window.location.href).origin;
  } catch (e) {
    origin = window.location.origin;
  }
  var accent = attr("data-color", /^#[0-9a-fA-F]{3,8}$/);
  var title = attr("data-title", /^[^<>]{1,60}$/) || "Chat with us";
  var widgetKey = attr("data-widget-key", /^[A-Za-z0-9_-]{1,40}$/);

  function attr(name, re) {
    var v = script && script.getAttribute(name);
    return v && re.test(v) ? v : null;
  }

  // ------------------------------------------------------------------ storage (may be blocked)
  function getToken() {
    try { return window.localStorage.getItem(TOKEN_KEY) || undefined; } catch (e) { return undefined; }
  }
  function setToken(t) {
    try { if (t) window.localStorage.setItem(TOKEN_KEY, t); } catch (e) { /* private mode */ }
  }

  // ------------------------------------------------------------------ tiny DOM helpers
  // Messages, files, a bot's buttons, the rating and the pre-chat form are drawn by the webchat's one
  // renderer (webchat_render.js, served first in the same file: console/pages.py), shared with the hosted page.
  var Render = window.ParleyRender;
  if (!Render) { if (window.console) window.console.error("Parley: load the widget from /widget/widget.js"); return; }
  var h = Render.h;
  var SVG_NS = "http://www.w3.org/2000/svg";
  function icon(paths, size) {
    var svg = document.createElementNS(SVG_NS, "svg");
    svg.setAttribute("viewBox", "0 0 24 24");
    svg.setAttribute("width", size || 24);
    svg.setAttribute("height", size || 24);
    svg.setAttribute("aria-hidden", "true");
    svg.setAttribute("focusable", "false");
    paths.forEach(function (d) {
      var p = document.createElementNS(SVG_NS, "path");
      p.setAttribute("d", d);
      p.setAttribute("fill", "currentColor");
      svg.appendChild(p);
    });
    return svg;
  }
  var ICON_CHAT = ["M4 4h16a2 2 0 0 1 2 2v10a2 2 0 0 1-2 2H9l-4.3 3.6A.75.75 0 0 1 3.5 21V18H4a2 2 0 0 1-2-2V6a2 2 0 0 1 2-2zm3 6.25a1.25 1.25 0 1 0 0 2.5 1.25 1.25 0 0 0 0-2.5zm5 0a1.25 1.25 0 1 0 0 2.5 1.25 1.25 0 0 0 0-2.5zm5 0a1.25 1.25 0 1 0 0 2.5 1.25 1.25 0 0 0 0-2.5z"];
  var ICON_CLOSE = ["M6.4 5 12 10.6 17.6 5 19 6.4 13.4 12 19 17.6 17.6 19 12 13.4 6.4 19 5 17.6 10.6 12 5 6.4z"];
  var ICON_SEND = ["M3.4 20.4 21.85 12.5a.55.55 0 0 0 0-1L3.4 3.6a.5.5 0 0 0-.7.6L5 11l9 1-9 1-2.3 6.8a.5.5 0 0 0 .7.6z"];
  var ICON_DOWN = ["M7.4 8.6 12 13.2l4.6-4.6L18 10l-6 6-6-6z"];

  function charLen(s) { return Array.from(s).length; }

  // ------------------------------------------------------------------ styles
  var CSS = [
    ":host { all: initial; }",
    ":host { --pw-accent: " + (accent || "#4f46e5") + "; --pw-ink: #1c2230; --pw-muted: #6b7385; --pw-line: #e4e7ee;",
    "  font: 14px/1.45 system-ui, -apple-system, 'Segoe UI', Roboto, 'Helvetica Neue', Arial, sans-serif; color: var(--pw-ink); }",
    "*, *::before, *::after { box-sizing: border-box; }",
    "[hidden] { display: none !important; }",
    "button { font: inherit; color: inherit; cursor: pointer; }",
    ".launcher { position: fixed; right: 20px; bottom: 20px; width: 58px; height: 58px; border-radius: 50%; border: 0;",
    "  background: var(--pw-accent); color: #fff; display: grid; place-items: center; padding: 0;",
    "  box-shadow: 0 6px 20px rgba(16,24,40,.25), 0 2px 6px rgba(16,24,40,.15); transition: transform .15s ease, box-shadow .15s ease; }",
    ".launcher:hover { transform: scale(1.05); box-shadow: 0 8px 26px rgba(16,24,40,.3); }",
    ".launcher:focus-visible { outline: 3px solid rgba(79,70,229,.45); outline-offset: 3px; }",
    ".launcher .ic-close { display: none; }",
    ".is-open .launcher .ic-chat { display: none; } .is-open .launcher .ic-close { display: block; }",
    ".unread { position: absolute; top: -3px; right: -3px; min-width: 20px; height: 20px; padding: 0 6px; border-radius: 999px;",
    "  background: #ef4444; color: #fff; font-size: 11px; font-weight: 700; display: grid; place-items: center; border: 2px solid #fff; }",
    ".panel { position: fixed; right: 20px; bottom: 90px; width: 370px; height: min(600px, calc(100vh - 110px));",
    "  background: #fff; border-radius: 16px; overflow: hidden; display: flex; flex-direction: column;",
    "  box-shadow: 0 18px 50px rgba(16,24,40,.25), 0 3px 10px rgba(16,24,40,.12); border: 1px solid rgba(16,24,40,.06);",
    "  transform-origin: bottom right; animation: pw-in .18s ease-out; }",
    "@keyframes pw-in { from { opacity: 0; transform: translateY(10px) scale(.98); } to { opacity: 1; transform: none; } }",
    ".head { background: var(--pw-accent); color: #fff; padding: 14px 14px 14px 16px; display: flex; align-items: center; gap: 12px; flex: 0 0 auto; }",
    ".head-avatar { width: 38px; height: 38px; border-radius: 50%; background: rgba(255,255,255,.2); display: grid; place-items: center; flex: 0 0 auto; }",
    ".head-text { flex: 1 1 auto; min-width: 0; }",
    ".title { font-weight: 700; font-size: 15.5px; line-height: 1.2; }",
    ".sub { font-size: 12.5px; opacity: .92; display: flex; align-items: center; gap: 6px; margin-top: 2px; }",
    ".dot { width: 8px; height: 8px; border-radius: 50%; background: #cbd5e1; flex: 0 0 auto; }",
    ".dot.on { background: #4ade80; box-shadow: 0 0 0 2px rgba(74,222,128,.3); }",
    ".close { border: 0; background: transparent; color: #fff; width: 32px; height: 32px; border-radius: 8px; display: grid; place-items: center; padding: 0; }",
    ".close:hover { background: rgba(255,255,255,.16); }",
    ".body { flex: 1 1 auto; overflow-y: auto; padding: 14px 14px 6px; background: #f7f8fb; display: flex; flex-direction: column; gap: 2px; }",
    ".welcome { align-self: center; text-align: center; color: var(--pw-muted); font-size: 13px; margin: 4px 10px 10px; max-width: 290px; }",
    ".list { display: flex; flex-direction: column; gap: 2px; }",
    ".queue { margin: 0 12px 6px; padding: 7px 10px; border-radius: 8px; background: #eef2ff; color: #3730a3; border: 1px solid #c7d2fe; font-size: 12.5px; flex: 0 0 auto; }",
    ".error { margin: 0 12px 6px; padding: 7px 10px; border-radius: 8px; background: #fef2f2; color: #991b1b; border: 1px solid #fecaca; font-size: 12.5px; flex: 0 0 auto; }",
    ".compose { display: flex; align-items: flex-end; gap: 8px; padding: 10px 10px 10px 14px; border-top: 1px solid var(--pw-line); background: #fff; flex: 0 0 auto; }",
    ".input { flex: 1 1 auto; border: 0; outline: none; resize: none; font: inherit; color: var(--pw-ink); background: transparent;",
    "  max-height: 120px; min-height: 22px; padding: 8px 0; line-height: 1.4; }",
    ".input::placeholder { color: #9aa3b5; }",
    ".send { width: 38px; height: 38px; border-radius: 50%; border: 0; background: var(--pw-accent); color: #fff; display: grid; place-items: center; flex: 0 0 auto; padding: 0; }",
    ".send:disabled { background: #c7cbd6; cursor: default; }",
    ".attach { width: 34px; height: 38px; border: 0; background: transparent; color: var(--pw-muted, #6b7280); font-size: 18px; cursor: pointer; flex: 0 0 auto; padding: 0; }",
    ".counter { font-size: 11px; color: var(--pw-muted); text-align: right; padding: 0 14px 4px; background: #fff; }",
    ".counter.over { color: #b91c1c; font-weight: 700; }",
    ".foot { font-size: 11px; color: #9aa3b5; text-align: center; padding: 0 0 8px; background: #fff; }",
    "@media (max-width: 480px) {",
    "  .panel { right: 0; bottom: 0; width: 100vw; height: 100vh; height: 100dvh; border-radius: 0; }",
    "  .is-open .launcher { display: none; }",
    "}",
  ].join("\n");

  // ------------------------------------------------------------------ build the widget
  var host = document.createElement("parley-widget");
  // CSSOM, not a style attribute: works under a strict Content-Security-Policy on the host page.
  host.style.cssText = "position:fixed;right:0;bottom:0;width:0;height:0;z-index:2147483000;";
  var root = host.attachShadow({ mode: "open" });
  var sheetDone = false;
  try {
    if ("adoptedStyleSheets" in root && typeof CSSStyleSheet === "function") {
      var sheet = new CSSStyleSheet();
      sheet.replaceSync(CSS);
      root.adoptedStyleSheets = [sheet];
      sheetDone = true;
    }
  } catch (e) { sheetDone = false; }
  if (!sheetDone) root.appendChild(h("style", null, CSS));
  Render.adoptCss(root); // the messages' own rules

  var statusDot = h("span", { class: "dot" });
  var statusText = h("span", null, "We're here to help");
  var closeBtn = h("button", { type: "button", class: "close", "aria-label": "Minimize chat", "data-testid": "parley-close" });
  closeBtn.appendChild(icon(ICON_DOWN, 22));
  var headAvatar = h("div", { class: "head-avatar" });
  headAvatar.appendChild(icon(ICON_CHAT, 20));

  var welcomeEl = h("div", { class: "welcome", "data-testid": "parley-greeting" }, "Hi there! Ask us anything. Our assistant answers right away, and a person takes over whenever you ask.");
  var list = h("div", { class: "list", "data-testid": "parley-messages" });
  var typing; // the renderer's "typing" dots: made once `render` exists (below)
  var bodyEl = h("div", { class: "body", role: "log", "aria-live": "polite" }, welcomeEl, list);
  var errorEl = h("div", { class: "error", role: "alert", "data-testid": "parley-error", hidden: true });
  var queueEl = h("div", { class: "queue", role: "status", "data-testid": "parley-queue", hidden: true });
  var input = h("textarea", { class: "input", rows: "1", placeholder: "Type your message…", "aria-label": "Message", "data-testid": "parley-input", maxlength: null });
  var sendBtn = h("button", { type: "submit", class: "send", "aria-label": "Send", "data-testid": "parley-send" });
  sendBtn.appendChild(icon(ICON_SEND, 18));
  // Files: the customer attaches one (POST /webchat/upload); agents' files arrive as links ("files").
  var fileInput = h("input", { type: "file", hidden: true, "data-testid": "parley-file" });
  var attachBtn = h("button", { type: "button", class: "attach", "aria-label": "Send a file", title: "Send a file", "data-testid": "parley-attach" }, "📎");
  var form = h("form", { class: "compose", autocomplete: "off" }, attachBtn, fileInput, input, sendBtn);
  var counter = h("div", { class: "counter", "data-testid": "parley-counter", hidden: true });

  var titleEl = h("div", { class: "title", "data-testid": "parley-title" }, title);
  var panel = h("div", { class: "panel", role: "dialog", "aria-label": title, "data-testid": "parley-panel", hidden: true },
    h("div", { class: "head" }, headAvatar,
      h("div", { class: "head-text" }, titleEl, h("div", { class: "sub", "data-testid": "parley-status" }, statusDot, statusText)),
      closeBtn),
    bodyEl, queueEl, errorEl, form, counter,
    h("div", { class: "foot" }, "Powered by Parley"));

  var unreadEl = h("span", { class: "unread", "data-testid": "parley-unread", hidden: true });
  var launcher = h("button", { type: "button", class: "launcher", "aria-label": "Open chat", "aria-expanded": "false", "data-testid": "parley-launcher" });
  var icChat = icon(ICON_CHAT, 28); icChat.setAttribute("class", "ic-chat");
  var icClose = icon(ICON_CLOSE, 26); icClose.setAttribute("class", "ic-close");
  launcher.appendChild(icChat);
  launcher.appendChild(icClose);
  launcher.appendChild(unreadEl);

  var container = h("div", { class: "pw" }, panel, launcher);
  root.appendChild(container);

  // ------------------------------------------------------------------ state
  var socket = null;
  var isOpen = false;
  var unread = 0;
  var conversationId = null;
  var byId = new Map(); // server id -> element
  var localSeq = 0;
  var typingTimer = null;
  var errorTimer = null;

  var api = {
    root: root,
    host: host,
    origin: origin,
    socket: null,
    open: open,
    close: close,
    toggle: function () { if (isOpen) close(); else open(); },
    get conversationId() { return conversationId; },
  };
  window.ParleyWidget = api;

  // ------------------------------------------------------------------ rendering (webchat_render.js)
  var render = Render.create({ tx: tx, origin: origin, onChoice: sendChoice });
  typing = render.typing();
  bodyEl.appendChild(typing);

  function lastMessageEl() {
    var items = list.querySelectorAll('[data-testid="parley-message"]');
    return items.length ? items[items.length - 1] : null;
  }

  function buildMessage(sender, text, opts) {
    opts.onRetry = resend;
    return render.message(sender, text, opts, lastMessageEl());
  }

  function setMeta(el, status, createdAt, error) {
    render.setMeta(el, status, createdAt, error, resend);
  }

  function scrollDown(force) {
    if (force || bodyEl.scrollHeight - bodyEl.scrollTop - bodyEl.clientHeight < 140) {
      bodyEl.scrollTop = bodyEl.scrollHeight;
    }
  }

  /** A message from the server (history or live). Returns true if it was new. */
  function addServerMessage(m) {
    if (!m || m.id == null) return false;
    var key = String(m.id);
    if (byId.has(key)) return false;
    if (m.conversation_id) conversationId = m.conversation_id;
    // The customer's own message echoed back (another tab, or before our ack arrived).
    if (m.sender_type === "contact") {
      var pending = list.querySelectorAll('[data-sender="contact"][data-status="pending"]');
      for (var i = 0; i < pending.length; i++) {
        if (pending[i].querySelector(".bubble").textContent === m.text) {
          confirmLocal(pending[i], m.id, m.created_at);
          return false;
        }
      }
    }
    var el = buildMessage(m.sender_type, m.text, { id: m.id, created_at: m.created_at, status: "sent", rich: m.rich, files: m.files });
    byId.set(key, el);
    if (m.sender_type === "contact") clearQuickReplies();
    // Keep failed/pending local messages at the bottom.
    var firstLocal = list.querySelector('[data-status="pending"], [data-status="failed"]');
    list.insertBefore(el, firstLocal);
    return true;
  }

  function confirmLocal(el, id, createdAt) {
    if (id != null) {
      var key = String(id);
      if (byId.has(key) && byId.get(key) !== el) { el.remove(); return; } // already shown
      el.setAttribute("data-id", key);
      byId.set(key, el);
    }
    setMeta(el, "sent", createdAt);
  }

  function renderHistory(data) {
    if (!data) return;
    conversationId = data.conversation_id || conversationId;
    var locals = Array.prototype.slice.call(list.querySelectorAll('[data-status="pending"], [data-status="failed"]'));
    while (list.firstChild) list.removeChild(list.firstChild);
    byId = new Map();
    (data.messages || []).forEach(addServerMessage);
    locals.forEach(function (el) {
      if (el.getAttribute("data-status") === "pending" || !el.getAttribute("data-id")) list.appendChild(el);
    });
    scrollDown(true);
  }

  function showTyping(on) {
    clearTimeout(typingTimer);
    typing.hidden = !on;
    if (on) {
      list.after(typing);
      scrollDown(false);
      typingTimer = setTimeout(function () { typing.hidden = true; }, TYPING_TIMEOUT_MS);
    }
  }

  function showError(message) {
    clearTimeout(errorTimer);
    if (!message) { errorEl.hidden = true; errorEl.textContent = ""; return; }
    errorEl.textContent = message;
    errorEl.hidden = false;
    errorTimer = setTimeout(function () { errorEl.hidden = true; }, 8000);
  }

  function setConnState(s) {
    statusDot.classList.toggle("on", s === "online");
    statusText.textContent = s === "online" ? tx("status_online", "Online · replies in a few minutes")
      : s === "connecting" ? tx("status_connecting", "Connecting…")
      : s === "offline" ? tx("status_offline", "Offline · trying to reconnect…")
      : tx("status_idle", "We're here to help");
    container.setAttribute("data-connection", s);
  }

  function bumpUnread() {
    if (isOpen) return;
    unread += 1;
    unreadEl.textContent = unread > 9 ? "9+" : String(unread);
    unreadEl.hidden = false;
    launcher.setAttribute("aria-label", tx("open_chat_unread", "Open chat ({n} new)", { n: unread }));
  }

  // ------------------------------------------------------------------ open / close
  function open() {
    if (isOpen) return;
    isOpen = true;
    panel.hidden = false;
    container.classList.add("is-open");
    launcher.setAttribute("aria-expanded", "true");
    launcher.setAttribute("aria-label", tx("close_chat", "Close chat"));
    unread = 0;
    unreadEl.hidden = true;
    connect();
    scrollDown(true);
    setTimeout(function () { try { input.focus({ preventScroll: true }); } catch (e) { input.focus(); } }, 30);
  }
  function close() {
    if (!isOpen) return;
    isOpen = false;
    panel.hidden = true;
    container.classList.remove("is-open");
    launcher.setAttribute("aria-expanded", "false");
    launcher.setAttribute("aria-label", tx("open_chat", "Open chat"));
  }

  // ------------------------------------------------------------------ sending
  function updateCounter() {
    var n = charLen(input.value);
    var over = n > MAX_LEN;
    counter.hidden = n < MAX_LEN - 500;
    counter.textContent = over ? n + " / " + MAX_LEN + " · too long" : n + " / " + MAX_LEN;
    counter.classList.toggle("over", over);
    sendBtn.disabled = over;
    input.style.height = "auto";
    input.style.height = Math.min(input.scrollHeight, 120) + "px";
  }

  function newClientId() {
    var bytes = new Uint8Array(12);
    (window.crypto || window.msCrypto).getRandomValues(bytes);
    return Array.prototype.map.call(bytes, function (b) { return ("0" + b.toString(16)).slice(-2); }).join("");
  }

  function emitMessage(el, text) {
    clearQuickReplies();
    setMeta(el, "pending");
    connect();
    if (!socket && connecting) { waiting.push([el, text]); return; } // sent once the client has loaded
    if (!socket) { setMeta(el, "failed", null, "chat is unavailable right now"); return; }
    var settled = false;
    var timer = setTimeout(function () {
      if (settled) return;
      settled = true;
      setMeta(el, "failed", null, "no answer from the server");
    }, ACK_TIMEOUT_MS);
    // Each bubble names its message once: a resend after a lost acknowledgement is stored once.
    var clientId = el.getAttribute("data-client-id");
    if (!clientId) { clientId = newClientId(); el.setAttribute("data-client-id", clientId); }
    socket.emit("message", { text: text, client_id: clientId, page: sdkPage() }, function (res) {
      clearTimeout(timer);
      var late = settled;
      settled = true;
      if (res && res.ok) {
        if (res.conversation_id) conversationId = res.conversation_id;
        confirmLocal(el, res.id, res.created_at);
      } else if (!late) {
        var err = (res && res.error) || {};
        var why = err.message || err.code || "something went wrong";
        setMeta(el, "failed", null, why);
        if (err.code === "prechat_required") showPrechat(); // fill it in, then Retry
        // The server may also have sent an `error` event about this; the failed bubble already says it.
        if (!errorEl.hidden && errorEl.textContent === why) showError(null);
      }
    });
  }

  function send() {
    var text = input.value.replace(/^\s*\n/, "").replace(/\s+$/, "");
    if (!text.trim()) return;
    if (charLen(text) > MAX_LEN) {
      showError(tx("too_long", "Your message is too long (max {n} characters).", { n: MAX_LEN }));
      return;
    }
    showError(null);
    if (endedEl) feedbackOnNewChat(); // a new chat starts below the ended one
    var el = buildMessage("contact", text, { status: "pending" });
    el.setAttribute("data-local-id", String(++localSeq));
    list.appendChild(el);
    input.value = "";
    updateCounter();
    scrollDown(true);
    emitMessage(el, text);
  }

  function resend(el) {
    var text = el.querySelector(".bubble").textContent;
    list.appendChild(el); // move to the end: it is being sent now
    emitMessage(el, text);
    scrollDown(true);
  }

  // ------------------------------------------------------------------ socket
  function loadClient(cb) {
    if (typeof window.io === "function") { cb(); return; }
    var existing = document.querySelector("script[data-parley-socketio]");
    var s = existing || document.createElement("script");
    s.addEventListener("load", function () { cb(); });
    s.addEventListener("error", function () { cb(new Error("load")); });
    if (!existing) {
      s.src = origin + "/static/vendor/socket.io.min.js";
      s.async = true;
      s.setAttribute("data-parley-socketio", "");
      (document.head || document.documentElement).appendChild(s);
    }
  }

  var connecting = false;
  var waiting = []; // messages typed before the socket client finished loading
  function flushWaiting() {
    var queued = waiting;
    waiting = [];
    queued.forEach(function (item) { emitMessage(item[0], item[1]); });
  }
  function connect() {
    if (socket || connecting) return;
    connecting = true;
    setConnState("connecting");
    loadClient(function (err) {
      connecting = false;
      if (err || typeof window.io !== "function") {
        setConnState("offline");
        showError(tx("unavailable", "Chat is unavailable right now. Please try again later."));
        flushWaiting(); // no socket: each is marked failed, with Retry
        return;
      }
      var auth = { token: getToken(), widget_key: widgetKey || undefined };
      socket = window.io(origin + "/webchat", {
        auth: auth,
        transports: ["websocket", "polling"],
        tryAllTransports: true,
      });
      api.socket = socket;
      flushWaiting(); // socket.io buffers these until the connection is up
      sdkAttach(socket); // the SDK's listeners and its calls made before the socket existed

      socket.on("connect", function () {
        setConnState("online");
        if (errorEl.textContent.indexOf("connect") >= 0) showError(null);
      });
      socket.on("disconnect", function (reason) {
        setConnState("offline");
        showTyping(false);
        if (reason === "io server disconnect") setTimeout(function () { socket.connect(); }, 2000);
      });
      socket.on("connect_error", function (err) {
        setConnState("offline");
        var refusal = err && err.data && err.data.code ? err.data : null; // an unknown widget key, a site not enabled
        if (refusal) { showError(refusal.message || "Chat is not available on this site."); return; }
        if (!socket.active) setTimeout(function () { socket.connect(); }, 5000);
      });
      socket.on("session", function (s) {
        if (!s) return;
        if (s.token) { setToken(s.token); auth.token = s.token; }
        if (s.conversation_id !== undefined) conversationId = s.conversation_id;
        if (s.conversation_id) dropPrechat(); // a chat is going on: the form was filled (or not needed)
      });
      socket.on("history", renderHistory);
      socket.on("message", function (m) {
        if (!m) return;
        if (m.sender_type !== "contact") showTyping(false);
        if (addServerMessage(m)) {
          if (m.sender_type !== "contact") bumpUnread();
          scrollDown(m.sender_type !== "system");
        }
      });
      socket.on("typing", function (t) { showTyping(!!(t && t.typing)); });
      socket.on("files", showFiles);
      socket.on("queue", showQueue);
      socket.on("ended", showRating); // the chat closed: maybe a rating (below)
      socket.on("earlier", showEarlier);
      socket.on("error", function (e) {
        showError((e && (e.message || e.code)) || "Something went wrong.");
      });
    });
  }

  /** Waiting for a person: the place in the queue and an estimate, live (the `queue` event). */
  var queueTimer = null;
  function showQueue(q) {
    clearTimeout(queueTimer);
    if (!q || (conversationId && q.conversation_id !== conversationId)) return;
    queueEl.setAttribute("data-status", q.status || "");
    if (q.status === "waiting" && q.position) {
      var mins = q.estimated_wait_seconds ? Math.max(1, Math.round(q.estimated_wait_seconds / 60)) : null;
      queueEl.textContent = (q.position === 1 ? tx("queue_next", "You're next in line for a person")
        : tx("queue_position", "You're number {n} in line for a person", { n: q.position }))
        + (q.team_open === false && q.opens_at_text ? tx("queue_opens", " · we open again {when}", { when: q.opens_at_text })
           : mins ? tx("queue_minutes", " · about {n} min", { n: mins }) : "") + ".";
      queueEl.hidden = false;
    } else if (q.status === "assigned" && !queueEl.hidden) {
      queueEl.textContent = tx("queue_assigned", "{name} will answer you now.",
        { name: q.agent && q.agent.name ? q.agent.name : tx("someone", "Someone from our team") });
      queueTimer = setTimeout(function () { queueEl.hidden = true; }, 6000);
    } else {
      queueEl.hidden = true;
    }
  }

  function showFiles(data) {
    if (data) render.files(byId.get(String(data.id)), data.files);
  }

  /** A chip's title sent as the visitor's message, as send() would, leaving their draft alone. */
  function sendChoice(title) {
    showError(null);
    var el = buildMessage("contact", title, { status: "pending" });
    el.setAttribute("data-local-id", String(++localSeq));
    list.appendChild(el);
    scrollDown(true);
    emitMessage(el, title);
  }

  function clearQuickReplies() { render.clearChoices(list); }

  function upload(file) {
    var token = getToken();
    if (!token) { showError("Connect to chat first."); return; }
    var fd = new FormData();
    fd.append("token", token);
    if (widgetKey) fd.append("widget_key", widgetKey);
    fd.append("file", file, file.name);
    attachBtn.disabled = true;
    fetch(origin + "/webchat/upload", { method: "POST", body: fd, credentials: "omit" }).then(function (r) {
      return r.json().catch(function () { return null; }).then(function (data) {
        if (!r.ok || !data || !data.ok) {
          throw new Error((data && data.error && data.error.message) || (r.status === 413 ? "The file is too large." : "The file could not be sent."));
        }
        return data;
      });
    }).then(function (data) {
      addServerMessage({ id: data.id, conversation_id: data.conversation_id, sender_type: "contact", text: data.text, created_at: data.created_at });
      scrollDown(true);
    }, function (err) { showError(err.message); }).then(function () { attachBtn.disabled = false; });
  }

  // ------------------------------------------------------------------ events
  attachBtn.addEventListener("click", function () { fileInput.click(); });
  fileInput.addEventListener("change", function () {
    var file = fileInput.files && fileInput.files[0];
    fileInput.value = "";
    if (file) upload(file);
  });
  launcher.addEventListener("click", function () { if (isOpen) close(); else open(); });
  closeBtn.addEventListener("click", function () { close(); launcher.focus(); });
  panel.addEventListener("keydown", function (e) { if (e.key === "Escape") { close(); launcher.focus(); } });
  form.addEventListener("submit", function (e) { e.preventDefault(); send(); });
  input.addEventListener("keydown", function (e) {
    if (e.key === "Enter" && !e.shiftKey && !e.isComposing && e.keyCode !== 229) {
      e.preventDefault();
      send();
    }
  });
  input.addEventListener("input", updateCounter);

  /** The inbox's title, greeting and colour (plain text from the server, set as text, colour checked). */
  function loadLook() {
    if (typeof fetch !== "function") return;
    fetch(origin + "/webchat/widget-config" + (widgetKey ? "?key=" + encodeURIComponent(widgetKey) : ""), { credentials: "omit" })
      .then(function (r) { return r.ok ? r.json() : null; })
      .then(function (look) {
        if (!look) return;
        if (typeof look.title === "string" && look.title) { titleEl.textContent = look.title; panel.setAttribute("aria-label", look.title); }
        if (typeof look.greeting === "string" && look.greeting) welcomeEl.textContent = look.greeting;
        if (typeof look.color === "string" && /^#[0-9a-fA-F]{3,8}$/.test(look.color)) host.style.setProperty("--pw-accent", look.color);
        applyFeedback(look); // the pre-chat form and the rating (below)
      }, function () { /* keep the script tag's look */ });
  }

  // ------------------------------------------------------------------ pre-chat form and end-of-chat rating
  // Both come from the inbox (/webchat/widget-config: `prechat_form`, `rating`) and talk over the socket
  // (`prechat`, `rate`; the server checks everything and answers with a message to show). The cards are the
  // renderer's (webchat_render.js), their strings the catalogues' (setLocale translates them).
  var FEEDBACK_DONE_KEY = "parley_prechat_done:" + (widgetKey || "");
  var RATE_PENDING_KEY = "parley_rate_pending:" + (widgetKey || "");
  var prechatForm = null; // {name: mode, email: mode} from the inbox; null: no form
  var prechatCard = null;
  var ratingCard = null;
  var endedEl = null;

  /** The inbox's feedback options, from widget-config. */
  function applyFeedback(look) {
    var f = look && look.prechat_form;
    prechatForm = f && typeof f === "object" && (f.name === "required" || f.name === "optional" || f.email === "required" || f.email === "optional") ? f : null;
    if (prechatForm && !storedFlag(FEEDBACK_DONE_KEY) && !conversationId) showPrechat();
    var pending = storedFlag(RATE_PENDING_KEY);
    if (look && look.rating && pending) showRating({ conversation_id: pending, rating: true });
  }

  function storedFlag(key) {
    try { return window.localStorage.getItem(key) || null; } catch (e) { return null; }
  }
  function storeFlag(key, value) {
    try { if (value) window.localStorage.setItem(key, value); else window.localStorage.removeItem(key); } catch (e) { /* private mode */ }
  }

  /** Emit on the socket once it exists (the client may still be loading). */
  function feedbackEmit(name, data, done) {
    connect();
    var tries = 0;
    (function attempt() {
      if (socket) { socket.emit(name, data, done); return; }
      if (++tries > 100) { done({ ok: false, error: { message: tx("failed", "That did not go through. Please try again.") } }); return; }
      setTimeout(attempt, 100);
    })();
  }

  /** The pre-chat form, in place of the message box until the server accepts it. */
  function showPrechat() {
    if (!prechatForm || prechatCard) return;
    prechatCard = render.prechatCard(prechatForm, function (body, done) { feedbackEmit("prechat", body, done); }, function () {
      storeFlag(FEEDBACK_DONE_KEY, "1");
      dropPrechat();
      try { input.focus({ preventScroll: true }); } catch (e2) { input.focus(); }
    });
    form.hidden = true;
    bodyEl.appendChild(prechatCard);
    scrollDown(true);
  }

  function dropPrechat() {
    if (!prechatCard) return;
    prechatCard.remove();
    prechatCard = null;
    form.hidden = false;
  }

  /** The chat closed (`ended`): say so, and ask for a rating when the inbox wants one. */
  function showRating(notice) {
    if (!notice || !notice.conversation_id) return;
    queueEl.hidden = true; // "… will answer you now" is over
    if (!endedEl) {
      endedEl = render.ended();
      bodyEl.appendChild(endedEl);
    }
    if (!notice.rating || ratingCard) { scrollDown(true); return; }
    storeFlag(RATE_PENDING_KEY, notice.conversation_id);
    ratingCard = render.ratingCard(function (rating, done) {
      feedbackEmit("rate", { conversation_id: notice.conversation_id, score: rating.score, comment: rating.comment }, done);
    }, function () { storeFlag(RATE_PENDING_KEY, null); }); // rated (or nothing more to do for this chat)
    bodyEl.appendChild(ratingCard);
    scrollDown(true);
  }

  /** A new message after the end: the ended note and the rating card stay above it, done with. */
  function feedbackOnNewChat() {
    if (endedEl && endedEl.parentNode) { list.appendChild(endedEl); }
    if (ratingCard && ratingCard.parentNode) { list.appendChild(ratingCard); }
    endedEl = null;
    ratingCard = null;
  }

  // ------------------------------------------------------------------ i18n: the widget's strings (docs/widget.md)
  // English is written at each tx() call; the other languages come from /webchat/i18n/<lang>.json (the
  // message catalogues in console/static/i18n/), and a key a catalogue lacks falls back to the English.
  var LOCALES = ["en", "de", "fr", "es"];
  var strings = {};
  var locale = "en";
  var localeSeq = 0;
  function tx(key, english, vars) {
    var s = strings && typeof strings[key] === "string" && strings[key] ? strings[key] : english;
    if (vars) s = s.replace(/\{(\w+)\}/g, function (m, name) { return vars[name] != null ? String(vars[name]) : m; });
    return s;
  }
  function pickLocale(lang) {
    var base = String(lang || "").toLowerCase().split(/[-_]/)[0];
    return LOCALES.indexOf(base) >= 0 ? base : null;
  }
  // A title or greeting the inbox (or the script tag) set stays as its admin wrote it: only the
  // widget's own default text is replaced.
  var shownDefaults = {};
  function localizeDefault(el, key, english) {
    var before = shownDefaults[key] !== undefined ? shownDefaults[key] : english;
    if (el.textContent !== before) return false;
    el.textContent = shownDefaults[key] = tx(key, english);
    return true;
  }
  function applyLocale() {
    if (localizeDefault(titleEl, "title", "Chat with us")) panel.setAttribute("aria-label", titleEl.textContent);
    localizeDefault(welcomeEl, "greeting", "Hi there! Ask us anything. Our assistant answers right away, and a person takes over whenever you ask.");
    var foot = root.querySelector(".foot");
    if (foot) foot.textContent = tx("powered_by", "Powered by Parley");
    input.setAttribute("placeholder", tx("placeholder", "Type your message…"));
    input.setAttribute("aria-label", tx("message_label", "Message"));
    sendBtn.setAttribute("aria-label", tx("send", "Send"));
    attachBtn.setAttribute("aria-label", tx("attach", "Send a file"));
    attachBtn.setAttribute("title", tx("attach", "Send a file"));
    closeBtn.setAttribute("aria-label", tx("minimize", "Minimize chat"));
    launcher.setAttribute("aria-label", isOpen ? tx("close_chat", "Close chat")
      : unread ? tx("open_chat_unread", "Open chat ({n} new)", { n: unread }) : tx("open_chat", "Open chat"));
    render.relabel(root);
    render.relocalize(); // the typing dots, the pre-chat form, the rating, the earlier conversations
    var conn = container.getAttribute("data-connection");
    if (conn) setConnState(conn);
    else statusText.textContent = tx("status_idle", "We're here to help");
    container.setAttribute("lang", locale);
    container.setAttribute("data-locale", locale);
  }

  /** Parley.setLocale("de"): resolves with the language now shown; an unknown one is refused (English stays). */
  function setLocale(lang) {
    var want = pickLocale(lang);
    var seq = ++localeSeq;
    if (!want) return Promise.reject(sdkError("unknown_locale", "The widget speaks " + LOCALES.join(", ") + "."));
    if (want === "en" || typeof fetch !== "function") {
      strings = {}; locale = "en"; applyLocale();
      return Promise.resolve(locale);
    }
    return fetch(origin + "/webchat/i18n/" + want + ".json", { credentials: "omit" }).then(function (r) {
      return r.ok ? r.json() : Promise.reject(sdkError("unknown_locale", "No strings for " + want + "."));
    }).then(function (data) {
      if (seq !== localeSeq) return locale; // a later setLocale won
      strings = (data && data.strings) || {};
      locale = want;
      applyLocale();
      return locale;
    });
  }

  // ------------------------------------------------------------------ SDK: window.Parley (docs/widget.md)
  // setUser / setAttributes go to the server over the /webchat socket (console/widget_sdk.py) and answer
  // with a Promise; events reach the page as DOM events on window (parley:ready, :message, :handoff).
  var sdkQueue = []; // calls made before the socket existed: sent by sdkAttach
  var handedOff = {}; // conversation id -> true once parley:handoff fired for it
  function sdkError(code, message) { var e = new Error(message); e.code = code; return e; }
  function sdkFire(name, detail) {
    try { window.dispatchEvent(new CustomEvent(name, { detail: detail })); } catch (e) { /* very old browser */ }
  }
  function sdkSend(sock, item) {
    var timer = setTimeout(function () { item[3](sdkError("timeout", "No answer from the chat server.")); }, ACK_TIMEOUT_MS);
    sock.emit(item[0], item[1], function (res) {
      clearTimeout(timer);
      if (res && res.ok) { item[2](res); return; }
      var err = (res && res.error) || {};
      item[3](sdkError(err.code || "refused", err.message || "Refused."));
    });
  }
  function sdkCall(event, payload) {
    return new Promise(function (resolve, reject) {
      var item = [event, payload, resolve, reject];
      if (socket) { sdkSend(socket, item); return; }
      sdkQueue.push(item);
      connect();
      if (!socket && !connecting) { // the chat client could not load
        sdkQueue = sdkQueue.filter(function (i) { return i !== item; });
        reject(sdkError("unavailable", "Chat is unavailable right now."));
      }
    });
  }
  function sdkAttach(sock) {
    sock.on("message", function (m) {
      if (m && m.id != null) {
        sdkFire("parley:message", { id: m.id, conversation_id: m.conversation_id, sender_type: m.sender_type,
                                    text: m.text, created_at: m.created_at });
      }
    });
    sock.on("queue", function (q) {
      if (!q || !q.conversation_id) return;
      if (q.status === "waiting" || q.status === "assigned") {
        if (handedOff[q.conversation_id]) return;
        handedOff[q.conversation_id] = true;
        sdkFire("parley:handoff", { conversation_id: q.conversation_id, status: q.status, position: q.position || null });
      } else if (q.status === "bot") {
        delete handedOff[q.conversation_id]; // given back to the bot: a later handoff is announced again
      }
    });
    var queued = sdkQueue;
    sdkQueue = [];
    queued.forEach(function (item) { sdkSend(sock, item); });
  }
  /** Where the customer is: sent with each message, stored when a conversation starts. */
  function sdkPage() {
    return { url: String(window.location.href).slice(0, 2000), referrer: String(document.referrer || "").slice(0, 2000) };
  }
  function setUser(id, user, identifierHash) {
    if (id === undefined || id === null || id === "") {
      return Promise.reject(sdkError("invalid_user_id", "setUser needs the user's id."));
    }
    var payload = { id: String(id), identifier_hash: identifierHash == null ? "" : String(identifierHash) };
    if (user) payload.user = user;
    return sdkCall("identify", payload);
  }
  function setAttributes(attributes) {
    return sdkCall("attributes", { attributes: attributes }).then(function (res) { return res.attributes; });
  }
  /** On logout: forget this browser's chat (its token, so also the signed-in user); the next chat is anonymous. */
  function reset() {
    try { window.localStorage.removeItem(TOKEN_KEY); } catch (e) { /* private mode */ }
    var old = socket;
    socket = null;
    api.socket = null;
    if (old) { old.off(); old.disconnect(); }
    sdkQueue = [];
    handedOff = {};
    conversationId = null;
    byId = new Map();
    while (list.firstChild) list.removeChild(list.firstChild);
    queueEl.hidden = true;
    showTyping(false);
    showError(null);
    unread = 0;
    unreadEl.hidden = true;
    setConnState("idle");
    if (isOpen) connect();
    return Promise.resolve();
  }
  var sdkApi = {
    setUser: setUser,
    setAttributes: setAttributes,
    setLocale: setLocale,
    reset: reset,
    open: open,
    close: close,
    ready: false,
    get locale() { return locale; },
  };
  window.Parley = sdkApi;
  /** At mount: the page's language (data-locale on the script tag, else the browser's), then parley:ready. */
  function sdkReady() {
    var lang = pickLocale(attr("data-locale", /^[A-Za-z]{2}([-_][A-Za-z]{2})?$/)) || pickLocale(navigator.language) || "en";
    var done = function () {
      sdkApi.ready = true;
      sdkFire("parley:ready", { locale: locale });
    };
    if (lang === "en") done();
    else setLocale(lang).then(done, done);
  }

  /** A returning customer's own earlier messages (the `earlier` event), read-only and collapsed above the
   *  conversation. */
  var earlierEl = null;
  function showEarlier(data) {
    if (!earlierEl) {
      earlierEl = h("details", { class: "earlier", "data-testid": "parley-earlier" });
      bodyEl.insertBefore(earlierEl, list);
    }
    render.earlier(earlierEl, (data && data.conversations) || []);
  }

  function mount() {
    (document.body || document.documentElement).appendChild(host);
    loadLook();
    sdkReady(); // window.Parley: the browser's language, then `parley:ready`
    // A returning visitor: resume right away (history, replies that came while away).
    if (getToken()) connect();
  }
  if (document.body) mount();
  else document.addEventListener("DOMContentLoaded", mount);
})();
