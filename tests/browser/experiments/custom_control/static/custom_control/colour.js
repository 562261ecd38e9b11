// Registers the "colour" control: swatches toggle aria-pressed; collect() answers the chosen one.
window.ChorusControls = window.ChorusControls || {};
window.ChorusControls.colour = {
  init: function (form) {
    form.querySelectorAll(".swatch").forEach(function (swatch) {
      swatch.addEventListener("click", function () {
        form.querySelectorAll(".swatch").forEach(function (other) {
          other.setAttribute("aria-pressed", String(other === swatch));
        });
      });
    });
  },
  collect: function (form) {
    const chosen = form.querySelector('.swatch[aria-pressed="true"]');
    if (!chosen) throw new Error("Pick a colour first.");
    return Promise.resolve(chosen.dataset.colour);
  },
};
