/* The Account dialog's "Profile" part: my name and my notification choice (alerts: the console's sound and
   desktop notifications), kept on my account (PATCH /api/v1/me) so they follow me to another browser.
   The top bar's alerts button (routing.js) stays the one switch: this file clicks it to apply a choice. */
(function () {
  "use strict";
  var api = window.ParleyAdmin.api;  // admin_common.js
  function bellOn() {
    var bell = document.getElementById("alerts-toggle");
    return bell ? bell.getAttribute("aria-pressed") === "true" : null;
  }
  function apply(on) {  // through routing.js's own button: it keeps the browser's copy and the label right
    var bell = document.getElementById("alerts-toggle");
    if (bell && bellOn() !== on) bell.click();
  }

  function build(me) {
    var dialog = document.querySelector("[data-testid=account-dialog]");
    if (!dialog) return;
    var name = document.createElement("input");
    name.maxLength = 120; name.value = me.name; name.setAttribute("aria-label", "Your name");
    name.setAttribute("data-testid", "profile-name");
    var alerts = document.createElement("input");
    alerts.type = "checkbox"; alerts.checked = !!me.notifications.alerts; alerts.setAttribute("data-testid", "profile-alerts");
    var label = document.createElement("label");
    label.appendChild(alerts); label.appendChild(document.createTextNode(" Sound and desktop alerts for new chats, offers and transfers"));
    var note = document.createElement("p");
    note.className = "account-note"; note.setAttribute("role", "status");
    var save = document.createElement("button");
    save.type = "submit"; save.className = "btn btn-sm"; save.textContent = "Save profile";
    var form = document.createElement("form");
    form.className = "account-form";
    var title = document.createElement("h3");
    title.textContent = "Profile";
    [title, name, label, save, note].forEach(function (x) { form.appendChild(x); });
    form.addEventListener("submit", function (ev) {
      ev.preventDefault();
      api("PATCH", "/me", { name: name.value, notifications: { alerts: alerts.checked } }).then(function (d) {
        note.textContent = "Saved.";
        var shown = document.querySelector("[data-testid=me-name]");
        if (shown) shown.textContent = d.name;
        var avatar = document.getElementById("me-avatar");  // its tooltip names her where the name is hidden
        if (avatar && avatar.title) avatar.title = d.name + avatar.title.slice(avatar.title.indexOf(" · "));
        apply(!!d.notifications.alerts);
      }, function (e) { note.textContent = e.message; });
    });
    dialog.insertBefore(form, dialog.children[1] || null);
  }

  function start() {
    api("GET", "/me").then(function (me) {
      build(me);
      if (bellOn() !== null && bellOn() !== !!me.notifications.alerts) apply(!!me.notifications.alerts);
    }, function () { /* signed out: the console says so */ });
  }
  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", start); else start();
})();
