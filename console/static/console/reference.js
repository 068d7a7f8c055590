/* Start the vendored Swagger UI on the API reference page. A static file, not an inline script,
   so the console's CSP (script-src 'self') holds. Started by console.js's basaltPage, also when the
   page is swapped in by htmx; the bundle (large, this page only) and its stylesheet are added to the
   document on first use, once: htmx does not merge a swapped page's <head>. */
(function () {
  "use strict";
  var bundle = null;
  function loadBundle(root) {
    if (window.SwaggerUIBundle) { return Promise.resolve(); }
    if (!bundle) {
      bundle = new Promise(function (resolve, reject) {
        var script = document.createElement("script");
        script.src = root.getAttribute("data-bundle-url");
        script.onload = resolve;
        script.onerror = function () { bundle = null; reject(new Error("the reference could not load")); };
        document.head.appendChild(script);
      });
    }
    return bundle;
  }
  function addStylesheet(root) {
    var href = root.getAttribute("data-css-url");
    var present = Array.prototype.some.call(document.querySelectorAll("link[rel=stylesheet]"), function (link) {
      return link.getAttribute("href") === href;
    });
    if (present || !href) { return; }
    var link = document.createElement("link");
    link.rel = "stylesheet";
    link.href = href;
    document.head.appendChild(link);
  }
  window.basaltPage("#swagger-ui", function (root) {
    addStylesheet(root);
    loadBundle(root).then(function () { if (root.isConnected) { start(root); } }, function (error) {
      root.textContent = error.message;
    });
    return null;
  });
  function start(root) {
    if (root.getAttribute("data-started")) return;
    root.setAttribute("data-started", "true");
    var input = document.querySelector("[data-key-input]");
    var slot = input ? "basalt:key:" + input.getAttribute("data-key-input") : "";
    var saved = "";
    try { saved = (slot && window.sessionStorage.getItem(slot)) || ""; } catch (e) { saved = ""; }
    if (input && saved) { input.value = saved; }
    var ui = window.SwaggerUIBundle({
      url: root.getAttribute("data-spec-url"),
      domNode: root,
      presets: [window.SwaggerUIBundle.presets.apis],
      layout: "BaseLayout",
      deepLinking: false,
      validatorUrl: null, // never call validator.swagger.io
      docExpansion: "list",
      defaultModelsExpandDepth: 0,
      tryItOutEnabled: !!saved,
      requestSnippetsEnabled: true,  // curl samples per operation
      persistAuthorization: false,
      // The document's endpoints take the project key; the console session is never sent with them.
      withCredentials: false,
      requestInterceptor: function (request) {
        // The spec itself is a console page (session cookie); "Try it out" calls are not.
        request.credentials = request.loadSpec ? "same-origin" : "omit";
        return request;
      },
      onComplete: function () { if (saved) { ui.preauthorizeApiKey("apiKey", saved); } }
    });
    // The key the developer pastes is the one "Try it out" sends (X-API-Key); never to the server otherwise.
    if (input) {
      input.addEventListener("change", function () {
        var key = input.value.trim();
        try { window.sessionStorage.setItem(slot, key); } catch (e) { /* not remembered */ }
        if (key) { ui.preauthorizeApiKey("apiKey", key); }
      });
    }
  }
})();
