// Data browser: live rows. Follows the collection (with the page's filter) over the realtime SSE
// stream, authenticated by the console session, and re-renders the table from the server whenever
// a change arrives, so rows appear, change and disappear with the page's own order and paging.
// Started by console.js's basaltPage once per table, also one swapped in by htmx; the stream is
// closed when the table leaves the page, so a page swapped in twice holds one stream, not two.
(function () {
  "use strict";
  if (!window.EventSource || !window.fetch) { return; }
  window.basaltPage("#documents[data-live-url]", function (card) {
    var status = card.querySelector("#live-status");
    var pending = null, busy = false, again = false, subscribedOnce = false;

    function say(text) { if (status) { status.textContent = text; } }

    function refresh() {
      if (busy) { again = true; return; }
      // An open cell editor keeps the row it was opened on: refresh once it is saved or cancelled,
      // so a save from elsewhere meanwhile surfaces as a conflict, not as a vanished editor.
      if (card.querySelector(".cell-editing")) { clearTimeout(pending); pending = setTimeout(refresh, 500); return; }
      busy = true;
      fetch(window.location.href, {credentials: "same-origin"})
        .then(function (response) { return response.text(); })
        .then(function (html) {
          if (!card.isConnected) { return; }  // swapped away meanwhile
          var fresh = new DOMParser().parseFromString(html, "text/html");
          var table = card.querySelector(".table-wrap");
          var freshTable = fresh.querySelector("#documents .table-wrap");
          if (card.querySelector(".cell-editing")) { again = true; return; }
          var checked = {};
          card.querySelectorAll("[data-row-select]:checked").forEach(function (b) { checked[b.value] = true; });
          if (table && freshTable) {
            var imported = document.importNode(freshTable, true);
            table.replaceWith(imported);
            imported.querySelectorAll("[data-row-select]").forEach(function (b) { b.checked = !!checked[b.value]; });
            if (window.htmx) { window.htmx.process(imported); }
          }
          ["#doc-count", "#page-of"].forEach(function (sel) {
            var mine = document.querySelector(sel), theirs = fresh.querySelector(sel);
            if (mine && theirs) { mine.textContent = theirs.textContent; }
          });
          document.dispatchEvent(new CustomEvent("grid:refreshed"));
          card.dataset.refreshed = String(Number(card.dataset.refreshed || 0) + 1);
        })
        .catch(function () { say("Live: could not refresh the table"); })
        .then(function () {
          busy = false;
          if (again) { again = false; refresh(); }
        });
    }

    var source = new EventSource(card.dataset.liveUrl, {withCredentials: true});
    source.onmessage = function (message) {
      if (!document.body.contains(card)) { source.close(); return; }  // the page was swapped away
      var data;
      try { data = JSON.parse(message.data); } catch (e) { return; }
      if (data.op === "subscribed") {
        say("Live");
        card.dataset.live = "on";
        // After a reconnect the stream starts afresh: catch up on whatever changed meanwhile.
        if (subscribedOnce) { refresh(); }
        subscribedOnce = true;
      } else if (data.op === "event") {
        clearTimeout(pending);
        pending = setTimeout(refresh, 150);  // a burst of writes becomes one refresh
      } else if (data.op === "error") {
        say("Live updates off: " + ((data.error && data.error.message) || "error"));
        card.dataset.live = "off";
        source.close();
      }
    };
    source.onerror = function () {
      if (card.dataset.live !== "off") { say("Live: reconnecting…"); }
    };
    return function () { source.close(); clearTimeout(pending); };
  });
})();
