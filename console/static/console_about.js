/* The About panel of a conversation's details: what the site told through the widget SDK (docs/widget.md)
 * — the page the chat started on, where the customer came from, the signed-in user's id and the site's
 * attributes. All of it is customer-controlled text: set with textContent only, links only for http(s).
 * Strings from the console catalogue (console/static/i18n/console.en.json) through ParleyI18n.
 */
(function () {
  "use strict";
  var PC = window.ParleyConsole;
  if (!PC) return;
  var I18N = window.ParleyI18n || { load: function () { return Promise.resolve(); }, t: function (k, en) { return en; } };
  var tr = I18N.t;
  var shownFor = null;
  var seq = 0;

  function el(tag, cls, text) {
    var e = document.createElement(tag);
    if (cls) e.className = cls;
    if (text != null) e.textContent = String(text);
    return e;
  }

  function panel() {
    var box = document.getElementById("about-panel");
    if (box) return box;
    var body = document.getElementById("details-body");
    if (!body) return null;
    box = el("section", "panel about-panel");
    box.id = "about-panel";
    box.setAttribute("data-testid", "about-panel");
    box.setAttribute("aria-label", tr("about.title", "About"));
    box.hidden = true;
    var actions = document.getElementById("actions-panel");
    body.insertBefore(box, actions || null);
    return box;
  }

  function link(url) {
    var safe = /^https?:\/\//i.test(url);
    var a = el(safe ? "a" : "span", "about-url", url);
    if (safe) { a.href = url; a.target = "_blank"; a.rel = "noopener noreferrer nofollow"; }
    return a;
  }

  function row(dl, label, value, testid) {
    var dt = el("dt", null, label);
    var dd = el("dd");
    if (testid) dd.setAttribute("data-testid", testid);
    if (value && typeof value === "object" && value.nodeType) dd.appendChild(value);
    else dd.textContent = value == null ? "" : String(value);
    dl.appendChild(dt);
    dl.appendChild(dd);
  }

  function render(box, about) {
    while (box.firstChild) box.removeChild(box.firstChild);
    box.appendChild(el("h3", "panel-title", tr("about.title", "About")));
    var dl = el("dl", "props");
    dl.setAttribute("data-testid", "about-props");
    if (about.verified_user_id) row(dl, tr("about.verified", "Signed-in user"), about.verified_user_id, "about-user");
    if (about.page_url) row(dl, tr("about.page", "Started on"), link(about.page_url), "about-page");
    if (about.referrer) row(dl, tr("about.referrer", "Came from"), link(about.referrer), "about-referrer");
    var attrs = about.attributes || {};
    Object.keys(attrs).sort().forEach(function (k) { row(dl, k, attrs[k], "about-attr"); });
    if (!dl.firstChild) box.appendChild(el("p", "about-empty", tr("about.none", "Nothing told by the site.")));
    else box.appendChild(dl);
    box.hidden = false;
  }

  function show(conv) {
    var box = panel();
    if (!box || !conv || !conv.id) return;
    if (conv.channel !== "webchat") { box.hidden = true; shownFor = conv.id; return; }
    if (shownFor === conv.id) return; // chrome repaints often; the facts change rarely
    shownFor = conv.id;
    var mine = ++seq;
    Promise.all([I18N.load("console"), PC.api("GET", "/conversations/" + encodeURIComponent(conv.id) + "/about")])
      .then(function (res) { if (mine === seq) render(box, res[1] || {}); },
            function () {
              if (mine !== seq) return;
              while (box.firstChild) box.removeChild(box.firstChild);
              box.appendChild(el("p", "about-empty", tr("about.unavailable", "Could not load what the site told.")));
              box.hidden = false;
              shownFor = null;
            });
  }

  PC.onChrome = PC.onChrome || [];
  PC.onChrome.push(show);
  if (PC.state && PC.state.current) show(PC.state.current);
})();
