// The 360 page's balance chart: data comes from a JSON block (no inline script, CSP).
document.addEventListener("DOMContentLoaded", function () {
  const canvas = document.getElementById("balance-chart");
  const source = document.getElementById("balance-data");
  if (!canvas || !source || typeof Chart === "undefined") {
    return;
  }
  const data = JSON.parse(source.textContent);
  new Chart(canvas, {
    type: "line",
    data: {
      labels: data.labels,
      datasets: [{ data: data.values, borderColor: "#b4232a", backgroundColor: "rgba(180,35,42,.08)", fill: true, tension: 0.25 }],
    },
    options: { plugins: { legend: { display: false } }, scales: { y: { ticks: { callback: (v) => v.toLocaleString() } } } },
  });
});
