// Live job updates: htmx's ws extension swaps each pushed fragment in by id. This file
// only adds what the extension cannot know: drop stale fragments (lower data-seq), show a
// toast when a job finishes while its element is not on this page, and tell pending
// elements to poll (hx-trigger "jobs-poll from:body") every few seconds while the socket
// is down. An event rather than a trigger filter: htmx runs filters with eval, which the
// Content-Security-Policy refuses.
(function () {
  "use strict";
  var POLL_MS = 3000;
  window.jobsSocketOpen = false;
  setInterval(function () {
    if (!window.jobsSocketOpen && document.body) {
      document.body.dispatchEvent(new CustomEvent("jobs-poll"));
    }
  }, POLL_MS);
  document.addEventListener("htmx:wsOpen", function () { window.jobsSocketOpen = true; });
  document.addEventListener("htmx:wsClose", function () { window.jobsSocketOpen = false; });
  document.addEventListener("htmx:wsError", function () { window.jobsSocketOpen = false; });

  document.addEventListener("htmx:wsBeforeMessage", function (event) {
    var template = document.createElement("template");
    template.innerHTML = event.detail.message;
    var incoming = template.content.firstElementChild;
    if (!incoming || !incoming.dataset.jobId) { return; }
    var current = document.getElementById(incoming.id);
    if (current && Number(current.dataset.seq) > Number(incoming.dataset.seq)) {
      event.preventDefault(); // an older state arriving late
      return;
    }
    if (!current && (incoming.dataset.state === "succeeded" || incoming.dataset.state === "failed")) {
      showToast(incoming);
    }
  });

  function showToast(fragment) {
    var region = document.getElementById("toasts");
    if (!region) { return; }
    var toast = document.createElement("div");
    toast.className = "toast state-" + fragment.dataset.state;
    toast.setAttribute("role", "status");
    toast.dataset.jobId = fragment.dataset.jobId;
    var title = fragment.querySelector(".job-title");
    var text = fragment.querySelector(".job-text");
    var link = document.createElement("a");
    link.href = title ? title.getAttribute("href") : "/jobs/";
    link.textContent = (fragment.dataset.title || "Job") +
      (fragment.dataset.state === "succeeded" ? " finished" : " failed");
    toast.appendChild(link);
    if (text) {
      var detail = document.createElement("span");
      detail.textContent = " " + text.textContent.trim().replace(/\s+/g, " ");
      toast.appendChild(detail);
    }
    var download = fragment.querySelector("a[download]");
    if (download) {
      var get = document.createElement("a");
      get.href = download.getAttribute("href");
      get.className = "button";
      get.textContent = "Download";
      toast.appendChild(get);
    }
    var close = document.createElement("button");
    close.type = "button";
    close.className = "link";
    close.setAttribute("aria-label", "Dismiss");
    close.textContent = "×";
    close.addEventListener("click", function () { toast.remove(); });
    toast.appendChild(close);
    region.appendChild(toast);
  }
})();
