// The waiting page of a barrier: polls a cheap status endpoint every 1–2 s (random jitter, so
// many waiters do not poll in step), shows "2 of 3 in your group are here" without reloading,
// and submits the page through page.js as soon as the status says released. If the participant
// was moved elsewhere meanwhile (failed by a timeout, released by an admin), it reloads.
(function () {
  "use strict";
  window.ChorusControls = window.ChorusControls || {};
  window.ChorusControls.sync_wait = {
    init: function (form, submit) {
      const box = document.getElementById("sync-status");
      if (!box) return;
      const url = box.dataset.statusUrl;
      const pageUuid = form.dataset.pageUuid;
      const min = Number(box.dataset.pollMin || 1) * 1000;
      const max = Number(box.dataset.pollMax || 2) * 1000;
      let failures = 0;
      let stopped = false;

      function later(factor) {
        const delay = (min + Math.random() * (max - min)) * factor;
        window.setTimeout(poll, delay);
      }

      async function poll() {
        if (stopped) return;
        let status;
        try {
          const res = await fetch(url, { headers: { Accept: "application/json" }, credentials: "omit", cache: "no-store" });
          if (res.status === 404) {
            stopped = true;
            box.textContent = "This link is no longer valid.";
            return;
          }
          status = await res.json();
          failures = 0;
        } catch (e) {
          failures += 1;
          box.textContent = "Reconnecting…";
          later(Math.min(1 + failures, 5));
          return;
        }
        form.dataset.syncPolls = String(Number(form.dataset.syncPolls || 0) + 1);
        if (status.message) box.textContent = status.message;
        if (status.page_uuid && status.page_uuid !== pageUuid) {
          stopped = true;
          window.location.reload();
          return;
        }
        if (status.released || !status.waiting) {
          submit(null);
          // If the submit did not take us away (network trouble), keep asking.
          window.setTimeout(poll, 5000);
          return;
        }
        later(1);
      }

      poll();
    },
    collect: function () { return null; },
  };
})();
