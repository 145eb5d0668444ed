// The campaign form: a channel's texts show while the channel is chosen, variant B's while
// the A/B test is on. Without JavaScript every text shows; the server ignores the texts of
// channels not chosen, and variant B's without the A/B test.
document.addEventListener("DOMContentLoaded", function () {
  const form = document.querySelector("[data-campaign-form]");
  if (!form) {
    return;
  }
  function sync() {
    const chosen = new Set(
      Array.from(form.querySelectorAll("input[name=channels]:checked"), (box) => box.value),
    );
    form.querySelectorAll("[data-channel]").forEach(function (section) {
      section.hidden = !chosen.has(section.dataset.channel);
    });
    const ab = form.querySelector("input[name=ab_test]");
    form.querySelectorAll("[data-variant-b]").forEach(function (element) {
      element.hidden = !(ab && ab.checked);
    });
  }
  form.addEventListener("change", sync);
  sync();
});
