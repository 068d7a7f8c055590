// Files page: upload with progress (XHR reports upload progress; fetch does not), drag and drop,
// and "copy signed URL". No inline script: the console's CSP allows only static files.
(function () {
  "use strict";
  var csrf = (document.getElementById("files-csrf") || {}).dataset;
  var token = csrf ? csrf.token : "";
  var form = document.getElementById("files-upload");
  var input = document.getElementById("files-input");
  var bar = document.getElementById("files-progress");
  var status = document.getElementById("files-status");

  function uploadOne(file) {
    return new Promise(function (resolve, reject) {
      // The raw file as the body (not multipart): Django's CSRF check then reads no body, and the
      // server streams it straight to storage.
      var xhr = new XMLHttpRequest();
      xhr.open("POST", form.dataset.url + "?name=" + encodeURIComponent(file.name));
      xhr.setRequestHeader("X-CSRFToken", token);
      xhr.setRequestHeader("Content-Type", file.type || "application/octet-stream");
      xhr.upload.onprogress = function (event) {
        if (event.lengthComputable) bar.value = Math.round((event.loaded / event.total) * 100);
      };
      xhr.onload = function () {
        if (xhr.status === 201) resolve(JSON.parse(xhr.responseText));
        else {
          var message = "upload failed";
          try { message = JSON.parse(xhr.responseText).error.message; } catch (e) { /* not JSON */ }
          reject(new Error(message));
        }
      };
      xhr.onerror = function () { reject(new Error("network error")); };
      xhr.send(file);
    });
  }

  function uploadAll(files) {
    if (!files || !files.length) return;
    bar.hidden = false;
    var done = 0;
    var chain = Promise.resolve();
    Array.prototype.forEach.call(files, function (file) {
      chain = chain.then(function () {
        bar.value = 0;
        status.textContent = "Uploading " + file.name + "…";
        return uploadOne(file).then(function () { done += 1; });
      });
    });
    chain.then(function () {
      bar.value = 100;
      status.textContent = "Uploaded " + done + " file(s).";
      window.location.reload();
    }, function (error) {
      status.textContent = "Upload failed: " + error.message;
    });
  }

  if (form) {
    input.addEventListener("change", function () { uploadAll(input.files); });
    var drop = document.getElementById("files-drop");
    drop.addEventListener("dragover", function (event) { event.preventDefault(); drop.classList.add("over"); });
    drop.addEventListener("dragleave", function () { drop.classList.remove("over"); });
    drop.addEventListener("drop", function (event) {
      event.preventDefault();
      drop.classList.remove("over");
      uploadAll(event.dataTransfer.files);
    });
  }

  document.querySelectorAll(".copy-signed").forEach(function (button) {
    button.addEventListener("click", function () {
      fetch(button.dataset.url, { method: "POST", headers: { "X-CSRFToken": token }, credentials: "same-origin" })
        .then(function (answer) { return answer.json(); })
        .then(function (body) {
          button.dataset.signed = body.url;
          var done = function () { button.textContent = "Copied"; };
          if (navigator.clipboard) navigator.clipboard.writeText(body.url).then(done, done);
          else done();
        });
    });
  });
})();
