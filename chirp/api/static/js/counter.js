// The characters-left counter of a tweet's text box, and its submit button's state.

import { charactersLeft, postable } from "./text.js";

/** Keep ``output`` showing what is left of 280 as ``textarea`` changes, and ``submit``
 * disabled while the text is empty or too long. Returns a function that re-checks (after
 * the text is set from code, or while a request is pending: ``update(busy)``). */
export function bindCounter(textarea, output, submit) {
  const update = (busy = false) => {
    const left = charactersLeft(textarea.value);
    output.textContent = String(left);
    output.classList.toggle("over", left < 0);
    output.classList.toggle("near", left >= 0 && left < 20);
    submit.disabled = busy || !postable(textarea.value);
  };
  textarea.addEventListener("input", () => update());
  // Ctrl+Enter (Cmd+Enter) sends, as in most clients.
  textarea.addEventListener("keydown", (event) => {
    if (event.key === "Enter" && (event.ctrlKey || event.metaKey) && !submit.disabled) {
      event.preventDefault();
      textarea.form.requestSubmit(submit);
    }
  });
  update();
  return update;
}
