// AudioRecordControl: records `duration` seconds with MediaRecorder, lets the participant listen
// back, and hands the recording to page.js, which uploads it with the answer (multipart).
(function () {
  "use strict";
  window.ChorusControls = window.ChorusControls || {};
  const state = { blob: null, seconds: 0, recorder: null };

  function pickType() {
    const types = ["audio/webm;codecs=opus", "audio/webm", "audio/ogg;codecs=opus", "audio/mp4"];
    if (!window.MediaRecorder || !MediaRecorder.isTypeSupported) return "";
    return types.find(function (t) { return MediaRecorder.isTypeSupported(t); }) || "";
  }

  window.ChorusControls["audio_record"] = {
    init: function (form) {
      const box = form.querySelector(".audio-record");
      const duration = Number(box.dataset.duration);
      const status = document.getElementById("record-status");
      const start = document.getElementById("record-start");
      const stop = document.getElementById("record-stop");
      const next = document.getElementById("next");
      const playback = document.getElementById("record-playback");

      async function record() {
        if (!navigator.mediaDevices || !window.MediaRecorder) {
          status.textContent = "Your browser cannot record audio. Please use a recent Chrome, Firefox or Safari.";
          return;
        }
        let stream;
        try {
          stream = await navigator.mediaDevices.getUserMedia({ audio: true });
        } catch (e) {
          status.textContent = "We could not use your microphone (" + e.name + "). Please allow access and try again.";
          return;
        }
        const type = pickType();
        const recorder = new MediaRecorder(stream, type ? { mimeType: type } : undefined);
        const chunks = [];
        const began = performance.now();
        state.recorder = recorder;
        recorder.ondataavailable = function (event) { if (event.data.size) chunks.push(event.data); };
        recorder.onstop = function () {
          stream.getTracks().forEach(function (track) { track.stop(); });
          state.seconds = (performance.now() - began) / 1000;
          state.blob = new Blob(chunks, { type: recorder.mimeType || type || "audio/webm" });
          state.recorder = null;
          status.textContent = "Recorded " + state.seconds.toFixed(1) + " s. Listen back, or record again.";
          if (box.dataset.showPlayback === "true") {
            playback.src = URL.createObjectURL(state.blob);
            playback.hidden = false;
          }
          start.textContent = "Record again";
          start.hidden = false; stop.hidden = true; next.disabled = false;
        };
        recorder.start();
        status.textContent = "Recording…";
        start.hidden = true; stop.hidden = false; next.disabled = true;
        setTimeout(function () { if (recorder.state === "recording") recorder.stop(); }, duration * 1000);
      }

      start.addEventListener("click", record);
      stop.addEventListener("click", function () { if (state.recorder) state.recorder.stop(); });
      if (box.dataset.autoStart === "true") record();
    },
    collect: function (form) {
      const field = form.querySelector(".audio-record").dataset.fileField;
      const files = {};
      files[field] = state.blob;
      return { answer: { duration_sec: state.seconds, mime_type: state.blob ? state.blob.type : "" }, files: files };
    },
  };
})();
