// Strait live page: polls /live/status.json every 2 s and redraws the links,
// the mirrors and their 15-minute lag charts (inline SVG). Every name shown
// comes from users, so text goes in through textContent only, never as HTML.
"use strict";

(function () {
  const POLL_MS = 2000;
  const SVG = "http://www.w3.org/2000/svg";
  // Lag history per mirror topic, oldest first: {time_ms, lag_records, max_lag_seconds}.
  const history = new Map();
  let since = null;

  function el(tag, attrs, children) {
    const node = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs || {})) {
      if (v !== null && v !== undefined) node.setAttribute(k, String(v));
    }
    for (const c of children || []) {
      if (c === null || c === undefined) continue;
      node.append(c instanceof Node ? c : document.createTextNode(String(c)));
    }
    return node;
  }

  function svg(tag, attrs, text) {
    const node = document.createElementNS(SVG, tag);
    for (const [k, v] of Object.entries(attrs || {})) node.setAttribute(k, String(v));
    if (text !== undefined) node.textContent = text;
    return node;
  }

  function records(n) {
    return Number(n).toLocaleString("en-US");
  }

  function seconds(s) {
    if (!(s > 0)) return "0 s";
    if (s < 60) return s.toFixed(1) + " s";
    const whole = Math.floor(s);
    if (whole < 3600) return Math.floor(whole / 60) + "m " + String(whole % 60).padStart(2, "0") + "s";
    return Math.floor(whole / 3600) + "h " + String(Math.floor(whole % 3600 / 60)).padStart(2, "0") + "m";
  }

  function ago(ms, nowMs) {
    return seconds(Math.max(0, nowMs - ms) / 1000) + " ago";
  }

  function badge(state) {
    const ok = ["ACTIVE", "AVAILABLE"];
    const warn = ["PAUSED", "LINK_PAUSED", "PENDING_STOPPED", "SOURCE_UNAVAILABLE", "STOPPED"];
    const cls = ok.includes(state) ? "ok" : warn.includes(state) ? "warn" : "bad";
    return el("span", { class: "badge " + cls, "data-field": "state" }, [state]);
  }

  function renderLinks(status) {
    const root = document.getElementById("links");
    if (!status.links_ready) {
      root.replaceChildren(el("p", { class: "empty" }, ["The link engine is starting."]));
      return;
    }
    if (status.links.length === 0) {
      root.replaceChildren(el("p", { class: "empty", "data-empty": "links" }, [
        "No cluster links on this cluster.",
      ]));
      return;
    }
    const head = el("tr", {}, ["Link", "State", "Source", "Source available", "Mirrors",
      "Fetched records", "Tasks"].map((h) => el("th", {}, [h])));
    const rows = status.links.map((l) => {
      const source = el("td", {}, [
        el("div", { class: "mono", "data-field": "source-cluster-id" }, [l.source_cluster_id || "unknown cluster id"]),
        el("div", { class: "mono", "data-field": "bootstrap-servers" }, [l.bootstrap_servers || ""]),
      ]);
      const tasks = el("td", {}, l.tasks.length === 0 ? ["none"] : l.tasks.map((t) =>
        el("div", { class: "task", "data-task": t.task_name }, [
          t.task_name + " ", badge(t.state),
          t.last_error_ms ? el("span", { class: "when" }, [" last error " + ago(t.last_error_ms, status.now_ms)]) : null,
          t.last_error_message ? el("span", { class: "msg", "data-field": "last-error" }, [t.last_error_message]) : null,
        ])));
      return el("tr", { "data-link": l.link_name }, [
        el("td", { class: "mono" }, [l.link_name]),
        el("td", {}, [badge(l.link_state)]),
        source,
        el("td", {}, [badge(l.source_available ? "AVAILABLE" : "UNAVAILABLE")]),
        el("td", { class: "num" }, [records(l.mirror_count)]),
        el("td", { class: "num" }, [records(l.fetched_records)]),
        tasks,
      ]);
    });
    root.replaceChildren(el("table", {}, [el("thead", {}, [head]), el("tbody", {}, rows)]));
  }

  // The chart of one mirror: lag records (solid) and max lag seconds
  // (dashed), each on its own scale, over the history window ending now.
  function chart(points, status) {
    const W = 360, H = 110, L = 4, R = 4, T = 14, B = 14;
    const end = status.now_ms, start = end - status.history_window_ms;
    const shown = points.filter((p) => p.time_ms >= start);
    const peakRecords = Math.max(0, ...shown.map((p) => p.lag_records));
    const peakSeconds = Math.max(0, ...shown.map((p) => p.max_lag_seconds));
    const maxRecords = Math.max(1, peakRecords), maxSeconds = Math.max(1, peakSeconds);
    const x = (t) => L + (W - L - R) * (t - start) / (end - start);
    const y = (v, max) => T + (H - T - B) * (1 - v / max);
    const line = (value, max) => shown.map((p) =>
      x(p.time_ms).toFixed(1) + "," + y(value(p), max).toFixed(1)).join(" ");
    const node = svg("svg", { class: "chart", viewBox: `0 0 ${W} ${H}`, preserveAspectRatio: "none",
      role: "img", "aria-label": "lag over the last 15 minutes" });
    node.append(svg("rect", { class: "frame", x: L, y: T, width: W - L - R, height: H - T - B }));
    if (shown.length > 0) {
      node.append(svg("polyline", { class: "records", points: line((p) => p.lag_records, maxRecords) }));
      node.append(svg("polyline", { class: "seconds", points: line((p) => p.max_lag_seconds, maxSeconds) }));
    }
    node.append(svg("text", { class: "records", x: L, y: 10 }, "peak " + records(peakRecords) + " records"));
    node.append(svg("text", { class: "seconds", x: W - R, y: 10, "text-anchor": "end" }, "peak " + seconds(peakSeconds)));
    node.append(svg("text", { x: L, y: H - 2 }, "-" + Math.round(status.history_window_ms / 60000) + " min"));
    node.append(svg("text", { x: W - R, y: H - 2, "text-anchor": "end" }, "now"));
    return node;
  }

  function renderMirrors(status) {
    const root = document.getElementById("mirrors");
    if (status.mirrors.length === 0) {
      root.replaceChildren(el("p", { class: "empty", "data-empty": "mirrors" }, ["No mirror topics."]));
      return;
    }
    const cards = status.mirrors.map((m) => {
      const points = (history.get(m.mirror_topic_name) || []).concat([{
        time_ms: status.now_ms, lag_records: m.lag_records, max_lag_seconds: m.max_lag_seconds,
      }]);
      const parts = el("table", {}, [
        el("thead", {}, [el("tr", {}, [el("th", {}, ["Partition"]), el("th", { class: "num" }, ["Lag (records)"]),
          el("th", { class: "num" }, ["Lag (seconds)"])])]),
        el("tbody", {}, m.partitions.map((p) => el("tr", { "data-partition": p.partition }, [
          el("td", {}, [p.partition]),
          el("td", { class: "num", "data-field": "partition-lag-records" }, [records(p.lag_records)]),
          el("td", { class: "num", "data-field": "partition-lag-seconds" }, [seconds(p.lag_seconds)]),
        ]))),
      ]);
      return el("article", { class: "mirror", "data-mirror": m.mirror_topic_name, "data-link": m.link_name }, [
        el("div", { class: "head" }, [el("h3", { class: "mono" }, [m.mirror_topic_name]), badge(m.mirror_status)]),
        el("p", { class: "sub" }, ["link " + m.link_name + ", source topic " + m.source_topic_name]),
        m.reason ? el("p", { class: "reason" }, [m.reason]) : null,
        el("div", { class: "figures" }, [
          el("div", { class: "figure records" }, [
            el("div", { class: "v", "data-field": "lag-records" }, [records(m.lag_records)]),
            el("div", { class: "k" }, ["lag, records"]),
          ]),
          el("div", { class: "figure seconds" }, [
            el("div", { class: "v", "data-field": "max-lag-seconds" }, [seconds(m.max_lag_seconds)]),
            el("div", { class: "k" }, ["max lag, seconds"]),
          ]),
        ]),
        chart(points, status),
        el("details", {}, [el("summary", {}, [m.partitions.length + " partitions"]), parts]),
      ]);
    });
    root.replaceChildren(el("div", { class: "mirrors" }, cards));
  }

  // Takes in the new samples, and forgets mirrors that are gone and samples
  // older than the window.
  function remember(status) {
    const present = new Set(status.mirrors.map((m) => m.mirror_topic_name));
    for (const topic of history.keys()) if (!present.has(topic)) history.delete(topic);
    const start = status.now_ms - status.history_window_ms;
    for (const m of status.mirrors) {
      const kept = (history.get(m.mirror_topic_name) || []).concat(m.history)
        .filter((p) => p.time_ms >= start);
      history.set(m.mirror_topic_name, kept);
      for (const p of m.history) if (since === null || p.time_ms > since) since = p.time_ms;
    }
  }

  function show(status) {
    document.getElementById("cluster-id").textContent = status.cluster_id;
    remember(status);
    renderLinks(status);
    renderMirrors(status);
    const updated = document.getElementById("updated");
    updated.dataset.state = "ok";
    updated.textContent = "updated " + new Date(status.now_ms).toLocaleTimeString();
  }

  async function poll() {
    try {
      const url = since === null ? "/live/status.json" : "/live/status.json?since=" + encodeURIComponent(since);
      const resp = await fetch(url, { cache: "no-store", credentials: "same-origin" });
      if (!resp.ok) {
        let message = "HTTP " + resp.status;
        try { message += ": " + (await resp.json()).message; } catch (_) { /* not JSON */ }
        throw new Error(message);
      }
      show(await resp.json());
    } catch (e) {
      const updated = document.getElementById("updated");
      updated.dataset.state = "error";
      updated.textContent = "update failed (" + e.message + "); retrying";
    } finally {
      setTimeout(poll, POLL_MS);
    }
  }

  poll();
})();
