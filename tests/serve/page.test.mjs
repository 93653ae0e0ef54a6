// The chat page in headless Chromium (Debian's /usr/bin/chromium through playwright-core,
// no browser download): enter the token, send a message, see the answer stream in, click
// thumbs down, see the profile change; save a screenshot. Run by .ci/test-serve with
// KEEL_SERVE_URL, KEEL_API_TOKEN and KEEL_SERVE_ARTIFACTS set.
import { createRequire } from "node:module";
import assert from "node:assert/strict";
import path from "node:path";

const require = createRequire(process.env.PLAYWRIGHT_CORE_DIR
  ? path.join(process.env.PLAYWRIGHT_CORE_DIR, "x.js") : import.meta.url);
const { chromium } = require("playwright-core");

const base = process.env.KEEL_SERVE_URL;
const token = process.env.KEEL_API_TOKEN;
const artifacts = process.env.KEEL_SERVE_ARTIFACTS || ".";
assert.ok(base && token, "run through .ci/test-serve (KEEL_SERVE_URL, KEEL_API_TOKEN)");
const person = "pw-" + Math.random().toString(16).slice(2, 10);

const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM || "/usr/bin/chromium",
  headless: true,
  args: ["--no-sandbox", "--disable-gpu"],
});
let failed = false;
const page = await browser.newPage({ viewport: { width: 1280, height: 800 } });
try {
  const origin = new URL(base).origin;
  const foreign = [];
  const streamed = [];
  page.on("request", (r) => { if (!r.url().startsWith(origin) && !r.url().startsWith("data:")) foreign.push(r.url()); });
  page.on("response", (r) => {
    if (r.url().endsWith("/v1/chat/completions")) streamed.push(r.headers()["content-type"] || "");
  });
  const consoleErrors = [];
  page.on("console", (m) => { if (m.type() === "error") consoleErrors.push(m.text()); });

  await page.goto(base + "/");
  // 1. The token is asked for once and kept in sessionStorage.
  await page.locator("#login").waitFor({ state: "visible" });
  await page.fill("#token-input", token);
  await page.click("#token-save");
  await page.locator("#app").waitFor({ state: "visible" });
  assert.equal(await page.evaluate(() => sessionStorage.getItem("keel.token")), token);
  await page.waitForFunction(() => document.getElementById("safety").textContent.includes("keel-default"));
  // Entered once: a reload in the same tab does not ask again.
  await page.reload();
  await page.locator("#app").waitFor({ state: "visible" });
  assert.ok(await page.locator("#login").isHidden(), "no second token prompt after a reload");

  // 2. A fresh person, and their profile panel before any feedback.
  await page.fill("#user", person);
  await page.dispatchEvent("#user", "change");
  await page.click("#profile-toggle");
  await page.locator(".pref-row").first().waitFor();
  const profileText = () => page.locator("#profile-rows").innerText();
  const before = await profileText();
  const evidence = () => page.$$eval(".pref-row .evidence", (cells) =>
    cells.reduce((n, c) => n + Number(c.textContent), 0));
  assert.equal(await evidence(), 0, "a fresh person has no evidence");

  // 3. Send a message; the answer streams in (server-sent events) and is shown.
  await page.fill("#prompt", "Explain what a compiler does.");
  await page.click("#send");
  const answer = page.locator("li.msg.assistant.done").first();
  await answer.waitFor({ timeout: 120_000 });
  const text = (await answer.locator(".text").innerText()).trim();
  assert.ok(text.length > 0, "an answer is shown");
  assert.ok(streamed.some((ct) => ct.includes("text/event-stream")), `streamed: ${streamed}`);
  assert.ok(await answer.getAttribute("data-turn-id"), "the answer has a turn id");

  // 4. "Why this answer?" shows the safety verdict and bundle.
  await answer.locator("button.why-toggle").click();
  assert.match(await answer.locator(".why").innerText(), /Safety: allow/);

  // 5. Thumbs down: the profile panel changes.
  await answer.locator("button.thumbs-down").click();
  await page.waitForFunction(
    (prev) => document.getElementById("profile-rows").innerText !== prev, before, { timeout: 30_000 });
  assert.ok(await evidence() > 0, "the thumbs down is evidence in the profile");
  assert.match(await profileText(), /learned/);
  await page.locator("#status").filter({ hasText: "profile was updated" }).waitFor();

  await page.screenshot({ path: path.join(artifacts, "chat-page.png"), fullPage: true });

  // 6. "Try again": a second answer streams in beside the first; choosing one records the
  // choice (pairwise feedback) and keeps the chosen answer.
  const evidenceBefore = await evidence();
  await answer.locator("button.retry").click();
  const pair = page.locator("li.pair");
  await pair.waitFor();
  await page.waitForFunction(() => document.querySelectorAll("li.pair li.msg.assistant.done").length === 2,
    null, { timeout: 120_000 });
  await pair.locator("li.msg.assistant").nth(1).locator("button.choose").click();
  await page.locator("#status").filter({ hasText: "Noted which answer you prefer" }).waitFor({ timeout: 30_000 });
  assert.equal(await page.locator("li.pair").count(), 0, "the chosen answer replaces the pair");
  assert.ok(await evidence() > evidenceBefore, "the choice is evidence in the profile");
  assert.deepEqual(foreign, [], "the page makes no request to other origins");
  assert.deepEqual(consoleErrors, [], "no console errors");
  console.log(`page test: ok (answer ${text.length} chars; screenshot ${path.join(artifacts, "chat-page.png")})`);
} catch (e) {
  failed = true;
  console.error("page test: FAILED:", e);
  await page.screenshot({ path: path.join(artifacts, "chat-page-failure.png"), fullPage: true }).catch(() => {});
} finally {
  await browser.close();
}
process.exit(failed ? 1 : 0);
