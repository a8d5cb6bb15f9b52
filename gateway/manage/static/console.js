// The console's one script: the dashboard's live refresh and charts, and confirmations.
// No framework and nothing fetched from elsewhere; values reach the page as text only.
"use strict";

(function () {
  const body = document.body;
  const prefix = body.dataset.prefix || "/manage";
  const SVG = "http://www.w3.org/2000/svg";
  const COLORS = ["#1f5fa8", "#d9534f", "#2e9d4a", "#f0ad4e", "#7a4fb5", "#17a2b8", "#6c757d"];

  function el(name, attrs) {
    const node = document.createElementNS(SVG, name);
    for (const [k, v] of Object.entries(attrs || {})) node.setAttribute(k, String(v));
    return node;
  }

  // Series drawn as lines over a shared x axis: [{name, values}], values oldest first.
  function drawLines(svg, series, labels) {
    if (!svg) return;
    while (svg.firstChild) svg.removeChild(svg.firstChild);
    const box = svg.viewBox.baseVal;
    const width = box.width, height = box.height, left = 30, bottom = 16, top = 6;
    const count = Math.max(1, ...series.map((s) => s.values.length));
    const most = Math.max(1, ...series.flatMap((s) => s.values));
    const x = (i) => left + (count <= 1 ? 0 : (i * (width - left - 4)) / (count - 1));
    const y = (v) => top + (height - top - bottom) * (1 - v / most);
    svg.appendChild(el("line", { x1: left, y1: y(0), x2: width, y2: y(0), stroke: "#ccc" }));
    const topLabel = el("text", { x: 2, y: top + 8 });
    topLabel.textContent = String(most);
    svg.appendChild(topLabel);
    const zero = el("text", { x: 2, y: y(0) });
    zero.textContent = "0";
    svg.appendChild(zero);
    if (labels && labels.length) {
      for (const i of [0, labels.length - 1]) {
        const t = el("text", { x: i === 0 ? left : width - 60, y: height - 2 });
        t.textContent = labels[i];
        svg.appendChild(t);
      }
    }
    series.forEach((s, n) => {
      const color = COLORS[n % COLORS.length];
      const points = s.values.map((v, i) => `${x(i).toFixed(1)},${y(v).toFixed(1)}`).join(" ");
      svg.appendChild(el("polyline", { points, fill: "none", stroke: color, "stroke-width": 1.6 }));
      const key = el("text", { x: left + 6 + n * 110, y: top + 8, fill: color });
      key.textContent = s.name;
      svg.appendChild(key);
    });
  }

  const queueHistory = {}; // connector -> depths, since the page opened

  function showActivity(activity) {
    const minutes = activity.minutes.map((m) => m.slice(11));
    drawLines(document.getElementById("chart-calls"), [
      { name: "calls", values: activity.calls },
      { name: "faults", values: activity.faults },
    ], minutes);
    drawLines(document.getElementById("chart-deliveries"), [
      { name: "delivered", values: activity.delivered },
      { name: "parked", values: activity.parked },
    ], minutes);
  }

  function showStatus(status) {
    const at = document.getElementById("status-at");
    if (at) at.textContent = status.at.replace("T", " ").slice(0, 19);
    for (const c of status.connectors) {
      const row = document.querySelector(`tr[data-connector="${CSS.escape(c.connector)}"]`);
      if (row) {
        for (const field of ["ready", "unacknowledged", "no_response", "late_events", "breaker"]) {
          const cell = row.querySelector(`[data-field="${field}"]`);
          if (cell) cell.textContent = String(c[field]);
        }
        const breaker = row.querySelector('[data-field="breaker"]');
        if (breaker) breaker.className = "breaker-" + c.breaker;
        const parked = row.querySelector('[data-field="parked"]');
        if (parked && parked.textContent.trim() !== String(c.parked)) parked.textContent = String(c.parked);
      }
      (queueHistory[c.connector] = queueHistory[c.connector] || []).push(c.ready);
      if (queueHistory[c.connector].length > 120) queueHistory[c.connector].shift();
    }
    drawLines(document.getElementById("chart-queues"),
      Object.entries(queueHistory).map(([name, values]) => ({ name, values })), null);
  }

  async function refresh() {
    try {
      const [status, activity] = await Promise.all([
        fetch(`${prefix}/api/v1/status`, { credentials: "same-origin" }).then((r) => r.json()),
        fetch(`${prefix}/api/v1/activity`, { credentials: "same-origin" }).then((r) => r.json()),
      ]);
      if (status.connectors) showStatus(status);
      if (activity.minutes) showActivity(activity);
      body.dataset.refreshed = String(Date.now());
    } catch (err) {
      // the next round tries again; the page keeps what it showed
    }
  }

  const data = document.getElementById("activity-data");
  if (data) {
    showActivity(JSON.parse(data.textContent));
    refresh();
    setInterval(refresh, 5000);
  }

  // A form with data-confirm asks before it is sent.
  document.addEventListener("submit", (event) => {
    const form = event.target;
    if (form instanceof HTMLFormElement && form.dataset.confirm && !window.confirm(form.dataset.confirm)) {
      event.preventDefault();
    }
  });
})();
