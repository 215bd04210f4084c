/* A pre-planned session's files to share: while the invitation has not gone, the outreach bar offers
   "Add file…" and lists the files prepared (each removable); they are shared when the invitation goes.
   Runs after new_chat.js's header hook (window.ParleyConsole.onChrome); text by textContent. */
(function () {
  "use strict";
  var PC = window.ParleyConsole;
  if (!PC) return;
  var meta = document.querySelector('meta[name="csrf-token"]');
  var CSRF = meta ? meta.getAttribute("content") || "" : "";

  function h(tag, attrs, text) {
    var el = document.createElement(tag);
    Object.keys(attrs || {}).forEach(function (k) { el.setAttribute(k, attrs[k]); });
    if (text !== undefined) el.textContent = text;
    return el;
  }
  function path(c) { return "/conversations/" + encodeURIComponent(c.id) + "/invitation/files"; }

  function upload(c, file, list) {
    var fd = new FormData();
    fd.append("file", file);
    fetch("/api/v1" + path(c), { method: "POST", body: fd, credentials: "same-origin", headers: { "X-CSRF-Token": CSRF, Accept: "application/json" } })
      .then(function (res) {
        return res.json().catch(function () { return {}; }).then(function (data) {
          if (!res.ok) throw new Error((data.error && data.error.message) || "The file was not added.");
          paint(c, list, data.files || []);
          PC.toast("File added: it is shared when the invitation goes.", "success");
        });
      }).catch(function (e) { PC.toast(e.message, "error"); });
  }

  function paint(c, list, files) {
    list.textContent = "";
    files.forEach(function (f) {
      var chip = h("span", { class: "chip", "data-testid": "prepared-file" }, "📎 " + f.filename + (f.shared ? " · shared" : ""));
      if (!f.shared) {
        var x = h("button", { type: "button", class: "btn btn-sm", "aria-label": "Remove " + f.filename }, "×");
        x.addEventListener("click", function () {
          PC.api("DELETE", path(c) + "/" + encodeURIComponent(f.id)).then(function () {
            return PC.api("GET", path(c));
          }).then(function (d) { paint(c, list, (d && d.files) || []); }, function (e) { PC.toast(e.message, "error"); });
        });
        chip.appendChild(x);
      }
      list.appendChild(chip);
    });
  }

  PC.onChrome.push(function (c) {
    var bar = document.getElementById("outreach-bar");
    var s = (c && c.customer_status) || {};
    if (!bar || !s.invited || s.invitation_sent || c.status !== "open") return;
    var input = h("input", { type: "file", hidden: "", "data-testid": "prepared-file-input" });
    var list = h("span", { class: "prepared-files", "data-testid": "prepared-files" });
    var add = h("button", { type: "button", class: "btn btn-sm", "data-testid": "prepared-file-add" }, "Add file to share…");
    add.addEventListener("click", function () { input.click(); });
    input.addEventListener("change", function () { if (input.files && input.files[0]) upload(c, input.files[0], list); input.value = ""; });
    bar.appendChild(add);
    bar.appendChild(input);
    bar.appendChild(list);
    PC.api("GET", path(c)).then(function (d) { paint(c, list, (d && d.files) || []); }, function () {});
  });
})();
