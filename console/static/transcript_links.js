/* The open conversation's transcript, from its header: as text (opens in a tab) or as a PDF made by
   the server (downloaded). Same visibility as the conversation itself (GET .../transcript). */
(function () {
  "use strict";

  function link(text, href, testid, download) {
    var a = document.createElement("a");
    a.className = "btn btn-ghost btn-sm";
    a.textContent = text;
    a.href = href;
    a.setAttribute("data-testid", testid);
    if (download) a.setAttribute("download", download); else a.target = "_blank";
    a.rel = "noopener";
    return a;
  }

  function paint(conv) {
    var actions = document.querySelector(".conv-actions");
    if (!actions) return;
    var box = document.getElementById("transcript-links");
    if (!conv) { if (box) box.hidden = true; return; }
    if (!box) {
      box = document.createElement("span");
      box.id = "transcript-links";
      box.className = "transcript-links";
      box.setAttribute("data-testid", "transcript-links");
      actions.insertBefore(box, document.getElementById("details-toggle"));
    }
    if (box.getAttribute("data-conversation") === conv.id) { box.hidden = false; return; }
    box.setAttribute("data-conversation", conv.id);
    var base = "/api/v1/conversations/" + encodeURIComponent(conv.id) + "/transcript";
    while (box.firstChild) box.removeChild(box.firstChild);
    box.appendChild(link("Transcript", base + "?format=txt", "transcript-text", null));
    box.appendChild(link("Download PDF", base + "?format=pdf", "transcript-pdf", conv.id + ".pdf"));
    box.hidden = false;
  }

  function start() {
    var PC = window.ParleyConsole;
    if (!PC || !PC.onChrome) return;
    PC.onChrome.push(paint);
    if (PC.state && PC.state.current) paint(PC.state.current);
  }

  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", start);
  else start();
})();
