// The KPI dashboard's charts and a campaign's results: the numbers come from a JSON block
// (no inline script, CSP), already labelled in the reader's language. A bar with a link
// (data.links) opens the list behind it; each chart has a table of the same numbers on the
// page.
document.addEventListener("DOMContentLoaded", function () {
  const source = document.getElementById("dashboard-data");
  if (!source || typeof Chart === "undefined") {
    return;
  }
  const charts = JSON.parse(source.textContent);
  const colours = ["#b4232a", "#1f6f8b", "#e0a800", "#6c757d", "#2e8540"];
  const locale = document.documentElement.lang || undefined;
  // Lines and bars grow in for a second unless the reader asked for less motion.
  const still = window.matchMedia("(prefers-reduced-motion: reduce)").matches;
  const number = (v) => (v === null || v === undefined ? "–" : Number(v).toLocaleString(locale));
  document.querySelectorAll("canvas[data-chart]").forEach(function (canvas) {
    const spec = charts[canvas.dataset.chart];
    if (!spec) {
      return;
    }
    const links = spec.links || [];
    new Chart(canvas, {
      type: spec.type,
      data: {
        labels: spec.labels,
        datasets: spec.series.map((s, i) => ({
          label: s.label,
          data: s.data,
          borderColor: colours[i % colours.length],
          backgroundColor: spec.type === "bar" ? colours[i % colours.length] : "transparent",
          tension: 0.25,
          spanGaps: true,
        })),
      },
      options: {
        animation: still ? false : undefined,
        onClick: function (_event, elements) {
          if (elements.length && links[elements[0].index]) {
            window.location.href = links[elements[0].index];
          }
        },
        onHover: function (event, elements) {
          const linked = elements.length && links[elements[0].index];
          event.native.target.style.cursor = linked ? "pointer" : "default";
        },
        plugins: {
          tooltip: {
            callbacks: {
              label: (ctx) => `${ctx.dataset.label}: ${number(ctx.parsed.y)}${spec.percent ? "%" : ""}`,
            },
          },
        },
        // From zero (a narrow axis makes a flat line look like a swing); a share tops at 100 %.
        scales: {
          y: {
            beginAtZero: true,
            max: spec.percent ? 100 : undefined,
            ticks: { callback: (v) => number(v) },
          },
        },
      },
    });
  });
});
