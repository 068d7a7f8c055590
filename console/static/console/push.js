// Push composer: keep the audience count live while the audience fields change. Started by
// console.js's basaltPage for each composer on the page, including one htmx swapped in.
(function () {
  "use strict";
  var names = ["audience_mode", "channels", "users", "where", "test_installation"];
  window.basaltPage("#push-composer", function (form) {
    var out = form.querySelector("#push-count");
    var split = form.querySelector("#push-count-split");
    if (!out) { return null; }
    var timer = null, asked = 0;
    function refresh() {
      var data = new FormData(form);
      var query = new URLSearchParams();
      names.forEach(function (name) { if (data.get(name)) { query.set(name, data.get(name)); } });
      var mine = ++asked;  // an older answer arriving late must not overwrite a newer one
      fetch(form.dataset.countUrl + "?" + query.toString(), {credentials: "same-origin"})
        .then(function (response) { return response.json(); })
        .then(function (answer) {
          if (mine !== asked) { return; }
          if (answer.error) { out.textContent = "—"; split.textContent = answer.error; return; }
          out.textContent = String(answer.targeted);
          var parts = Object.keys(answer.providers).map(function (p) { return p + " " + answer.providers[p]; });
          split.textContent = parts.length ? "(" + parts.join(", ") + ")" : "";
        })
        .catch(function () { if (mine === asked) { out.textContent = "—"; } });
    }
    function later() { clearTimeout(timer); timer = setTimeout(refresh, 250); }
    form.addEventListener("input", later);
    form.addEventListener("change", later);
    refresh();
    return function () { clearTimeout(timer); asked += 1; };
  });
})();
