// The live view: one EventSource on /events, each snapshot redrawn in place on canvases.
// No build step, no dependency. window.liveState mirrors what is shown, for tests and debugging.
"use strict";

(function () {
  const STALE_AFTER_MS = 5000;   // no snapshot for this long: the stream is as good as dropped
  const REOPEN_AFTER_MS = 2000;  // a stream the browser gave up on is reopened after this
  const COLORS = { meter: "#d9480f", pv: "#e0a100", grid: "#1c7ed6", axis: "#6b7480", line: "#e6e9ed" };

  const state = window.liveState = {
    snapshots: 0, streamOpen: false, broker: "unknown", brokerReason: "",
    meterIds: [], selected: null, charts: {}, lastSnapshot: null,
  };
  const el = (id) => document.getElementById(id);
  let source = null;
  let lastMessageAt = 0;
  let timeFormat = null;
  let secondsFormat = null;
  let dateTimeFormat = null;

  // The browser's own locale (undefined), in the site's time zone when the server names one.
  function formatters(timezone) {
    const zone = timezone ? { timeZone: timezone } : {};
    timeFormat = new Intl.DateTimeFormat(undefined, { hour: "2-digit", minute: "2-digit", ...zone });
    secondsFormat = new Intl.DateTimeFormat(undefined, {
      hour: "2-digit", minute: "2-digit", second: "2-digit", ...zone,
    });
    dateTimeFormat = new Intl.DateTimeFormat(undefined, {
      year: "numeric", month: "2-digit", day: "2-digit", hour: "2-digit", minute: "2-digit",
      second: "2-digit", ...zone,
    });
    state.locale = timeFormat.resolvedOptions().locale;
  }

  function kw(watts) { return (watts / 1000).toFixed(2) + " kW"; }
  function gridText(watts) {
    if (Math.abs(watts) < 0.5) return "0.00 kW";
    return watts > 0 ? kw(watts) + " drawn" : kw(-watts) + " fed in";
  }

  // ---- the stream ------------------------------------------------------------------------

  function open() {
    if (source) source.close();
    const query = state.selected ? "?meters=" + encodeURIComponent(state.selected) : "";
    source = new EventSource("/events" + query);
    source.onopen = () => { state.streamOpen = true; showStream(); };
    source.onerror = () => {
      state.streamOpen = false;
      showStream();
      if (source.readyState === EventSource.CLOSED) setTimeout(open, REOPEN_AFTER_MS);
    };
    source.addEventListener("snapshot", (event) => {
      lastMessageAt = Date.now();
      state.streamOpen = true;
      render(JSON.parse(event.data));
      showStream();
    });
  }

  function showStream() {
    const stale = lastMessageAt > 0 && Date.now() - lastMessageAt > STALE_AFTER_MS;
    const banner = el("stream-banner");
    let text = "";
    if (!state.streamOpen) text = "Live stream to the server dropped: reconnecting… (figures below are not updating)";
    else if (stale) text = "No update from the server for " + Math.round((Date.now() - lastMessageAt) / 1000) + " s";
    banner.textContent = text;
    banner.hidden = !text;
    document.body.dataset.stream = !state.streamOpen ? "dropped" : stale ? "stale" : "open";
  }

  // ---- one snapshot ----------------------------------------------------------------------

  function render(snap) {
    if (!timeFormat || (state.lastSnapshot && state.lastSnapshot.timezone !== snap.timezone)) {
      formatters(snap.timezone);
      el("tz-label").textContent = snap.timezone ? " (" + snap.timezone + ")" : "";
    }
    state.snapshots += 1;
    state.lastSnapshot = snap;
    renderBroker(snap.broker);
    renderCounters(snap);
    renderSelector(snap.meter_ids);
    const end = snap.counters.last_time_s;
    const first = snap.fleet.t.length ? snap.fleet.t[0] : end;
    const range = end === null ? null : [Math.max(first, end - snap.window_s), end];
    draw("fleet-chart", snap.fleet, range);
    const fleetMeters = snap.fleet.meters.length ? snap.fleet.meters[snap.fleet.meters.length - 1] : 0;
    el("fleet-note").textContent = snap.counters.meters_seen
      ? "sum of " + snap.counters.meters_seen + " meters (latest bucket: " + fleetMeters + " reported)" : "";
    const selected = snap.meters[state.selected];
    draw("meter-chart", selected || emptySeries(), range);
    el("meter-now").textContent = selected ? latestText(selected) : "";
    renderMultiples(snap, range);
  }

  function emptySeries() { return { t: [], meter_w: [], pv_kw: [], grid_w: [] }; }

  function latestText(series) {
    const i = series.t.length - 1;
    if (i < 0) return "";
    return "now: " + kw(series.meter_w[i]) + " used, " + series.pv_kw[i].toFixed(2) + " kW PV, grid " +
      gridText(series.grid_w[i]);
  }

  function renderBroker(broker) {
    state.broker = broker.state;
    state.brokerReason = broker.reason;
    document.body.dataset.broker = broker.state;
    const banner = el("broker-banner");
    if (broker.state === "connected") {
      banner.hidden = true;
      banner.textContent = "";
      return;
    }
    const since = new Date(broker.since * 1000).toLocaleTimeString();
    banner.textContent = broker.state === "away"
      ? "Broker away since " + since + ": " + broker.reason + " — reconnecting…"
      : "Connecting to the broker…";
    banner.hidden = false;
  }

  function renderCounters(snap) {
    const c = snap.counters;
    const last = c.last_time_s === null ? "–" : dateTimeFormat.format(new Date(c.last_time_s * 1000));
    const extra = [];
    if (c.duplicates) extra.push(c.duplicates + " duplicates ignored");
    if (c.rejected) extra.push(c.rejected + " unreadable");
    if (c.stale) extra.push(c.stale + " older than the window");
    el("counters").textContent = c.rate_per_s.toFixed(1) + " messages/s · " + c.meters_seen + " meters seen · " +
      c.accepted + " readings · last simulated time " + last + (extra.length ? " · " + extra.join(", ") : "");
    el("total-meter").textContent = kw(snap.totals.meter_w);
    el("total-pv").textContent = snap.totals.pv_kw.toFixed(2) + " kW";
    el("total-grid").textContent = gridText(snap.totals.grid_w);
    el("total-meters").textContent = String(c.meters_seen);
  }

  function renderSelector(ids) {
    const select = el("meter-select");
    if (ids.join("\n") !== state.meterIds.join("\n")) {
      state.meterIds = ids.slice();
      select.replaceChildren(...ids.map((id) => new Option(id, id)));
    }
    if (!state.selected && ids.length) state.selected = ids[0];
    select.value = state.selected || "";
  }

  function renderMultiples(snap, range) {
    const box = el("multiples");
    const ids = snap.meter_ids.slice(0, snap.small_multiples);
    if (box.dataset.ids !== ids.join(",")) {
      box.dataset.ids = ids.join(",");
      box.replaceChildren(...ids.map((id) => {
        const card = document.createElement("div");
        card.className = "multiple";
        card.innerHTML = '<h3><span class="name"></span><span class="muted now"></span></h3>' +
          '<canvas class="chart chart-small" data-points="0" data-pv-points="0"></canvas>';
        card.querySelector(".name").textContent = id;
        card.querySelector("canvas").id = "meter-" + id;
        return card;
      }));
    }
    for (const id of ids) {
      const series = snap.meters[id] || emptySeries();
      draw("meter-" + id, series, range);
      const now = el("meter-" + id).parentElement.querySelector(".now");
      const i = series.t.length - 1;
      now.textContent = i < 0 ? "" : kw(series.meter_w[i]) + " · PV " + series.pv_kw[i].toFixed(2) + " kW";
    }
  }

  // ---- drawing ---------------------------------------------------------------------------

  function niceStep(span, target) {
    const raw = span / Math.max(target, 1);
    const power = Math.pow(10, Math.floor(Math.log10(raw)));
    for (const m of [1, 2, 2.5, 5, 10]) if (raw <= m * power) return m * power;
    return 10 * power;
  }

  const TIME_STEPS = [1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 900, 1800, 3600, 7200, 10800, 21600,
    43200, 86400];

  function draw(id, series, range) {
    const canvas = el(id);
    const ratio = window.devicePixelRatio || 1;
    const width = canvas.clientWidth, height = canvas.clientHeight;
    if (canvas.width !== Math.round(width * ratio) || canvas.height !== Math.round(height * ratio)) {
      canvas.width = Math.round(width * ratio);
      canvas.height = Math.round(height * ratio);
    }
    const ctx = canvas.getContext("2d");
    ctx.setTransform(ratio, 0, 0, ratio, 0, 0);
    ctx.clearRect(0, 0, width, height);
    // Grid first: at night it equals consumption, which is drawn over it.
    const lines = [
      { values: series.grid_w.map((w) => w / 1000), color: COLORS.grid },
      { values: series.meter_w.map((w) => w / 1000), color: COLORS.meter },
      { values: series.pv_kw, color: COLORS.pv },
    ];
    const pvPoints = series.pv_kw.filter((v) => v > 0).length;
    state.charts[id] = { points: series.t.length, pvPoints: pvPoints, pvMax: Math.max(0, ...series.pv_kw) };
    canvas.dataset.points = String(series.t.length);
    canvas.dataset.pvPoints = String(pvPoints);
    const left = 44, right = 8, top = 8, bottom = 22;
    const plotW = width - left - right, plotH = height - top - bottom;
    ctx.font = "11px system-ui, sans-serif";
    ctx.fillStyle = COLORS.axis;
    if (!range || !series.t.length || plotW <= 0 || plotH <= 0) {
      ctx.fillText("no data yet", left + 8, top + 16);
      return;
    }
    let low = 0, high = 0;
    for (const line of lines) for (const v of line.values) { if (v < low) low = v; if (v > high) high = v; }
    if (high - low < 0.1) high = low + 0.1;
    const step = niceStep(high - low, Math.max(2, Math.floor(plotH / 40)));
    low = Math.floor(low / step) * step;
    high = Math.ceil(high / step) * step;
    const [t0, t1] = range[1] > range[0] ? range : [range[0] - 1, range[0]];
    const x = (t) => left + ((t - t0) / (t1 - t0)) * plotW;
    const y = (v) => top + (1 - (v - low) / (high - low)) * plotH;

    ctx.strokeStyle = COLORS.line;
    ctx.lineWidth = 1;
    ctx.textAlign = "right";
    ctx.textBaseline = "middle";
    for (let v = low; v <= high + step / 2; v += step) {
      ctx.beginPath(); ctx.moveTo(left, y(v)); ctx.lineTo(left + plotW, y(v)); ctx.stroke();
      ctx.fillText(String(Math.round(v * 100) / 100), left - 4, y(v));
    }
    ctx.strokeStyle = COLORS.axis;
    ctx.beginPath(); ctx.moveTo(left, y(0)); ctx.lineTo(left + plotW, y(0)); ctx.stroke();
    // Labels about 90 px apart; a step under a minute shows seconds. A span too short for two
    // round steps (a short window, the first seconds of a run) labels both ends instead.
    const tStep = TIME_STEPS.find((s) => (t1 - t0) / s <= Math.max(2, plotW / 90)) || 86400;
    const format = tStep < 60 ? secondsFormat : timeFormat;
    let ticks = [];
    for (let t = Math.ceil(t0 / tStep) * tStep; t <= t1; t += tStep) ticks.push(t);
    if (ticks.length < 2) ticks = [t0, t1];
    ctx.textBaseline = "top";
    ticks.forEach((t, i) => {
      ctx.textAlign = ticks.length === 2 && tStep > t1 - t0 ? (i ? "right" : "left") : "center";
      ctx.fillText(format.format(new Date(t * 1000)), x(t), top + plotH + 4);
    });
    state.charts[id].timeLabels = ticks.length;
    ctx.save();
    ctx.beginPath(); ctx.rect(left, top, plotW, plotH); ctx.clip();
    ctx.lineWidth = 1.6;
    for (const line of lines) {
      ctx.strokeStyle = line.color;
      ctx.beginPath();
      series.t.forEach((t, i) => { if (i) ctx.lineTo(x(t), y(line.values[i])); else ctx.moveTo(x(t), y(line.values[i])); });
      ctx.stroke();
    }
    ctx.restore();
  }

  el("meter-select").addEventListener("change", (event) => {
    state.selected = event.target.value;
    open();
  });
  setInterval(showStream, 1000);
  window.addEventListener("resize", () => { if (state.lastSnapshot) render(state.lastSnapshot); });
  open();
})();
