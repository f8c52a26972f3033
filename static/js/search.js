// The search page's filters fold away on a phone, so the results come first, and stay
// unfolded on a wider screen. Without JavaScript they are folded everywhere, one click away.
(function () {
  "use strict";
  var wide = window.matchMedia("(min-width: 50.01rem)");
  function unfold(root) {
    if (!wide.matches || !root || !root.querySelectorAll) return;
    root.querySelectorAll("details[data-unfold-wide]").forEach(function (details) {
      details.open = true;
    });
  }
  document.addEventListener("DOMContentLoaded", function () { unfold(document); });
  document.addEventListener("htmx:afterSettle", function (event) { unfold(event.detail.elt); });
})();
