/* The console's message catalogues: console/static/i18n/<name>.<lang>.json, English first (the
 * reference; docs/widget.md "Translations"). A page's scripts ask for their strings with
 * ParleyI18n.t(key, english): the English at the call site is the fallback for a key a catalogue lacks,
 * so a string shows while its catalogue loads. The widget keeps its own catalogues (widget.<lang>.json).
 */
(function () {
  "use strict";
  if (window.ParleyI18n) return;
  var lang = (document.documentElement.getAttribute("lang") || "en").toLowerCase().split("-")[0];
  var strings = {};
  var loads = {};
  function load(name) {
    if (!loads[name]) {
      var base = document.querySelector('script[src*="i18n.js"]');
      var dir = base ? base.src.replace(/i18n\.js(\?.*)?$/, "i18n/") : "/static/i18n/";
      var get = function (l) {
        return fetch(dir + name + "." + l + ".json", { credentials: "same-origin" })
          .then(function (r) { return r.ok ? r.json() : {}; }, function () { return {}; });
      };
      loads[name] = get("en").then(function (en) {
        Object.keys(en).forEach(function (k) { if (!(k in strings)) strings[k] = en[k]; });
        if (lang === "en") return;
        return get(lang).then(function (own) { Object.keys(own).forEach(function (k) { strings[k] = own[k]; }); });
      });
    }
    return loads[name];
  }
  function t(key, english) {
    var s = strings[key];
    return typeof s === "string" && s ? s : english;
  }
  window.ParleyI18n = { load: load, t: t, get lang() { return lang; } };
})();
