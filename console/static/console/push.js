// Push composer: keep the audience count live while the audience fields change.
(function () {
  "use strict";
  var form = document.getElementById("push-composer");
  var out = document.getElementById("push-count");
  var split = document.getElementById("push-count-split");
  if (!form || !out) { return; }
  var timer = null;
  var names = ["audience_mode", "channels", "users", "where", "test_installation"];
  function refresh() {
    var data = new FormData(form);
    var query = new URLSearchParams();
    names.forEach(function (name) { if (data.get(name)) { query.set(name, data.get(name)); } });
    fetch(form.dataset.countUrl + "?" + query.toString(), {credentials: "same-origin"})
      .then(function (response) { return response.json(); })
      .then(function (answer) {
        if (answer.error) { out.textContent = "—"; split.textContent = answer.error; return; }
        out.textContent = String(answer.targeted);
        var parts = Object.keys(answer.providers).map(function (p) { return p + " " + answer.providers[p]; });
        split.textContent = parts.length ? "(" + parts.join(", ") + ")" : "";
      })
      .catch(function () { out.textContent = "—"; });
  }
  function later() { clearTimeout(timer); timer = setTimeout(refresh, 250); }
  form.addEventListener("input", later);
  form.addEventListener("change", later);
  refresh();
})();
