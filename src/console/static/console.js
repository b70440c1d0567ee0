// The Warden console's keyboard: j / k move through the queue, Enter opens the selected case;
// on a case page, c claims, u and o open the uphold and overturn forms. Every control works
// without this script; it only adds the keys.
"use strict";
(function () {
  function typing(event) {
    var t = event.target;
    return t && (t.tagName === "INPUT" || t.tagName === "TEXTAREA" || t.isContentEditable);
  }
  var rows = Array.prototype.slice.call(document.querySelectorAll("tr.case"));
  var selected = -1;
  function select(i) {
    if (!rows.length) return;
    if (selected >= 0) rows[selected].classList.remove("selected");
    selected = Math.max(0, Math.min(rows.length - 1, i));
    rows[selected].classList.add("selected");
    var link = rows[selected].querySelector("a");
    if (link) link.focus();
  }
  document.addEventListener("keydown", function (event) {
    if (typing(event) || event.ctrlKey || event.metaKey || event.altKey) return;
    var key = event.key;
    if (key === "j") { select(selected + 1); event.preventDefault(); }
    else if (key === "k") { select(selected - 1); event.preventDefault(); }
    else if (key === "c") {
      var claim = document.querySelector("[data-key=c]");
      if (claim) { claim.click(); event.preventDefault(); }
    } else if (key === "u" || key === "o") {
      var summary = document.querySelector("summary[data-key=" + key + "]");
      if (summary) {
        var details = summary.parentElement;
        details.open = true;
        var note = details.querySelector("textarea");
        if (note) note.focus();
        event.preventDefault();
      }
    }
  });
})();
