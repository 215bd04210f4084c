/* Admin's Inboxes page: each chat widget's identity-verification secret, for the widget SDK's
 * Parley.setUser (docs/widget.md). Shown on request only, never in the list; "New secret" replaces it (hashes
 * signed with the old one stop verifying). Adds itself to the cards inboxes.js draws, which it leaves alone.
 */
(function () {
  "use strict";
  var A = window.ParleyAdmin, api = A.api, el = A.el;  // admin_common.js
  var list = document.getElementById("ib-list");
  if (!list) return;

  function block(inboxId) {
    var box = el("details", { class: "ib-identity", "data-testid": "inbox-identity" });
    box.appendChild(el("summary", null, "Identity verification (Parley.setUser)"));
    box.appendChild(el("p", { class: "ch-muted" },
      "Your server signs a signed-in user's id with this secret: hex HMAC-SHA256(secret, id), passed as setUser's third argument. Keep it on your server."));
    var out = el("input", { class: "ib-code", readonly: "", "aria-label": "Identity secret", "data-testid": "inbox-identity-secret" });
    out.hidden = true;
    var status = el("span", { class: "ch-muted", role: "status" });
    var show = el("button", { type: "button", class: "btn btn-sm", "data-testid": "inbox-identity-show" }, "Show secret");
    var rotate = el("button", { type: "button", class: "btn btn-sm", "data-testid": "inbox-identity-rotate" }, "New secret");
    function put(secret) {
      out.value = secret || "";
      out.hidden = !secret;
      status.textContent = secret ? "" : "No secret yet: make one with New secret.";
    }
    show.addEventListener("click", function () {
      api("GET", "/inboxes/" + inboxId).then(function (ib) { put(ib.identity_secret); },
        function (e) { status.textContent = e.message; });
    });
    rotate.addEventListener("click", function () {
      if (!window.confirm("Make a new secret? Sites signing with the current one can no longer verify their users.")) return;
      api("POST", "/inboxes/" + inboxId + "/identity-secret", {}).then(function (r) { put(r.identity_secret); },
        function (e) { status.textContent = e.message; });
    });
    var row = el("div", { class: "ch-actions" });
    row.appendChild(show);
    row.appendChild(rotate);
    row.appendChild(status);
    box.appendChild(row);
    box.appendChild(out);
    return box;
  }

  function decorate() {
    Array.prototype.forEach.call(list.querySelectorAll('[data-testid=inbox][data-kind=webchat]'), function (card) {
      if (card.querySelector("[data-testid=inbox-identity]")) return;
      var urls = card.querySelector(".ch-urls");
      var b = block(card.getAttribute("data-inbox-id"));
      if (urls && urls.nextSibling) card.insertBefore(b, urls.nextSibling); else card.appendChild(b);
    });
  }
  new MutationObserver(decorate).observe(list, { childList: true, subtree: true });
  decorate();
})();
