/* Shared by every admin page (Users, Teams, Contacts, Inboxes, Integrations, Knowledge, Bot, Reports) and
   the console's Account dialog: one JSON client for /api/v1 and one DOM builder. Load it before the page's
   own script; the page takes what it needs from window.ParleyAdmin.

   api(method, path, body): `path` under /api/v1; `body` an object (sent as JSON) or a FormData (an upload).
   The page's CSRF token rides every call. Resolves with the JSON answer (null for 204 or an empty body);
   rejects with an Error whose `message` is fit to show (the API's own message, else one for the status),
   carrying `status`, `code` and `problems` (the API's list, for forms that mark fields). A 401 means the
   session ended (sign in again: the page goes to /login) or, with code `csrf`, that this page's token is
   stale (signed in again elsewhere: the page reloads) — once, whatever number of calls fail together.

   el(tag, attrs, ...children): attrs is null, a class name, or an object — `text` (textContent), `value` (attribute and property),
   `on` ({event: handler}) or `onclick`-style handlers, anything else an attribute (true → present,
   null/undefined/false → left out). Children are nodes, arrays of them, or text (numbers too), which
   always goes in as text nodes: user-supplied names never become HTML. */
(function () {
  "use strict";
  var CSRF = (document.querySelector('meta[name="csrf-token"]') || {}).content || "";
  var STATUS_MESSAGES = {
    400: "The request was not accepted.", 403: "You are not allowed to do that.", 404: "Not found.",
    409: "Someone changed this at the same time. Try again.", 413: "Too large.",
    422: "That change is not possible now.", 429: "Too many requests. Slow down a little."
  };
  var leaving = false;

  function sessionEnded(code) {
    if (leaving) return;
    leaving = true;
    setTimeout(function () {
      if (code === "csrf") window.location.reload(); else window.location.href = "/login";
    }, 1500);
  }
  function failure(status, code, message, problems) {
    var e = new Error(message);
    e.status = status; e.code = code; e.problems = problems || [];
    return e;
  }
  function api(method, path, body) {
    var opts = { method: method, credentials: "same-origin", headers: { Accept: "application/json", "X-CSRF-Token": CSRF } };
    if (typeof FormData !== "undefined" && body instanceof FormData) opts.body = body;
    else if (body !== undefined) { opts.headers["Content-Type"] = "application/json"; opts.body = JSON.stringify(body); }
    return fetch("/api/v1" + path, opts).then(function (r) {
      if (r.status === 204) return null;
      return r.text().then(function (raw) {
        var data = null;
        try { data = raw ? JSON.parse(raw) : null; } catch (e) { data = null; }
        if (r.ok) return data;
        var err = (data && data.error) || {};
        var message = err.message || STATUS_MESSAGES[r.status] || ("HTTP " + r.status);
        if (r.status === 401) {
          message = err.code === "csrf" ? "This page has expired. Reloading…"
                                        : "Your session has ended. Taking you to the sign-in page…";
          sessionEnded(err.code);
        }
        throw failure(r.status, err.code || "http_" + r.status, message, err.problems);
      });
    }, function () {
      throw failure(0, "network", "Can't reach the server. Check your connection.");
    });
  }

  function add(e, c) {
    if (c === null || c === undefined || c === false) return;
    if (Array.isArray(c)) { c.forEach(function (x) { add(e, x); }); return; }
    e.appendChild(typeof c === "object" ? c : document.createTextNode(String(c)));
  }
  function el(tag, attrs) {
    var e = document.createElement(tag);
    if (typeof attrs === "string") e.className = attrs;
    else Object.keys(attrs || {}).forEach(function (k) {
      var v = attrs[k];
      if (v === null || v === undefined || v === false) return;
      if (k === "text") e.textContent = String(v);
      else if (k === "value") { e.setAttribute("value", String(v)); e.value = String(v); }  // a textarea's too
      else if (k === "on") Object.keys(v).forEach(function (ev) { e.addEventListener(ev, v[ev]); });
      else if (k.slice(0, 2) === "on" && typeof v === "function") e.addEventListener(k.slice(2), v);
      else e.setAttribute(k, v === true ? "" : String(v));
    });
    for (var i = 2; i < arguments.length; i++) add(e, arguments[i]);
    return e;
  }
  function note(node, text, bad) { node.textContent = text || ""; node.className = "acc-note" + (bad ? " acc-bad" : ""); }
  function toast(text, kind) {
    var box = document.getElementById("toasts");
    if (!box) return;
    var t = el("div", { class: "toast" + (kind ? " toast-" + kind : ""), role: "status" }, text);
    box.appendChild(t);
    setTimeout(function () { t.remove(); }, 5000);
  }
  window.ParleyAdmin = { api: api, el: el, note: note, toast: toast };
})();
