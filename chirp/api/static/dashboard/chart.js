// Line charts in plain SVG: the last few minutes, newest on the right.
import { el } from "../js/dom.js";

const SVG = "http://www.w3.org/2000/svg";
const WIDTH = 480;
const HEIGHT = 160;
const MARGIN = { left: 56, right: 8, top: 8, bottom: 20 };
const PALETTE = 6;

/** Draw ``series`` ([{name, points: [[secondsAgo, value | null]]}]) into ``container``,
 * replacing what was there, over the last ``span`` seconds. ``format`` labels the y axis,
 * the legend's latest values and the chart's accessible description. */
export function drawChart(container, series, { span, format, max = null }) {
  const top = niceCeiling(
    max ?? Math.max(0, ...series.flatMap((s) => s.points.map(([, v]) => v ?? 0))),
  );
  const x = (ago) => MARGIN.left + (1 - ago / span) * (WIDTH - MARGIN.left - MARGIN.right);
  const y = (value) =>
    HEIGHT - MARGIN.bottom - (top ? value / top : 0) * (HEIGHT - MARGIN.top - MARGIN.bottom);

  const latest = series.map((s) => [s.name, lastValue(s.points)]);
  const svg = svgEl("svg", {
    viewBox: `0 0 ${WIDTH} ${HEIGHT}`,
    role: "img",
    "aria-label": latest.length
      ? latest.map(([name, value]) => `${name} ${format(value)}`).join(", ")
      : "no data yet",
  });
  for (const fraction of [0, 0.5, 1]) {
    const level = y(top * fraction);
    svg.append(
      svgEl("line", {
        class: "grid",
        x1: MARGIN.left,
        x2: WIDTH - MARGIN.right,
        y1: level,
        y2: level,
      }),
      svgEl(
        "text",
        { class: "axis", x: MARGIN.left - 6, y: level + 4, "text-anchor": "end" },
        format(top * fraction),
      ),
    );
  }
  for (const [ago, label] of [
    [span, `−${Math.round(span / 60)} min`],
    [0, "now"],
  ]) {
    svg.append(
      svgEl(
        "text",
        { class: "axis", x: x(ago), y: HEIGHT - 4, "text-anchor": ago ? "start" : "end" },
        label,
      ),
    );
  }
  series.forEach((s, index) => {
    for (const run of runs(s.points)) {
      const path = run
        .map(([ago, value]) => `${x(ago).toFixed(1)},${y(value).toFixed(1)}`)
        .join(" ");
      svg.append(
        svgEl("polyline", {
          class: `line s${index % PALETTE}`,
          points: path,
          "data-series": s.name,
        }),
      );
    }
  });
  const legend = el(
    "ul",
    { class: "legend" },
    latest.map(([name, value], index) =>
      el(
        "li",
        {},
        el("span", { class: `swatch s${index % PALETTE}`, "aria-hidden": "true" }),
        `${name} `,
        el("strong", { text: format(value) }),
      ),
    ),
  );
  container.replaceChildren(svg, legend);
}

/** Unbroken stretches of known values: a gap (null, or nobody watching) breaks a line. */
function runs(points) {
  const found = [];
  let current = [];
  let previousAgo = null;
  for (const [ago, value] of points) {
    const gap = previousAgo !== null && previousAgo - ago > 30;
    if (value === null || value === undefined || gap) {
      if (current.length) found.push(current);
      current = [];
    }
    if (value !== null && value !== undefined) current.push([ago, value]);
    previousAgo = ago;
  }
  if (current.length) found.push(current);
  return found.map((run) => (run.length === 1 ? [run[0], run[0]] : run));
}

function lastValue(points) {
  for (let i = points.length - 1; i >= 0; i -= 1) {
    if (points[i][1] !== null && points[i][1] !== undefined) return points[i][1];
  }
  return null;
}

/** 1, 2 or 5 times a power of ten, at or above ``value`` (a readable top for the axis). */
function niceCeiling(value) {
  if (!(value > 0)) return 1;
  const power = 10 ** Math.floor(Math.log10(value));
  for (const step of [1, 2, 5, 10]) if (step * power >= value) return step * power;
  return 10 * power;
}

function svgEl(tag, attributes, text) {
  const node = document.createElementNS(SVG, tag);
  for (const [name, value] of Object.entries(attributes)) node.setAttribute(name, String(value));
  if (text !== undefined) node.textContent = text;
  return node;
}
