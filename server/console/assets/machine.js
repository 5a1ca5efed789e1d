// The machine page's live charts. Samples come from `GET /api/agents/{id}/live` (Server-Sent Events, which the API
// takes with the session cookie on a GET), are drawn by uPlot, and are written into the table beside each chart: the
// tables are what screen readers read, the charts are hidden from them. Text from the machine (interface and process
// names, users) goes in as text, never as markup. Without this script the rest of the page works as it is.
"use strict";

(function () {
  const live = document.getElementById("live");
  if (!live || live.dataset.online !== "true" || typeof uPlot !== "function") return;

  // Samples a chart keeps, and the seconds it spans: two minutes at the stream's one a second.
  const KEEP = 120;
  // With no sample for this long the machine is shown offline; samples that come again show it live again.
  const STALL_MS = 5000;
  const CHART_HEIGHT = 180;

  const lang = document.documentElement.lang || "en";
  const decimal = new Intl.NumberFormat(lang, { maximumFractionDigits: 1 });
  const clock = new Intl.DateTimeFormat(lang, { hour: "2-digit", minute: "2-digit", second: "2-digit" });
  const stateBadge = document.getElementById("live-state");

  function bytes(n) {
    const units = ["B", "KiB", "MiB", "GiB", "TiB"];
    let i = 0;
    while (n >= 1024 && i < units.length - 1) {
      n /= 1024;
      i += 1;
    }
    return decimal.format(n) + " " + units[i];
  }
  const rate = (n) => bytes(n) + "/s";
  const percent = (part, whole) => (whole > 0 ? (part * 100) / whole : 0);

  const title = (state) => "text" + state[0].toUpperCase() + state.slice(1);
  // The badge changes only when the state does, so a screen reader hears it once (it is a live region). The
  // machine's own badge, as the page was rendered, follows what the samples say.
  function show(state) {
    if (live.dataset.state === state) return;
    live.dataset.state = state;
    stateBadge.className = "badge " + state;
    stateBadge.textContent = live.dataset[title(state)];
    const machine = document.getElementById("machine-state");
    const now = { live: "online", offline: "offline" }[state];
    if (machine && now) {
      machine.className = "badge " + now;
      machine.textContent = machine.dataset[title(now)];
    }
  }

  function cell(id, value, text) {
    const el = document.getElementById(id);
    if (!el) return;
    el.dataset.value = String(value);
    el.textContent = text;
  }

  function rows(tbodyId, lines) {
    const body = document.getElementById(tbodyId);
    if (!body) return;
    const fresh = lines.map((values) => {
      const tr = document.createElement("tr");
      values.forEach((v, i) => {
        const c = document.createElement(i === 0 ? "th" : "td");
        if (i === 0) c.scope = "row";
        c.textContent = v;
        tr.append(c);
      });
      return tr;
    });
    body.replaceChildren(...fresh);
  }

  // Each chart draws the shared times against its own series.
  const times = [];
  const charts = [];
  function chart(id, lines, range, format) {
    const el = document.getElementById(id);
    if (!el) return;
    const data = [times, ...lines.map(() => [])];
    const opts = {
      width: el.clientWidth || 400,
      height: CHART_HEIGHT,
      legend: { show: false },
      cursor: { show: false },
      scales: { x: { time: true, range: timeWindow }, y: { range } },
      axes: [{ stroke: "#4a5360" }, { stroke: "#4a5360", size: 70, values: (u, ticks) => ticks.map(format) }],
      series: [{}, ...lines.map((l) => ({ label: l.label, stroke: l.colour, width: 2 }))],
    };
    charts.push({ el, data, plot: new uPlot(opts, data, el) });
    return data;
  }
  // The time axis ends at the newest sample and spans what the chart keeps, at least a few seconds: left to itself,
  // uPlot would stretch the first sample or two over months.
  const timeWindow = (u, min, max) => (max == null ? [0, 1] : [Math.min(min, max - 10), max]);
  const fixedPercent = () => [0, 100];
  const fromZero = (u, min, max) => [0, Math.max(1024, max * 1.15)];
  const pct = (v) => decimal.format(v) + " %";
  const cpu = chart("live-cpu-chart", [{ label: "CPU", colour: "#0b5cad" }], fixedPercent, pct);
  const memory = chart("live-memory-chart", [{ label: "memory", colour: "#6a3d9a" }], fixedPercent, pct);
  const net = chart(
    "live-net-chart",
    [{ label: "rx", colour: "#1a6b32" }, { label: "tx", colour: "#b35900" }],
    fromZero,
    rate,
  );

  window.addEventListener("resize", () => {
    charts.forEach((c) => c.plot.setSize({ width: c.el.clientWidth || 400, height: CHART_HEIGHT }));
  });

  let samples = 0;
  let stall = setTimeout(() => show("offline"), 2 * STALL_MS);

  function take(s) {
    const memoryPct = percent(s.memory_used_bytes, s.memory_total_bytes);
    // The loopback interface carries the machine's talk to itself, not its traffic: it is in the table, not the chart.
    const outside = s.net.filter((n) => n.interface !== "lo");
    const rx = outside.reduce((sum, n) => sum + n.rx_bytes_per_s, 0);
    const tx = outside.reduce((sum, n) => sum + n.tx_bytes_per_s, 0);

    times.push(s.taken_at_ms / 1000);
    cpu?.[1].push(s.cpu_pct);
    memory?.[1].push(memoryPct);
    net?.[1].push(rx);
    net?.[2].push(tx);
    if (times.length > KEEP) {
      times.shift();
      charts.forEach((c) => c.data.slice(1).forEach((series) => series.shift()));
    }
    charts.forEach((c) => c.plot.setData(c.data));

    cell("live-cpu-value", s.cpu_pct.toFixed(1), decimal.format(s.cpu_pct));
    cell("live-load-value", s.load_avg.join(" "), s.load_avg.map((l) => decimal.format(l)).join(", "));
    cell("live-memory-value", memoryPct.toFixed(1), decimal.format(memoryPct));
    cell("live-memory-bytes", s.memory_used_bytes, bytes(s.memory_used_bytes) + " / " + bytes(s.memory_total_bytes));
    cell("live-swap-bytes", s.swap_used_bytes, bytes(s.swap_used_bytes) + " / " + bytes(s.swap_total_bytes));
    rows(
      "live-net-rows",
      s.net.map((n) => [n.interface, rate(n.rx_bytes_per_s), rate(n.tx_bytes_per_s)]),
    );
    rows(
      "live-process-rows",
      s.top_cpu.map((p) => [p.name, p.user || "", decimal.format(p.cpu_pct), bytes(p.rss_bytes)]),
    );
    const time = document.getElementById("live-time");
    time.dateTime = new Date(s.taken_at_ms).toISOString();
    time.textContent = clock.format(new Date(s.taken_at_ms));

    samples += 1;
    live.dataset.samples = String(samples);
    show("live");
    clearTimeout(stall);
    stall = setTimeout(() => show("offline"), STALL_MS);
  }

  const source = new EventSource(live.dataset.url);
  source.addEventListener("sample", (e) => {
    let sample;
    try {
      sample = JSON.parse(e.data);
    } catch {
      return;
    }
    take(sample);
  });
  // A refused stream (the machine went offline: 409) is not tried again by the browser; a dropped one is, and the
  // state follows the samples.
  source.addEventListener("error", () => {
    if (source.readyState === EventSource.CLOSED) show("offline");
  });
  show("waiting");
})();
