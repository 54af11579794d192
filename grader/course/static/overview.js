// The students' table: a header's button sorts (again to reverse; a button, so Enter and Space work from
// the keyboard too: their click bubbles to the header), type to filter. No library.
(function () {
  var table = document.getElementById("students");
  if (!table) return;
  var body = table.tBodies[0];
  var headers = table.tHead.rows[0].cells;
  function key(row, column, numeric) {
    var text = row.cells[column].getAttribute("data-sort") || row.cells[column].textContent;
    return numeric ? parseFloat(text) : text.toLowerCase();
  }
  Array.prototype.forEach.call(headers, function (th, column) {
    th.classList.add("sortable");
    th.addEventListener("click", function () {
      var numeric = th.getAttribute("data-type") === "number";
      var ascending = th.getAttribute("aria-sort") !== "ascending";
      Array.prototype.forEach.call(headers, function (h) { h.removeAttribute("aria-sort"); });
      th.setAttribute("aria-sort", ascending ? "ascending" : "descending");
      var rows = Array.prototype.slice.call(body.rows);
      rows.sort(function (a, b) {
        var x = key(a, column, numeric), y = key(b, column, numeric);
        var order = x < y ? -1 : x > y ? 1 : 0;
        return ascending ? order : -order;
      });
      rows.forEach(function (row) { body.appendChild(row); });
    });
  });
  var filter = document.getElementById("filter");
  var shown = document.getElementById("shown");
  filter.addEventListener("input", function () {
    var words = filter.value.toLowerCase().split(/\s+/).filter(Boolean);
    var count = 0;
    Array.prototype.forEach.call(body.rows, function (row) {
      var text = row.textContent.toLowerCase();
      var keep = words.every(function (w) { return text.indexOf(w) >= 0; });
      row.hidden = !keep;
      if (keep) count += 1;
    });
    shown.textContent = count;
  });
})();
