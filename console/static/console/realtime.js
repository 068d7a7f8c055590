// Realtime test client: subscribe over the project's WebSocket endpoint and print what arrives.
(function () {
  "use strict";
  var form = document.getElementById("rt-test");
  var log = document.getElementById("rt-log");
  if (!form || !log) { return; }
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
    socket = new WebSocket(scheme + window.location.host + "/api/v1/realtime?apikey=" + encodeURIComponent(data.get("key")));
    socket.onopen = function () {
      socket.send(JSON.stringify({op: "subscribe", id: "console", collection: data.get("collection"),
                                  where: where, snapshot: data.get("snapshot") === "on"}));
    };
    socket.onmessage = function (message) { show(message.data); };
    socket.onclose = function (e) { show("closed (" + e.code + ")"); };
  });
})();
