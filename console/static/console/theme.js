// Loaded in <head> without defer, before the page paints: apply the theme chosen with the toggle
// (else the system's prefers-color-scheme applies through the stylesheet), so there is no flash.
(function () {
  "use strict";
  try {
    var chosen = window.localStorage.getItem("basalt:theme");
    if (chosen === "dark" || chosen === "light") { document.documentElement.setAttribute("data-theme", chosen); }
  } catch (e) { /* storage off: follow the system */ }
})();
