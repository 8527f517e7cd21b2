// Progressive enhancement of the setup page: the activity list refreshes itself every 5
// seconds (the page works without it: reload to refresh), and the new token can be copied.
(function () {
  "use strict";
  var table = document.getElementById("activity-rows");
  var source = table && table.getAttribute("data-source");
  function cell(row, text, className) {
    var td = document.createElement("td");
    td.textContent = text;
    if (className) { td.className = className; }
    row.appendChild(td);
  }
  function refresh() {
    fetch(source, { credentials: "same-origin", cache: "no-store" })
      .then(function (r) { return r.ok ? r.json() : null; })
      .then(function (doc) {
        if (!doc) { return; }
        var rows = document.createDocumentFragment();
        doc.activity.forEach(function (e) {
          var tr = document.createElement("tr");
          cell(tr, e.at);
          cell(tr, e.operation);
          cell(tr, String(e.status), e.status < 400 ? "status-ok" : "status-bad");
          cell(tr, e.reason || "");
          cell(tr, e.attribute || "");
          rows.appendChild(tr);
        });
        if (!doc.activity.length) {
          var tr = document.createElement("tr");
          cell(tr, "Nothing yet: run your identity provider's test connection.");
          tr.firstChild.colSpan = 5;
          rows.appendChild(tr);
        }
        table.replaceChildren(rows);
      })
      .catch(function () { /* try again on the next tick */ });
  }
  if (table && source) { setInterval(refresh, 5000); }
  var copy = document.getElementById("copy-token");
  var secret = document.getElementById("new-token");
  if (copy && secret && navigator.clipboard) {
    copy.hidden = false;
    copy.addEventListener("click", function () {
      navigator.clipboard.writeText(secret.textContent.trim()).then(function () {
        copy.textContent = "Copied";
      });
    });
  }
})();
