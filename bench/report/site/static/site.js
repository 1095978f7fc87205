/* bench site: sortable tables and a filter box. Plain script (no modules), so it also runs from file://. */
(function () {
  "use strict";

  function sortValue(row, index, numeric) {
    var cell = row.cells[index];
    if (!cell) { return null; }
    var raw = cell.hasAttribute("data-value") ? cell.getAttribute("data-value") : cell.textContent.trim();
    if (raw === "") { return null; }
    if (numeric) {
      var number = parseFloat(raw);
      return isNaN(number) ? null : number;
    }
    return raw.toLowerCase();
  }

  /* Sort the table's body by the column of `header`: ascending first, then alternating; missing values last. */
  function sortBy(table, header) {
    var index = Array.prototype.indexOf.call(header.parentNode.cells, header);
    var numeric = header.getAttribute("data-type") === "number";
    var ascending = header.getAttribute("aria-sort") !== "ascending";
    Array.prototype.forEach.call(table.tHead.rows[0].cells, function (other) { other.removeAttribute("aria-sort"); });
    header.setAttribute("aria-sort", ascending ? "ascending" : "descending");
    var body = table.tBodies[0];
    var rows = Array.prototype.slice.call(body.rows);
    var keyed = rows.map(function (row, position) {
      return { row: row, key: sortValue(row, index, numeric), position: position };
    });
    keyed.sort(function (a, b) {
      if (a.key === null || b.key === null) {
        return (a.key === null) - (b.key === null) || a.position - b.position;
      }
      var order = a.key < b.key ? -1 : (a.key > b.key ? 1 : 0);
      return (ascending ? order : -order) || a.position - b.position;
    });
    keyed.forEach(function (item) { body.appendChild(item.row); });
  }

  function setUpSorting() {
    var headers = document.querySelectorAll("table.sortable thead th[data-type]");
    Array.prototype.forEach.call(headers, function (header) {
      var button = header.querySelector("button");
      var table = header.closest("table");
      if (button && table) {
        button.addEventListener("click", function () { sortBy(table, header); });
      }
    });
  }

  /* Hide the rows of filterable tables that do not contain every word typed. */
  function setUpFilter() {
    var box = document.getElementById("filter");
    if (!box) { return; }
    var status = document.getElementById("filter-status");
    var rows = document.querySelectorAll("table[data-filterable] tbody tr");
    box.form.addEventListener("submit", function (event) { event.preventDefault(); });
    box.addEventListener("input", function () {
      var words = box.value.toLowerCase().split(/\s+/).filter(Boolean);
      var shown = 0;
      Array.prototype.forEach.call(rows, function (row) {
        var content = row.textContent.toLowerCase();
        var match = words.every(function (word) { return content.indexOf(word) !== -1; });
        row.hidden = !match;
        shown += match ? 1 : 0;
      });
      if (status) {
        status.textContent = words.length ? shown + " of " + rows.length + " rows shown" : "";
      }
    });
  }

  setUpSorting();
  setUpFilter();
}());
