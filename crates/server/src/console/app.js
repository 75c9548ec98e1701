// Hinomi console: the pages work without this; it only adds conveniences.
// A "select all" box over the alert queue's checkboxes.
document.addEventListener("DOMContentLoaded", () => {
  const boxes = document.querySelectorAll('input[name="alert"]');
  const head = document.querySelector("form.bulk thead th");
  if (!boxes.length || !head) return;
  const all = document.createElement("input");
  all.type = "checkbox";
  all.id = "select-all";
  all.setAttribute("aria-label", "select all");
  all.addEventListener("change", () => boxes.forEach((b) => { b.checked = all.checked; }));
  head.appendChild(all);
});
