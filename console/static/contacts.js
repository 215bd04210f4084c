/* Contacts page: find, edit (audited), journey, presets (admins), merge, block/unblock, erase (admins),
 * and the blocked contacts with what they sent (admins). Plain JS; everything customers typed goes in
 * with textContent, never innerHTML.
 */
(function () {
  "use strict";
  var A = window.ParleyAdmin, api = A.api, h = A.el, toast = A.toast;  // admin_common.js
  var ROLE = document.body.getAttribute("data-user-role") || "agent";
  var ADMIN = ROLE === "admin";
  var SUPERVISOR = ADMIN || ROLE === "supervisor";
  var state = { list: "all", q: "", selected: null, seq: 0, users: null };

  function $(id) { return document.getElementById(id); }
  function clear(el) { while (el.firstChild) el.removeChild(el.firstChild); }
  function fail(err) { toast(err.message || String(err), "error"); }
  function when(iso) { return iso ? new Date(iso).toLocaleString() : "—"; }

  // ------------------------------------------------------------------ list
  function loadList() {
    var seq = ++state.seq;
    var path = state.list === "blocked" ? "/contacts/blocked" : "/contacts" + (state.q.length >= 2 ? "?q=" + encodeURIComponent(state.q) : "");
    return api("GET", path).then(function (data) {
      if (seq !== state.seq) return;
      var ul = $("ct-list");
      clear(ul);
      var rows = (data && data.contacts) || [];
      if (state.list === "blocked" && state.q) {
        var q = state.q.toLowerCase();
        rows = rows.filter(function (c) { return [c.name, c.email, c.phone].join(" ").toLowerCase().indexOf(q) >= 0; });
      }
      if (!rows.length) ul.appendChild(h("li", { class: "ct-muted" }, "No contacts."));
      rows.forEach(function (c) {
        var sub = [c.phone, c.email].filter(Boolean).join(" · ");
        if (c.blocked_messages !== undefined) sub += (sub ? " · " : "") + c.blocked_messages + " message(s) since blocked";
        ul.appendChild(h("li", { "data-testid": "contact-row", "data-id": c.id, class: c.id === state.selected ? "is-selected" : null,
          onclick: function () { select(c.id); } },
          h("span", null, c.name), c.blocked ? h("span", { class: "ct-badge" }, "Blocked") : null,
          sub ? h("span", { class: "ct-sub" }, sub) : null));
      });
    }, fail);
  }

  // ------------------------------------------------------------------ detail
  function select(id) {
    state.selected = id;
    document.querySelectorAll("#ct-list li").forEach(function (li) {
      li.classList.toggle("is-selected", Number(li.getAttribute("data-id")) === id);
    });
    history.replaceState(null, "", "#" + id);
    var box = $("ct-detail");
    clear(box);
    box.appendChild(h("p", { class: "ct-muted" }, "Loading…"));
    api("GET", "/contacts/" + id).then(renderDetail, function (err) { clear(box); box.appendChild(h("p", { class: "ct-muted" }, err.message)); });
  }

  function field(label, name, value, type) {
    return [h("label", { for: "ct-f-" + name }, label),
      h("input", { id: "ct-f-" + name, name: name, type: type || "text", value: value || "", "data-testid": "contact-" + name })];
  }

  function renderDetail(c) {
    var box = $("ct-detail");
    clear(box);
    box.appendChild(h("h2", { "data-testid": "contact-name" }, c.name));
    if (c.blocked) {
      box.appendChild(h("div", { class: "ct-blocked-box", "data-testid": "contact-blocked" },
        "Blocked " + when(c.blocked.at) + (c.blocked.by ? " by " + c.blocked.by.name : "") +
        (c.blocked.reason ? ": " : ""), c.blocked.reason ? h("q", null, c.blocked.reason) : null));
    }
    // edit
    var form = h("form", { class: "ct-form", "data-testid": "contact-form" },
      field("Name", "name", c.name), field("Email", "email", c.email, "email"), field("Phone", "phone", c.phone));
    var save = h("button", { type: "submit", class: "btn btn-primary btn-sm", "data-testid": "contact-save" }, "Save");
    form.appendChild(h("span"));
    form.appendChild(h("span", null, save));
    form.addEventListener("submit", function (e) {
      e.preventDefault();
      var body = { name: form.elements.name.value, email: form.elements.email.value || null, phone: form.elements.phone.value || null };
      api("PATCH", "/contacts/" + c.id, body).then(function (fresh) { toast("Saved."); renderDetail(fresh); loadList(); }, fail);
    });
    box.appendChild(form);
    box.appendChild(h("p", { class: "ct-muted" }, "Channels: " + ((c.identities || []).map(function (i) {
      return i.channel + (i.address ? " " + i.address : ""); }).join(", ") || "none")));
    box.appendChild(tagsEditor(c.id));

    // actions: block, merge, erase
    var actions = h("div", { class: "ct-actions" });
    if (!c.blocked) {
      actions.appendChild(h("button", { type: "button", class: "btn btn-sm ct-danger", "data-testid": "contact-block",
        onclick: function () { blockContact(c); } }, "Block"));
    } else if (SUPERVISOR) {
      actions.appendChild(h("button", { type: "button", class: "btn btn-sm", "data-testid": "contact-unblock",
        onclick: function () { api("DELETE", "/contacts/" + c.id + "/block").then(function () { toast("Unblocked."); select(c.id); loadList(); }, fail); } }, "Unblock"));
    }
    if (SUPERVISOR) {
      actions.appendChild(h("button", { type: "button", class: "btn btn-sm", "data-testid": "contact-merge",
        onclick: function () { mergeInto(c); } }, "Merge another contact into this one…"));
    }
    if (ADMIN) {
      actions.appendChild(h("button", { type: "button", class: "btn btn-sm ct-danger", "data-testid": "contact-erase",
        onclick: function () { erase(c); } }, "Erase contact…"));
    }
    box.appendChild(actions);

    var journey = h("div", { "data-testid": "contact-journey" }, h("p", { class: "ct-muted" }, "Loading…"));
    box.appendChild(h("h3", null, "Journey"));
    var exportBase = "/api/v1/contacts/" + encodeURIComponent(c.id) + "/export?format=";
    box.appendChild(h("p", { class: "ct-export", "data-testid": "contact-export" }, "Export the conversations you can see: ",
      h("a", { href: exportBase + "csv", download: "", "data-testid": "contact-export-csv" }, "CSV"), " · ",
      h("a", { href: exportBase + "jsonl", download: "", "data-testid": "contact-export-jsonl" }, "JSON Lines")));
    box.appendChild(journey);
    loadJourney(c.id, journey);

    if (ADMIN) {
      var presets = h("div", { "data-testid": "contact-presets" });
      box.appendChild(h("h3", null, "Presets for future conversations"));
      box.appendChild(presets);
      loadPresets(c.id, presets);
      if (c.blocked) {
        var sent = h("div", { "data-testid": "contact-blocked-messages" });
        box.appendChild(h("h3", null, "Sent while blocked"));
        box.appendChild(sent);
        api("GET", "/contacts/" + c.id + "/blocked-messages").then(function (data) {
          var msgs = (data && data.messages) || [];
          if (!msgs.length) sent.appendChild(h("p", { class: "ct-muted" }, "Nothing."));
          var ul = h("ul");
          msgs.forEach(function (m) {
            ul.appendChild(h("li", null, when(m.received_at) + " · " + m.channel + ": ", h("span", null, m.text),
              m.media_count ? " (+" + m.media_count + " file(s), not downloaded)" : ""));
          });
          sent.appendChild(ul);
        }, fail);
      }
    }
  }

  /** The contact's tags (for broadcasts and finding contacts): shown as chips, edited as a comma list. */
  function tagsEditor(id) {
    var chips = h("span", { class: "ct-tags", "data-testid": "contact-tags" });
    var input = h("input", { type: "text", placeholder: "vip, newsletter", "data-testid": "contact-tags-input", "aria-label": "Tags" });
    function paint(tags) {
      clear(chips);
      tags.forEach(function (t) { chips.appendChild(h("span", { class: "chip", "data-testid": "contact-tag" }, t)); });
      input.value = tags.join(", ");
    }
    var form = h("form", { class: "ct-tags-form", "data-testid": "contact-tags-form" }, h("span", { class: "ct-muted" }, "Tags: "), chips, input,
      h("button", { type: "submit", class: "btn btn-sm", "data-testid": "contact-tags-save" }, "Save tags"));
    form.addEventListener("submit", function (e) {
      e.preventDefault();
      var tags = input.value.split(",").map(function (t) { return t.trim(); }).filter(Boolean);
      api("PUT", "/contacts/" + id + "/tags", { tags: tags }).then(function (res) { paint(res.tags); toast("Tags saved."); }, fail);
    });
    api("GET", "/contacts/" + id + "/tags").then(function (res) { paint(res.tags || []); form.setAttribute("data-loaded", "1"); }, fail);
    return form;
  }

  function blockContact(c) {
    var reason = window.prompt("Block " + c.name + " on every channel? Reason (optional, at most 250 characters):", "");
    if (reason === null) return;
    api("POST", "/contacts/" + c.id + "/block", { reason: reason || null }).then(function (res) {
      toast("Blocked.");
      if (res && res.open_conversation && window.confirm("This contact still has an open conversation. Open it to end it?")) {
        window.location.href = "/#" + encodeURIComponent(res.open_conversation);
        return;
      }
      renderDetail(res.contact);
      loadList();
    }, fail);
  }

  function mergeInto(c) {
    var q = window.prompt("Find the contact to merge into " + c.name + " (name, email or number):", "");
    if (!q || q.trim().length < 2) return;
    api("GET", "/contacts?q=" + encodeURIComponent(q.trim())).then(function (data) {
      var others = ((data && data.contacts) || []).filter(function (o) { return o.id !== c.id; });
      if (!others.length) { toast("No other contact found."); return; }
      var pick = others[0];
      if (others.length > 1) {
        var list = others.slice(0, 9).map(function (o, i) { return (i + 1) + ". " + o.name + " " + [o.phone, o.email].filter(Boolean).join(" "); }).join("\n");
        var n = Number(window.prompt("Which one?\n" + list, "1"));
        pick = others[n - 1];
        if (!pick) return;
      }
      if (!window.confirm("Merge " + pick.name + " into " + c.name + "? Its conversations and channels move over.")) return;
      api("POST", "/contacts/" + c.id + "/merge", { contact_id: pick.id }).then(function (fresh) {
        toast("Merged."); renderDetail(fresh); loadList();
      }, fail);
    }, fail);
  }

  function erase(c) {
    var typed = window.prompt("Erase " + c.name + " for good: every conversation, message, file and channel of theirs. Type ERASE to confirm.", "");
    if (typed !== "ERASE") return;
    api("DELETE", "/contacts/" + c.id).then(function () {
      toast("Erased."); state.selected = null; clear($("ct-detail")); loadList();
    }, fail);
  }

  function loadJourney(id, box) {
    api("GET", "/contacts/" + id + "/journey").then(function (j) {
      clear(box);
      var convs = (j && j.conversations) || [];
      if (!convs.length) { box.appendChild(h("p", { class: "ct-muted" }, "No conversation you can see.")); return; }
      var ul = h("ul", { class: "ct-journey" });
      convs.forEach(function (cv) {
        var steps = h("ul", { class: "ct-steps" });
        (cv.steps || []).forEach(function (s) {
          steps.appendChild(h("li", null, when(s.at) + " · " + s.text + (s.actor && s.actor.name ? " (" + s.actor.name + ")" : "")));
        });
        ul.appendChild(h("li", null,
          h("a", { href: "/#" + encodeURIComponent(cv.id) }, cv.channel + " · " + cv.state), " · started " + when(cv.created_at) +
          (cv.agents && cv.agents.length ? " · " + cv.agents.map(function (a) { return a.name; }).join(", ") : ""), steps));
      });
      box.appendChild(ul);
    }, function (err) { clear(box); box.appendChild(h("p", { class: "ct-muted" }, err.message)); });
  }

  function loadUsers() {
    if (state.users) return Promise.resolve(state.users);
    return api("GET", "/users").then(function (d) { state.users = (d && d.users) || []; return state.users; });
  }

  function loadPresets(id, box) {
    Promise.all([api("GET", "/contacts/" + id + "/presets"), loadUsers()]).then(function (res) {
      var p = res[0] || {}, users = res[1];
      clear(box);
      function group(title, key) {
        var set = new Set(p[key] || []);
        var div = h("div", { class: "ct-users", "data-key": key }, h("div", { class: "ct-muted" }, title));
        users.forEach(function (u) {
          div.appendChild(h("label", null, h("input", { type: "checkbox", value: u.id, checked: set.has(u.id) }), u.name));
        });
        return div;
      }
      var vis = group("Only these users see the contact's future conversations (none: as usual)", "visible_user_ids");
      var asg = group("Auto-assign them among", "assign_user_ids");
      box.appendChild(vis);
      box.appendChild(asg);
      box.appendChild(h("button", { type: "button", class: "btn btn-sm", "data-testid": "presets-save", onclick: function () {
        function ids(div) { return Array.from(div.querySelectorAll("input:checked")).map(function (i) { return Number(i.value); }); }
        api("PUT", "/contacts/" + id + "/presets", { visible_user_ids: ids(vis), assign_user_ids: ids(asg) })
          .then(function () { toast("Presets saved."); }, fail);
      } }, "Save presets"));
    }, function (err) { clear(box); box.appendChild(h("p", { class: "ct-muted" }, err.message)); });
  }

  // ------------------------------------------------------------------ wiring
  function boot() {
    var timer = null;
    $("ct-search").addEventListener("input", function (e) {
      state.q = e.target.value.trim();
      clearTimeout(timer);
      timer = setTimeout(loadList, 250);
    });
    document.querySelectorAll(".seg[data-list]").forEach(function (b) {
      b.addEventListener("click", function () {
        state.list = b.getAttribute("data-list");
        document.querySelectorAll(".seg[data-list]").forEach(function (x) { x.classList.toggle("is-active", x === b); });
        loadList();
      });
    });
    loadList();
    var id = Number((location.hash || "").slice(1));
    if (id) select(id);
  }
  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", boot);
  else boot();
})();
