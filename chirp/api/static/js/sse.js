// A server-sent events parser (the WHATWG "event stream" format), fed text as it comes.

export class SseParser {
  /** ``onEvent({event, data, id})`` for each dispatched event; ``onComment(text)`` for
   * ": text" lines (chirp sends ": connected" once subscribed, and keep-alives). */
  constructor({ onEvent, onComment = () => {} }) {
    this.onEvent = onEvent;
    this.onComment = onComment;
    this.buffer = "";
    this.reset();
  }

  reset() {
    this.event = "";
    this.data = [];
    this.id = null;
  }

  /** Feed decoded text; complete lines are handled, the rest waits for more. */
  push(text) {
    this.buffer += text;
    let end;
    // A lone "\r" at the end may be half of "\r\n": wait for the next chunk.
    while ((end = this.buffer.search(/\r\n|\n|\r(?!$)/)) !== -1) {
      const line = this.buffer.slice(0, end);
      const breakLength = this.buffer.startsWith("\r\n", end) ? 2 : 1;
      this.buffer = this.buffer.slice(end + breakLength);
      this.line(line);
    }
  }

  line(line) {
    if (line === "") {
      if (this.data.length > 0) {
        this.onEvent({ event: this.event || "message", data: this.data.join("\n"), id: this.id });
      }
      this.reset();
      return;
    }
    if (line.startsWith(":")) {
      this.onComment(line.slice(1).trimStart());
      return;
    }
    const colon = line.indexOf(":");
    const field = colon === -1 ? line : line.slice(0, colon);
    let value = colon === -1 ? "" : line.slice(colon + 1);
    if (value.startsWith(" ")) value = value.slice(1);
    if (field === "event") this.event = value;
    else if (field === "data") this.data.push(value);
    else if (field === "id") this.id = value;
  }
}
