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

// The alert queue: every ten seconds, how many open alerts saw activity
// since the page was shown; the notice offers to show them.
document.addEventListener("DOMContentLoaded", () => {
  const box = document.getElementById("new-alerts");
  const count = document.getElementById("new-alerts-count");
  if (!box || !count) return;
  const url = `${box.dataset.url}?since=${encodeURIComponent(box.dataset.since)}`;
  const ask = () =>
    fetch(url, { credentials: "same-origin", headers: { Accept: "application/json" } })
      .then((r) => (r.ok ? r.json() : null))
      .then((v) => {
        if (v && v.count > 0) {
          count.textContent = String(v.count);
          box.hidden = false;
        }
      })
      .catch(() => {});
  setInterval(ask, 10000);
});
