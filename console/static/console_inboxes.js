/* The Team inbox filtered by inbox (a website's widget, a number): a select beside the search box.
 * Hooks into console.js through window.ParleyConsole (state.inbox, reload). Names go in as text. */
(function () {
  "use strict";
  var PC = window.ParleyConsole;
  if (!PC) return;
  var filters = document.querySelector(".filters");
  if (!filters) return;
  var KIND = { webchat: "Widget", sms: "SMS", whatsapp: "WhatsApp" };
  var select = document.createElement("select");
  select.className = "search inbox-filter";
  select.setAttribute("aria-label", "Filter by inbox");
  select.setAttribute("data-testid", "inbox-filter");
  select.hidden = true;
  select.style.maxWidth = "45%";
  function option(value, text) {
    var o = document.createElement("option");
    o.value = value;
    o.textContent = text;
    return o;
  }
  select.appendChild(option("", "All inboxes"));
  filters.appendChild(select);
  select.addEventListener("change", function () {
    PC.state.inbox = select.value ? Number(select.value) : null;
    PC.reload();
  });
  PC.api("GET", "/inboxes").then(function (data) {
    var inboxes = (data && data.inboxes) || [];
    inboxes.forEach(function (ib) {
      select.appendChild(option(String(ib.id), ib.name + " · " + (KIND[ib.kind] || ib.kind) + " · " + (ib.team.name || "")));
    });
    select.hidden = inboxes.length === 0;
  }, function () { /* no inboxes to filter by: the control stays hidden */ });
})();
