// Keel's chat page: talks to this server's own API with the token kept in sessionStorage.
// No external scripts, fonts or network calls: everything goes to the same origin.
"use strict";

const $ = (id) => document.getElementById(id);
const TOKEN_KEY = "keel.token";
let history = []; // [{role, content}] for the current person

function token() { return sessionStorage.getItem(TOKEN_KEY) || ""; }
function person() { return $("user").value.trim() || "default"; }
function context() { const c = $("context").value.trim(); return c === "" ? null : c; }

class ApiError extends Error {
  constructor(status, body) {
    super((body && body.error && body.error.message) || ("HTTP " + status));
    this.status = status;
  }
}

async function api(method, path, body) {
  const opts = { method, headers: { "Authorization": "Bearer " + token() } };
  if (body !== undefined) {
    opts.headers["Content-Type"] = "application/json";
    opts.body = JSON.stringify(body);
  }
  const resp = await fetch(path, opts);
  const data = await resp.json().catch(() => null);
  if (!resp.ok) {
    if (resp.status === 401) showLogin("The token was not accepted. " + ((data && data.error && data.error.message) || ""));
    throw new ApiError(resp.status, data);
  }
  return data;
}

function el(tag, cls, text) {
  const e = document.createElement(tag);
  if (cls) e.className = cls;
  if (text !== undefined) e.textContent = text;
  return e;
}

function button(label, cls, title, onClick) {
  const b = el("button", cls, label);
  b.type = "button";
  if (title) { b.title = title; b.setAttribute("aria-label", title); }
  b.addEventListener("click", onClick);
  return b;
}

// ---- login ---------------------------------------------------------------------------

function showLogin(message) {
  sessionStorage.removeItem(TOKEN_KEY);
  $("app").hidden = true;
  $("login").hidden = false;
  $("token-error").textContent = message || "";
  $("token-input").focus();
}

async function connect() {
  try {
    const status = await api("GET", "/v1/keel/status");
    $("login").hidden = true;
    $("app").hidden = false;
    showSafety(status);
    $("prompt").focus();
  } catch (e) {
    if (!(e instanceof ApiError && e.status === 401)) showLogin("Could not reach the server: " + e.message);
  }
}

function showSafety(status) {
  const b = status.bundle || {};
  const badge = $("safety");
  if (b.developer_mode || !b.bundle_id) {
    badge.textContent = "safety: OFF (developer mode)";
    badge.className = "badge warn";
  } else {
    badge.textContent = "safety: " + b.bundle_id + " v" + b.version + (b.development_root ? " (development root)" : "");
    badge.className = "badge";
  }
  badge.title = "bundle digest " + (b.digest || "none");
}

// ---- chat ----------------------------------------------------------------------------

// Stream one answer for `messages` into `textEl`; resolves to {text, keel, finish}.
// `fresh` asks for a different sample (a new seed), as "Try again" needs.
async function streamAnswer(messages, textEl, fresh) {
  const body = { model: "keel", messages, stream: true, user: person() };
  if (fresh) {
    body.seed = crypto.getRandomValues(new Uint32Array(1))[0];
    body.temperature = 0.9;
  }
  const ctx = context();
  if (ctx) body.keel = { context: ctx };
  const resp = await fetch("/v1/chat/completions", {
    method: "POST",
    headers: { "Authorization": "Bearer " + token(), "Content-Type": "application/json" },
    body: JSON.stringify(body),
  });
  if (!resp.ok) {
    const data = await resp.json().catch(() => null);
    if (resp.status === 401) showLogin("The token was not accepted.");
    throw new ApiError(resp.status, data);
  }
  const reader = resp.body.getReader();
  const decoder = new TextDecoder();
  let buf = "", text = "", keel = null, finish = null;
  for (;;) {
    const { value, done } = await reader.read();
    if (done) break;
    buf += decoder.decode(value, { stream: true });
    let cut;
    while ((cut = buf.indexOf("\n\n")) >= 0) {
      const event = buf.slice(0, cut);
      buf = buf.slice(cut + 2);
      for (const line of event.split("\n")) {
        if (!line.startsWith("data:")) continue;
        const data = line.slice(5).trim();
        if (data === "[DONE]") continue;
        const chunk = JSON.parse(data);
        if (chunk.error) throw new Error(chunk.error.message);
        const choice = chunk.choices && chunk.choices[0];
        if (choice && choice.delta && choice.delta.content) {
          text += choice.delta.content;
          textEl.textContent = text;
        }
        if (choice && choice.finish_reason) finish = choice.finish_reason;
        if (chunk.keel) keel = chunk.keel;
      }
    }
  }
  return { text, keel, finish };
}

function renderWhy(box, keel) {
  box.replaceChildren();
  if (!keel) { box.textContent = "No report for this answer."; return; }
  const shaped = keel.applied_preferences || [];
  box.append(el("div", null, shaped.length
    ? "Shaped by these preferences:"
    : "No preference of yours was confident enough to shape this answer."));
  if (shaped.length) {
    const ul = el("ul");
    for (const s of shaped) {
      ul.append(el("li", null, s.dimension + " = " + s.value.toFixed(2) + " (" + s.source + ", " +
        s.evidence + " feedback, confidence " + s.confidence.toFixed(2) + "): " + s.instruction));
    }
    box.append(ul);
  }
  box.append(el("div", "muted", "Safety: " + keel.verdict + " · bundle " + (keel.bundle_id || "none") +
    " v" + (keel.bundle_version ?? "-") + " · digest " + (keel.bundle_digest || "none").slice(0, 16) + "…"));
}

async function feedback(turnId, kind) {
  const body = Object.assign({ user: person(), turn_id: turnId }, kind);
  const ctx = context();
  if (ctx) body.context = ctx;
  const report = await api("POST", "/v1/keel/feedback", body);
  $("profile-revision").textContent = "revision " + report.feedback.profile_revision;
  await loadProfile();
  return report;
}

// One assistant answer with its buttons; `turn` is {text, keel}.
function answerView(turn, opts) {
  const li = el("li", "msg assistant");
  const textEl = el("div", "text", turn.text);
  const actions = el("div", "actions");
  const why = el("div", "why");
  why.hidden = true;
  li.append(textEl, actions, why);
  const turnId = () => turn.keel && turn.keel.turn_id;
  const up = button("▲ Good", "thumbs-up", "Good answer", async () => {
    await rate(true, up, down);
  });
  const down = button("▼ Bad", "thumbs-down", "Bad answer", async () => {
    await rate(false, down, up);
  });
  async function rate(isUp, on, off) {
    if (!turnId()) return;
    try {
      await feedback(turnId(), { kind: "rating", up: isUp });
      on.classList.add("chosen"); off.classList.remove("chosen");
      $("status").textContent = "Thanks — your profile was updated.";
    } catch (e) { $("status").textContent = "Feedback failed: " + e.message; }
  }
  actions.append(up, down);
  if (opts.retry) actions.append(button("Try again", "retry", "Try again and choose", opts.retry));
  if (opts.choose) actions.append(button("Choose this", "choose", "Prefer this answer", opts.choose));
  actions.append(button("Why this answer?", "why-toggle", "Why this answer", () => {
    renderWhy(why, turn.keel); why.hidden = !why.hidden;
  }));
  return { li, textEl, actions };
}

async function send(prompt) {
  const log = $("log");
  history.push({ role: "user", content: prompt });
  log.append(el("li", "msg user", prompt));
  const asked = history.slice();
  const turn = { text: "", keel: null };
  const view = answerView(turn, { retry: () => retry(asked, turn, view) });
  log.append(view.li);
  await runInto(asked, turn, view);
  history.push({ role: "assistant", content: turn.text });
}

async function runInto(messages, turn, view, fresh) {
  $("send").disabled = true;
  $("status").textContent = "Answering…";
  try {
    const r = await streamAnswer(messages, view.textEl, fresh);
    turn.text = r.text; turn.keel = r.keel;
    if (r.keel && r.keel.verdict === "block") view.li.classList.add("blocked");
    view.li.dataset.turnId = (r.keel && r.keel.turn_id) || "";
    view.li.classList.add("done");
    $("status").textContent = r.finish === "length" ? "The answer reached its length limit." : "";
  } catch (e) {
    view.textEl.textContent = "(failed: " + e.message + ")";
    $("status").textContent = e.message;
  } finally {
    $("send").disabled = false;
  }
}

// "Try again": a second answer to the same messages; the person picks the better one.
async function retry(asked, first, firstView) {
  if (first.keel && first.keel.turn_id) {
    feedback(first.keel.turn_id, { kind: "regenerate" }).catch(() => {});
  }
  const pair = el("li", "pair");
  firstView.li.replaceWith(pair);
  const second = { text: "", keel: null };
  const choose = (chosen, other) => async () => {
    if (!chosen.keel || !other.keel) return;
    try {
      await feedback(chosen.keel.turn_id, { kind: "pairwise", other: other.keel.turn_id });
    } catch (e) {
      $("status").textContent = "Could not record the choice: " + e.message;
      return;
    }
    history[history.length - 1] = { role: "assistant", content: chosen.text };
    const kept = answerView(chosen, {});
    pair.replaceWith(kept.li);
    kept.li.classList.add("done");
    $("status").textContent = "Noted which answer you prefer.";
  };
  const a = answerView(first, { choose: choose(first, second) });
  const b = answerView(second, { choose: choose(second, first) });
  a.li.classList.add("done");
  pair.append(a.li, b.li);
  await runInto(asked, second, b, true);
}

// ---- profile -------------------------------------------------------------------------

async function loadProfile() {
  const q = new URLSearchParams({ user: person() });
  if (context()) q.set("context", context());
  const p = await api("GET", "/v1/keel/profile?" + q.toString());
  const rows = $("profile-rows");
  rows.replaceChildren();
  for (const pref of p.preferences) {
    const tr = el("tr", "pref-row");
    tr.dataset.dimension = pref.dimension;
    const slider = el("input");
    slider.type = "range"; slider.min = "0"; slider.max = "1"; slider.step = "0.05";
    slider.value = String(pref.value);
    slider.setAttribute("aria-label", pref.dimension);
    const value = el("span", "value", pref.value.toFixed(2));
    slider.addEventListener("input", () => { value.textContent = Number(slider.value).toFixed(2); });
    const set = button("Set", "set", "Set " + pref.dimension, () =>
      patchProfile({ set: { [pref.dimension]: Number(slider.value) } }));
    const reset = button("Reset", "reset", "Reset " + pref.dimension, () =>
      patchProfile({ clear: [pref.dimension] }));
    const valueCell = el("td"); valueCell.append(slider, " ", value);
    const src = el("td", "source", pref.source);
    if (pref.adjusted) src.title = pref.adjusted;
    const actions = el("td"); actions.append(set, reset);
    tr.append(el("td", null, pref.dimension.replace("_", " ")), valueCell, src,
      el("td", "evidence", String(pref.evidence)), actions);
    rows.append(tr);
  }
}

async function patchProfile(change) {
  const body = Object.assign({ user: person() }, change);
  if (context()) body.context = context();
  try {
    const r = await api("PATCH", "/v1/keel/profile", body);
    const notes = (r.outcomes || []).map((o) => o.reason || o.adjusted || o.note).filter(Boolean);
    $("profile-note").textContent = notes.length ? notes.join(" ") : "Saved.";
    await loadProfile();
  } catch (e) { $("profile-note").textContent = e.message; }
}

// ---- wiring --------------------------------------------------------------------------

document.addEventListener("DOMContentLoaded", () => {
  $("token-form").addEventListener("submit", (ev) => {
    ev.preventDefault();
    sessionStorage.setItem(TOKEN_KEY, $("token-input").value.trim());
    $("token-input").value = "";
    connect();
  });
  $("logout").addEventListener("click", () => showLogin(""));
  $("compose").addEventListener("submit", (ev) => {
    ev.preventDefault();
    const prompt = $("prompt").value.trim();
    if (!prompt) return;
    $("prompt").value = "";
    send(prompt);
  });
  $("prompt").addEventListener("keydown", (ev) => {
    if (ev.key === "Enter" && !ev.shiftKey) { ev.preventDefault(); $("compose").requestSubmit(); }
  });
  $("profile-toggle").addEventListener("click", async () => {
    const panel = $("profile-panel");
    panel.hidden = !panel.hidden;
    if (!panel.hidden) await loadProfile().catch((e) => { $("profile-note").textContent = e.message; });
  });
  $("user").addEventListener("change", () => {
    history = []; $("log").replaceChildren(); $("profile-revision").textContent = "";
    if (!$("profile-panel").hidden) loadProfile().catch(() => {});
  });
  $("statement-form").addEventListener("submit", (ev) => {
    ev.preventDefault();
    const text = $("statement").value.trim();
    if (text) { patchProfile({ statement: text }); $("statement").value = ""; }
  });
  $("forget").addEventListener("click", async () => {
    if (!confirm("Forget everything Keel learned about " + person() + "? This cannot be undone.")) return;
    const q = new URLSearchParams({ user: person() });
    try {
      await api("DELETE", "/v1/keel/profile?" + q.toString());
      history = []; $("log").replaceChildren();
      $("profile-note").textContent = "Forgotten.";
      $("profile-revision").textContent = "";
      await loadProfile();
    } catch (e) { $("profile-note").textContent = e.message; }
  });
  if (token()) connect(); else showLogin("");
});
