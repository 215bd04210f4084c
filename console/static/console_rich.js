/* A bot message's buttons and image in the agent console (messages' `rich`: a Rasa response's
 * `buttons` and `image`). The agent sees which quick replies the customer was offered, each with the
 * payload the bot gets when it is picked, and the image as a link (the console's Content-Security-
 * Policy loads no third-party images). Hooks into console.js through window.ParleyConsole.onMessage;
 * everything is set as text, never as HTML.
 */
(function () {
  "use strict";
  var PC = window.ParleyConsole;
  if (!PC) return;

  function el(tag, cls, text) {
    var e = document.createElement(tag);
    if (cls) e.className = cls;
    if (text != null) e.textContent = String(text);
    return e;
  }

  function addRich(msgEl, m) {
    var rich = m && m.rich;
    if (!rich || typeof rich !== "object") return;
    var box = el("div", "rich");
    box.setAttribute("data-testid", "message-rich");
    if (typeof rich.image === "string" && /^https?:\/\//i.test(rich.image)) {
      var link = el("a", "rich-image-link", "🖼 " + rich.image);
      link.href = rich.image;
      link.target = "_blank";
      link.rel = "noopener noreferrer";
      box.appendChild(link);
    }
    var buttons = Array.isArray(rich.buttons) ? rich.buttons : [];
    if (buttons.length) {
      var chips = el("div", "rich-buttons");
      buttons.forEach(function (b) {
        if (!b || typeof b.title !== "string") return;
        var chip = el("span", "rich-button", b.title);
        chip.setAttribute("data-testid", "message-button");
        if (typeof b.payload === "string") chip.title = "Sends " + b.payload + " to the bot";
        chips.appendChild(chip);
      });
      box.appendChild(chips);
    }
    if (box.firstChild) msgEl.insertBefore(box, msgEl.querySelector(".msg-status"));
  }

  (PC.onMessage = PC.onMessage || []).push(addRich);
})();
