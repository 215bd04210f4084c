/* The top bar's Admin menu (admins only): a button that shows and hides a list of links to the admin
 * pages (Users, Teams, Inboxes, Integrations, Bot training, Knowledge). A disclosure, not an ARIA menu:
 * the links stay ordinary links in the tab order. Keyboard: Enter/Space on the button toggles it,
 * ArrowDown opens it on the first link, ArrowUp/ArrowDown/Home/End move between links, Escape closes it
 * and puts focus back on the button; focus or a click outside closes it.
 */
(function () {
  "use strict";
  var wrap = document.getElementById("admin-menu");
  var btn = document.getElementById("admin-menu-toggle");
  var list = document.getElementById("admin-menu-list");
  if (!wrap || !btn || !list) return;

  function links() { return Array.prototype.slice.call(list.querySelectorAll("a")); }
  function isOpen() { return !list.hidden; }
  function open(focusFirst) {
    list.hidden = false;
    btn.setAttribute("aria-expanded", "true");
    if (focusFirst && links()[0]) links()[0].focus();
  }
  function close(refocus) {
    if (!isOpen()) return;
    list.hidden = true;
    btn.setAttribute("aria-expanded", "false");
    if (refocus) btn.focus();
  }

  btn.addEventListener("click", function () { if (isOpen()) close(false); else open(false); });
  btn.addEventListener("keydown", function (e) {
    if (e.key === "ArrowDown") { e.preventDefault(); open(true); }
    else if (e.key === "Escape") close(true);
  });
  list.addEventListener("keydown", function (e) {
    var all = links(), i = all.indexOf(document.activeElement);
    if (e.key === "Escape") { e.preventDefault(); close(true); return; }
    var next = e.key === "ArrowDown" ? i + 1 : e.key === "ArrowUp" ? i - 1
      : e.key === "Home" ? 0 : e.key === "End" ? all.length - 1 : null;
    if (next === null || !all.length) return;
    e.preventDefault();
    all[(next + all.length) % all.length].focus();
  });
  document.addEventListener("click", function (e) { if (!wrap.contains(e.target)) close(false); });
  wrap.addEventListener("focusout", function (e) {
    if (e.relatedTarget && !wrap.contains(e.relatedTarget)) close(false);
  });
})();
