// The "Log in" and "Sign up" forms.

import { request } from "./api.js";
import { clearMessages, showError } from "./messages.js";
import * as session from "./session.js";

/** Wire both forms; ``signedIn(user)`` runs once a person is in (user: /users/me). */
export function setUpAuthForms(signedIn) {
  const login = document.getElementById("login-form");
  const signup = document.getElementById("signup-form");

  login.addEventListener("submit", (event) => {
    event.preventDefault();
    const fields = new FormData(login);
    submitting(login, async () => {
      session.keep(
        await request("/auth/token", {
          method: "POST",
          auth: false,
          body: { username: fields.get("username"), password: fields.get("password") },
        }),
      );
      await signedIn(await request("/users/me"));
    });
  });

  signup.addEventListener("submit", (event) => {
    event.preventDefault();
    const fields = new FormData(signup);
    const body = {
      username: fields.get("username"),
      email: fields.get("email"),
      password: fields.get("password"),
    };
    const displayName = fields.get("display_name").trim();
    if (displayName) body.display_name = displayName;
    submitting(signup, async () => {
      const answer = await request("/users", { method: "POST", auth: false, body });
      session.keep(answer);
      await signedIn(answer.user);
    });
  });
}

async function submitting(form, work) {
  const button = form.querySelector("button[type=submit]");
  button.disabled = true;
  clearMessages();
  try {
    await work();
    form.reset();
  } catch (error) {
    showError(error);
  } finally {
    button.disabled = false;
  }
}
