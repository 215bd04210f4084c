/* The customer's end-of-chat rating in the conversation view's details (GET /api/v1/conversations/<id>/rating).
   Independent of console.js: it follows the open conversation through the URL (#c/<id>) and the status chip,
   and while a closed conversation has no rating yet it looks again every few seconds (the customer may be
   rating it right now). Everything the customer wrote is set with textContent. */
(function () {
  "use strict";
  var body = document.getElementById("details-body");
  if (!body) return;
  var POLL_MS = 4000;
  var current = null;
  var timer = null;
  var seq = 0;

  var title = document.createElement("h3");
  title.className = "panel-title";
  title.textContent = "Customer rating";
  var stars = document.createElement("div");
  stars.className = "rating-stars";
  stars.setAttribute("data-testid", "rating-score");
  var comment = document.createElement("p");
  comment.className = "rating-comment";
  comment.setAttribute("data-testid", "rating-comment");
  stars.style.cssText = "font-size:18px;color:#d97706;letter-spacing:1px;white-space:pre;";
  comment.style.cssText = "margin:6px 0 0;white-space:pre-wrap;overflow-wrap:anywhere;font-size:13px;";
  var panel = document.createElement("section");
  panel.className = "panel";
  panel.id = "rating-panel";
  panel.setAttribute("data-testid", "rating-panel");
  panel.setAttribute("aria-label", "Customer rating");
  panel.hidden = true;
  panel.appendChild(title);
  panel.appendChild(stars);
  panel.appendChild(comment);
  body.insertBefore(panel, body.children[1] || null); // under the contact: seen without scrolling

  function conversationId() {
    var m = /^#c\/(.+)$/.exec(location.hash || "");
    return m ? decodeURIComponent(m[1]) : null;
  }
  function closed() {
    var chip = document.querySelector('#conv-chips [data-testid="chip-status"]');
    return !!chip && /closed/i.test(chip.textContent || "");
  }

  function show(rating) {
    panel.hidden = !rating;
    if (!rating) return;
    var n = Math.max(1, Math.min(5, rating.score | 0));
    stars.textContent = "★★★★★".slice(0, n) + "☆☆☆☆☆".slice(0, 5 - n) + "  " + n + " / 5";
    stars.setAttribute("aria-label", n + " out of 5");
    stars.setAttribute("data-score", String(n));
    comment.textContent = rating.comment || "";
    comment.hidden = !rating.comment;
  }

  function load() {
    clearTimeout(timer);
    var id = current, mine = ++seq;
    if (!id) { show(null); return; }
    fetch("/api/v1/conversations/" + encodeURIComponent(id) + "/rating", { credentials: "same-origin" })
      .then(function (r) { return r.ok ? r.json() : null; })
      .then(function (data) {
        if (mine !== seq) return;
        var rating = data && data.rating;
        show(rating || null);
        if (!rating && closed() && !document.hidden) timer = setTimeout(load, POLL_MS);
      }, function () { /* a network blip: the next change of view asks again */ });
  }

  function sync() {
    var id = conversationId();
    if (id !== current) { current = id; show(null); }
    load();
  }
  window.addEventListener("hashchange", sync);
  document.addEventListener("visibilitychange", function () { if (!document.hidden) load(); });
  var chips = document.getElementById("conv-chips");
  if (chips && window.MutationObserver) {
    new MutationObserver(function () { if (panel.hidden && closed()) load(); }).observe(chips, { childList: true, subtree: true });
  }
  sync();
})();
