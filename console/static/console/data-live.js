// Data browser: live rows. Follows the collection (with the page's filter) over the realtime SSE
// stream, authenticated by the console session, and re-renders the table from the server whenever
// a change arrives, so rows appear, change and disappear with the page's own order and paging.
(function () {
  "use strict";
  var card = document.getElementById("documents");
  if (!card || !card.dataset.liveUrl || !window.EventSource || !window.fetch) { return; }
  var status = document.getElementById("live-status");
  var pending = null, busy = false, again = false, subscribedOnce = false;

  function say(text) { if (status) { status.textContent = text; } }

  function refresh() {
    if (busy) { again = true; return; }
    busy = true;
    fetch(window.location.href, {credentials: "same-origin"})
      .then(function (response) { return response.text(); })
      .then(function (html) {
        var fresh = new DOMParser().parseFromString(html, "text/html");
        var table = card.querySelector(".table-wrap");
        var freshTable = fresh.querySelector("#documents .table-wrap");
        if (table && freshTable) { table.replaceWith(document.importNode(freshTable, true)); }
        var count = document.querySelector(".page-head p");
        var freshCount = fresh.querySelector(".page-head p");
        if (count && freshCount) { count.textContent = freshCount.textContent; }
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
})();
