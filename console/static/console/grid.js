// Data grid: local time for dates, the column chooser (remembered per collection in this browser),
// row selection for bulk actions, inline cell editors (file uploads through the Files API). Event
// delegation, so rows re-rendered by live updates or htmx keep working. Saved views are the server's.
// Started by console.js's basaltPage for each grid page, also one swapped in by htmx; the
// document-level listeners it adds are removed when that page leaves.
(function () {
  "use strict";
  window.basaltPage("[data-grid-key]", function (page) {
    var key = page.getAttribute("data-grid-key");
    var colsKey = "basalt:cols:" + key;

    function load(name, fallback) {
      try { return JSON.parse(window.localStorage.getItem(name)) || fallback; } catch (e) { return fallback; }
    }
    function store(name, value) {
      try { window.localStorage.setItem(name, JSON.stringify(value)); } catch (e) { /* private mode: not remembered */ }
    }

    // --- dates: the viewer's time zone, the UTC value on hover ----------------------------------
    var fmt = window.Intl ? new Intl.DateTimeFormat(undefined, {dateStyle: "medium", timeStyle: "medium"}) : null;
    function localTimes(root) {
      (root || document).querySelectorAll("time[data-local-time]").forEach(function (el) {
        var when = new Date(el.getAttribute("datetime"));
        if (fmt && !isNaN(when.getTime())) { el.textContent = fmt.format(when); }
      });
    }

    // --- columns ---------------------------------------------------------------------------------
    function allColumns() {
      return Array.prototype.map.call(page.querySelectorAll("[data-col-item]"), function (li) { return li.getAttribute("data-col-item"); });
    }
    function prefs() {
      var saved = load(colsKey, {});
      var known = allColumns();
      var order = (saved.order || []).filter(function (n) { return known.indexOf(n) >= 0; });
      known.forEach(function (n) { if (order.indexOf(n) < 0) { order.push(n); } });
      return {order: order, hidden: (saved.hidden || []).filter(function (n) { return known.indexOf(n) >= 0; })};
    }
    function applyColumns() {
      var p = prefs();
      page.querySelectorAll("table.grid tr").forEach(function (tr) {
        var cells = {};
        Array.prototype.forEach.call(tr.children, function (cell) {
          var name = cell.getAttribute("data-col");
          if (name && name !== "id") { cells[name] = cell; }
        });
        p.order.forEach(function (name) {
          var cell = cells[name];
          if (!cell) { return; }
          tr.appendChild(cell);
          cell.hidden = p.hidden.indexOf(name) >= 0;
        });
      });
      var list = page.querySelector("[data-col-list]");
      if (list) {
        p.order.forEach(function (name) {
          var li = list.querySelector('[data-col-item="' + name + '"]');
          if (!li) { return; }
          list.appendChild(li);
          li.querySelector("[data-col-toggle]").checked = p.hidden.indexOf(name) < 0;
        });
      }
    }
    function saveFromChooser() {
      var order = [], hidden = [];
      page.querySelectorAll("[data-col-item]").forEach(function (li) {
        var name = li.getAttribute("data-col-item");
        order.push(name);
        if (!li.querySelector("[data-col-toggle]").checked) { hidden.push(name); }
      });
      store(colsKey, {order: order, hidden: hidden});
      applyColumns();
    }

    // --- selection -------------------------------------------------------------------------------
    function syncSelection() {
      var boxes = page.querySelectorAll("[data-row-select]");
      var chosen = page.querySelectorAll("[data-row-select]:checked").length;
      var counter = page.querySelector("[data-selected-count]");
      if (counter) { counter.textContent = chosen + " selected"; }
      page.querySelectorAll("[data-needs-selection]").forEach(function (b) { b.disabled = chosen === 0; });
      var all = page.querySelector("[data-select-all]");
      if (all) { all.checked = boxes.length > 0 && chosen === boxes.length; }
    }

    page.addEventListener("change", function (event) {
      var t = event.target;
      if (t.matches("[data-col-toggle]")) { saveFromChooser(); }
      else if (t.matches("[data-select-all]")) {
        page.querySelectorAll("[data-row-select]").forEach(function (b) { b.checked = t.checked; });
        syncSelection();
      } else if (t.matches("[data-row-select]")) { syncSelection(); }
      else if (t.matches("[data-autosubmit]")) { t.form.submit(); }
      else if (t.matches("input[type=file][data-upload-url]")) { upload(t); }
    });

    page.addEventListener("click", function (event) {
      var t = event.target;
      var move = t.closest("[data-col-move]");
      if (move) {
        var li = move.closest("[data-col-item]");
        var step = Number(move.getAttribute("data-col-move"));
        var sibling = step < 0 ? li.previousElementSibling : li.nextElementSibling;
        if (sibling) { li.parentNode.insertBefore(li, step < 0 ? sibling : sibling.nextElementSibling); }
        saveFromChooser();
        move.focus();
        return;
      }
      if (t.closest("[data-col-reset]")) {
        try { window.localStorage.removeItem(colsKey); } catch (e) { /* nothing stored */ }
        page.querySelectorAll("[data-col-toggle]").forEach(function (b) { b.checked = true; });
        var list = page.querySelector("[data-col-list]");
        allColumnsInServerOrder().forEach(function (li) { list.appendChild(li); });
        applyColumns();
        return;
      }
    });

    var serverOrder = null;
    function allColumnsInServerOrder() {
      var items = Array.prototype.slice.call(page.querySelectorAll("[data-col-item]"));
      return items.sort(function (a, b) {
        return serverOrder.indexOf(a.getAttribute("data-col-item")) - serverOrder.indexOf(b.getAttribute("data-col-item"));
      });
    }

    // --- inline editors --------------------------------------------------------------------------
    page.addEventListener("keydown", function (event) {
      if (event.key !== "Escape") { return; }
      var editor = event.target.closest && event.target.closest("[data-cell-editor]");
      var cancel = editor && editor.querySelector("[data-cell-cancel]");
      if (cancel) { event.preventDefault(); cancel.click(); }
    });

    function csrf() {
      try { return JSON.parse(document.body.getAttribute("hx-headers"))["X-CSRFToken"]; } catch (e) { return ""; }
    }

    function upload(input) {
      var form = input.closest("form");
      var file = input.files && input.files[0];
      if (!file || !form) { return; }
      var body = new FormData();
      body.append("file", file, file.name);
      var note = document.createElement("p");
      note.className = "small muted"; note.textContent = "Uploading " + file.name + "…";
      input.after(note);
      fetch(input.getAttribute("data-upload-url") + "?name=" + encodeURIComponent(file.name), {
        method: "POST", body: body, credentials: "same-origin", headers: {"X-CSRFToken": csrf()}
      }).then(function (r) { return r.json().then(function (data) { return {ok: r.ok, data: data}; }); })
        .then(function (answer) {
          if (!answer.ok) { throw new Error((answer.data.error && answer.data.error.message) || "upload refused"); }
          form.querySelector("[data-file-id]").value = answer.data.id;
          note.textContent = "Uploaded; saving…";
          form.requestSubmit();
        })
        .catch(function (err) { note.className = "cell-error"; note.textContent = "Upload failed: " + err.message; });
    }

    function afterSwap() {
      if (!page.isConnected) { return; }
      localTimes(page);
      var focus = page.querySelector(".cell-editing [data-autofocus]");
      if (focus && !focus.dataset.focused) { focus.dataset.focused = "1"; focus.focus(); }
      applyColumns();
    }
    function refreshed() { localTimes(page); applyColumns(); syncSelection(); }

    serverOrder = allColumns();
    localTimes(page);
    applyColumns();
    syncSelection();
    document.addEventListener("htmx:afterSwap", afterSwap);
    document.addEventListener("grid:refreshed", refreshed);
    return function () {
      document.removeEventListener("htmx:afterSwap", afterSwap);
      document.removeEventListener("grid:refreshed", refreshed);
    };
  });
})();
