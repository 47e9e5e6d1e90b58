(function () {
  "use strict";
  function key(td, num) {
    var raw = td.hasAttribute("data-sort") ? td.getAttribute("data-sort") : td.textContent;
    if (!num) { return raw.toLowerCase(); }
    var v = raw === "Infinity" ? Infinity : raw === "-Infinity" ? -Infinity : parseFloat(raw);
    return isNaN(v) ? null : v;
  }
  function sortBy(table, th, col) {
    var num = th.getAttribute("data-type") === "num";
    var asc = th.getAttribute("aria-sort") !== "ascending";
    var ths = table.tHead.rows[0].cells;
    for (var i = 0; i < ths.length; i++) { ths[i].removeAttribute("aria-sort"); }
    th.setAttribute("aria-sort", asc ? "ascending" : "descending");
    var body = table.tBodies[0];
    var rows = Array.prototype.slice.call(body.rows).map(function (r, i) { return [r, i]; });
    rows.sort(function (a, b) {
      var x = key(a[0].cells[col], num), y = key(b[0].cells[col], num);
      if (x === null && y === null) { return a[1] - b[1]; }
      if (x === null) { return 1; }
      if (y === null) { return -1; }
      var c = x < y ? -1 : x > y ? 1 : 0;
      return (asc ? c : -c) || a[1] - b[1];
    });
    rows.forEach(function (r) { body.appendChild(r[0]); });
  }
  Array.prototype.forEach.call(document.querySelectorAll("table.sortable"), function (table) {
    if (!table.tHead) { return; }
    Array.prototype.forEach.call(table.tHead.rows[0].cells, function (th, col) {
      th.addEventListener("click", function () { sortBy(table, th, col); });
      th.addEventListener("keydown", function (e) {
        if (e.key === "Enter" || e.key === " ") { e.preventDefault(); sortBy(table, th, col); }
      });
    });
  });
  var table = document.getElementById("verdicts");
  var box = document.getElementById("verdict-filter");
  var sel = document.getElementById("verdict-status");
  var count = document.getElementById("verdict-count");
  if (!table || !box || !sel || !count) { return; }
  var rows = Array.prototype.slice.call(table.tBodies[0].rows);
  function apply() {
    var q = box.value.trim().toLowerCase(), s = sel.value, shown = 0;
    rows.forEach(function (r) {
      var ok = (!q || r.textContent.toLowerCase().indexOf(q) >= 0) &&
               (s === "all" || r.getAttribute("data-status") === s);
      r.hidden = !ok;
      if (ok) { shown++; }
    });
    count.textContent = shown + " of " + rows.length + " rows";
  }
  box.addEventListener("input", apply);
  sel.addEventListener("change", apply);
  var details = document.getElementById("verdicts-details");
  try {
    var params = new URLSearchParams(window.location.search);
    if (params.has("q")) { box.value = params.get("q"); }
    if (params.has("status")) { sel.value = params.get("status"); }
    if (details && (params.has("q") || params.has("status"))) { details.open = true; }
  } catch (e) { /* no query string support: nothing to restore */ }
  if (details && window.location.hash === "#verdicts-section") { details.open = true; }
  apply();
})();
