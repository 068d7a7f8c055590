/* Start the vendored Swagger UI on the API reference page. A static file, not an inline script,
   so the console's CSP (script-src 'self') holds. */
(function () {
  "use strict";
  function start() {
    var root = document.getElementById("swagger-ui");
    if (!root || !window.SwaggerUIBundle || root.getAttribute("data-started")) return;
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
  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", start);
  } else {
    start();
  }
})();
