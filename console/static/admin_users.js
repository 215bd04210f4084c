/* Admin → Users: list and search, invite by email, edit name/role/teams/capacity, deactivate or
   reactivate, send a password reset. Everything through /api/v1/users; text only ever as text. */
(function () {
  "use strict";
  var A = window.ParleyAdmin, api = A.api, el = A.el, note = A.note;
  var $ = function (id) { return document.getElementById(id); };
  var teams = [], editing = null, timer = null;

  function loadTeams() {
    return api("GET", "/teams").then(function (d) {
      teams = d.teams;
      var pick = $("invite-team");
      pick.textContent = "";
      teams.forEach(function (t) { pick.appendChild(el("option", { value: String(t.id), text: t.name })); });
    });
  }

  function status(u) {
    var label = { active: "Active", invited: "Invited", deactivated: "Deactivated" }[u.status] || u.status;
    return el("span", { class: "acc-status acc-status-" + u.status, text: label });
  }

  function load() {
    var q = $("user-search").value.trim(), st = $("user-status").value;
    var qs = "?limit=500" + (q ? "&q=" + encodeURIComponent(q) : "") + (st ? "&status=" + st : "");
    return api("GET", "/users" + qs).then(function (d) {
      var rows = $("user-rows");
      rows.textContent = "";
      d.users.forEach(function (u) {
        rows.appendChild(el("tr", { "data-testid": "user-row", "data-email": u.email }, [
          el("td", { text: u.name }), el("td", { text: u.email }), el("td", { text: u.role }),
          el("td", { text: u.teams.map(function (t) { return t.name; }).join(", ") }),
          el("td", { text: String(u.capacity) + (u.capacity_override === null ? " (default)" : "") }),
          el("td", null, [status(u)]),
          el("td", null, [el("button", { type: "button", class: "btn btn-sm", "data-testid": "user-edit", text: "Edit",
                                         onclick: function () { edit(u); } })])
        ]));
      });
      note($("list-note"), d.total > d.users.length ? d.users.length + " of " + d.total + " shown; search to narrow." :
        (d.users.length ? "" : "No user matches."));
    }, function (e) { note($("list-note"), e.message, true); });
  }

  function edit(u) {
    editing = u;
    $("edit-card").hidden = false;
    $("edit-title").textContent = "Edit " + u.email;
    $("edit-name").value = u.name;
    $("edit-role").value = u.role;
    $("edit-capacity").value = u.capacity_override === null ? "" : String(u.capacity_override);
    var box = $("edit-teams"), mine = u.teams.map(function (t) { return t.id; });
    box.textContent = "";
    teams.forEach(function (t) {
      box.appendChild(el("label", null, [el("input", { type: "checkbox", value: String(t.id),
        checked: mine.indexOf(t.id) >= 0 }), " " + t.name]));
    });
    $("edit-toggle").textContent = u.status === "deactivated" ? "Reactivate" : "Deactivate";
    $("edit-reset").hidden = u.status === "deactivated";
    $("edit-reset").textContent = u.status === "invited" ? "Send invitation again" : "Send password reset";
    note($("edit-note"), "");
    $("edit-card").scrollIntoView({ block: "nearest" });
  }

  function after(promise, okText) {
    return promise.then(function (u) {
      load();
      if (u && u.id) edit(u);
      note($("edit-note"), okText);
    }, function (e) { note($("edit-note"), e.message, true); });
  }

  $("edit-form").addEventListener("submit", function (ev) {
    ev.preventDefault();
    if (!editing) return;
    var cap = $("edit-capacity").value.trim();
    var ids = Array.prototype.map.call($("edit-teams").querySelectorAll("input:checked"), function (c) { return Number(c.value); });
    after(api("PATCH", "/users/" + editing.id, { name: $("edit-name").value, role: $("edit-role").value,
      team_ids: ids, capacity: cap === "" ? null : Number(cap) }), "Saved.");
  });
  $("edit-toggle").addEventListener("click", function () {
    if (!editing) return;
    var action = editing.status === "deactivated" ? "reactivate" : "deactivate";
    if (action === "deactivate" && !window.confirm("Deactivate " + editing.email + "? They are signed out at once.")) return;
    after(api("POST", "/users/" + editing.id + "/" + action), action === "deactivate" ? "Deactivated: signed out everywhere." : "Reactivated.");
  });
  $("edit-reset").addEventListener("click", function () {
    if (!editing) return;
    var who = editing.email;
    api("POST", "/users/" + editing.id + "/password-reset").then(function (r) {
      note($("edit-note"), r.mail.sent ? "Link mailed to " + who + "." : "The mail was not sent: " + r.mail.error, !r.mail.sent);
    }, function (e) { note($("edit-note"), e.message, true); });
  });
  $("edit-cancel").addEventListener("click", function () { editing = null; $("edit-card").hidden = true; });

  $("invite-form").addEventListener("submit", function (ev) {
    ev.preventDefault();
    var body = { email: $("invite-email").value.trim(), role: $("invite-role").value,
                 team_ids: [Number($("invite-team").value)] };
    var name = $("invite-name").value.trim();
    if (name) body.name = name;
    api("POST", "/users", body).then(function (u) {
      var inv = u.invitation || {};
      note($("invite-note"), inv.sent ? "Invitation sent to " + u.email + "." :
        "Created " + u.email + ", but the mail was not sent: " + inv.error, !inv.sent);
      $("invite-email").value = ""; $("invite-name").value = "";
      load();
    }, function (e) { note($("invite-note"), e.message, true); });
  });
  $("user-search").addEventListener("input", function () { clearTimeout(timer); timer = setTimeout(load, 250); });
  $("user-status").addEventListener("change", load);

  loadTeams().then(load, function (e) { note($("list-note"), e.message, true); });
})();
