/* Admin → Teams: create, rename, archive, members, and the team's routing settings (team_routing.js).
   Canned replies and opening hours stay in the console's "Replies & hours" dialog. */
(function () {
  "use strict";
  var A = window.ParleyAdmin, api = A.api, el = A.el, note = A.note;
  var $ = function (id) { return document.getElementById(id); };
  var teams = [], current = null;

  function load() {
    return api("GET", "/teams" + ($("show-archived").checked ? "?archived=true" : "")).then(function (d) {
      teams = d.teams;
      var list = $("team-list");
      list.textContent = "";
      teams.forEach(function (t) {
        list.appendChild(el("li", null, [el("button", { type: "button", class: "btn btn-ghost btn-sm" + (current === t.id ? " is-active" : ""),
          "data-testid": "team-item", "data-name": t.name, text: t.name + (t.archived ? " (archived)" : "") + " · " + t.member_ids.length,
          onclick: function () { show(t.id); } })]));
      });
      if (current !== null) show(current);
    }, function (e) { note($("teams-note"), e.message, true); });
  }

  function show(teamId) {
    current = teamId;
    var t = teams.filter(function (x) { return x.id === teamId; })[0];
    var pane = $("team-pane");
    pane.textContent = "";
    if (!t) return;
    var msg = el("p", { class: "acc-note", role: "status", "data-testid": "team-note" });
    var name = el("input", { maxlength: "120", value: t.name, "aria-label": "Team name", "data-testid": "team-name" });
    pane.appendChild(el("h2", { text: t.name + (t.archived ? " (archived)" : "") }));
    pane.appendChild(el("p", { class: "acc-muted", text: t.open_conversations + " open conversation(s) · canned replies and hours: console → Replies & hours" }));
    if (!t.archived) {
      pane.appendChild(el("div", { class: "acc-row" }, [name,
        el("button", { type: "button", class: "btn btn-sm", "data-testid": "team-rename", text: "Rename", onclick: function () {
          api("PATCH", "/teams/" + t.id, { name: name.value }).then(function () { note(msg, "Renamed."); load(); }, function (e) { note(msg, e.message, true); });
        } }),
        el("button", { type: "button", class: "btn btn-sm", "data-testid": "team-archive", text: "Archive", onclick: function () {
          if (!window.confirm("Archive " + t.name + "?")) return;
          api("POST", "/teams/" + t.id + "/archive").then(function () { note(msg, "Archived."); load(); }, function (e) { note(msg, e.message, true); });
        } })]));
    }
    pane.appendChild(msg);
    members(pane, t);
    if (!t.archived && window.ParleyTeamRouting) window.ParleyTeamRouting(pane, t.id, api);
  }

  function members(pane, t) {
    var box = el("div", { class: "acc-checks", "data-testid": "team-members" });
    var msg = el("p", { class: "acc-note", role: "status" });
    pane.appendChild(el("h3", { class: "panel-title", text: "Members" }));
    pane.appendChild(box);
    api("GET", "/users?limit=500").then(function (d) {
      d.users.filter(function (u) { return u.status !== "deactivated" || t.member_ids.indexOf(u.id) >= 0; }).forEach(function (u) {
        box.appendChild(el("label", null, [el("input", { type: "checkbox", value: String(u.id), disabled: t.archived,
          checked: t.member_ids.indexOf(u.id) >= 0 }), " " + u.name + " (" + u.role + ")"]));
      });
      if (!t.archived) {
        pane.insertBefore(el("button", { type: "button", class: "btn btn-sm", "data-testid": "members-save", text: "Save members", onclick: function () {
          var ids = Array.prototype.map.call(box.querySelectorAll("input:checked"), function (c) { return Number(c.value); });
          api("PUT", "/teams/" + t.id + "/members", { user_ids: ids }).then(function () { note(msg, "Members saved."); load(); },
            function (e) { note(msg, e.message, true); });
        } }), box.nextSibling);
      }
      pane.insertBefore(msg, box.nextSibling);
    }, function (e) { note(msg, e.message, true); pane.appendChild(msg); });
  }

  $("new-team").addEventListener("submit", function (ev) {
    ev.preventDefault();
    api("POST", "/teams", { name: $("new-team-name").value }).then(function (t) {
      $("new-team-name").value = ""; note($("teams-note"), "Created " + t.name + "."); current = t.id; load();
    }, function (e) { note($("teams-note"), e.message, true); });
  });
  $("show-archived").addEventListener("change", load);
  load();
})();
