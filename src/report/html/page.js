// tlsdiag's HTML report: sorting, filters and the search box over the connection table.
// State lives in the URL's fragment (#outcome=failed&q=...), so a filtered view can be linked.
"use strict";
(function () {
  var table = document.getElementById("conns");
  if (!table) { return; }
  var bodies = Array.prototype.slice.call(table.tBodies);
  var keys = ["outcome", "code", "server", "sni"];
  var selects = {};
  var search = document.getElementById("q");
  var sortKey = "rank", sortDir = 1;

  function distinct(key) {
    var seen = {};
    bodies.forEach(function (b) { var v = b.dataset[key]; if (v) { seen[v] = (seen[v] || 0) + 1; } });
    return Object.keys(seen).sort().map(function (v) { return [v, seen[v]]; });
  }
  keys.forEach(function (key) {
    var select = document.getElementById("f-" + key);
    selects[key] = select;
    distinct(key).forEach(function (pair) {
      var option = document.createElement("option");
      option.value = pair[0];
      option.textContent = pair[0] + " (" + pair[1] + ")";
      select.appendChild(option);
    });
    select.addEventListener("change", function () { apply(); remember(); });
  });
  search.addEventListener("input", function () { apply(); remember(); });

  // Columns without a data attribute of their own sort by their cell's text.
  var cells = { client: 1, version: 4 };
  function value(b, key) {
    if (key === "stream" || key === "duration" || key === "rank") { return parseFloat(b.dataset[key]) || 0; }
    if (key in cells) { return b.rows[0].cells[cells[key]].textContent.toLowerCase(); }
    return (b.dataset[key] || "").toLowerCase();
  }
  function sort() {
    var sorted = bodies.slice().sort(function (a, b) {
      var x = value(a, sortKey), y = value(b, sortKey);
      if (x < y) { return -sortDir; }
      if (x > y) { return sortDir; }
      return value(a, "stream") - value(b, "stream");
    });
    sorted.forEach(function (b) { table.appendChild(b); });
    Array.prototype.forEach.call(table.tHead.rows[0].cells, function (th) {
      if (th.dataset.sort === sortKey) { th.setAttribute("aria-sort", sortDir > 0 ? "ascending" : "descending"); }
      else { th.removeAttribute("aria-sort"); }
    });
  }
  Array.prototype.forEach.call(table.tHead.rows[0].cells, function (th) {
    if (!th.dataset.sort) { return; }
    th.addEventListener("click", function () {
      sortDir = th.dataset.sort === sortKey ? -sortDir : 1;
      sortKey = th.dataset.sort;
      sort();
    });
  });

  function apply() {
    var text = search.value.trim().toLowerCase();
    var shown = 0;
    bodies.forEach(function (b) {
      var keep = keys.every(function (key) { var want = selects[key].value; return !want || b.dataset[key] === want; });
      if (keep && text) { keep = b.textContent.toLowerCase().indexOf(text) >= 0; }
      b.hidden = !keep;
      if (keep) { shown += 1; }
    });
    table.dataset.shown = String(shown);
    document.getElementById("shown").textContent = shown + " of " + bodies.length + " rows shown";
  }
  function remember() {
    var params = new URLSearchParams();
    keys.forEach(function (key) { if (selects[key].value) { params.set(key, selects[key].value); } });
    if (search.value) { params.set("q", search.value); }
    var hash = params.toString();
    history.replaceState(null, "", hash ? "#" + hash : location.pathname + location.search);
  }
  function restore() {
    var params = new URLSearchParams(location.hash.slice(1));
    keys.forEach(function (key) {
      var want = params.get(key);
      var select = selects[key];
      if (!want) { select.value = ""; return; }
      if (!Array.prototype.some.call(select.options, function (o) { return o.value === want; })) {
        var option = document.createElement("option");
        option.value = want;
        option.textContent = want + " (0)";
        select.appendChild(option);
      }
      select.value = want;
    });
    search.value = params.get("q") || "";
    // #open=N opens tcp.stream N; with several files read, &file=F says whose (a link to
    // a retry adds it), else the first of that number.
    var open = params.get("open");
    var file = params.get("file");
    var target = null;
    if (open) {
      var same = table.querySelectorAll('tbody[data-stream="' + parseInt(open, 10) + '"]');
      target = Array.prototype.find.call(same, function (b) { return file === null || b.dataset.file === file; }) || null;
    }
    var details = target ? target.querySelector("details") : null;
    if (details) {
      details.open = true;
      // Scrolled to only when out of sight, so that a short page keeps its summary in view.
      if (target.getBoundingClientRect().top > window.innerHeight) { target.scrollIntoView(); }
    }
  }

  document.addEventListener("click", function (event) {
    // A link to a retry opens the connection of the same file as the row it is in.
    var link = event.target.closest ? event.target.closest('a[href^="#open="]') : null;
    var row = link ? link.closest("tbody") : null;
    if (row && row.dataset.file !== undefined) {
      event.preventDefault();
      location.hash = link.getAttribute("href").slice(1) + "&file=" + encodeURIComponent(row.dataset.file);
      return;
    }
    var button = event.target.closest ? event.target.closest("button.copy") : null;
    if (!button) { return; }
    var text = button.dataset.copy;
    // Where the clipboard is refused (some browsers, for a file), the filter is selected
    // instead, for Ctrl-C.
    var select = function () {
      var range = document.createRange();
      range.selectNodeContents(button.previousElementSibling);
      var selection = window.getSelection();
      selection.removeAllRanges();
      selection.addRange(range);
      button.textContent = "selected: press Ctrl-C";
    };
    if (navigator.clipboard && navigator.clipboard.writeText) {
      navigator.clipboard.writeText(text).then(function () { button.textContent = "copied"; }, select);
    } else {
      select();
    }
  });
  // Printing gives the summary and the failures, opened.
  var opened = [];
  window.addEventListener("beforeprint", function () {
    opened = Array.prototype.filter.call(document.querySelectorAll("tbody.failure details"), function (d) { return !d.open; });
    opened.forEach(function (d) { d.open = true; });
  });
  window.addEventListener("afterprint", function () { opened.forEach(function (d) { d.open = false; }); });

  // The summary's links (#code=...) filter the table.
  window.addEventListener("hashchange", function () { restore(); apply(); });

  restore();
  sort();
  apply();
  document.documentElement.dataset.ready = "yes";
})();
