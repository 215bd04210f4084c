/* A team's routing settings as a form: policy, offer and transfer timeouts, idle and waiting timeouts,
   closing and queue messages, and each member's capacity. Used by the admin Teams page and by the
   console's "Replies & hours" dialog (beside canned replies and hours), for admins.
   window.ParleyTeamRouting(container, teamId, api): api(method, path, body) -> Promise (JSON). */
(function () {
  "use strict";
  var el = window.ParleyAdmin.el;  // admin_common.js, loaded before this file on both pages
  var SECONDS = [
    ["offer_timeout_seconds", "Offer timeout (s)", "How long an agent has to accept an offered chat; empty: offers do not expire (auto-assign)", true],
    ["transfer_timeout_seconds", "Transfer timeout (s)", "How long a colleague has to accept a transfer", false],
    ["idle_timeout_seconds", "Idle timeout (s)", "Close a chat the customer left idle this long; empty: never", true],
    ["waiting_timeout_seconds", "Waiting timeout (s)", "Give up on a chat waiting in the queue this long; empty: never", true]
  ];

  function render(box, teamId, api) {
    var section = el("section", { class: "team-routing", "data-testid": "team-routing" }, [el("h3", { class: "panel-title", text: "Routing" })]);
    var msg = el("p", { class: "acc-note", role: "status", "data-testid": "routing-note" });
    box.appendChild(section);
    Promise.all([api("GET", "/teams?archived=true"), api("GET", "/users?team_id=" + encodeURIComponent(teamId) + "&status=active&limit=500")
      .catch(function () { return { users: [] }; })]).then(function (res) {
      var team = (res[0].teams || []).filter(function (t) { return String(t.id) === String(teamId); })[0];
      if (!team) { section.appendChild(el("p", { text: "No such team." })); return; }
      var r = team.routing, form = el("form", { class: "acc-form", autocomplete: "off", "data-testid": "routing-form" });
      var policy = el("select", { id: "rt-policy", "data-testid": "rt-policy" }, [
        el("option", { value: "least_loaded", text: "Least loaded (auto-assign)" }),
        el("option", { value: "round_robin", text: "Round robin (auto-assign)" }),
        el("option", { value: "manual", text: "Manual (agents take chats from the queue)" })]);
      policy.value = r.policy;
      form.appendChild(el("label", { for: "rt-policy", text: "Policy" })); form.appendChild(policy);
      var inputs = {};
      SECONDS.forEach(function (s) {
        var input = el("input", { id: "rt-" + s[0], type: "number", min: "5", placeholder: s[3] ? "off" : "", title: s[2],
                                  "data-testid": "rt-" + s[0], value: r[s[0]] === null ? "" : String(r[s[0]]) });
        inputs[s[0]] = input;
        form.appendChild(el("label", { for: input.id, title: s[2], text: s[1] })); form.appendChild(input);
      });
      var closing = el("textarea", { id: "rt-closing", rows: "2", maxlength: "1000", "data-testid": "rt-closing" });
      closing.value = r.closing_message;
      var queue = el("textarea", { id: "rt-queue", rows: "2", maxlength: "1000", "data-testid": "rt-queue" });
      queue.value = r.queue_message;
      form.appendChild(el("label", { for: "rt-closing", text: "Closing message" })); form.appendChild(closing);
      form.appendChild(el("label", { for: "rt-queue", text: "Queue message" })); form.appendChild(queue);
      form.appendChild(el("span")); form.appendChild(el("div", null, [el("button", { type: "submit", class: "btn btn-primary btn-sm", "data-testid": "rt-save", text: "Save routing" })]));
      form.addEventListener("submit", function (ev) {
        ev.preventDefault();
        var body = { policy: policy.value, closing_message: closing.value, queue_message: queue.value };
        SECONDS.forEach(function (s) {
          var v = inputs[s[0]].value.trim();
          if (v !== "" || s[3]) body[s[0]] = v === "" ? null : Number(v);
        });
        api("PATCH", "/teams/" + encodeURIComponent(teamId) + "/routing", body).then(function () {
          msg.textContent = "Routing saved."; msg.className = "acc-note";
        }, function (e) { msg.textContent = e.message; msg.className = "acc-note acc-bad"; });
      });
      section.appendChild(form);
      section.appendChild(msg);
      capacities(section, res[1].users || [], api);
    }, function (e) { section.appendChild(el("p", { class: "acc-note acc-bad", text: e.message })); });
  }

  function capacities(section, users, api) {
    section.appendChild(el("h3", { class: "panel-title", text: "Agents' capacity (chats at once)" }));
    if (!users.length) { section.appendChild(el("p", { class: "acc-muted", text: "No active members." })); return; }
    var list = el("ul", { class: "acc-capacities", "data-testid": "rt-capacities" });
    users.forEach(function (u) {
      var input = el("input", { type: "number", min: "0", max: "100", placeholder: "3 (default)", "aria-label": "Capacity of " + u.name,
                                value: u.capacity_override === null ? "" : String(u.capacity_override), "data-testid": "rt-capacity" });
      var note = el("span", { class: "acc-muted" });
      input.addEventListener("change", function () {
        var v = input.value.trim();
        api("PATCH", "/users/" + u.id + "/routing", { capacity: v === "" ? null : Number(v) }).then(function (d) {
          note.textContent = "saved (" + d.capacity + ")";
        }, function (e) { note.textContent = e.message; });
      });
      list.appendChild(el("li", null, [el("span", { text: u.name + " " }), input, " ", note]));
    });
    section.appendChild(list);
  }

  window.ParleyTeamRouting = render;
})();
