// The live monitor: re-fetch the live part of the page every few seconds and swap it in.
// The page's own query string (status filter, page number) is kept. No reload, no build step.
(function () {
  "use strict";
  var live = document.getElementById("monitor-live");
  var updated = document.getElementById("monitor-updated");
  if (!live) { return; }
  var url = live.dataset.url;
  var every = Math.max(1, Number(live.dataset.refresh) || 3) * 1000;
  var lastUpdated = updated.textContent.replace(/^Updated /, "");

  function refresh() {
    fetch(url + window.location.search, {credentials: "same-origin", headers: {"Accept": "text/html"}})
      .then(function (reply) {
        if (reply.redirected || !reply.ok) { throw new Error("monitor refresh: HTTP " + reply.status); }
        return reply.text();
      })
      .then(function (html) {
        live.innerHTML = html;
        lastUpdated = new Date().toISOString().slice(0, 19).replace("T", " ") + " UTC.";
        updated.textContent = "Updated " + lastUpdated;
        updated.classList.remove("stale");
      })
      .catch(function () {
        updated.textContent = "Not updated since " + lastUpdated + " (retrying; log in again if this lasts).";
        updated.classList.add("stale");
      })
      .finally(function () { window.setTimeout(refresh, every); });
  }
  window.setTimeout(refresh, every);

  var copy = document.getElementById("copy-entry-link");
  if (copy && navigator.clipboard) {
    copy.addEventListener("click", function () {
      navigator.clipboard.writeText(document.getElementById("entry-link").textContent)
        .then(function () { copy.textContent = "Copied"; }, function () { copy.textContent = "Select and copy"; });
    });
  } else if (copy) {
    copy.hidden = true;  // no clipboard access (plain http on another host): select the text
  }

  // Buttons that fail someone ask first (delegated: the live part is replaced on every refresh).
  live.addEventListener("click", function (event) {
    var button = event.target.closest("button[data-confirm]");
    if (button && !window.confirm(button.dataset.confirm)) { event.preventDefault(); }
  });
}());
