// The dashboard: the admin token from the URL's fragment (kept in this tab only), then
// GET /admin/dashboard every few seconds, drawn as the seed's panels.
import { el } from "../js/dom.js";
import { drawChart } from "./chart.js";
import { count, duration, percent, perSecond } from "./format.js";
import { Workers } from "./workers.js";

const REFRESH_MS = 2000;
const TOKEN_KEY = "chirp.adminToken";

const $ = (id) => document.getElementById(id);

let token = takeToken();
let timer = null;
const workers = new Workers($("workers"), kill);

function takeToken() {
  const match = /(?:^#|&)token=([^&]+)/.exec(location.hash);
  if (match) {
    sessionStorage.setItem(TOKEN_KEY, decodeURIComponent(match[1]));
    // Out of the address bar, the history and any screenshot of them.
    history.replaceState(null, "", location.pathname + location.search);
  }
  return sessionStorage.getItem(TOKEN_KEY);
}

async function admin(path, options = {}) {
  const response = await fetch(path, {
    ...options,
    headers: { Authorization: `Bearer ${token}`, Accept: "application/json" },
  });
  if (response.status === 401 || response.status === 403) {
    sessionStorage.removeItem(TOKEN_KEY);
    token = null;
    askForToken("That admin token was refused; enter the one chirp printed at start-up.");
    throw new Error("refused");
  }
  const body = await response.json().catch(() => ({}));
  if (!response.ok) throw new Error(body.detail ?? body.title ?? `HTTP ${response.status}`);
  return body;
}

function askForToken(reason = "") {
  clearTimeout(timer);
  $("panels").hidden = true;
  $("token-form").hidden = false;
  $("alert").textContent = reason;
  $("updated").textContent = "";
  $("token").focus();
}

$("token-form").addEventListener("submit", (event) => {
  event.preventDefault();
  token = $("token").value.trim();
  $("token").value = "";
  sessionStorage.setItem(TOKEN_KEY, token);
  start();
});

function start() {
  $("token-form").hidden = true;
  $("panels").hidden = false;
  $("alert").textContent = "";
  refresh();
}

async function refresh() {
  clearTimeout(timer);
  if (!token) return;
  try {
    const board = await admin("/admin/dashboard");
    draw(board);
    // Not a live region: a screen reader need not hear the clock every two seconds.
    $("updated").textContent = `Updated ${new Date().toLocaleTimeString()}`;
  } catch (error) {
    if (!token) return;
    $("updated").textContent = `Could not refresh: ${error.message}`;
  }
  timer = setTimeout(refresh, document.hidden ? REFRESH_MS * 5 : REFRESH_MS);
}

async function kill(name) {
  try {
    const killed = await admin(`/admin/actors/${encodeURIComponent(name)}/kill`, {
      method: "POST",
    });
    $("status").textContent = `Killed ${killed.name}; its supervisor restarts it.`;
  } catch (error) {
    if (token) $("alert").textContent = `Could not kill ${name}: ${error.message}`;
  }
  refresh();
}

/** One series per key of ``pick(point)`` (an object), in the order first seen. */
function seriesOf(points, pick, rename = (key) => key) {
  const names = [];
  for (const point of points)
    for (const key of Object.keys(pick(point) ?? {})) if (!names.includes(key)) names.push(key);
  return names.map((key) => ({
    name: rename(key),
    points: points.map((p) => [p.ago, (pick(p) ?? {})[key] ?? null]),
  }));
}

/** The seed's chart panels: a title, the series a point holds, how values read. */
const latencies = (kind) => (p) => {
  const figures = p.latency[kind];
  return figures ? { p50: figures.p50, p99: figures.p99 } : {};
};
const PANELS = [
  { title: "Write latency", pick: latencies("write"), format: duration },
  { title: "Read latency", pick: latencies("read"), format: duration },
  {
    title: "Throughput",
    pick: (p) => p.throughput,
    rename: (key) => key.replace("accepted_", "accepted ").replace("log_events", "log events"),
    format: perSecond,
  },
  { title: "Error rates", pick: (p) => p.errors, format: perSecond },
  { title: "Cache hit rates", pick: (p) => p.cache_hit_rate, format: percent, max: 1 },
  { title: "Log lag", pick: (p) => p.log_lag, format: count },
  {
    title: "Storage latency (p99)",
    pick: (p) => Object.fromEntries(Object.entries(p.storage).map(([store, f]) => [store, f.p99])),
    format: duration,
  },
];

const charts = PANELS.map((panel, index) => {
  const chart = el("div", { class: "chart", "data-chart": slug(panel.title) });
  const heading = el("h2", { id: `panel-${index}`, text: panel.title });
  $("workers-panel").before(
    el("section", { class: "panel", "aria-labelledby": heading.id }, heading, chart),
  );
  return chart;
});

function slug(title) {
  return title.toLowerCase().replace(/\W+/g, "-").replace(/-$/, "");
}

function draw(board) {
  const { points, history_seconds: span } = board;
  PANELS.forEach((panel, index) => {
    const series = seriesOf(points, panel.pick, panel.rename);
    drawChart(charts[index], series, { span, format: panel.format, max: panel.max });
  });
  workers.update(board.actors);
}

if (token) start();
else askForToken();
