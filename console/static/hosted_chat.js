/* The hosted chat page (/c/<token>): a customer's personal link, the webchat as a full page.
   Reads and writes through /c/<token>/…; hears replies live on the /webchat socket as the link's identity.
   Every text is set with textContent: nothing a person wrote is ever parsed as HTML. */
(function () {
  "use strict";
  var token = document.body.getAttribute("data-token");
  if (!token) return;
  var base = "/c/" + encodeURIComponent(token);
  var log = document.getElementById("hc-log");
  var input = document.getElementById("hc-input");
  var send = document.getElementById("hc-send");
  var notice = document.getElementById("hc-notice");
  var sub = document.getElementById("hc-sub");
  var seen = new Set();
  var state = null;

  function call(method, path, body) {
    var opts = { method: method, headers: { Accept: "application/json" }, credentials: "omit" };
    if (body !== undefined) { opts.headers["Content-Type"] = "application/json"; opts.body = JSON.stringify(body); }
    return fetch(base + path, opts).then(function (res) {
      return res.json().catch(function () { return {}; }).then(function (data) {
        if (!res.ok) {
          var err = new Error((data.error && data.error.message) || "Something went wrong.");
          err.status = res.status; throw err;
        }
        return data;
      });
    });
  }

  function add(m) {
    if (!m || seen.has(m.id)) return;
    seen.add(m.id);
    var li = document.createElement("li");
    li.className = "hc-msg";
    li.setAttribute("data-testid", "hosted-message");
    li.setAttribute("data-sender", m.sender_type);
    li.setAttribute("data-id", String(m.id));
    li.textContent = m.text;
    log.appendChild(li);
    addFiles(li, m.files);
    log.scrollTop = log.scrollHeight;
  }

  /** Files an agent shared (a pre-planned session's, or sent live): download links, text by textContent. */
  function addFiles(li, files) {
    if (!li || !files || !files.length || li.querySelector(".hc-files")) return;
    var box = document.createElement("div");
    box.className = "hc-files";
    files.forEach(function (f) {
      var a = document.createElement("a");
      a.href = f.url;
      a.setAttribute("download", f.filename);
      a.setAttribute("data-testid", "hosted-file");
      a.rel = "noopener";
      a.textContent = "📎 " + f.filename;
      box.appendChild(a);
    });
    li.appendChild(box);
  }

  function paint(data) {
    state = data;
    (data.messages || []).forEach(add);
    var ended = data.state === "read_only";
    input.disabled = send.disabled = ended;
    document.body.setAttribute("data-state", data.state);
    if (data.state === "read_only") show("This chat has ended. You can still read it.");
    else if (data.state === "write_again") show("This chat has ended. Write to us to start a new one.");
    else show(null);
  }

  function show(text) {
    notice.hidden = !text;
    notice.textContent = text || "";
  }

  function fail(err) {
    if (err.status === 410 || err.status === 403 || err.status === 404) {
      input.disabled = send.disabled = true;
      document.body.setAttribute("data-state", "gone");
    }
    show(err.message);
  }

  function connect(visitorToken) {
    if (typeof window.io !== "function") return;
    var socket = window.io("/webchat", { auth: { token: visitorToken }, transports: ["websocket", "polling"] });
    // Leaving says goodbye at once, so the agent sees "offline" now rather than after the ping timeout.
    window.addEventListener("pagehide", function () { socket.disconnect(); });
    window.addEventListener("pageshow", function (e) { if (e.persisted) { socket.connect(); refresh(); } });
    socket.on("connect", function () { sub.textContent = "Connected"; });
    socket.on("disconnect", function () { sub.textContent = "Reconnecting…"; });
    socket.on("files", function (d) {
      if (d) addFiles(log.querySelector('[data-id="' + String(Number(d.id)) + '"]'), d.files);
    });
    socket.on("message", function (m) {
      if (state && m && m.conversation_id === state.conversation_id) add(m);
      else refresh();
    });
  }

  function refresh() { return call("GET", "/messages").then(paint, fail); }

  document.getElementById("hc-form").addEventListener("submit", function (e) {
    e.preventDefault();
    var text = input.value;
    if (!text.trim()) return;
    send.disabled = true;
    var clientId = "h" + Date.now().toString(36) + Math.random().toString(36).slice(2, 10);
    call("POST", "/messages", { text: text, client_id: clientId }).then(function (m) {
      input.value = "";
      add(m);
      if (state && m.conversation_id !== state.conversation_id) refresh();
    }, fail).then(function () { send.disabled = !!(state && state.state === "read_only"); input.focus(); });
  });
  input.addEventListener("keydown", function (e) {
    if (e.key === "Enter" && !e.shiftKey) { e.preventDefault(); document.getElementById("hc-form").requestSubmit(); }
  });

  call("POST", "/session", {}).then(function (data) {
    paint(data);
    sub.textContent = "Connected";
    connect(data.visitor_token);
    setInterval(refresh, 15000); // an end or a renewal shows within seconds even without a message
  }, fail);
})();
