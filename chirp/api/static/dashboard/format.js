// How figures read on the dashboard.

/** Seconds as µs, ms or s with two or three significant figures. */
export function duration(seconds) {
  if (seconds === null || seconds === undefined) return "–";
  if (seconds === 0) return "0";
  if (seconds < 0.001) return `${round(seconds * 1e6)} µs`;
  if (seconds < 1) return `${round(seconds * 1e3)} ms`;
  return `${round(seconds)} s`;
}

export function perSecond(value) {
  return value === null || value === undefined ? "–" : `${round(value)}/s`;
}

export function percent(value) {
  return value === null || value === undefined ? "–" : `${round(value * 100)}%`;
}

export function count(value) {
  return value === null || value === undefined ? "–" : round(value);
}

function round(value) {
  if (value === 0) return "0";
  if (Math.abs(value) >= 100) return Math.round(value).toLocaleString("en");
  return String(Number(value.toPrecision(value >= 10 ? 3 : 2)));
}
