/* Page scripts (push.js, files.js, grid.js, …) are loaded once, from base.html, and register here
   what they drive: basaltPage(selector, start). htmx swaps pages in (boosted links and forms) with
   allowScriptTags off, as the CSP wants, so a script tag inside a swapped page never runs; instead
   start(element) runs for each matching element on the first load and in every swapped-in fragment,
   once per element. What start returns (a function) runs when that element leaves the page, to
   close the sockets and timers it opened. */
(function () {
  "use strict";
  var starters = [], running = [];
  function stop(record) {
    running.splice(running.indexOf(record), 1);
    try { record.stop(); } catch (e) { /* the page is going anyway */ }
  }
  function startIn(root, starter) {
    var found = [];
    if (root.matches && root.matches(starter.selector)) { found.push(root); }
    if (root.querySelectorAll) { Array.prototype.push.apply(found, root.querySelectorAll(starter.selector)); }
    found.forEach(function (el) {
      if (starter.seen.has(el) || !document.documentElement.contains(el)) { return; }
      starter.seen.add(el);
      var stopper = starter.start(el);
      if (typeof stopper === "function") { running.push({el: el, stop: stopper}); }
    });
  }
  function scan(root) {
    running.slice().forEach(function (r) { if (!document.documentElement.contains(r.el)) { stop(r); } });
    starters.forEach(function (s) { startIn(root || document, s); });
  }
  window.basaltPage = function (selector, start) {
    var starter = {selector: selector, start: start, seen: new WeakSet()};
    starters.push(starter);
    if (document.readyState !== "loading") { startIn(document, starter); }
  };
  document.addEventListener("DOMContentLoaded", function () { scan(document); });
  document.addEventListener("htmx:load", function (event) { scan(event.target); });
  // htmx announces each element it is about to remove (a swap, or an element dropped from the page).
  document.addEventListener("htmx:beforeCleanupElement", function (event) {
    running.slice().forEach(function (r) { if (r.el === event.target) { stop(r); } });
  });
})();

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

/* Dark mode toggle: an explicit choice overrides prefers-color-scheme and is remembered. */
(function () {
  "use strict";
  function effective() {
    var set = document.documentElement.getAttribute("data-theme");
    if (set) { return set; }
    return window.matchMedia && window.matchMedia("(prefers-color-scheme: dark)").matches ? "dark" : "light";
  }
  function label() {
    document.querySelectorAll("[data-theme-toggle]").forEach(function (b) {
      var dark = effective() === "dark";
      b.setAttribute("aria-pressed", dark ? "true" : "false");
      b.setAttribute("title", dark ? "Switch to light mode" : "Switch to dark mode");
    });
  }
  document.addEventListener("click", function (event) {
    if (!event.target.closest("[data-theme-toggle]")) { return; }
    var next = effective() === "dark" ? "light" : "dark";
    document.documentElement.setAttribute("data-theme", next);
    try { window.localStorage.setItem("basalt:theme", next); } catch (e) { /* not remembered */ }
    label();
  });
  document.addEventListener("DOMContentLoaded", label);
  document.addEventListener("htmx:load", label);
})();

/* Confirmations in the page (a <dialog>) instead of the browser's confirm(): for hx-confirm and
   for submit buttons carrying data-confirm. Unsaved-changes warning for forms that were edited. */
(function () {
  "use strict";
  var dialog = null, settle = null;
  function build() {
    dialog = document.createElement("dialog");
    dialog.className = "confirm-dialog";
    dialog.setAttribute("aria-labelledby", "confirm-text");
    var p = document.createElement("p");
    p.id = "confirm-text";
    var row = document.createElement("div");
    row.className = "row confirm-actions";
    var cancel = document.createElement("button");
    cancel.type = "button"; cancel.className = "btn"; cancel.textContent = "Cancel"; cancel.value = "no";
    var ok = document.createElement("button");
    ok.type = "button"; ok.className = "btn btn-danger"; ok.textContent = "Confirm"; ok.value = "yes";
    ok.setAttribute("data-confirm-ok", "");
    row.appendChild(cancel); row.appendChild(ok);
    dialog.appendChild(p); dialog.appendChild(row);
    dialog.addEventListener("click", function (event) {
      var b = event.target.closest("button");
      if (b) { dialog.close(b.value); }
    });
    dialog.addEventListener("close", function () {
      if (settle) { var s = settle; settle = null; s(dialog.returnValue === "yes"); }
    });
    document.body.appendChild(dialog);
  }
  function ask(message, okLabel) {
    if (!dialog || !document.body.contains(dialog)) { build(); }
    dialog.querySelector("p").textContent = message;
    dialog.querySelector("[data-confirm-ok]").textContent = okLabel || "Confirm";
    dialog.returnValue = "";
    return new Promise(function (resolve) {
      settle = resolve;
      dialog.showModal();
      dialog.querySelector("[data-confirm-ok]").focus();
    });
  }
  window.basaltConfirm = ask;

  var dirty = new Set();
  function watched(form) {
    return form && form.method && form.method.toLowerCase() === "post" && !form.closest("[data-no-dirty]") &&
      !form.hasAttribute("data-cell-editor") && form.closest("main");
  }
  function anyDirty(except) {
    var found = false;
    dirty.forEach(function (f) { if (document.body.contains(f) && f !== except) { found = true; } });
    return found;
  }
  document.addEventListener("input", function (event) {
    var form = event.target.form;
    if (watched(form) && event.target.type !== "hidden") { dirty.add(form); }
  });
  document.addEventListener("submit", function (event) { dirty.delete(event.target); }, true);
  window.addEventListener("beforeunload", function (event) {
    if (anyDirty(null)) { event.preventDefault(); event.returnValue = ""; }
  });

  document.addEventListener("htmx:confirm", function (event) {
    var detail = event.detail, elt = detail.elt;
    var question = detail.question;
    var leaving = elt && elt.tagName === "A" && anyDirty(null);
    if (!question && !leaving) { return; }
    event.preventDefault();
    var message = question || "You have unsaved changes on this page. Leave without saving?";
    ask(message, question ? "Confirm" : "Leave").then(function (ok) {
      if (!ok) { return; }
      if (leaving) { dirty.clear(); }
      detail.issueRequest(true);
    });
  });

  // Full-page links (hx-boost off) leaving an edited form: ask in the page too.
  document.addEventListener("click", function (event) {
    var link = event.target.closest && event.target.closest("a[href]");
    if (!link || event.defaultPrevented || !anyDirty(null) || link.target || link.hasAttribute("download")) { return; }
    if (link.getAttribute("href").charAt(0) === "#" || !link.closest("[hx-boost=false]")) { return; }
    event.preventDefault();
    ask("You have unsaved changes on this page. Leave without saving?", "Leave").then(function (ok) {
      if (ok) { dirty.clear(); window.location.href = link.href; }
    });
  });

  document.addEventListener("click", function (event) {
    var button = event.target.closest && event.target.closest("button[data-confirm]");
    if (!button || button.dataset.confirmed) { return; }
    event.preventDefault();
    ask(button.getAttribute("data-confirm"), button.textContent.trim()).then(function (ok) {
      if (!ok) { return; }
      button.dataset.confirmed = "1";
      var form = button.form;
      if (form) { dirty.delete(form); form.requestSubmit(button); }
      delete button.dataset.confirmed;
    });
  }, true);
})();
