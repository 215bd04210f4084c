// The browsable API page (/api/docs): Swagger UI over the generated /api/v1/openapi.json.
// A file of its own, not an inline script: the app's CSP allows scripts from 'self' only.
"use strict";
window.addEventListener("DOMContentLoaded", () => {
  const root = document.getElementById("swagger-ui");
  window.SwaggerUIBundle({
    url: root.dataset.specUrl,
    domNode: root,
    deepLinking: true,
    // "Try it out" from a logged-in console sends the session cookie; writes also need the CSRF header.
    withCredentials: true,
  });
});
