// Collects the answer from the page's control, submits it as JSON with the page's page_uuid,
// then shows the next page. No build step; no framework.
(function () {
  "use strict";
  const form = document.getElementById("page");
  if (!form || form.dataset.terminal) return;
  const token = form.dataset.token;
  const pageUuid = form.dataset.pageUuid;
  const kind = form.dataset.control;
  const errorBox = document.getElementById("error");
  const optionsEl = document.getElementById("control-options");
  const options = optionsEl ? JSON.parse(optionsEl.textContent) || [] : [];
  let busy = false;

  function byIndex(i) { return options[Number(i)].value; }

  // Custom controls (recording, waiting, ...) register in window.ChorusControls[kind] an object
  // with collect() -> answer, or -> {answer, files: {name: Blob}} to upload files with it
  // (sent as multipart/form-data: a "payload" JSON field plus the files). May return a Promise.
  const custom = (window.ChorusControls || {})[kind];

  function collect() {
    if (custom && custom.collect) return custom.collect(form);
    const input = document.getElementById("answer");
    switch (kind) {
      case "text": return input.value;
      case "number": return input.value === "" ? null : Number(input.value);
      case "slider": return Number(input.value);
      case "radio": {
        const checked = form.querySelector('input[name="answer"]:checked');
        return checked ? byIndex(checked.dataset.index) : null;
      }
      case "checkbox":
        return Array.from(form.querySelectorAll('input[name="answer"]:checked')).map(el => byIndex(el.dataset.index));
      case "dropdown": return input.value === "" ? null : byIndex(input.value);
      default: return null;
    }
  }

  function request(collected) {
    let answer = collected, files = null;
    if (collected && typeof collected === "object" && collected.files) {
      answer = collected.answer; files = collected.files;
    }
    const payload = { page_uuid: pageUuid, answer: answer, metadata: { client_time: Date.now() } };
    if (!files) {
      return { headers: { "Content-Type": "application/json", "Accept": "application/json" },
               body: JSON.stringify(payload) };
    }
    const data = new FormData();
    data.append("payload", JSON.stringify(payload));
    Object.keys(files).forEach(function (name) { data.append(name, files[name], name); });
    return { headers: { "Accept": "application/json" }, body: data };
  }

  async function submit(pending) {
    if (busy) return;
    busy = true;
    form.setAttribute("aria-busy", "true");
    errorBox.textContent = "";
    try {
      const req = request(await pending);
      const res = await fetch("/api/p/" + encodeURIComponent(token) + "/response", {
        method: "POST", headers: req.headers, body: req.body, credentials: "omit",
      });
      if (res.ok || res.status === 409) { window.location.reload(); return; }
      let message = "Something went wrong (" + res.status + "). Please try again.";
      try { const body = await res.json(); if (body.error) message = body.error; } catch (e) { /* not JSON */ }
      errorBox.textContent = message;
    } catch (e) {
      errorBox.textContent = "Could not reach the server. Please check your connection and try again.";
    } finally {
      busy = false;
      form.removeAttribute("aria-busy");
    }
  }

  form.addEventListener("submit", function (event) { event.preventDefault(); submit(collect()); });
  form.querySelectorAll("button.push-button").forEach(function (button) {
    button.addEventListener("click", function () { submit(byIndex(button.dataset.index)); });
  });
  const slider = document.getElementById("answer");
  const sliderValue = document.getElementById("slider-value");
  if (kind === "slider" && slider && sliderValue) {
    slider.addEventListener("input", function () { sliderValue.textContent = slider.value; });
  }
  if (custom && custom.init) custom.init(form, function (value) { submit(value); });
  if (form.dataset.autoSubmitAfter !== undefined) {
    setTimeout(function () { submit(null); }, Number(form.dataset.autoSubmitAfter) * 1000);
  }
})();
