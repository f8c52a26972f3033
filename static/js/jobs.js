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
    if (!current) {
      // Not on this page: a toast if it finished, and no swap at all (htmx would log
      // htmx:oobErrorNoTarget for every update of a job the page does not show).
      event.preventDefault();
      if (isFinal(incoming.dataset.state)) {
        showToast(incoming);
        finished(incoming);
      }
    }
  });

  // --- What changed, on this page: the job page's timeline, the tab title, notifications.
  // Every fragment that lands (socket swap or poll) passes htmx:load; its sequence number
  // says whether it is news. The first sighting (the page's own render) only records it.
  var seen = {};
  function isFinal(state) { return state === "succeeded" || state === "failed"; }
  function isPending(state) { return state === "queued" || state === "running"; }

  document.addEventListener("htmx:load", function (event) {
    var root = event.detail.elt;
    if (!root || !root.querySelectorAll) { return; }
    var found = Array.prototype.slice.call(root.querySelectorAll(".job-status[data-job-id]"));
    if (root.matches && root.matches(".job-status[data-job-id]")) { found.push(root); }
    found.forEach(function (element) {
      var id = element.dataset.jobId;
      var before = seen[id];
      seen[id] = { seq: element.dataset.seq, state: element.dataset.state };
      if (!before || before.seq === element.dataset.seq) { return; }
      document.body.dispatchEvent(new CustomEvent("job-changed-" + id));
      if (isPending(before.state) && isFinal(element.dataset.state)) { finished(element); }
    });
  });

  // While the tab is hidden, finished jobs count in its title: "(1) Export ready".
  var baseTitle = document.title;
  var unseen = 0;
  function finished(fragment) {
    if (document.visibilityState === "visible") { return; }
    unseen += 1;
    var what = (fragment.dataset.title || "Job").split(" ")[0];
    var word = fragment.dataset.state === "succeeded" ? " ready" : " failed";
    document.title = "(" + unseen + ") " + (unseen === 1 ? what + word : "Jobs finished") + " · " + baseTitle;
    notify(fragment);
  }
  document.addEventListener("visibilitychange", function () {
    if (document.visibilityState === "visible" && unseen) {
      unseen = 0;
      document.title = baseTitle;
    }
  });

  // Desktop notifications: only after the user asked for them with the button (never a
  // prompt on load), and only for jobs that finish while the tab is hidden.
  function notificationsOn() {
    return "Notification" in window && window.Notification.permission === "granted";
  }
  function notify(fragment) {
    if (!notificationsOn()) { return; }
    var download = fragment.querySelector("a[download]");
    var title = fragment.querySelector(".job-title");
    var target = download ? download.getAttribute("href") : (title ? title.getAttribute("href") : "/jobs/");
    var text = fragment.querySelector(".job-text");
    var note = new window.Notification(
      (fragment.dataset.title || "Job") + (fragment.dataset.state === "succeeded" ? " is ready" : " failed"),
      {
        body: text ? text.textContent.trim().replace(/\s+/g, " ") : "",
        tag: "job-" + fragment.dataset.jobId,
        data: { url: target }
      }
    );
    note.onclick = function () { window.focus(); window.location.href = target; note.close(); };
  }
  function setUpNotifyButton() {
    var button = document.getElementById("notify-button");
    if (!button || !("Notification" in window)) { return; }
    var state = document.getElementById("notify-state");
    function show() {
      var permission = window.Notification.permission;
      button.hidden = permission !== "default";
      if (state) {
        state.hidden = permission === "default";
        state.textContent = permission === "granted" ? "Desktop notifications on" : "Desktop notifications blocked in this browser";
      }
    }
    button.addEventListener("click", function () {
      window.Notification.requestPermission().then(show);
    });
    show();
  }

  // A new answer into a list of jobs (the scan form's) replaces the last refusal there,
  // so an old "cannot be used" never sits above the job that then started.
  document.addEventListener("htmx:beforeSwap", function (event) {
    var target = event.detail.target;
    if (target && target.id === "scan-jobs") {
      Array.prototype.forEach.call(target.querySelectorAll(":scope > .state-refused"), function (old) {
        old.remove();
      });
    }
  });

  // Parts of a page that only make sense with JavaScript ("counting…") carry `hidden`
  // and the class js-only; their <noscript> twin is the link that works without it.
  function revealJsOnly(root) {
    Array.prototype.forEach.call(root.querySelectorAll(".js-only[hidden]"), function (element) {
      element.hidden = false;
    });
  }
  document.addEventListener("htmx:load", function (event) {
    if (event.detail.elt && event.detail.elt.querySelectorAll) { revealJsOnly(event.detail.elt); }
  });
  document.addEventListener("DOMContentLoaded", function () {
    baseTitle = document.title;
    revealJsOnly(document);
    setUpNotifyButton();
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
