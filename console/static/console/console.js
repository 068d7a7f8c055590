/* Basalt console behaviour: copy buttons, tabs, typed confirmations. Event delegation only, so
   content swapped in by htmx works without re-binding. No inline handlers (the CSP forbids them). */
(function () {
  "use strict";

  function copyText(text) {
    if (navigator.clipboard && window.isSecureContext) {
      return navigator.clipboard.writeText(text);
    }
    var area = document.createElement("textarea");
    area.value = text;
    area.setAttribute("readonly", "");
    area.className = "sr-only";
    document.body.appendChild(area);
    area.select();
    try { document.execCommand("copy"); } finally { document.body.removeChild(area); }
    return Promise.resolve();
  }

  document.addEventListener("click", function (event) {
    var button = event.target.closest("[data-copy]");
    if (button) {
      var source = document.getElementById(button.getAttribute("data-copy"));
      if (!source) return;
      event.preventDefault();
      var label = button.textContent;
      copyText(source.textContent.trim()).then(function () {
        button.classList.add("copied");
        button.textContent = "Copied";
        button.setAttribute("data-copied", "true");
        setTimeout(function () { button.classList.remove("copied"); button.textContent = label; }, 1800);
      });
      return;
    }
    var tab = event.target.closest("[role=tab][aria-controls]");
    if (tab) {
      var list = tab.closest("[role=tablist]");
      list.querySelectorAll("[role=tab]").forEach(function (other) {
        var selected = other === tab;
        other.setAttribute("aria-selected", selected ? "true" : "false");
        var panel = document.getElementById(other.getAttribute("aria-controls"));
        if (panel) panel.hidden = !selected;
      });
    }
  });

  /* Keyboard: arrow keys move between tabs, as in the WAI-ARIA tabs pattern. */
  document.addEventListener("keydown", function (event) {
    var tab = event.target.closest && event.target.closest("[role=tab]");
    if (!tab || (event.key !== "ArrowRight" && event.key !== "ArrowLeft")) return;
    var tabs = Array.prototype.slice.call(tab.closest("[role=tablist]").querySelectorAll("[role=tab]"));
    var next = tabs[(tabs.indexOf(tab) + (event.key === "ArrowRight" ? 1 : tabs.length - 1)) % tabs.length];
    next.focus();
    next.click();
  });

  /* A destructive button stays disabled until the exact name is typed (the server checks again). */
  document.addEventListener("input", function (event) {
    var input = event.target;
    if (!input.hasAttribute || !input.hasAttribute("data-confirm-value")) return;
    var button = input.form && input.form.querySelector("[data-confirm-button]");
    if (button) button.disabled = input.value !== input.getAttribute("data-confirm-value");
  });

  /* The mobile menu label acts as a button for keyboard users too. */
  document.addEventListener("keydown", function (event) {
    if ((event.key === "Enter" || event.key === " ") && event.target.classList && event.target.classList.contains("nav-toggle-btn")) {
      event.preventDefault();
      var box = document.getElementById("nav-toggle");
      if (box) box.checked = !box.checked;
    }
  });
})();

/* Schema editor: show only the option inputs that apply to the chosen field type. */
(function () {
  "use strict";
  function sync(select) {
    var form = select.closest("[data-type-form]");
    if (!form) return;
    form.querySelectorAll("[data-show-for]").forEach(function (box) {
      box.hidden = box.getAttribute("data-show-for").split(" ").indexOf(select.value) < 0;
    });
  }
  function init(root) {
    (root || document).querySelectorAll("[data-type-select]").forEach(sync);
  }
  document.addEventListener("change", function (event) {
    if (event.target.matches && event.target.matches("[data-type-select]")) sync(event.target);
  });
  document.addEventListener("DOMContentLoaded", function () { init(document); });
  document.addEventListener("htmx:load", function (event) { init(event.target); });
})();

/* Quickstart: the collection picker shows that collection's snippets; a publishable key shown once
   on this page (#new-key-value) is written into snippets swapped in later (e.g. after the sample
   collection was created), since the server never sees the key again. */
(function () {
  "use strict";
  function show(value) {
    document.querySelectorAll("[data-qs-collection]").forEach(function (box) {
      box.hidden = box.getAttribute("data-qs-collection") !== value;
    });
  }
  function fillKey(root) {
    var source = document.getElementById("new-key-value");
    var key = source && source.textContent.trim();
    if (!key || key.indexOf("pk_") !== 0) return;
    var slots = (root || document).querySelectorAll("[data-key-slot]");
    slots.forEach(function (code) {
      code.textContent = code.textContent.split(code.getAttribute("data-key-slot")).join(key);
    });
    if (!slots.length) return;
    document.querySelectorAll("[data-key-note]").forEach(function (note) { note.hidden = true; });
    document.querySelectorAll("[data-key-filled]").forEach(function (note) { note.hidden = false; });
  }
  document.addEventListener("change", function (event) {
    if (event.target.matches && event.target.matches("[data-qs-select]")) show(event.target.value);
  });
  document.addEventListener("DOMContentLoaded", function () { fillKey(document); });
  document.addEventListener("htmx:load", function (event) { fillKey(event.target); });
})();
