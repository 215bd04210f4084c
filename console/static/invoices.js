/* Invoices in the details pane of the open conversation: the ones sent, with their live status (the
   `invoice` socket event), an "Invoice" form (line items or one checkout amount, currency, tax, due date)
   and, for admins, Void. Amounts are typed as people write them (12.50) and sent as integers in minor
   units, converted from the text digit by digit: never through a float. Everything shown is put in with
   textContent. Independent of console.js: it follows the open conversation through the URL (#c/<id>). */
(function () {
  "use strict";
  var panel = document.getElementById("invoices-panel");
  if (!panel) return;
  var ADMIN = document.body.getAttribute("data-user-role") === "admin";
  var ZERO = "bif clp djf gnf jpy kmf krw mga pyg rwf ugx vnd vuv xaf xof xpf".split(" ");
  var THREE = "bhd jod kwd omr tnd".split(" ");
  var current = null;
  var invoices = [];
  var formOpen = false;
  var formEl = null;

  // The console's API client (console.js): CSRF, errors as ApiError with a plain message, session expiry.
  function call(method, path, body) { return window.ParleyConsole.api(method, path, body); }
  function el(tag, cls, text) { var e = document.createElement(tag); if (cls) e.className = cls; if (text != null) e.textContent = text; return e; }
  function conversationId() {
    var m = /^#c\/(.+)$/.exec(location.hash || "");
    return m ? decodeURIComponent(m[1]) : null;
  }
  function safeUrl(url) { return typeof url === "string" && /^https?:\/\//i.test(url) ? url : null; }
  function exponent(currency) {
    var c = (currency || "").toLowerCase();
    return ZERO.indexOf(c) >= 0 ? 0 : THREE.indexOf(c) >= 0 ? 3 : 2;
  }
  /* "12.5" in EUR → 1250; null when it is not a plain amount with at most the currency's decimals. */
  function toMinor(text, currency) {
    var e = exponent(currency);
    var m = /^\s*(\d{1,9})(?:[.,](\d*))?\s*$/.exec(text || "");
    if (!m || (m[2] || "").length > e) return null;
    var frac = (m[2] || "");
    while (frac.length < e) frac += "0";
    return parseInt(m[1] + frac, 10);
  }

  function input(name, placeholder, type) {
    var i = el("input", "input");
    i.name = name; i.placeholder = placeholder; i.type = type || "text";
    i.setAttribute("data-testid", "invoice-" + name);
    return i;
  }

  function itemRow(list) {
    var row = el("div", "invoice-item");
    row.appendChild(input("description", "Description"));
    var q = input("quantity", "Qty", "number"); q.min = "1"; q.value = "1"; q.step = "1";
    row.appendChild(q);
    row.appendChild(input("unit_price", "Unit price (12.50)"));
    list.appendChild(row);
  }

  function renderForm() {
    var form = el("form", "invoice-form");
    form.setAttribute("data-testid", "invoice-form");
    var kind = el("select", "input"); kind.name = "kind"; kind.setAttribute("data-testid", "invoice-kind");
    [["invoice", "Invoice (line items)"], ["checkout", "Checkout (one amount)"]].forEach(function (k) {
      var o = el("option", null, k[1]); o.value = k[0]; kind.appendChild(o);
    });
    form.appendChild(kind);
    var currency = input("currency", "Currency (EUR)"); currency.value = "EUR"; currency.maxLength = 3;
    form.appendChild(currency);
    var items = el("div", "invoice-items"); itemRow(items); form.appendChild(items);
    var more = el("button", "btn btn-sm", "+ Line"); more.type = "button";
    more.addEventListener("click", function () { itemRow(items); });
    form.appendChild(more);
    var tax = input("tax", "Tax % (20)"); form.appendChild(tax);
    var due = input("due_date", "", "date"); form.appendChild(due);
    kind.addEventListener("change", function () {
      var checkout = kind.value === "checkout";
      more.hidden = tax.hidden = due.hidden = checkout;
      while (checkout && items.children.length > 1) items.removeChild(items.lastChild);
    });
    var error = el("p", "composer-error"); error.setAttribute("role", "alert"); error.setAttribute("data-testid", "invoice-error");
    var send = el("button", "btn btn-primary btn-sm", "Send"); send.type = "submit"; send.setAttribute("data-testid", "invoice-send");
    form.appendChild(send);
    form.appendChild(error);
    form.addEventListener("submit", function (ev) {
      ev.preventDefault();
      error.textContent = "";
      var cur = currency.value.trim();
      var lines = [];
      var bad = null;
      Array.prototype.forEach.call(items.children, function (row) {
        var d = row.querySelector('[name="description"]').value.trim();
        var q = parseInt(row.querySelector('[name="quantity"]').value, 10);
        var amount = toMinor(row.querySelector('[name="unit_price"]').value, cur);
        if (!d && amount === null) return;
        if (!d || amount === null || !(q >= 1)) bad = "Each line needs a description, a quantity and a price like 12.50.";
        lines.push({ description: d, quantity: q, unit_amount: amount });
      });
      if (!bad && !lines.length) bad = "Add at least one line.";
      var bps = 0;
      if (!bad && tax.value.trim() && kind.value === "invoice") {
        var t = /^\s*(\d{1,3})(?:[.,](\d{1,2}))?\s*$/.exec(tax.value);
        if (!t) bad = "Tax is a percentage like 20 or 7.25.";
        else bps = parseInt(t[1], 10) * 100 + parseInt(((t[2] || "") + "00").slice(0, 2), 10);
      }
      if (bad) { error.textContent = bad; return; }
      var body = kind.value === "checkout"
        ? { kind: "checkout", currency: cur, amount: lines[0].unit_amount, description: lines[0].description }
        : { kind: "invoice", currency: cur, items: lines, tax_rate_bps: bps, due_date: due.value || null };
      var id = current;
      send.disabled = true;
      call("POST", "/conversations/" + encodeURIComponent(id) + "/invoices", body).then(function (inv) {
        if (id !== current) return;
        formOpen = false;
        upsert(inv);
      }, function (err) {
        send.disabled = false;
        error.textContent = err.message;
      });
    });
    return form;
  }

  /* The head (title, toggle) and the form are built once and kept: live updates and reloads redraw only
     the list, so a button someone is about to press, or a form being typed, is never swapped under them. */
  var head = el("div", "invoice-head");
  head.appendChild(el("h3", "panel-title", "Invoices"));
  var toggle = el("button", "btn btn-sm", "Invoice");
  toggle.type = "button"; toggle.setAttribute("data-testid", "invoice-new");
  toggle.addEventListener("click", function () { formOpen = !formOpen; render(); });
  head.appendChild(toggle);
  var listEl = null;

  function render() {
    if (!current) formOpen = false;
    panel.hidden = !current;
    if (head.parentNode !== panel) panel.insertBefore(head, panel.firstChild);
    toggle.textContent = formOpen ? "Cancel" : "Invoice";
    if (formOpen && !formEl) formEl = renderForm();
    if (formEl && formEl.parentNode !== panel && formOpen) panel.insertBefore(formEl, head.nextSibling);
    if (!formOpen && formEl) { if (formEl.parentNode) formEl.parentNode.removeChild(formEl); formEl = null; }
    if (listEl && listEl.parentNode) listEl.parentNode.removeChild(listEl);
    listEl = null;
    if (!current) return;
    if (!invoices.length) return;
    var ul = listEl = el("ul", "invoice-list"); ul.setAttribute("data-testid", "invoice-list");
    invoices.forEach(function (inv) {
      var li = el("li"); li.setAttribute("data-invoice-id", inv.id);
      li.appendChild(el("span", null, inv.number + " · " + inv.total_text + " "));
      var badge = el("span", "badge invoice-" + inv.status, inv.status);
      badge.setAttribute("data-testid", "invoice-status");
      li.appendChild(badge);
      var link = safeUrl(inv.payment_url);
      if (link && inv.status === "unpaid") {
        var a = el("a", null, " link"); a.href = link; a.target = "_blank"; a.rel = "noopener noreferrer";
        li.appendChild(a);
      }
      if (ADMIN && inv.status === "unpaid") {
        var v = el("button", "btn btn-sm", "Void"); v.type = "button"; v.setAttribute("data-testid", "invoice-void");
        v.addEventListener("click", function () {
          v.disabled = true;
          call("POST", "/invoices/" + encodeURIComponent(inv.id) + "/void").then(upsert, function (err) {
            v.disabled = false;
            if (window.ParleyConsole && window.ParleyConsole.toast) window.ParleyConsole.toast(err.message, "error");
          });
        });
        li.appendChild(v);
      }
      ul.appendChild(li);
    });
    panel.appendChild(ul);
  }

  function upsert(inv) {
    if (!inv || inv.conversation_id !== current) return;
    var i = invoices.findIndex(function (x) { return x.id === inv.id; });
    if (i >= 0) invoices[i] = inv; else invoices.push(inv);
    render();
  }

  function load() {
    var id = conversationId();
    if (id !== current) formOpen = false;
    current = id;
    invoices = [];
    render();
    if (!id) return;
    call("GET", "/conversations/" + encodeURIComponent(id) + "/invoices").then(function (d) {
      if (id !== current) return;
      invoices = d.invoices;
      render();
    }, function () { /* not visible (404) or offline: the panel stays empty */ });
  }

  /* The lists: a conversation awaiting payment carries `data-unpaid-invoice` (shown by invoices.css). The
     list re-renders its items, so the mark is laid again whenever items are added. */
  var unpaid = {};  // conversation id → {invoice id: true}
  function markList() {
    Array.prototype.forEach.call(document.querySelectorAll(".conv-item[data-id]"), function (li) {
      var ids = unpaid[li.getAttribute("data-id")];
      var has = !!ids && Object.keys(ids).length > 0;
      if (has !== li.hasAttribute("data-unpaid-invoice")) {
        if (has) li.setAttribute("data-unpaid-invoice", ""); else li.removeAttribute("data-unpaid-invoice");
      }
    });
  }
  function track(inv) {
    var ids = unpaid[inv.conversation_id] || (unpaid[inv.conversation_id] = {});
    if (inv.status === "unpaid") ids[inv.id] = true; else delete ids[inv.id];
  }
  function loadUnpaid() {
    call("GET", "/invoices?status=unpaid&limit=500").then(function (d) {
      unpaid = {};
      d.invoices.forEach(track);
      markList();
    }, function () { /* offline: the marks stay as they were */ });
  }
  var lists = document.querySelector(".conv-list") || document.body;
  new MutationObserver(markList).observe(lists, { childList: true, subtree: true });

  function onInvoice(inv) {
    track(inv);
    markList();
    upsert(inv);
  }

  function attach() {
    var socket = window.ParleyConsole && window.ParleyConsole.socket;
    if (!socket) { setTimeout(attach, 300); return; }
    socket.on("invoice", onInvoice);
    socket.on("connect", function () { load(); loadUnpaid(); });  // missed while away: a fresh picture
  }

  window.addEventListener("hashchange", load);
  load();
  loadUnpaid();
  attach();
})();
