/* The integrations admin page (console/templates/admin_integrations.html): webhook subscriptions (create,
   pause/resume, delete, the delivery log) and conversation actions, over /api/v1 with the page's CSRF token.
   Everything shown comes from the API as text (textContent), never as HTML. */
(function () {
  "use strict";
  var A = window.ParleyAdmin, api = A.api, el = A.el, toast = A.toast;  // admin_common.js
  function $(id) { return document.getElementById(id); }
  function btn(text, onclick, testid) {
    var b = el("button", "btn btn-sm", text); b.type = "button"; b.addEventListener("click", onclick);
    if (testid) b.setAttribute("data-testid", testid);
    return b;
  }
  function showSecret(box, what, secret) {
    box.textContent = "";
    box.appendChild(el("p", null, "The signing secret of " + what + ". It is shown only now: copy it to the receiver."));
    box.appendChild(el("code", "mono", secret));
    box.hidden = false;
  }
  function list(text) { return text.split(",").map(function (s) { return s.trim(); }).filter(Boolean); }

  // --- webhooks ---------------------------------------------------------------------------------------
  function loadSubscriptions() {
    api("GET", "/webhook_subscriptions").then(function (data) {
      var body = $("wh-list"); body.textContent = "";
      var paused = data.subscriptions.filter(function (s) { return s.paused; });
      $("wh-paused").hidden = !paused.length;
      $("wh-paused").textContent = paused.length ? paused.length + " subscription(s) paused after failing: " +
        paused.map(function (s) { return s.url; }).join(", ") + ". Fix the receiver, then resume." : "";
      data.subscriptions.forEach(function (s) {
        var tr = el("tr"); tr.setAttribute("data-subscription-id", s.id);
        var url = el("td"); url.appendChild(el("div", "mono", s.url)); if (s.description) url.appendChild(el("div", "kb-muted", s.description));
        tr.appendChild(url);
        tr.appendChild(el("td", "mono", s.events.join(", ")));
        tr.appendChild(el("td", null, s.paused ? "paused — " + (s.pause_reason || "") : (s.active ? "active" : "off")));
        var acts = el("td");
        acts.appendChild(btn("Deliveries", function () { showLog(s); }, "webhook-deliveries"));
        acts.appendChild(btn(s.active ? "Pause" : "Resume", function () {
          api("PATCH", "/webhook_subscriptions/" + s.id, { active: !s.active }).then(loadSubscriptions, function (e) { toast(e.message, "error"); });
        }));
        acts.appendChild(btn("Delete", function () {
          if (!confirm("Delete this subscription and its delivery log?")) return;
          api("DELETE", "/webhook_subscriptions/" + s.id).then(loadSubscriptions, function (e) { toast(e.message, "error"); });
        }));
        tr.appendChild(acts);
        body.appendChild(tr);
      });
    }, function (e) { toast(e.message, "error"); });
  }
  function showLog(sub) {
    var box = $("wh-log");
    api("GET", "/webhook_subscriptions/" + sub.id + "/deliveries").then(function (data) {
      box.textContent = ""; box.hidden = false;
      box.appendChild(el("h3", null, "Deliveries to " + sub.url));
      if (!data.deliveries.length) box.appendChild(el("p", "kb-muted", "Nothing sent yet."));
      var table = el("table", "kb-table");
      var head = el("tr"); ["Event", "Delivery", "State", "Attempts"].forEach(function (h) { head.appendChild(el("th", null, h)); });
      table.appendChild(head);
      data.deliveries.forEach(function (d) {
        var tr = el("tr"); tr.setAttribute("data-testid", "webhook-delivery");
        tr.appendChild(el("td", "mono", d.event));
        tr.appendChild(el("td", "mono", d.id));
        var state = el("td", null, d.state + (d.next_attempt_at ? " (next " + d.next_attempt_at + ")" : ""));
        if (d.state === "failed") state.appendChild(btn("Retry", function () {
          api("POST", "/webhook_subscriptions/" + sub.id + "/deliveries/" + encodeURIComponent(d.id) + "/retry")
            .then(function () { showLog(sub); }, function (e) { toast(e.message, "error"); });
        }));
        tr.appendChild(state);
        var log = el("td");
        d.log.forEach(function (a) {
          var line = el("div", "kb-muted", "#" + a.number + " " + a.started_at + " · " +
            (a.status_code ? "HTTP " + a.status_code : (a.error || "no answer")) + " · " + Math.round(a.duration_ms) + " ms");
          log.appendChild(line);
          if (a.response) log.appendChild(el("pre", "mono", a.response));
        });
        tr.appendChild(log);
        table.appendChild(tr);
      });
      box.appendChild(table);
    }, function (e) { toast(e.message, "error"); });
  }
  $("wh-form").addEventListener("submit", function (ev) {
    ev.preventDefault();
    var events = Array.prototype.slice.call($("wh-events").querySelectorAll("input:checked")).map(function (i) { return i.value; });
    $("wh-error").textContent = "";
    api("POST", "/webhook_subscriptions", { url: $("wh-url").value, events: events, description: $("wh-description").value })
      .then(function (s) { showSecret($("wh-secret"), s.url, s.secret); $("wh-form").reset(); loadSubscriptions(); },
            function (e) { $("wh-error").textContent = e.message; });
  });

  // --- conversation actions ---------------------------------------------------------------------------
  function loadActions() {
    api("GET", "/conversation_actions").then(function (data) {
      var body = $("act-list"); body.textContent = "";
      data.actions.forEach(function (a) {
        var tr = el("tr");
        tr.appendChild(el("td", null, a.label + (a.enabled ? "" : " (off)")));
        tr.appendChild(el("td", "mono", a.url));
        tr.appendChild(el("td", "mono", "conversation: " + a.conversation_fields.join(", ") + "; contact: " + a.contact_fields.join(", ")));
        var acts = el("td");
        acts.appendChild(btn(a.enabled ? "Turn off" : "Turn on", function () {
          api("PATCH", "/conversation_actions/" + a.id, { enabled: !a.enabled }).then(loadActions, function (e) { toast(e.message, "error"); });
        }));
        acts.appendChild(btn("Delete", function () {
          if (!confirm("Delete this action? Records it bound stay.")) return;
          api("DELETE", "/conversation_actions/" + a.id).then(loadActions, function (e) { toast(e.message, "error"); });
        }));
        tr.appendChild(acts);
        body.appendChild(tr);
      });
    }, function (e) { toast(e.message, "error"); });
  }
  $("act-form").addEventListener("submit", function (ev) {
    ev.preventDefault();
    $("act-error").textContent = "";
    api("POST", "/conversation_actions", {
      name: $("act-name").value, label: $("act-label").value, url: $("act-url").value,
      conversation_fields: list($("act-conv-fields").value), contact_fields: list($("act-contact-fields").value)
    }).then(function (a) { showSecret($("act-secret"), a.label, a.secret); $("act-form").reset(); loadActions(); },
            function (e) { $("act-error").textContent = e.message; });
  });

  loadSubscriptions();
  loadActions();
})();
