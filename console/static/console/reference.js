/* Start the vendored Swagger UI on the API reference page. A static file, not an inline script,
   so the console's CSP (script-src 'self') holds. */
(function () {
  "use strict";
  function start() {
    var root = document.getElementById("swagger-ui");
    if (!root || !window.SwaggerUIBundle || root.getAttribute("data-started")) return;
    root.setAttribute("data-started", "true");
    window.SwaggerUIBundle({
      url: root.getAttribute("data-spec-url"),
      domNode: root,
      presets: [window.SwaggerUIBundle.presets.apis],
      layout: "BaseLayout",
      deepLinking: false,
      validatorUrl: null, // never call validator.swagger.io
      docExpansion: "list",
      defaultModelsExpandDepth: 0,
      tryItOutEnabled: false,
      persistAuthorization: false,
      // The document's endpoints take the project key; the console session is never sent with them.
      withCredentials: false,
      requestInterceptor: function (request) {
        // The spec itself is a console page (session cookie); "Try it out" calls are not.
        request.credentials = request.loadSpec ? "same-origin" : "omit";
        return request;
      }
    });
  }
  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", start);
  } else {
    start();
  }
})();
