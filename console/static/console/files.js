// Files page: upload with progress (XHR reports upload progress; fetch does not), drag and drop,
// and "copy signed URL". No inline script: the console's CSP allows only static files.
// Started by console.js's basaltPage for the upload form; the copy buttons are delegated, so a
// page swapped in by htmx (e.g. after saving an ACL) keeps working without binding twice.
(function () {
  "use strict";
  function token() {
    var csrf = document.getElementById("files-csrf");
    return csrf ? csrf.dataset.token : "";
  }

  function uploadOne(form, bar, file) {
    return new Promise(function (resolve, reject) {
      // The raw file as the body (not multipart): Django's CSRF check then reads no body, and the
      // server streams it straight to storage.
      var xhr = new XMLHttpRequest();
      xhr.open("POST", form.dataset.url + "?name=" + encodeURIComponent(file.name));
      xhr.setRequestHeader("X-CSRFToken", token());
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

  function uploadAll(form, files) {
    var bar = form.querySelector("#files-progress");
    var status = form.querySelector("#files-status");
    if (!files || !files.length) return;
    bar.hidden = false;
    var done = 0;
    var chain = Promise.resolve();
    Array.prototype.forEach.call(files, function (file) {
      chain = chain.then(function () {
        bar.value = 0;
        status.textContent = "Uploading " + file.name + "…";
        return uploadOne(form, bar, file).then(function () { done += 1; });
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

  window.basaltPage("#files-upload", function (form) {
    var input = form.querySelector("#files-input");
    var drop = form.querySelector("#files-drop");
    input.addEventListener("change", function () { uploadAll(form, input.files); });
    drop.addEventListener("dragover", function (event) { event.preventDefault(); drop.classList.add("over"); });
    drop.addEventListener("dragleave", function () { drop.classList.remove("over"); });
    drop.addEventListener("drop", function (event) {
      event.preventDefault();
      drop.classList.remove("over");
      uploadAll(form, event.dataTransfer.files);
    });
    return null;
  });

  document.addEventListener("click", function (event) {
    var button = event.target.closest && event.target.closest(".copy-signed");
    if (!button) { return; }
    fetch(button.dataset.url, { method: "POST", headers: { "X-CSRFToken": token() }, credentials: "same-origin" })
      .then(function (answer) { return answer.json(); })
      .then(function (body) {
        button.dataset.signed = body.url;
        var done = function () { button.textContent = "Copied"; };
        if (navigator.clipboard) navigator.clipboard.writeText(body.url).then(done, done);
        else done();
      });
  });
})();
