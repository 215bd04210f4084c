/* A returning customer's earlier conversations, above the open one: "Earlier conversations (N)", collapsed;
   each expands to its messages (read-only, fetched from the conversation's own endpoint, which checks access).
   Hooks into the console through window.ParleyConsole.onChrome; every text goes in with textContent. */
(function () {
  "use strict";
  var PC = window.ParleyConsole;
  if (!PC) return;
  var shownFor = null, seq = 0;

  function h(tag, attrs, text) {
    var el = document.createElement(tag);
    Object.keys(attrs || {}).forEach(function (k) { el.setAttribute(k, attrs[k]); });
    if (text !== undefined && text !== null) el.textContent = String(text);
    return el;
  }
  function when(iso) {
    if (!iso) return "";
    var d = new Date(iso);
    return isNaN(d) ? "" : d.toLocaleString([], { dateStyle: "medium", timeStyle: "short" });
  }
  var WHO = { contact: "Customer", bot: "Bot", agent: "Agent", system: "" };

  function box() {
    var el = document.getElementById("conv-history");
    if (el) return el;
    var messages = document.getElementById("messages");
    if (!messages) return null;
    el = h("section", { id: "conv-history", class: "conv-history", "data-testid": "conv-history", "aria-label": "Earlier conversations" });
    messages.parentNode.insertBefore(el, messages);
    return el;
  }

  function expand(item, conv, body) {
    if (body.getAttribute("data-loaded")) { body.hidden = !body.hidden; return; }
    body.hidden = false;
    body.textContent = "Loading…";
    PC.api("GET", "/conversations/" + encodeURIComponent(conv.id) + "/messages").then(function (res) {
      body.textContent = "";
      body.setAttribute("data-loaded", "1");
      ((res && res.messages) || []).forEach(function (m) {
        var row = h("div", { class: "ch-msg ch-" + m.sender_type + (m.private ? " ch-note" : ""), "data-testid": "conv-history-message" });
        row.appendChild(h("span", { class: "ch-who" }, (m.private ? "Note · " : "") + (WHO[m.sender_type] || "") + " · " + when(m.created_at)));
        row.appendChild(h("span", { class: "ch-text" }, m.text));
        body.appendChild(row);
      });
      if (!body.firstChild) body.textContent = "No messages.";
    }, function (err) { body.textContent = (err && err.message) || "Couldn't load it."; });
  }

  function render(el, data) {
    el.textContent = "";
    var earlier = (data && data.earlier) || [];
    el.hidden = !earlier.length;
    if (!earlier.length) return;
    var details = h("details", { class: "ch-all" });
    details.appendChild(h("summary", { "data-testid": "conv-history-toggle" }, "Earlier conversations (" + earlier.length + ")"));
    earlier.forEach(function (conv) {
      var item = h("div", { class: "ch-conv", "data-testid": "conv-history-item", "data-id": conv.id });
      var head = h("button", { type: "button", class: "ch-head" },
        (conv.name ? conv.name + " · " : "") + when(conv.created_at) + " · " + conv.channel + " · " + conv.status +
        " · " + conv.messages + " message" + (conv.messages === 1 ? "" : "s"));
      var body = h("div", { class: "ch-body" });
      body.hidden = true;
      head.addEventListener("click", function () { expand(item, conv, body); });
      item.appendChild(head);
      item.appendChild(body);
      details.appendChild(item);
    });
    el.appendChild(details);
  }

  PC.onChrome.push(function (c) {
    if (!c || c.id === shownFor) return;
    shownFor = c.id;
    var el = box(), mine = ++seq;
    if (!el) return;
    el.hidden = true;
    el.textContent = "";
    PC.api("GET", "/conversations/" + encodeURIComponent(c.id) + "/history").then(function (data) {
      if (mine === seq) render(el, data);
    }, function () { /* the conversation itself reports errors */ });
  });
})();
