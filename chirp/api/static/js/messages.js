// What the page tells the person: errors in the alert region, news in the status region
// (both aria-live, so screen readers speak them).

const alertRegion = () => document.getElementById("alert");
const statusRegion = () => document.getElementById("status");

/** Show ``error`` (an ApiError's problem detail, or a network failure) as an alert. */
export function showError(error) {
  if (error && error.name === "AbortError") return;
  if (error && error.sessionEnded) return;
  const text =
    error && error.name === "ApiError"
      ? error.message
      : "chirp could not be reached. Check your connection and try again.";
  if (!(error && error.name === "ApiError")) console.error(error);
  statusRegion().textContent = "";
  say(alertRegion(), text);
}

/** Show ``text`` as an alert (a sentence of the client's own). */
export function showAlert(text) {
  statusRegion().textContent = "";
  say(alertRegion(), text);
}

/** Announce ``text`` politely (a tweet posted, a follow done). */
export function announce(text) {
  alertRegion().textContent = "";
  say(statusRegion(), text);
}

export function clearMessages() {
  alertRegion().textContent = "";
  statusRegion().textContent = "";
}

function say(region, text) {
  // Emptied first, so the same sentence twice is spoken twice.
  region.textContent = "";
  region.textContent = text;
}
