/* The user menu's "Account" dialog: change my password (my other sessions end) and my personal API
   tokens — create (the secret is shown once), see when each was last used and when it expires, revoke.
   Independent of console.js: it talks to /api/v1/me/* through admin_common.js. */
(function () {
  "use strict";
  var A = window.ParleyAdmin, el = A.el;  // admin_common.js
  var me = document.querySelector(".me");
  if (!me) return;

  function when(iso) { return iso ? new Date(iso).toLocaleString() : "never"; }

  var note = el("p", { class: "account-note", role: "status", "data-testid": "account-note" });
  var list = el("ul", { class: "account-tokens", "data-testid": "account-tokens" });
  var secret = el("p", { class: "account-secret", "data-testid": "account-secret", hidden: "" });
  var current = el("input", { type: "password", autocomplete: "current-password", "aria-label": "Current password",
                              placeholder: "Current password", "data-testid": "account-current" });
  var fresh = el("input", { type: "password", autocomplete: "new-password", minlength: "8", "aria-label": "New password",
                            placeholder: "New password (8+ characters)", "data-testid": "account-new" });
  var tokenName = el("input", { type: "text", maxlength: "120", "aria-label": "Token name", placeholder: "Token name",
                                "data-testid": "account-token-name" });
  var tokenDays = el("input", { type: "number", min: "1", max: "3650", "aria-label": "Expires after days",
                                placeholder: "Days (empty: never)", "data-testid": "account-token-days" });

  function say(text, bad) { note.textContent = text; note.className = "account-note" + (bad ? " account-bad" : ""); }

  function renderTokens() {
    return A.api("GET", "/me/tokens").then(function (data) {
      list.textContent = "";
      if (!data.tokens.length) list.appendChild(el("li", { class: "account-empty", text: "No API tokens." }));
      data.tokens.forEach(function (t) {
        list.appendChild(el("li", { "data-testid": "account-token" }, [
          el("span", { class: "account-token-name", text: t.name }),
          el("span", { class: "account-token-meta", text: "created " + when(t.created_at) + " · expires " +
            (t.expires_at ? when(t.expires_at) : "never") + " · last used " + when(t.last_used_at) }),
          el("button", { type: "button", class: "btn btn-ghost btn-sm", text: "Revoke", onclick: function () {
            A.api("DELETE", "/me/tokens/" + t.id).then(function () { say("Token revoked."); renderTokens(); },
                                                   function (e) { say(e.message, true); });
          } })
        ]));
      });
    }, function (e) { say(e.message, true); });
  }

  var dialog = el("dialog", { class: "account-dialog", "data-testid": "account-dialog", "aria-label": "Account" }, [
    el("h2", { text: "Account" }),
    el("form", { class: "account-form", onsubmit: function (ev) {
      ev.preventDefault();
      A.api("POST", "/me/password", { current_password: current.value, new_password: fresh.value }).then(function () {
        current.value = fresh.value = "";
        say("Password changed. Your other sessions were signed out.");
      }, function (e) { say(e.message, true); });
    } }, [el("h3", { text: "Password" }), current, fresh,
          el("button", { type: "submit", class: "btn btn-sm", text: "Change password" })]),
    el("h3", { text: "API tokens" }), list,
    el("form", { class: "account-form", onsubmit: function (ev) {
      ev.preventDefault();
      var days = tokenDays.value ? parseInt(tokenDays.value, 10) : null;
      A.api("POST", "/me/tokens", { name: tokenName.value, expires_days: days }).then(function (t) {
        tokenName.value = tokenDays.value = "";
        secret.hidden = false;
        secret.textContent = "Copy it now, it will not be shown again: " + t.token;
        renderTokens();
      }, function (e) { say(e.message, true); });
    } }, [tokenName, tokenDays, el("button", { type: "submit", class: "btn btn-sm", text: "Create token" })]),
    secret, note,
    el("button", { type: "button", class: "btn btn-ghost btn-sm", text: "Close", onclick: function () { dialog.close(); } })
  ]);
  document.body.appendChild(dialog);
  dialog.addEventListener("close", function () { secret.hidden = true; secret.textContent = ""; say(""); });

  var open = el("button", { type: "button", class: "btn btn-ghost btn-sm", "data-testid": "account-open", text: "Account",
                            onclick: function () { renderTokens(); dialog.showModal(); } });
  me.insertBefore(open, me.querySelector(".logout-form"));
})();
