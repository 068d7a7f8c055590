// Realtime test client: subscribe over the project's WebSocket endpoint and print what arrives.
// Started by console.js's basaltPage; the socket is closed when the page is swapped away.
(function () {
  "use strict";
  window.basaltPage("#rt-test", function (form) {
    var log = document.getElementById("rt-log");
    if (!log) { return null; }
    var socket = null;
    function show(text) {
      log.textContent = (text + "\n" + log.textContent).slice(0, 20000);
    }
    form.addEventListener("submit", function (event) {
      event.preventDefault();
      var data = new FormData(form);
      var where;
      try { where = JSON.parse(data.get("where") || "{}"); } catch (e) { show("where is not JSON: " + e.message); return; }
      if (socket) { socket.close(); }
      var scheme = window.location.protocol === "https:" ? "wss://" : "ws://";
      var mine = new WebSocket(scheme + window.location.host + "/api/v1/realtime?apikey=" + encodeURIComponent(data.get("key")));
      socket = mine;
      mine.onopen = function () {
        mine.send(JSON.stringify({op: "subscribe", id: "console", collection: data.get("collection"),
                                  where: where, snapshot: data.get("snapshot") === "on"}));
      };
      mine.onmessage = function (message) { show(message.data); };
      mine.onclose = function (e) { show("closed (" + e.code + ")"); };
    });
    return function () { if (socket) { socket.close(); socket = null; } };
  });
})();
