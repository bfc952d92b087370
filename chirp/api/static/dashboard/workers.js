// Worker health: the supervision tree, one disclosure per top-level group, updated in
// place so a focused Kill button keeps its focus across refreshes.
import { el, plural } from "../js/dom.js";

export class Workers {
  /** ``onKill(name)`` is called when a Kill button is pressed. */
  constructor(container, onKill) {
    this.container = container;
    this.onKill = onKill;
    this.groups = new Map();
    this.tree = null;
  }

  update(tree) {
    this.tree = tree;
    const seen = new Set();
    for (const group of tree.children ?? []) {
      seen.add(group.name);
      const view = this.groups.get(group.name) ?? this.addGroup(group.name);
      const actors = flatten(group);
      const running = actors.filter((a) => a.state === "running").length;
      const restarts = actors.reduce((sum, a) => sum + a.restarts, 0);
      // A crash loop, at its top: a subtree whose supervisor gave up, backing off.
      const loops = actors
        .filter((a) => a.state === "backoff" && a.restart_in !== undefined)
        .map((a) => `${a.name} gave up, back in ${Math.ceil(a.restart_in)} s`);
      view.summary.textContent =
        `${group.name}: ${running}/${actors.length} running, ${plural(restarts, "restart")}` +
        (loops.length ? ` (${loops.join("; ")})` : "");
      view.details.dataset.health = running === actors.length ? "ok" : "degraded";
      if (view.details.open) this.fill(view, actors);
    }
    for (const [name, view] of this.groups) {
      if (!seen.has(name)) {
        view.details.remove();
        this.groups.delete(name);
      }
    }
  }

  addGroup(name) {
    const summary = el("summary");
    const body = el("tbody");
    const table = el(
      "table",
      {},
      el("caption", { class: "visually-hidden", text: `Actors under ${name}` }),
      el(
        "thead",
        {},
        el(
          "tr",
          {},
          ["Actor", "Kind", "State", "Restarts", "Mailbox", "Last error", ""].map((h) =>
            el("th", { scope: "col", text: h }),
          ),
        ),
      ),
      body,
    );
    const details = el("details", { "data-group": name }, summary, table);
    const view = { details, summary, body, rows: new Map() };
    details.addEventListener("toggle", () => {
      if (details.open && this.tree) {
        const group = (this.tree.children ?? []).find((g) => g.name === name);
        if (group) this.fill(view, flatten(group));
      }
    });
    this.groups.set(name, view);
    this.container.append(details);
    return view;
  }

  fill(view, actors) {
    const seen = new Set();
    for (const actor of actors) {
      seen.add(actor.name);
      let row = view.rows.get(actor.name);
      if (!row) {
        row = this.addRow(actor);
        view.rows.set(actor.name, row);
      }
      view.body.append(row.tr); // keeps the tree's order; moving a node keeps its focus
      row.state.textContent = actor.state;
      row.tr.dataset.state = actor.state;
      row.restarts.textContent = String(actor.restarts);
      row.mailbox.textContent =
        actor.mailbox_depth === undefined ? "" : String(actor.mailbox_depth);
      row.error.textContent = actor.last_error ?? "";
      if (row.kill) row.kill.disabled = actor.state !== "running";
    }
    for (const [name, row] of view.rows) {
      if (!seen.has(name)) {
        row.tr.remove();
        view.rows.delete(name);
      }
    }
  }

  addRow(actor) {
    const cell = (className) => el("td", { class: className });
    const row = {
      state: cell("state"),
      restarts: cell("restarts"),
      mailbox: cell("mailbox"),
      error: cell("error"),
      kill: null,
    };
    const action = el("td");
    if (actor.killable) {
      row.kill = el("button", {
        type: "button",
        class: "kill",
        text: "Kill",
        "aria-label": `Kill ${actor.name}`,
        onclick: () => this.onKill(actor.name),
      });
      action.append(row.kill);
    }
    row.tr = el(
      "tr",
      { "data-actor": actor.name },
      el("th", { scope: "row", class: "name", text: actor.name }),
      el("td", { text: actor.kind }),
      row.state,
      row.restarts,
      row.mailbox,
      row.error,
      action,
    );
    return row;
  }
}

/** A group and everything under it, depth first. */
function flatten(node, into = []) {
  into.push(node);
  for (const child of node.children ?? []) flatten(child, into);
  return into;
}
