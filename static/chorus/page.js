// The participant's page: collects the control's answer, submits it as JSON with the page's
// page_uuid, then loads the participant's current page. No build step; no framework.
//
// Answers the server refuses stay on the page with their message (422: validate(); 400:
// malformed), so nothing typed is lost. 409 (stale or replayed page) loads the current page.
// Network failures say so; an automatic submit (WaitPage) retries them by itself.
//
// Extension point: a control with its own `template` and `scripts` registers, before this file
// runs, window.ChorusControls[kind] = {init(form, submit), collect(form)}:
//   collect(form) -> the answer, or {answer, files: {name: Blob}} to upload files with it (sent
//     as multipart/form-data: a "payload" JSON field plus the files). It may return a Promise,
//     and may throw (or reject with) an Error whose message is shown to the participant.
//   init(form, submit) is called once; submit(value) submits on the control's own initiative
//     (value may be a Promise).
// window.Chorus = {form, submit, showError, clearError} is there for such scripts too.
(function () {
  "use strict";
  const form = document.getElementById("page");
  if (!form || form.tagName !== "FORM") return; // end pages have nothing to submit

  const REQUEST_TIMEOUT_MS = 30000;
  const RETRY_DELAYS_MS = [1000, 2000, 4000, 8000]; // automatic submits, then every 8 s
  const token = form.dataset.token;
  const pageUuid = form.dataset.pageUuid;
  const kind = form.dataset.control;
  const errorBox = document.getElementById("error");
  const optionsEl = document.getElementById("control-options");
  const options = optionsEl ? JSON.parse(optionsEl.textContent) || [] : [];
  const shownAt = performance.now();
  const custom = (window.ChorusControls || {})[kind];
  let busy = false; // a submit is in flight, or succeeded and the next page is loading
  let frozen = []; // [element, property] pairs set while busy, undone after a refusal
  let focusedBefore = null;

  function byIndex(i) { return options[Number(i)].value; }
  function answerInput() { return document.getElementById("answer"); }

  function collect() {
    if (custom && custom.collect) return custom.collect(form);
    const input = answerInput();
    switch (kind) {
      case "text": return input.value;
      case "number": return input.value === "" ? null : Number(input.value);
      case "slider": return Number(input.value);
      case "radio": {
        const checked = form.querySelector('input[name="answer"]:checked');
        return checked ? byIndex(checked.dataset.index) : null;
      }
      case "checkbox":
        return Array.from(form.querySelectorAll('input[name="answer"]:checked'))
          .map(function (el) { return byIndex(el.dataset.index); });
      case "dropdown": return input.value === "" ? null : byIndex(input.value);
      default: return null;
    }
  }

  function collectSafely() {
    try { return collect(); } catch (e) { return Promise.reject(e); }
  }

  function request(collected) {
    let answer = collected, files = null;
    if (collected && typeof collected === "object" && !Array.isArray(collected) && collected.files) {
      answer = collected.answer; files = collected.files;
    }
    const payload = {
      page_uuid: pageUuid, answer: answer === undefined ? null : answer,
      metadata: { client_time: Date.now(), time_on_page_ms: Math.round(performance.now() - shownAt) },
    };
    if (!files) {
      return { headers: { "Content-Type": "application/json", "Accept": "application/json" },
               body: JSON.stringify(payload) };
    }
    const data = new FormData();
    data.append("payload", JSON.stringify(payload));
    Object.keys(files).forEach(function (name) { data.append(name, files[name], name); });
    return { headers: { "Accept": "application/json" }, body: data };
  }

  async function post(collected) {
    const req = request(collected);
    const controller = new AbortController();
    const timer = setTimeout(function () { controller.abort(); }, REQUEST_TIMEOUT_MS);
    try {
      return await fetch("/api/p/" + encodeURIComponent(token) + "/response", {
        method: "POST", headers: req.headers, body: req.body, credentials: "omit",
        cache: "no-store", signal: controller.signal,
      });
    } finally {
      clearTimeout(timer);
    }
  }

  function setBusy(on) {
    busy = on;
    form.classList.toggle("busy", on);
    if (on) {
      form.setAttribute("aria-busy", "true");
      focusedBefore = document.activeElement;
      // Typed fields become read-only rather than disabled: they keep their value and focus.
      frozen = [];
      form.querySelectorAll("button, input, select, textarea").forEach(function (el) {
        const typed = el.tagName === "TEXTAREA" || (el.tagName === "INPUT" &&
          ["radio", "checkbox", "range", "button", "submit"].indexOf(el.type) < 0);
        const prop = typed ? "readOnly" : "disabled";
        if (!el[prop]) { el[prop] = true; frozen.push([el, prop]); }
      });
    } else {
      form.removeAttribute("aria-busy");
      frozen.forEach(function (pair) { pair[0][pair[1]] = false; });
      frozen = [];
      if (focusedBefore && document.activeElement === document.body) focusedBefore.focus();
    }
  }

  function clearError() {
    errorBox.textContent = "";
    form.classList.remove("has-error");
    form.querySelectorAll("[aria-invalid]").forEach(function (el) { el.removeAttribute("aria-invalid"); });
  }

  // `answerRefused`: the server (or collect()) turned the answer down, so the control is marked
  // invalid and focused for correction; otherwise (network, server trouble) only the message shows.
  function showError(message, answerRefused) {
    errorBox.textContent = message;
    form.classList.add("has-error");
    if (answerRefused === false) return;
    const input = answerInput();
    if (input) {
      input.setAttribute("aria-invalid", "true");
      if (kind === "text" || kind === "number") input.focus();
    } else {
      const group = form.querySelector("fieldset.options");
      if (group) {
        group.setAttribute("aria-invalid", "true");
        // Keyboard users land back in the options, ready to choose.
        const option = group.querySelector("input:checked") || group.querySelector("input");
        if (option) option.focus();
      }
    }
  }

  function messageFor(status, body) {
    const said = body && typeof body.error === "string" ? body.error : "";
    if (status === 422 && said) return said;
    if (status === 400) {
      return said ? "Your answer could not be accepted: " + said.replace(/\.$/, "") + "."
                  : "Your answer could not be accepted.";
    }
    if (status === 404) return "This study link is not valid. Please use the link you were given.";
    if (status === 413) return "Your answer is too large to send.";
    if (status === 429) return "Too many attempts. Please wait a moment and try again.";
    if (status >= 500) return "Something went wrong on our side (" + status + "). Please try again in a moment.";
    return said || "Something went wrong (" + status + "). Please try again.";
  }

  function goToCurrentPage() {
    // A fresh GET of this URL shows whatever page the participant is on now.
    window.location.replace(window.location.pathname + window.location.search);
  }

  async function readJson(res) {
    try { return await res.json(); } catch (e) { return null; }
  }

  // Returns true when the answer was accepted (or the page was already done), false otherwise.
  // `onTransientFailure` (network error, timeout, 5xx) replaces the message for automatic submits.
  async function submit(pending, onTransientFailure) {
    if (busy) return false; // a double click, or a second button pressed while submitting
    setBusy(true);
    clearError();
    let collected;
    try {
      collected = await pending;
    } catch (e) {
      setBusy(false);
      showError((e && e.message) || "Please finish this page before going on.");
      return false;
    }
    let res;
    try {
      res = await post(collected);
    } catch (e) {
      setBusy(false);
      const slow = e && e.name === "AbortError";
      const what = slow ? "The server took too long to answer." : "Could not reach the server.";
      if (onTransientFailure) { showError(what + " Trying again…", false); onTransientFailure(); }
      else showError(what + " Please check your connection and try again.", false);
      return false;
    }
    if (res.ok || res.status === 409) {
      goToCurrentPage(); // stays busy: nothing more is submitted from this page
      return true;
    }
    const body = await readJson(res);
    setBusy(false);
    const refused = res.status === 400 || res.status === 422;
    if (res.status >= 500 && onTransientFailure) {
      showError(messageFor(res.status, body) + " Trying again…", false);
      onTransientFailure();
    } else {
      showError(messageFor(res.status, body), refused);
    }
    return false;
  }

  function autoSubmit(attempt) {
    submit(collectSafely(), function () {
      const delay = RETRY_DELAYS_MS[Math.min(attempt, RETRY_DELAYS_MS.length - 1)];
      setTimeout(function () { autoSubmit(attempt + 1); }, delay);
    });
  }

  form.addEventListener("submit", function (event) {
    event.preventDefault();
    submit(collectSafely());
  });
  form.querySelectorAll("button.push-button").forEach(function (button) {
    button.addEventListener("click", function () {
      if (busy) return;
      button.classList.add("chosen");
      submit(byIndex(button.dataset.index)).then(function (ok) {
        if (!ok) button.classList.remove("chosen");
      });
    });
  });
  if (kind === "slider") {
    const slider = answerInput();
    const sliderValue = document.getElementById("slider-value");
    if (slider && sliderValue) {
      slider.addEventListener("input", function () { sliderValue.textContent = slider.value; });
    }
  }
  // Typing again after a refusal clears the stale message.
  form.addEventListener("input", function () { if (!busy && errorBox.textContent) clearError(); });
  // Back/forward cache: a page restored from memory may be stale; show the current one.
  window.addEventListener("pageshow", function (event) { if (event.persisted) goToCurrentPage(); });

  window.Chorus = {
    form: form,
    submit: function (value) { return submit(value); },
    showError: showError,
    clearError: clearError,
  };
  if (custom && custom.init) custom.init(form, window.Chorus.submit);
  if (form.dataset.autoSubmitAfter !== undefined) {
    setTimeout(function () { autoSubmit(0); }, Number(form.dataset.autoSubmitAfter) * 1000);
  }
})();
