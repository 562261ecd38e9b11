// Media on a page whose asset is not deposited yet (a recording just made on another machine, a
// stimulus still being generated): say so, ask the cheap status endpoint every 1-2 s (with
// jitter), and load the file as soon as it is ready; give a clear message after a timeout.
(function () {
  "use strict";
  const TIMEOUT_MS = 60000;

  function statusUrl(src) {
    const url = new URL(src, window.location.href);
    const match = url.pathname.match(/^\/assets\/([^/]+)\//);
    if (!match || url.origin !== window.location.origin) return null;
    return "/asset-status/" + match[1] + url.search;
  }

  function wait(element) {
    const src = element.getAttribute("src");
    const status = statusUrl(src);
    if (!status || element.dataset.assetWaiting) return;
    element.dataset.assetWaiting = "true";
    const started = Date.now();
    const note = document.createElement("p");
    note.className = "asset-wait";
    note.setAttribute("role", "status");
    note.textContent = "Preparing the audio… one moment.";
    element.insertAdjacentElement("afterend", note);

    async function poll() {
      try {
        const response = await fetch(status, { credentials: "same-origin", cache: "no-store" });
        if (response.ok) {
          const body = await response.json();
          if (body.ready) {
            note.remove();
            delete element.dataset.assetWaiting;
            element.src = src + (src.indexOf("?") >= 0 ? "&" : "?") + "ready=" + Date.now();
            if (element.load) element.load();
            return;
          }
          if (body.failed) {
            note.textContent = "This file could not be prepared. Please continue; your answers are saved.";
            return;
          }
        }
      } catch (e) { /* offline for a moment: keep trying until the timeout */ }
      if (Date.now() - started > TIMEOUT_MS) {
        note.textContent = "This is taking longer than expected. Please continue; your answers are saved.";
        return;
      }
      setTimeout(poll, 1000 + Math.random() * 1000);
    }
    poll();
  }

  document.querySelectorAll("audio[src], video[src], img[src]").forEach(function (element) {
    const failed = element.tagName === "IMG"
      ? element.complete && element.naturalWidth === 0
      : element.error !== null;
    if (failed) wait(element);
    element.addEventListener("error", function () { wait(element); });
  });
})();
