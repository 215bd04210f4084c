/* The webchat's one message renderer, shared by the customer's two front ends: the embeddable widget
 * (served together with widget.js at /widget/widget.js, console/pages.py) and the hosted chat page
 * /c/<token> (loaded before hosted_chat.js). Whatever a message carries — text, files, a bot's image and
 * buttons, the end-of-chat rating, the pre-chat form — both pages show through this code.
 *
 * Everything a person or a bot wrote is set with textContent; links are only http(s) (images) or
 * same-origin paths (files). No inline script, no innerHTML: the pages' Content-Security-Policy holds.
 * Strings go through the page's tx(key, English), whose catalogues are console/static/i18n/widget.*.json;
 * localize()d elements are re-translated by relocalize() when the language changes.
 */
(function () {
  "use strict";

  if (window.ParleyRender) return; // loaded twice (two widgets, or the page's own copy): keep the first

  function h(tag, attrs) {
    var el = document.createElement(tag);
    if (attrs) {
      for (var k in attrs) {
        if (!Object.prototype.hasOwnProperty.call(attrs, k)) continue;
        var v = attrs[k];
        if (v === null || v === undefined || v === false) continue;
        if (k === "class") el.className = v;
        else el.setAttribute(k, v === true ? "" : String(v));
      }
    }
    for (var i = 2; i < arguments.length; i++) {
      var c = arguments[i];
      if (c === null || c === undefined || c === false) continue;
      el.appendChild(typeof c === "object" ? c : document.createTextNode(String(c)));
    }
    return el;
  }

  function fmtClock(iso) {
    var t = iso ? Date.parse(iso) : NaN;
    if (isNaN(t)) return "";
    return new Date(t).toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" });
  }

  /** An image a bot sent: an absolute http(s) URL, else nothing. */
  function httpUrl(value) {
    if (typeof value !== "string" || !/^https?:\/\//i.test(value)) return null;
    try { return new URL(value).href; } catch (e) { return null; }
  }

  /** A file link: a path on the chat server ("/webchat/files/…"), made absolute on `origin`; anything else
   *  (another host, javascript:, "//host") is refused. */
  function fileUrl(origin, value) {
    if (typeof value !== "string" || value.charAt(0) !== "/" || /^\/[\/\\]/.test(value)) return null;
    try {
      var url = new URL(value, origin);
      return url.origin === new URL(origin).origin ? url.href : null;
    } catch (e) { return null; }
  }

  var SENDERS = ["contact", "bot", "agent", "system"];

  // Class names are the widget's; var() fallbacks let a page without the widget's :host rules use them.
  var CSS = [
    ".msg { display: flex; flex-direction: column; max-width: 82%; margin-top: 6px; }",
    ".msg.cont { margin-top: 0; }",
    ".msg-contact { align-self: flex-end; align-items: flex-end; }",
    ".msg-bot, .msg-agent { align-self: flex-start; align-items: flex-start; }",
    ".msg-system { align-self: center; align-items: center; max-width: 90%; }",
    ".who { font-size: 11.5px; color: var(--pw-muted, #6b7385); margin: 0 4px 2px; font-weight: 600; }",
    ".bubble { padding: 8px 12px; border-radius: 16px; white-space: pre-wrap; overflow-wrap: anywhere; word-break: break-word; }",
    ".msg-contact .bubble { background: var(--pw-accent, #4f46e5); color: #fff; border-bottom-right-radius: 5px; }",
    ".msg-bot .bubble, .msg-agent .bubble { background: #fff; border: 1px solid var(--pw-line, #e4e7ee); border-bottom-left-radius: 5px; }",
    ".msg-agent .bubble { border-color: #c7d2fe; }",
    ".msg-system .bubble { background: transparent; color: var(--pw-muted, #6b7385); font-size: 12.5px; text-align: center; padding: 4px 8px; }",
    ".meta { font-size: 11px; color: var(--pw-muted, #6b7385); margin: 2px 4px 0; }",
    ".msg[data-status=pending] .bubble { opacity: .7; }",
    ".msg[data-status=failed] .bubble { background: #fee2e2; color: #7f1d1d; border: 1px solid #fca5a5; }",
    ".msg[data-status=failed] .meta { color: #b91c1c; }",
    ".retry { border: 0; background: none; color: #b91c1c; text-decoration: underline; padding: 0 0 0 6px; font-size: 11px; cursor: pointer; }",
    ".typing { align-self: flex-start; background: #fff; border: 1px solid var(--pw-line, #e4e7ee); border-radius: 16px; border-bottom-left-radius: 5px;",
    "  padding: 10px 12px; display: inline-flex; gap: 4px; margin-top: 6px; }",
    ".typing[hidden] { display: none; }",
    ".typing span { width: 7px; height: 7px; border-radius: 50%; background: #9aa3b5; animation: pw-bounce 1.2s infinite ease-in-out; }",
    ".typing span:nth-child(2) { animation-delay: .15s; } .typing span:nth-child(3) { animation-delay: .3s; }",
    "@keyframes pw-bounce { 0%, 60%, 100% { transform: translateY(0); opacity: .5; } 30% { transform: translateY(-4px); opacity: 1; } }",
    ".files { display: flex; flex-direction: column; gap: 2px; margin-top: 4px; }",
    ".files a { color: inherit; font-size: 13px; word-break: break-all; }",
    ".chips { display: flex; flex-wrap: wrap; gap: 6px; margin-top: 6px; }",
    ".chip { font: inherit; cursor: pointer; border: 1px solid var(--pw-accent, #4f46e5); color: var(--pw-accent, #4f46e5); background: #fff; border-radius: 999px; padding: 5px 12px; font-size: 13px; }",
    ".chip:hover { background: var(--pw-accent, #4f46e5); color: #fff; }",
    ".rich-image { display: block; max-width: 100%; max-height: 220px; border-radius: 12px; margin-top: 4px; border: 1px solid var(--pw-line, #e4e7ee); }",
    ".earlier { margin: 0 0 8px; font-size: 13px; color: var(--pw-muted, #6b7385); }",
    ".earlier summary { cursor: pointer; padding: 4px 0; } .earlier .msg { opacity: .8; }",
    ".fb-card { align-self: stretch; background: #fff; border: 1px solid var(--pw-line, #e4e7ee); border-radius: 12px; padding: 14px; margin: 10px 0 6px; display: flex; flex-direction: column; gap: 8px; }",
    ".fb-title { font-weight: 700; font-size: 14.5px; }",
    ".fb-intro { color: var(--pw-muted, #6b7385); font-size: 12.5px; }",
    ".fb-label { font-size: 12.5px; font-weight: 600; display: flex; flex-direction: column; gap: 4px; }",
    ".fb-label .fb-optional { font-weight: 400; color: var(--pw-muted, #6b7385); }",
    ".fb-input { font: inherit; border: 1px solid #cfd4de; border-radius: 8px; padding: 7px 9px; color: var(--pw-ink, #1c2230); background: #fff; width: 100%; }",
    ".fb-input:focus { outline: 2px solid var(--pw-accent, #4f46e5); outline-offset: -1px; }",
    ".fb-input[aria-invalid=true] { border-color: #dc2626; }",
    ".fb-error { color: #b91c1c; font-size: 12.5px; }",
    ".fb-error[hidden] { display: none; }",
    ".fb-button { font: inherit; cursor: pointer; border: 0; border-radius: 8px; padding: 9px 12px; background: var(--pw-accent, #4f46e5); color: #fff; font-weight: 600; }",
    ".fb-button:disabled { background: #c7cbd6; cursor: default; }",
    ".fb-stars { display: flex; gap: 4px; }",
    ".fb-star { font: inherit; cursor: pointer; border: 0; background: transparent; font-size: 26px; line-height: 1; padding: 2px; color: #cbd5e1; }",
    ".fb-star.on { color: #f59e0b; }",
    ".fb-ended { align-self: center; color: var(--pw-muted, #6b7385); font-size: 12.5px; margin-top: 8px; text-align: center; }",
    ".fb-thanks { color: #166534; font-weight: 600; }",
  ].join("\n");

  /** The renderer's rules in a document or a shadow root (constructable sheet; a <style> where there is none). */
  function adoptCss(target) {
    try {
      if ("adoptedStyleSheets" in target && typeof CSSStyleSheet === "function") {
        var sheet = new CSSStyleSheet();
        sheet.replaceSync(CSS);
        target.adoptedStyleSheets = target.adoptedStyleSheets.concat([sheet]);
        return;
      }
    } catch (e) { /* fall through */ }
    var style = h("style", null, CSS);
    (target.head || target).appendChild(style);
  }

  /**
   * One renderer per page. Options:
   *   tx(key, english, vars)  the page's translation (catalogue string, else the English)
   *   origin                  the chat server (file links are resolved on it)
   *   onChoice(title)         a bot button was clicked: send its title as the customer's message
   */
  function create(o) {
    var origin = o.origin || window.location.origin;
    var tx = o.tx || function (key, english, vars) {
      return english.replace(/\{(\w+)\}/g, function (m, n) { return vars && vars[n] != null ? String(vars[n]) : m; });
    };
    var shown = []; // [element, attribute or null, key, English, vars]: redone by relocalize()

    function localize(el, key, english, vars) {
      el.textContent = tx(key, english, vars);
      shown.push([el, null, key, english, vars]);
      return el;
    }
    function localizeAttr(el, attr, key, english, vars) {
      el.setAttribute(attr, tx(key, english, vars));
      shown.push([el, attr, key, english, vars]);
      return el;
    }
    /** The language changed: every localized string still on the page again, in the new one. */
    function relocalize() {
      shown = shown.filter(function (s) { return s[0].isConnected; });
      shown.forEach(function (s) {
        var text = tx(s[2], s[3], s[4]);
        if (s[1]) s[0].setAttribute(s[1], text); else s[0].textContent = text;
      });
    }

    function senderLabel(sender) {
      return sender === "bot" ? tx("sender_bot", "Assistant") : sender === "agent" ? tx("sender_agent", "Support team") : "";
    }

    /** A message bubble (not yet placed). `prev`: the message it would follow (same sender: no name again). */
    function message(sender, text, opts, prev) {
      opts = opts || {};
      sender = SENDERS.indexOf(sender) >= 0 ? sender : "system";
      var cont = prev && prev.getAttribute("data-sender") === sender;
      var el = h("div", {
        class: "msg msg-" + sender + (cont ? " cont" : ""),
        "data-testid": opts.testid || "parley-message",
        "data-sender": sender,
        "data-id": opts.id != null ? opts.id : null,
        "data-status": opts.status || "sent",
      });
      if (!cont && senderLabel(sender)) el.appendChild(h("div", { class: "who" }, senderLabel(sender)));
      el.appendChild(h("div", { class: "bubble" }, text == null ? "" : String(text)));
      el.appendChild(h("div", { class: "meta" }));
      setMeta(el, opts.status || "sent", opts.created_at, opts.error, opts.onRetry);
      if (opts.files) files(el, opts.files);
      if (opts.rich && sender === "bot") rich(el, opts.rich);
      return el;
    }

    /** Sent (its time), pending, or failed with the reason and Retry. */
    function setMeta(el, status, createdAt, error, onRetry) {
      el.setAttribute("data-status", status);
      if (createdAt) el.setAttribute("data-created-at", createdAt);
      var meta = el.querySelector(".meta");
      while (meta.firstChild) meta.removeChild(meta.firstChild);
      if (status === "pending") meta.appendChild(document.createTextNode(tx("sending", "Sending…")));
      else if (status === "failed") {
        meta.appendChild(document.createTextNode(tx("not_sent", "Not sent: {reason}", { reason: error || "something went wrong" })));
        if (onRetry) {
          var retry = h("button", { type: "button", class: "retry", "data-testid": "parley-retry" }, tx("retry", "Retry"));
          retry.addEventListener("click", function () { onRetry(el); });
          meta.appendChild(retry);
        }
      } else {
        var t = fmtClock(createdAt || el.getAttribute("data-created-at"));
        if (t) meta.appendChild(document.createTextNode(t));
      }
      el.setAttribute("data-error", status === "failed" ? (error || "") : "");
    }

    /** The senders' names again (after a language change). */
    function relabel(scope) {
      Array.prototype.forEach.call(scope.querySelectorAll(".msg-bot > .who, .msg-agent > .who"), function (el) {
        el.textContent = senderLabel(el.parentNode.getAttribute("data-sender")) || el.textContent;
      });
    }

    /** Files an agent sent: download links on the chat server, names as text. Once per message. */
    function files(el, list) {
      if (!el || !list || !list.length || el.querySelector(".files")) return;
      var box = h("div", { class: "files", "data-testid": "parley-files" });
      list.forEach(function (f) {
        if (!f || typeof f.filename !== "string") return;
        var href = fileUrl(origin, f.url);
        box.appendChild(href ? h("a", { href: href, download: f.filename, target: "_blank", rel: "noopener",
                                        "data-testid": "parley-file-link" }, "📎 " + f.filename)
                             : h("span", null, "📎 " + f.filename));
      });
      el.insertBefore(box, el.querySelector(".meta"));
    }

    /** A bot message's image (http(s) only) and its buttons as chips. A chip sends its title as the
     *  customer's message (the server gives the bot the button's payload, bot/metadata.py). */
    function rich(el, data) {
      if (!data || typeof data !== "object" || el.querySelector(".chips, .rich-image")) return;
      var bubble = el.querySelector(".bubble");
      var image = httpUrl(data.image);
      if (image) {
        el.insertBefore(h("img", { class: "rich-image", src: image, alt: "", loading: "lazy", referrerpolicy: "no-referrer",
                                   "data-testid": "parley-image" }), el.querySelector(".meta"));
        if (!bubble.textContent) bubble.hidden = true;
      }
      var buttons = Array.isArray(data.buttons) ? data.buttons : [];
      if (!buttons.length || !o.onChoice) return;
      var box = h("div", { class: "chips", "data-testid": "parley-quick-replies" });
      buttons.forEach(function (b) {
        if (!b || typeof b.title !== "string" || !b.title) return;
        var chip = h("button", { type: "button", class: "chip", "data-testid": "parley-quick-reply" }, b.title);
        chip.addEventListener("click", function () { o.onChoice(b.title); });
        box.appendChild(chip);
      });
      el.insertBefore(box, el.querySelector(".meta"));
    }

    /** Buttons apply until the customer writes anything. */
    function clearChoices(scope) {
      var boxes = scope.querySelectorAll(".chips");
      for (var i = 0; i < boxes.length; i++) boxes[i].remove();
    }

    function typing() {
      var el = h("div", { class: "typing", "data-testid": "parley-typing", hidden: true }, h("span"), h("span"), h("span"));
      return localizeAttr(el, "aria-label", "typing", "Typing");
    }

    /** A returning customer's own earlier messages, read-only and collapsed (fills `box`, a <details>). */
    function earlier(box, conversations) {
      while (box.firstChild) box.removeChild(box.firstChild);
      box.hidden = !conversations.length;
      box.appendChild(localize(h("summary"), "earlier", "Earlier conversations ({n})", { n: conversations.length }));
      conversations.forEach(function (c) {
        (c.messages || []).forEach(function (m) {
          box.appendChild(message(m.sender_type, m.text, { created_at: m.created_at, testid: "parley-earlier-message" }));
        });
      });
    }

    function ended() {
      return localize(h("div", { class: "fb-ended", "data-testid": "parley-ended" }), "ended", "This chat has ended. Write again any time.");
    }

    /**
     * The end-of-chat rating: 1–5 stars and a comment. `send({score, comment}, done)` delivers it and calls
     * done({ok} | {ok: false, error: {code, message}}); `settled()` runs once nothing more can be done.
     */
    function ratingCard(send, settled) {
      var score = 0;
      var stars = localizeAttr(h("div", { class: "fb-stars", role: "radiogroup" }), "aria-label", "rating_title", "How was this chat?");
      var buttons = [];
      for (var n = 1; n <= 5; n++) {
        var b = h("button", { type: "button", class: "fb-star", role: "radio", "aria-checked": "false", "data-score": n,
                              "data-testid": "parley-star" }, "★");
        localizeAttr(b, "aria-label", "rating_star", "{n} out of 5", { n: n });
        b.addEventListener("click", pick.bind(null, n));
        buttons.push(b);
        stars.appendChild(b);
      }
      function pick(k) {
        score = k;
        buttons.forEach(function (b, i) { b.classList.toggle("on", i < k); b.setAttribute("aria-checked", i + 1 === k ? "true" : "false"); });
        errorLine.hidden = true;
      }
      var comment = h("textarea", { class: "fb-input", rows: "2", maxlength: "1000", "data-testid": "parley-rating-comment" });
      localizeAttr(comment, "placeholder", "rating_comment", "Anything to add? (optional)");
      localizeAttr(comment, "aria-label", "rating_comment", "Anything to add? (optional)");
      var errorLine = h("div", { class: "fb-error", role: "alert", "data-testid": "parley-rating-error", hidden: true });
      var submit = localize(h("button", { type: "submit", class: "fb-button", "data-testid": "parley-rating-submit" }), "rating_send", "Send rating");
      var card = h("form", { class: "fb-card", "data-testid": "parley-rating", novalidate: true },
        localize(h("div", { class: "fb-title" }), "rating_title", "How was this chat?"), stars, comment, errorLine, submit);
      card.addEventListener("submit", function (e) {
        e.preventDefault();
        if (!score) { errorLine.textContent = tx("rating_pick", "Pick from 1 to 5 stars."); errorLine.hidden = false; return; }
        submit.disabled = true;
        send({ score: score, comment: comment.value }, function (res) {
          if (res && res.ok) {
            if (settled) settled();
            while (card.firstChild) card.removeChild(card.firstChild);
            card.appendChild(localize(h("div", { class: "fb-thanks", "data-testid": "parley-rating-thanks" }), "rating_thanks", "Thank you for your feedback!"));
            return;
          }
          var err = (res && res.error) || {};
          if ((err.code === "already_rated" || err.code === "not_found" || err.code === "rating_off") && settled) settled();
          errorLine.textContent = err.message || tx("failed", "That did not go through. Please try again.");
          errorLine.hidden = false;
          submit.disabled = err.code === "already_rated";
        });
      });
      return card;
    }

    function prechatField(key, mode) {
      var input = h("input", { class: "fb-input", type: key === "email" ? "email" : "text", name: key, autocomplete: key,
        maxlength: key === "email" ? "254" : "200", required: mode === "required", "data-testid": "parley-prechat-" + key });
      var name = key === "email" ? localize(h("span"), "prechat_email", "Your email") : localize(h("span"), "prechat_name", "Your name");
      var head = h("div", null, name);
      if (mode === "optional") head.appendChild(localize(h("span", { class: "fb-optional" }), "prechat_optional", " (optional)"));
      return { label: h("label", { class: "fb-label" }, head, input), input: input };
    }

    /**
     * The pre-chat form for `form` ({name, email}: required | optional | off). `send(body, done)` delivers
     * the answers and calls done({ok} | {ok: false, error}); `accepted()` runs when the server took them.
     */
    function prechatCard(form, send, accepted) {
      var fields = {};
      var errorLine = h("div", { class: "fb-error", role: "alert", "data-testid": "parley-prechat-error", hidden: true });
      var submit = localize(h("button", { type: "submit", class: "fb-button", "data-testid": "parley-prechat-submit" }), "prechat_start", "Start the chat");
      var card = h("form", { class: "fb-card", "data-testid": "parley-prechat", novalidate: true },
        localize(h("div", { class: "fb-title", "data-testid": "parley-prechat-title" }), "prechat_title", "Before we start"),
        localize(h("div", { class: "fb-intro" }), "prechat_intro", "Tell us who you are, so we can get back to you."));
      ["name", "email"].forEach(function (key) {
        var mode = form[key];
        if (mode !== "required" && mode !== "optional") return;
        fields[key] = prechatField(key, mode);
        card.appendChild(fields[key].label);
      });
      card.appendChild(errorLine);
      card.appendChild(submit);
      function fail(text, key) {
        errorLine.textContent = text;
        errorLine.hidden = false;
        Object.keys(fields).forEach(function (k) { fields[k].input.setAttribute("aria-invalid", k === key ? "true" : "false"); });
        submit.disabled = false;
      }
      card.addEventListener("submit", function (e) {
        e.preventDefault();
        var body = {};
        for (var key in fields) {
          var v = fields[key].input.value.trim();
          if (!v && form[key] === "required") {
            fail(key === "email" ? tx("prechat_email_missing", "Please enter your email.") : tx("prechat_name_missing", "Please enter your name."), key);
            return;
          }
          if (key === "email" && v && !/^[^@\s]+@[^@\s]+\.[^@\s.]{2,}$/.test(v)) { fail(tx("prechat_email_invalid", "That is not an email address."), key); return; }
          if (v) body[key] = v;
        }
        submit.disabled = true;
        send(body, function (res) {
          if (res && res.ok) { accepted(); return; }
          var err = (res && res.error) || {};
          fail(err.message || tx("failed", "That did not go through. Please try again."), (err.code || "").replace(/^(missing|bad)_/, ""));
        });
      });
      return card;
    }

    return {
      message: message, setMeta: setMeta, relabel: relabel, files: files, rich: rich, clearChoices: clearChoices,
      typing: typing, earlier: earlier, ended: ended, ratingCard: ratingCard, prechatCard: prechatCard,
      localize: localize, localizeAttr: localizeAttr, relocalize: relocalize,
    };
  }

  window.ParleyRender = { create: create, css: CSS, adoptCss: adoptCss, h: h, httpUrl: httpUrl, fileUrl: fileUrl };
})();
