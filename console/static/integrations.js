/* Conversation actions in the details (About) pane: a button per enabled action, the records they bound
   (links only when http(s)), errors said plainly. For admins, a notice when a webhook subscription was
   paused for failing. Independent of console.js: it follows the open conversation through the URL (#c/<id>). */
(function () {
  "use strict";
  var CSRF = (document.querySelector('meta[name="csrf-token"]') || {}).content || "";
  var panel = document.getElementById("actions-panel");
  if (!panel) return;
  var current = null;
  var actions = null;

  function call(method, path, body) {
    return fetch("/api/v1" + path, {
      method: method, credentials: "same-origin",
      headers: { "X-CSRF-Token": CSRF, "Content-Type": "application/json" },
      body: body === undefined ? undefined : JSON.stringify(body)
    }).then(function (r) {
      return r.json().then(function (data) {
        if (!r.ok) throw new Error((data && data.error && data.error.message) || ("HTTP " + r.status));
        return data;
      });
    });
  }
  function el(tag, cls, text) { var e = document.createElement(tag); if (cls) e.className = cls; if (text != null) e.textContent = text; return e; }
  function conversationId() {
    var m = /^#c\/(.+)$/.exec(location.hash || "");
    return m ? decodeURIComponent(m[1]) : null;
  }
  function safeUrl(url) {
    return typeof url === "string" && /^https?:\/\//i.test(url) ? url : null;
  }

  function render(records, message, isError) {
    panel.textContent = "";
    if (!current || !actions || (!actions.length && !records.length)) { panel.hidden = true; return; }
    panel.hidden = false;
    panel.appendChild(el("h3", "panel-title", "Actions"));
    var row = el("div", "action-buttons");
    actions.forEach(function (a) {
      var b = el("button", "btn btn-sm", a.label);
      b.type = "button";
      b.setAttribute("data-testid", "conversation-action");
      b.addEventListener("click", function () { run(a, b); });
      row.appendChild(b);
    });
    panel.appendChild(row);
    if (message) {
      var note = el("p", isError ? "composer-error" : "kb-muted", message);
      note.setAttribute("role", "alert");
      note.setAttribute("data-testid", "action-message");
      panel.appendChild(note);
    }
    if (records.length) {
      var ul = el("ul", "records");
      ul.setAttribute("data-testid", "conversation-records");
      records.forEach(function (r) {
        var li = el("li");
        var link = safeUrl(r.url);
        if (link) {
          var a = el("a", null, r.title);
          a.href = link; a.target = "_blank"; a.rel = "noopener noreferrer";
          li.appendChild(a);
        } else {
          li.appendChild(el("span", null, r.title));
        }
        li.appendChild(el("span", "kb-muted", " · " + (r.action || "action") + " · " + r.external_id));
        ul.appendChild(li);
      });
      panel.appendChild(ul);
    }
  }

  function run(action, button) {
    var id = current;
    button.disabled = true;
    call("POST", "/conversations/" + encodeURIComponent(id) + "/actions/" + action.id).then(function (out) {
      if (id !== current) return;
      render(out.records, out.record ? action.label + ": " + out.record.title : action.label + ": done.", false);
    }, function (err) {
      if (id !== current) return;
      load(err.message);
    });
  }

  function load(errorMessage) {
    var id = conversationId();
    current = id;
    if (!id) { render([]); return; }
    var getActions = actions ? Promise.resolve(actions) : call("GET", "/conversation_actions").then(function (d) {
      actions = d.actions.filter(function (a) { return a.enabled; });
      return actions;
    });
    getActions.then(function () { return call("GET", "/conversations/" + encodeURIComponent(id) + "/records"); })
      .then(function (d) { if (id === current) render(d.records, errorMessage, !!errorMessage); },
            function () { if (id === current) render([], errorMessage, !!errorMessage); });
  }

  function pausedNotice() {
    if (document.body.getAttribute("data-user-role") !== "admin") return;
    call("GET", "/webhook_subscriptions").then(function (d) {
      var paused = d.subscriptions.filter(function (s) { return s.paused; });
      if (!paused.length) return;
      var box = document.getElementById("toasts");
      if (!box) return;
      var t = el("div", "toast toast-error", paused.length + " webhook subscription(s) paused after failing for a day. ");
      t.setAttribute("data-testid", "webhooks-paused-notice");
      var a = el("a", null, "Integrations"); a.href = "/admin/integrations";
      t.appendChild(a);
      box.appendChild(t);
      setTimeout(function () { t.remove(); }, 15000);
    }, function () { /* not an admin after all, or offline: nothing to say */ });
  }

  window.addEventListener("hashchange", function () { load(); });
  load();
  pausedNotice();
})();
