// The migration console: polls /api/v1/migration and renders it. Every
// value from the server goes into the page as text (textContent), never as
// markup.
"use strict";
(function () {
  const TOKEN_KEY = "obsplane.console.token";
  const PHASES = ["Off", "DualWrite", "Backfilled", "Validated", "Cutover", "Complete"];
  const $ = (id) => document.getElementById(id);
  let pollMs = 3000;
  let timer = null;
  let driftPlot = null, latencyPlot = null;
  const charts = typeof window.uPlot === "function";

  // ?interval=ms overrides the server's poll interval (tests, big screens).
  const qs = new URLSearchParams(location.search);
  const forcedMs = parseInt(qs.get("interval") || "", 10);

  function token() { return sessionStorage.getItem(TOKEN_KEY) || ""; }

  function fmtTime(s) {
    if (!s) return "";
    const d = new Date(s);
    if (isNaN(d)) return s;
    return d.toISOString().replace("T", " ").replace(/\.\d+Z$/, "Z");
  }

  function fmtSeconds(x) {
    if (x < 1) return (x * 1000).toFixed(0) + " ms";
    if (x < 120) return x.toFixed(1) + " s";
    return (x / 60).toFixed(1) + " min";
  }

  function cell(tr, text, cls) {
    const td = document.createElement("td");
    td.textContent = text == null ? "" : String(text);
    if (cls) td.className = cls;
    tr.appendChild(td);
    return td;
  }

  function fill(tbody, rows, render) {
    const out = [];
    for (const r of rows) {
      const tr = document.createElement("tr");
      render(tr, r);
      out.push(tr);
    }
    tbody.replaceChildren(...out);
  }

  function flagValue(v) {
    try {
      const o = JSON.parse(v);
      if (!o.enabled) return "off";
      return o.rolloutPercentage + "%";
    } catch (e) { return v || "–"; }
  }

  function showError(msg) {
    const e = $("error");
    e.textContent = msg;
    e.hidden = !msg;
  }

  function needToken(msg) {
    $("auth").hidden = false;
    $("auth-msg").textContent = msg;
    $("content").hidden = true;
  }

  async function load() {
    const headers = { "Accept": "application/json" };
    const t = token();
    if (t) headers["Authorization"] = "Bearer " + t;
    let resp, body;
    try {
      resp = await fetch("/api/v1/migration", { headers, cache: "no-store" });
      body = await resp.json().catch(() => ({}));
    } catch (e) {
      showError("Cannot reach the server: " + e.message + " (retrying)");
      return;
    }
    if (resp.status === 401 || resp.status === 403) {
      // Nothing of the migration is shown to a caller the API refuses.
      needToken((resp.status === 401 ? "Authentication needed: " : "Refused: ") + (body.message || resp.statusText));
      showError("");
      $("updated").textContent = "refused (" + resp.status + ")";
      return;
    }
    if (!resp.ok) {
      showError("The server answered " + resp.status + ": " + (body.message || resp.statusText) + " (retrying)");
      return;
    }
    showError("");
    $("auth").hidden = true;
    $("content").hidden = false;
    try {
      render(body);
    } catch (e) {
      // A rendering bug must show, not leave a half-updated page.
      showError("The page could not show the answer: " + e.message);
    }
    if (!forcedMs && body.pollSeconds > 0 && body.pollSeconds * 1000 !== pollMs) {
      pollMs = body.pollSeconds * 1000;
      $("poll").textContent = String(pollMs / 1000);
      schedule();
    }
  }

  function render(m) {
    document.body.dataset.phase = m.phase || "";
    $("phase").textContent = m.phase || "unknown";
    $("since").textContent = m.since ? "since " + fmtTime(m.since) : "";
    $("updated").textContent = "updated " + fmtTime(m.generatedAt) + " · " + (m.caller || "");
    const cur = PHASES.indexOf(m.phase);
    for (const li of $("steps").children) {
      const i = PHASES.indexOf(li.dataset.phase);
      li.className = i === cur ? "current" : (i < cur ? "done" : "");
    }
    const pend = $("pending");
    if (m.pending) {
      pend.hidden = false;
      pend.textContent = "Transition " + m.pending.from + " → " + m.pending.to + " started " + fmtTime(m.pending.at) +
        " by " + m.pending.actor + " and not finished: the next migrate command continues or rolls it back.";
    } else {
      pend.hidden = true;
    }

    $("rollout").textContent = m.rolloutPercent + "%";
    $("rollout-bar").style.width = Math.max(0, Math.min(100, m.rolloutPercent)) + "%";
    $("primary").textContent = m.clickstackPrimary ? "ClickHouse" : "OpenSearch";
    $("router-backend").textContent = m.router ? "configured backend: " + m.router.backend + (m.router.dualRead ? ", dual read on" : "") : "";
    $("shadow").textContent = m.shadowWrite ? "on" : "off";
    if (m.dualWriteLag == null) {
      $("lag").textContent = "n/a";
      $("lag-pending").textContent = "no gateway in this process";
    } else {
      $("lag").textContent = fmtSeconds(m.dualWriteLag);
      $("lag-pending").textContent = (m.dualWritePending || 0) + " records waiting for OpenSearch";
    }
    const rbs = m.rollbacks || [];
    $("rollback-count").textContent = String(rbs.length);
    $("rollback-last").textContent = rbs.length ? "last " + fmtTime(rbs[0].at) : "";

    const bf = m.backfill || [];
    $("backfill-empty").hidden = bf.length > 0;
    fill($("backfill").tBodies[0], bf, (tr, b) => {
      cell(tr, b.index);
      cell(tr, b.signal);
      const td = cell(tr, "");
      const bar = document.createElement("div");
      bar.className = "bar";
      const f = document.createElement("div");
      const pct = b.done ? 100 : (b.docs > 0 ? Math.min(100, 100 * b.docsDone / b.docs) : 0);
      f.className = "fill" + (b.done ? " done" : "");
      f.style.width = pct.toFixed(1) + "%";
      bar.appendChild(f);
      td.appendChild(bar);
      td.dataset.percent = pct.toFixed(1);
      cell(tr, b.docsDone + " / " + b.docs + (b.done ? " ✓" : ""), "num");
    });

    fill($("transitions").tBodies[0], m.transitions || [], (tr, x) => {
      cell(tr, x.seq, "num");
      cell(tr, fmtTime(x.at));
      cell(tr, x.from);
      cell(tr, x.to);
      cell(tr, x.status, "st-" + x.status);
      cell(tr, x.actor);
      cell(tr, x.reason);
    });
    fill($("rollout-audit").tBodies[0], m.rolloutAudit || [], (tr, a) => {
      cell(tr, fmtTime(a.at));
      cell(tr, flagValue(a.oldValue));
      cell(tr, flagValue(a.newValue));
      cell(tr, a.actor);
      cell(tr, a.reason);
    });
    $("rollbacks-empty").hidden = rbs.length > 0;
    fill($("rollbacks").tBodies[0], rbs, (tr, a) => {
      cell(tr, fmtTime(a.at));
      cell(tr, flagValue(a.oldValue));
      cell(tr, a.reason);
    });

    renderDrift(m.validations || []);
    renderLatency(m.latency);
  }

  // A single point would make uPlot stretch the time axis over years:
  // give it a minute either side.
  function widen(plot, xs) {
    if (xs.length === 1) plot.setScale("x", { min: xs[0] - 60, max: xs[0] + 60 });
  }

  function size(el) {
    return { width: Math.max(300, el.clientWidth - 8), height: 220 };
  }

  function renderDrift(vals) {
    const ordered = vals.slice().reverse(); // oldest first
    const xs = ordered.map((v) => new Date(v.at).getTime() / 1000);
    const ys = ordered.map((v) => v.driftPercent);
    const last = vals[0];
    $("drift-summary").textContent = last
      ? vals.length + " validation(s); last " + fmtTime(last.at) + ": " + (last.passed ? "passed" : "FAILED") +
        ", drift " + last.driftPercent.toFixed(3) + "%"
      : "No validation recorded yet.";
    if (!charts) return;
    // The line, and each run as a point coloured by its verdict.
    const data = [xs, ys, ordered.map((v) => (v.passed ? v.driftPercent : null)), ordered.map((v) => (v.passed ? null : v.driftPercent))];
    const pointsOnly = (color) => ({ stroke: color, fill: color, paths: () => null, points: { show: true, size: 9, fill: color } });
    if (!driftPlot) {
      const el = $("drift-chart");
      driftPlot = new uPlot(Object.assign(size(el), {
        series: [{}, { label: "drift %", stroke: "#9ca3af", width: 2, points: { show: false } },
          Object.assign({ label: "passed" }, pointsOnly("#15803d")), Object.assign({ label: "failed" }, pointsOnly("#b91c1c"))],
        axes: [{}, { label: "%" }],
        scales: { y: { range: (u, min, max) => [0, Math.max(1, max * 1.2)] } },
      }), data, el);
    } else {
      driftPlot.setData(data);
    }
    widen(driftPlot, xs);
  }

  function renderLatency(l) {
    const s = (l && l.series) || [];
    const xs = s.map((p) => new Date(p.at).getTime() / 1000);
    const val = (b) => (b.requests > b.errors ? b : null);
    const col = (f) => s.map((p) => f(p));
    const data = [
      xs,
      col((p) => (val(p.clickhouse) ? p.clickhouse.p50Ms : null)),
      col((p) => (val(p.clickhouse) ? p.clickhouse.p95Ms : null)),
      col((p) => (val(p.opensearch) ? p.opensearch.p50Ms : null)),
      col((p) => (val(p.opensearch) ? p.opensearch.p95Ms : null)),
    ];
    if (l) {
      const c = l.clickhouse, o = l.opensearch;
      $("latency-summary").textContent = "last " + l.window + ": ClickHouse P50 " + c.p50Ms.toFixed(1) + " / P95 " + c.p95Ms.toFixed(1) +
        " ms over " + c.requests + " reads; OpenSearch P50 " + o.p50Ms.toFixed(1) + " / P95 " + o.p95Ms.toFixed(1) + " ms over " + o.requests + " reads" +
        (l.dualRead ? "" : " (dual read is off)");
    } else {
      $("latency-summary").textContent = "No router in this process.";
    }
    if (!charts) return;
    if (!latencyPlot) {
      const el = $("latency-chart");
      latencyPlot = new uPlot(Object.assign(size(el), {
        series: [
          {},
          { label: "ClickHouse P50", stroke: "#2563eb", width: 2, spanGaps: false },
          { label: "ClickHouse P95", stroke: "#2563eb", dash: [6, 4], width: 1.5 },
          { label: "OpenSearch P50", stroke: "#15803d", width: 2 },
          { label: "OpenSearch P95", stroke: "#15803d", dash: [6, 4], width: 1.5 },
        ],
        axes: [{}, { label: "ms" }],
      }), data, el);
    } else {
      latencyPlot.setData(data);
    }
    widen(latencyPlot, xs);
  }

  function schedule() {
    if (timer) clearInterval(timer);
    timer = setInterval(load, pollMs);
  }

  function init() {
    if (forcedMs > 0) pollMs = forcedMs;
    $("poll").textContent = String(pollMs / 1000);
    $("charts-missing").hidden = charts;
    $("token-form").addEventListener("submit", (ev) => {
      ev.preventDefault();
      const v = $("token").value.trim();
      if (v) sessionStorage.setItem(TOKEN_KEY, v);
      $("token").value = "";
      $("auth").hidden = true;
      load();
    });
    $("token-clear").addEventListener("click", () => {
      sessionStorage.removeItem(TOKEN_KEY);
      needToken("Token forgotten.");
    });
    window.addEventListener("resize", () => {
      for (const [p, id] of [[driftPlot, "drift-chart"], [latencyPlot, "latency-chart"]]) {
        if (p) p.setSize(size($(id)));
      }
    });
    load();
    schedule();
  }

  init();
})();
