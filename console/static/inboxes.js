/* Admin page for inboxes: list them per team, add chat widgets (shows the script tag), attach numbers,
 * move an inbox to another team. Plain JS; every name and text is set with textContent. */
(function () {
  "use strict";
  var A = window.ParleyAdmin, api = A.api, h = A.el, toast = A.toast;  // admin_common.js
  var teams = [];

  function $(id) { return document.getElementById(id); }
  function teamOptions(select, selected) {
    while (select.firstChild) select.removeChild(select.firstChild);
    teams.forEach(function (t) {
      var o = h("option", { value: t.id }, t.name);
      if (Number(t.id) === Number(selected)) o.selected = true;
      select.appendChild(o);
    });
  }
  function lines(text) { return text.split(/[\s,]+/).map(function (s) { return s.trim(); }).filter(Boolean); }
  function snippetBox(code) {
    return h("textarea", { class: "ib-code", rows: "2", readonly: true, "aria-label": "Script tag", "data-testid": "inbox-snippet", value: code });
  }
  var KIND = { webchat: "Chat widget", sms: "SMS", whatsapp: "WhatsApp" };

  // The widget's pre-chat form (name, email: off / optional / required) and end-of-chat rating.
  var MODES = [["off", "Not asked"], ["optional", "Optional"], ["required", "Required"]];
  function modeSelect(name, value, label) {
    var s = h("select", { name: name, "aria-label": label, "data-testid": "inbox-" + name });
    MODES.forEach(function (m) { var o = h("option", { value: m[0] }, m[1]); if (m[0] === (value || "off")) o.selected = true; s.appendChild(o); });
    return s;
  }
  function feedbackFields(ib) {
    var form = ib.prechat_form || {};
    return [
      h("label", null, "Pre-chat: name"), modeSelect("prechat_name", form.name, "Pre-chat form: name"),
      h("label", null, "Pre-chat: email"), modeSelect("prechat_email", form.email, "Pre-chat form: email"),
      h("label", null, "Rating"), h("label", { class: "ib-check" }, h("input", { type: "checkbox", name: "rating", checked: !!ib.rating, "data-testid": "inbox-rating" }),
        " Ask for a 1–5 rating when a chat closes"),
    ];
  }
  function prechatOf(f) {
    var form = { name: f.prechat_name.value, email: f.prechat_email.value };
    return form.name === "off" && form.email === "off" ? null : form;
  }
  function feedbackSummary(ib) {
    var f = ib.prechat_form;
    var asks = f ? ["name", "email"].filter(function (k) { return f[k] !== "off"; }).map(function (k) { return k + " " + f[k]; }) : [];
    return (asks.length ? "pre-chat form: " + asks.join(", ") : "no pre-chat form") + " · rating " + (ib.rating ? "on" : "off");
  }

  function card(ib) {
    var team = h("select", { "aria-label": "Team", "data-testid": "inbox-team" });
    teamOptions(team, ib.team.id);
    team.addEventListener("change", function () {
      api("PATCH", "/inboxes/" + ib.id, { team_id: Number(team.value) }).then(function () { toast("Moved: new conversations go to the new team."); load(); },
        function (e) { toast(e.message, "error"); load(); });
    });
    var edit = null;
    if (ib.kind === "webchat") {
      edit = h("form", { class: "ch-form", hidden: true },
        h("label", null, "Name"), h("input", { name: "name", value: ib.name, maxlength: "120" }),
        h("label", null, "Sites (one per line)"), h("textarea", { name: "origins", rows: "2", value: (ib.origins || []).join("\n") }),
        h("label", null, "Title"), h("input", { name: "title", value: ib.widget.title, maxlength: "60" }),
        h("label", null, "Greeting"), h("input", { name: "greeting", value: ib.widget.greeting, maxlength: "500" }),
        h("label", null, "Colour"), h("input", { name: "color", type: "color", value: ib.widget.color }),
        feedbackFields(ib),
        h("button", { type: "submit", class: "btn btn-primary btn-sm ch-submit" }, "Save"));
      edit.addEventListener("submit", function (e) {
        e.preventDefault();
        var f = edit.elements;
        api("PATCH", "/inboxes/" + ib.id, { name: f.name.value, origins: lines(f.origins.value), title: f.title.value,
          greeting: f.greeting.value, color: f.color.value, prechat_form: prechatOf(f), rating: f.rating.checked }).then(function () { toast("Saved."); load(); }, function (err) { toast(err.message, "error"); });
      });
    } else {
      edit = h("form", { class: "ch-form", hidden: true },
        h("label", null, "Name"), h("input", { name: "name", value: ib.name, maxlength: "120" }),
        h("button", { type: "submit", class: "btn btn-primary btn-sm ch-submit" }, "Save"));
      edit.addEventListener("submit", function (e) {
        e.preventDefault();
        api("PATCH", "/inboxes/" + ib.id, { name: edit.elements.name.value }).then(function () { toast("Saved."); load(); },
          function (err) { toast(err.message, "error"); });
      });
    }
    var detail = ib.kind === "webchat"
      ? h("div", { class: "ch-urls" },
          h("div", null, "Widget key: ", h("code", { "data-testid": "inbox-key" }, ib.widget_key), " · sites: ",
            (ib.origins && ib.origins.length) ? ib.origins.join(", ") : "any allowed site", " · ",
            h("span", { class: "ib-swatch", style: "background:" + (/^#[0-9a-f]{3,6}$/i.test(ib.widget.color) ? ib.widget.color : "#4f46e5") }), " ", ib.widget.title,
            " · ", h("span", { "data-testid": "inbox-feedback" }, feedbackSummary(ib))),
          snippetBox(ib.embed))
      : h("div", { class: "ch-urls" }, ib.channel ? "Number: " + ib.channel.name + " · " + ib.channel.address : "Its number was removed.");
    return h("article", { class: "ch-card ib-card", "data-testid": "inbox", "data-inbox-id": ib.id, "data-kind": ib.kind },
      h("div", { class: "ch-card-head" },
        h("span", { class: "ch-name", "data-testid": "inbox-name" }, ib.name),
        h("span", { class: "tag tag-channel" }, KIND[ib.kind] || ib.kind),
        ib.is_default ? h("span", { class: "tag", title: "Where " + (KIND[ib.kind] || ib.kind) + " traffic lands when nothing names another inbox" }, "default") : null,
        h("span", { class: "tag" }, ib.open_conversations + " open"),
        h("span", { class: "ch-actions" }, team,
          h("button", { type: "button", class: "btn btn-sm", onclick: function () { edit.hidden = !edit.hidden; } }, "Edit"),
          ib.is_default ? null : h("button", { type: "button", class: "btn btn-sm", onclick: function () {
            api("PATCH", "/inboxes/" + ib.id, { is_default: true }).then(load, function (e) { toast(e.message, "error"); });
          } }, "Make default"),
          h("button", { type: "button", class: "btn btn-sm", onclick: function () {
            if (!window.confirm("Remove the inbox " + ib.name + "? Its conversations stay with their team.")) return;
            api("DELETE", "/inboxes/" + ib.id).then(load, function (e) { toast(e.message, "error"); });
          } }, "Remove"))),
      detail, edit);
  }

  function load() {
    return Promise.all([api("GET", "/inboxes"), api("GET", "/channels")]).then(function (res) {
      var list = $("ib-list");
      while (list.firstChild) list.removeChild(list.firstChild);
      var inboxes = (res[0] && res[0].inboxes) || [];
      if (!inboxes.length) list.appendChild(h("p", { class: "ch-muted" }, "No inbox yet: add a widget below (a widget embedded without a key makes the default one on first use)."));
      teams.forEach(function (t) {
        var mine = inboxes.filter(function (ib) { return Number(ib.team.id) === Number(t.id); });
        if (!mine.length) return;
        list.appendChild(h("div", { class: "ib-team-group", "data-testid": "inbox-team-group" }, h("h3", null, t.name), mine.map(card)));
      });
      var sel = $("ibn-config");
      while (sel.firstChild) sel.removeChild(sel.firstChild);
      ((res[1] && res[1].channels) || []).forEach(function (c) {
        var kinds = c.kind === "whatsapp_cloud" ? ["whatsapp"] : (c.whatsapp ? ["sms", "whatsapp"] : ["sms"]);
        kinds.forEach(function (k) {
          var taken = inboxes.some(function (ib) { return ib.channel_config_id === c.id && ib.kind === k; });
          sel.appendChild(h("option", { value: c.id + ":" + k, disabled: taken }, c.name + " · " + KIND[k] + (taken ? " (has an inbox)" : "")));
        });
      });
    }, function (e) { toast(e.message, "error"); });
  }

  function boot() {
    api("GET", "/teams").then(function (data) {
      teams = (data && data.teams) || [];
      document.querySelectorAll("select.ib-team").forEach(function (s) { teamOptions(s, teams.length ? teams[0].id : null); });
      load();
    }, function (e) { toast(e.message, "error"); });
    $("ib-add-widget").addEventListener("submit", function (e) {
      e.preventDefault();
      var f = e.target.elements;
      var body = { kind: "webchat", name: f.name.value, team_id: Number(f.team_id.value), origins: lines(f.origins.value) };
      ["title", "greeting", "color"].forEach(function (k) { if (f[k].value.trim()) body[k] = f[k].value.trim(); });
      $("ib-widget-error").textContent = "";
      api("POST", "/inboxes", body).then(function (ib) {
        var box = $("ib-snippet");
        while (box.firstChild) box.removeChild(box.firstChild);
        box.appendChild(h("p", null, "Paste this into the pages of " + ib.name + ":"));
        box.appendChild(snippetBox(ib.embed));
        box.hidden = false;
        e.target.reset();
        toast("Widget added.");
        load();
      }, function (err) { $("ib-widget-error").textContent = err.message; });
    });
    $("ib-add-number").addEventListener("submit", function (e) {
      e.preventDefault();
      var f = e.target.elements;
      var pick = String(f.channel.value || "").split(":");
      $("ib-number-error").textContent = "";
      if (pick.length !== 2) { $("ib-number-error").textContent = "Add a number below first."; return; }
      api("POST", "/inboxes", { kind: pick[1], channel_config_id: Number(pick[0]), name: f.name.value, team_id: Number(f.team_id.value) })
        .then(function () { toast("Number attached."); e.target.reset(); load(); }, function (err) { $("ib-number-error").textContent = err.message; });
    });
    // channels.js re-renders the numbers after each change: a new number brings its inboxes along.
    var seen = 0;
    new MutationObserver(function () { if (++seen > 1 && teams.length) load(); }).observe($("ch-list"), { childList: true });
  }
  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", boot); else boot();
})();
