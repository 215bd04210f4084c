/* The knowledge-base admin page (console/templates/admin_knowledge.html): uploads, deletes, reloads,
   actions and a search box, over /api/v1/admin/... with the page's CSRF token. */
(function () {
  "use strict";
  var A = window.ParleyAdmin, api = A.api, el = A.el, toast = A.toast;  // admin_common.js
  function $(id) { return document.getElementById(id); }

  $("kb-upload").addEventListener("submit", function (ev) {
    ev.preventDefault();
    var file = $("kb-file").files[0];
    if (!file) return;
    var form = new FormData();
    form.append("file", file);
    $("kb-upload-error").textContent = "";
    api("POST", "/admin/knowledge/documents", form).then(function (d) {
      toast("Indexed " + d.title + ": " + d.passages + " passage(s).", "ok");
      setTimeout(function () { location.reload(); }, 600);
    }, function (err) { $("kb-upload-error").textContent = err.message; });
  });

  $("kb-sync").addEventListener("click", function () {
    api("POST", "/admin/knowledge/sync", {}).then(function (r) {
      var text = r.added + " added, " + r.updated + " updated, " + r.removed + " removed";
      if (r.errors.length) text += "; problems: " + r.errors.join("; ");
      toast(text, r.errors.length ? "error" : "ok");
      setTimeout(function () { location.reload(); }, 900);
    }, function (err) { toast(err.message, "error"); });
  });

  document.querySelectorAll(".kb-delete").forEach(function (b) {
    b.addEventListener("click", function () {
      if (!confirm("Delete " + b.getAttribute("data-title") + " from the knowledge base?")) return;
      api("DELETE", "/admin/knowledge/documents/" + b.getAttribute("data-id")).then(function () { location.reload(); },
        function (err) { toast(err.message, "error"); });
    });
  });

  document.querySelectorAll(".kb-doc-link").forEach(function (a) {
    a.addEventListener("click", function (ev) {
      ev.preventDefault();
      api("GET", "/admin/knowledge/documents/" + a.getAttribute("data-id")).then(function (d) {
        var box = $("kb-passages");
        box.textContent = "";
        box.appendChild(el("h3", null, d.title + " — " + d.passages.length + " passage(s)"));
        d.passages.forEach(function (p) {
          var item = el("div", "kb-passage");
          item.appendChild(el("div", "kb-passage-head", "P" + p.id + " · " + p.heading + (p.intent ? " · " + p.intent : "")));
          item.appendChild(el("div", null, p.text));
          box.appendChild(item);
        });
        box.hidden = false;
      }, function (err) { toast(err.message, "error"); });
    });
  });

  $("kb-try").addEventListener("submit", function (ev) {
    ev.preventDefault();
    var q = $("kb-q").value.trim();
    if (!q) return;
    api("GET", "/admin/knowledge/search?q=" + encodeURIComponent(q)).then(function (r) {
      var list = $("kb-hits");
      list.textContent = "";
      if (!r.hits.length) list.appendChild(el("li", "kb-muted", "Nothing relevant enough: the bot would hand this over (no_grounded_answer)."));
      r.hits.forEach(function (h) {
        var li = el("li");
        li.appendChild(el("b", null, h.heading + " "));
        li.appendChild(el("span", "tag", "score " + h.score));
        li.appendChild(el("div", "kb-muted", h.text));
        list.appendChild(li);
      });
    }, function (err) { toast(err.message, "error"); });
  });

  $("kb-action").addEventListener("submit", function (ev) {
    ev.preventDefault();
    var f = ev.target, body = {};
    ["name", "description", "url_template", "param_name", "param_pattern", "secret_env"].forEach(function (k) { body[k] = f.elements[k].value.trim(); });
    body.timeout_seconds = Number(f.elements.timeout_seconds.value || 5);
    $("kb-action-error").textContent = "";
    api("POST", "/admin/llm/actions", body).then(function () { location.reload(); },
      function (err) { $("kb-action-error").textContent = err.message; });
  });

  document.querySelectorAll(".kb-action-delete").forEach(function (b) {
    b.addEventListener("click", function () {
      api("DELETE", "/admin/llm/actions/" + b.getAttribute("data-id")).then(function () { location.reload(); },
        function (err) { toast(err.message, "error"); });
    });
  });
})();
