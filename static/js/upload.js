// The import page's upload: the file goes to the server in parts (octet-stream chunks of
// the size the server names), with a progress bar, instead of one huge form post. Each
// part says where it starts; after a failed part the page asks the server where the file
// ends and carries on from there, also after a reload (the upload id is kept per file in
// localStorage). The last call checks the whole file and starts the import job, whose
// status element then takes the place of the bar. Without JavaScript the form posts the
// file whole (small files only; the page says so).
(function () {
  "use strict";
  var RETRIES = 6;

  function init() {
    var form = document.querySelector("form[data-chunked-upload]");
    if (!form || !window.File || !window.XMLHttpRequest) { return; }
    form.addEventListener("submit", function (event) {
      var file = form.querySelector("input[type=file]").files[0];
      if (!file) { return; }  // the browser's "required" check speaks
      event.preventDefault();
      upload(form, file);
    });
  }

  function upload(form, file) {
    var button = form.querySelector("button[type=submit]");
    var box = document.getElementById("upload-progress");
    var bar = box.querySelector("progress");
    var text = box.querySelector(".upload-text");
    var result = document.getElementById("import-result");
    var token = form.querySelector("input[name=csrfmiddlewaretoken]").value;
    var key = "philgeps-upload:" + [file.name, file.size, file.lastModified].join(":");

    result.replaceChildren();
    if (file.size > Number(form.dataset.maxBytes)) {
      return refuse(result, "The file is " + exactMegabytes(file.size) + "; the import page takes files up to " +
        exactMegabytes(Number(form.dataset.maxBytes)) + ".");
    }
    button.disabled = true;
    box.hidden = false;
    show(0);

    function show(done) {
      var percent = file.size ? Math.floor(done * 100 / file.size) : 100;
      bar.value = percent;
      text.textContent = "Uploading " + file.name + ": " + megabytes(done) + " of " + megabytes(file.size) +
        " (" + percent + " %)";
    }

    function fail(message) {
      button.disabled = false;
      box.hidden = true;
      refuse(result, message);
    }

    resume().then(function (state) {
      localStorage.setItem(key, state.id);
      return sendFrom(state, state.offset, 0);
    }).then(function (state) {
      text.textContent = "Checking " + file.name + "…";
      return request("POST", state.complete_url, null).then(function (answer) {
        localStorage.removeItem(key);
        box.hidden = true;
        button.disabled = false;
        form.reset();
        result.innerHTML = answer.html;  // the job's status fragment, rendered by the server
        if (window.htmx) { window.htmx.process(result); }
      });
    }).catch(function (error) {
      if (error.status === 400 || error.status === 404) { localStorage.removeItem(key); }
      fail(error.message);
    });

    // An upload of this same file left unfinished (a reload, a lost connection), or a new one.
    function resume() {
      var known = localStorage.getItem(key);
      var fresh = function () {
        var body = new FormData();
        body.append("name", file.name);
        body.append("size", String(file.size));
        return request("POST", form.dataset.startUrl, body);
      };
      if (!known || !/^[0-9a-f]{32}$/.test(known)) { return fresh(); }
      return request("GET", form.dataset.startUrl + known + "/", null).catch(function (error) {
        if (error.status === 404) { return fresh(); }
        throw error;
      });
    }

    function sendFrom(state, offset, failures) {
      show(offset);
      if (offset >= file.size) { return Promise.resolve(state); }
      var end = Math.min(offset + state.chunk_bytes, file.size);
      var url = state.chunk_url + "?offset=" + offset;
      return request("POST", url, file.slice(offset, end), function (loaded) { show(offset + loaded); })
        .then(function (answer) { return sendFrom(state, answer.offset, 0); })
        .catch(function (error) {
          if (error.status === 409 && typeof error.body.offset === "number") {
            return sendFrom(state, error.body.offset, failures);  // the server has more (or less)
          }
          if (error.status >= 400 && error.status < 500 && error.status !== 409) { throw error; }
          if (failures + 1 >= RETRIES) { throw error; }
          // The network or the server failed: wait, ask where the file ends, go on from there.
          return wait(1000 * Math.pow(2, failures)).then(function () {
            return request("GET", state.status_url, null);
          }).then(function (fresh) {
            return sendFrom(state, fresh.offset, failures + 1);
          }, function () {
            return sendFrom(state, offset, failures + 1);
          });
        });
    }

    function request(method, url, body, onProgress) {
      return new Promise(function (resolve, reject) {
        var xhr = new XMLHttpRequest();
        xhr.open(method, url);
        xhr.setRequestHeader("X-CSRFToken", token);
        xhr.setRequestHeader("Accept", "application/json");
        if (body instanceof Blob && !(body instanceof File)) {
          xhr.setRequestHeader("Content-Type", "application/octet-stream");
        }
        if (onProgress) {
          xhr.upload.addEventListener("progress", function (event) { onProgress(event.loaded); });
        }
        xhr.onload = function () {
          var answer = {};
          try { answer = JSON.parse(xhr.responseText); } catch (ignored) { answer = {}; }
          if (xhr.status >= 200 && xhr.status < 300) { return resolve(answer); }
          var error = new Error(answer.error || plainError(xhr));
          error.status = xhr.status;
          error.body = answer;
          reject(error);
        };
        xhr.onerror = function () {
          var error = new Error("The connection to the server was lost; try again.");
          error.status = 0;
          error.body = {};
          reject(error);
        };
        xhr.send(body);
      });
    }
  }

  function plainError(xhr) {
    // The web server's own refusals (413 and the like) are plain text.
    var type = xhr.getResponseHeader("Content-Type") || "";
    if (type.indexOf("text/plain") === 0 && xhr.responseText) { return xhr.responseText.trim(); }
    return "The upload failed (HTTP " + xhr.status + "); try again.";
  }

  function refuse(region, message) {
    var box = document.createElement("div");
    box.className = "job-status state-refused";
    box.setAttribute("role", "alert");
    var span = document.createElement("span");
    span.className = "job-text error";
    span.textContent = message;
    box.appendChild(span);
    region.replaceChildren(box);
  }

  function megabytes(bytes) {
    return (bytes / 1048576).toFixed(1) + " MB";
  }

  // Up to two decimals, none trailing: a file just over the limit must not read as equal to it.
  function exactMegabytes(bytes) {
    return String(Number((bytes / 1048576).toFixed(2))) + " MB";
  }

  function wait(ms) {
    return new Promise(function (resolve) { setTimeout(resolve, ms); });
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", init);
  } else {
    init();
  }
})();
