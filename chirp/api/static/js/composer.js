// The "New tweet" form: the text box, what is left of 280, and Post.

import { request } from "./api.js";
import { bindCounter } from "./counter.js";
import { addToFeed } from "./feed.js";
import { announce, showError } from "./messages.js";

export function setUpComposer() {
  const form = document.getElementById("composer");
  const box = document.getElementById("compose-text");
  const submit = form.querySelector("button[type=submit]");
  const update = bindCounter(box, document.getElementById("compose-count"), submit);
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    update(true);
    try {
      const answer = await request("/tweet", { method: "POST", body: { content: box.value } });
      box.value = "";
      addToFeed(answer.tweet);
      announce("Tweet posted");
    } catch (error) {
      showError(error);
    } finally {
      update();
    }
  });
  return { reset: () => ((box.value = ""), update()) };
}
