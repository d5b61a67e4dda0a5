// Browser test of nina-session-card against a running demo (tests/e2e/test_card.py runs it).
//
//   node tests/e2e/card.mjs <demo-info.json> <output-dir>
//
// Logs in through Home Assistant's login page with headless Debian Chromium, creates a
// dashboard with the card over HA's WebSocket API (lovelace/dashboards/create and
// lovelace/config/save, sent through the logged-in frontend's connection), opens it, checks
// that the card shows real data (state, target, a filter bar, quality, timeline), opens the
// card's editor, and saves screenshots. Prints one JSON line with what it saw; exit 0 = pass.
//
// Environment: CHROMIUM (default /usr/bin/chromium), E2E_TIMEOUT_MS (default 90000),
// E2E_MIN_FILTERS (best effort: wait up to E2E_SETTLE_MS for this many filter bars, for a
// richer screenshot; default 3 and 45000), E2E_COLOR_SCHEME (dark or light; default dark),
// E2E_WIDTH (the window's width in CSS pixels, default 1100; 390 is a phone).

import { readFileSync, mkdirSync } from "node:fs";
import { join } from "node:path";
import { createRequire } from "node:module";

const require = createRequire(import.meta.url);
// playwright-core lives in build/e2e/node_modules (NODE_PATH points there).
const { chromium } = require("playwright-core");

const [infoPath, outDir] = process.argv.slice(2);
if (!infoPath || !outDir) {
  console.error("usage: node card.mjs <demo-info.json> <output-dir>");
  process.exit(2);
}
const info = JSON.parse(readFileSync(infoPath, "utf8"));
mkdirSync(outDir, { recursive: true });
const TIMEOUT = Number(process.env.E2E_TIMEOUT_MS || 90000);
const MIN_FILTERS = Number(process.env.E2E_MIN_FILTERS || 3);
const SETTLE = Number(process.env.E2E_SETTLE_MS || 45000);
const DASHBOARD = "nina-e2e";

const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM || "/usr/bin/chromium",
  headless: true,
  args: [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-dev-shm-usage",
  ],
});
// launch() already uses a fresh temporary profile (--user-data-dir) per run.
const context = await browser.newContext({
  viewport: { width: Number(process.env.E2E_WIDTH || 1100), height: 1000 },
  deviceScaleFactor: 2,
  colorScheme: process.env.E2E_COLOR_SCHEME || "dark",
});
const page = await context.newPage();
page.setDefaultTimeout(TIMEOUT);
const consoleErrors = [];
page.on("console", (msg) => {
  if (msg.type() === "error") consoleErrors.push(msg.text());
});
page.on("pageerror", (err) => consoleErrors.push(String(err)));

async function fail(message) {
  try {
    await page.screenshot({ path: join(outDir, "failure.png"), fullPage: true });
  } catch (_err) {
    // nothing more to save
  }
  console.log(JSON.stringify({ ok: false, error: message, consoleErrors }));
  await browser.close();
  process.exit(1);
}

try {
  // 1. Log in through the real login page.
  await page.goto(info.url + "/", { waitUntil: "domcontentloaded" });
  await page.waitForURL(/\/auth\/authorize/);
  const username = page.locator('input[name="username"], input[autocomplete="username"]').first();
  const password = page.locator('input[type="password"]').first();
  await username.fill(info.username);
  await password.fill(info.password);
  await password.press("Enter");
  await page.waitForURL((url) => !url.pathname.startsWith("/auth/"));
  await page.waitForFunction(() => {
    const hass = document.querySelector("home-assistant")?.hass;
    return Boolean(hass && hass.connected && hass.user);
  });

  // 2. A dashboard with the card, over HA's WebSocket API.
  const saved = await page.evaluate(
    async ({ dashboard, entryId }) => {
      const hass = document.querySelector("home-assistant").hass;
      const dashboards = await hass.callWS({ type: "lovelace/dashboards/list" });
      if (!dashboards.some((d) => d.url_path === dashboard)) {
        await hass.callWS({
          type: "lovelace/dashboards/create",
          url_path: dashboard,
          title: "NINA e2e",
          icon: "mdi:telescope",
          show_in_sidebar: true,
          require_admin: false,
          mode: "storage",
        });
      }
      const stateEntity = Object.values(hass.entities).find(
        (e) => e.platform === "nina_session" && e.translation_key === "session_state",
      )?.entity_id;
      const config = {
        title: "NINA e2e",
        views: [
          {
            title: "Tonight",
            path: "tonight",
            cards: [
              { type: "custom:nina-session-card", entry_id: entryId, title: "Observatory" },
              // The subscription is refused for an unknown entry: the card falls back to
              // the entity states of the sensor's device.
              {
                type: "custom:nina-session-card",
                entry_id: "no-such-entry",
                entity: stateEntity,
                title: "Fallback",
                show_timeline: false,
              },
            ],
          },
        ],
      };
      await hass.callWS({ type: "lovelace/config/save", url_path: dashboard, config });
      const back = await hass.callWS({ type: "lovelace/config", url_path: dashboard });
      return back.views[0].cards[0];
    },
    { dashboard: DASHBOARD, entryId: info.entry_id },
  );
  if (saved.type !== "custom:nina-session-card") await fail(`dashboard not saved: ${JSON.stringify(saved)}`);

  // 3. The card, with real data from the live subscription.
  await page.goto(`${info.url}/${DASHBOARD}/tonight`, { waitUntil: "domcontentloaded" });
  const byTitle = (title) =>
    page.locator("nina-session-card", { has: page.locator(".name", { hasText: title }) });
  const card = byTitle("Observatory");
  await card.waitFor({ state: "attached" });
  const stateText = card.locator(".state-text");
  await stateText.waitFor();
  // Playwright's locators pierce shadow roots: the card's own elements are reachable.
  await card.locator(".filter-row").first().waitFor({ timeout: TIMEOUT });
  const targetUntil = Date.now() + TIMEOUT;
  while ((await card.locator(".target").textContent()).trim() === "–") {
    if (Date.now() > targetUntil) await fail("the card never showed a target");
    await page.waitForTimeout(500);
  }
  // Best effort: a few filters into the night, for a screenshot that shows the card's range.
  const settleUntil = Date.now() + SETTLE;
  while (Date.now() < settleUntil && (await card.locator(".filter-row").count()) < MIN_FILTERS) {
    await page.waitForTimeout(1000);
  }

  const seen = {
    state: (await stateText.textContent()).trim(),
    stateAttr: await card.locator(".badge.state").getAttribute("data-state"),
    target: (await card.locator(".target").textContent()).trim(),
    filter: (await card.locator(".value.filter").textContent()).trim(),
    integration: (await card.locator(".integration").textContent()).trim(),
    filters: await card.locator(".filter-row").evaluateAll((rows) =>
      rows.map((row) => ({
        name: row.dataset.filter,
        width: row.querySelector(".filter-fill").style.width,
        time: row.querySelector(".filter-time").textContent.trim(),
      })),
    ),
    hfr: (await card.locator(".tile.hfr .big").textContent()).trim(),
    timelineSegments: await card.locator(".timeline .segment").count(),
    source: (await card.locator(".source").textContent()).trim(),
  };
  if (!seen.state || seen.state === "–") await fail(`no state text: ${JSON.stringify(seen)}`);
  if (!seen.target || seen.target === "–") await fail(`no target: ${JSON.stringify(seen)}`);
  if (!seen.filters.length) await fail(`no filter bar: ${JSON.stringify(seen)}`);
  if (seen.source !== "live") await fail(`card not on the live subscription: ${JSON.stringify(seen)}`);

  await card.screenshot({ path: join(outDir, "card.png") });
  await page.screenshot({ path: join(outDir, "dashboard.png") });

  // 4. The editor: getConfigElement() gives a form for the instance choice.
  const editor = await page.evaluate(async (entryId) => {
    const hass = document.querySelector("home-assistant").hass;
    const el = await customElements.get("nina-session-card").getConfigElement();
    el.setConfig({ type: "custom:nina-session-card", entry_id: entryId });
    el.hass = hass;
    document.body.appendChild(el);
    const started = Date.now();
    let form = null;
    while (Date.now() - started < 10000) {
      form = el.shadowRoot.querySelector("ha-form, select");
      if (form) break;
      await new Promise((resolve) => setTimeout(resolve, 200));
    }
    const changed = new Promise((resolve) => {
      el.addEventListener("config-changed", (ev) => resolve(ev.detail.config), { once: true });
      setTimeout(() => resolve(null), 3000);
    });
    if (form?.tagName === "HA-FORM") {
      form.dispatchEvent(
        new CustomEvent("value-changed", {
          detail: { value: { ...form.data, title: "Roof" } },
        }),
      );
    }
    const config = await changed;
    el.remove();
    return { form: form?.tagName?.toLowerCase() ?? null, config };
  }, info.entry_id);
  if (!editor.form) await fail(`the card editor rendered no form: ${JSON.stringify(editor)}`);
  if (editor.form === "ha-form" && editor.config?.title !== "Roof") {
    await fail(`the editor did not report the change: ${JSON.stringify(editor)}`);
  }

  // 5. The fallback card: the entity states of the same device.
  const fallback = byTitle("Fallback");
  await fallback.locator(".source.entities").waitFor();
  const fallbackSeen = {
    state: (await fallback.locator(".state-text").textContent()).trim(),
    target: (await fallback.locator(".target").textContent()).trim(),
    filters: await fallback.locator(".filter-row").count(),
    timeline: await fallback.locator(".timeline").count(),
  };
  if (!fallbackSeen.state || fallbackSeen.target === "–" || !fallbackSeen.filters) {
    await fail(`the entity fallback shows no data: ${JSON.stringify(fallbackSeen)}`);
  }
  if (fallbackSeen.timeline) await fail("show_timeline: false still drew the timeline");
  await fallback.screenshot({ path: join(outDir, "card-fallback.png") });

  const cardErrors = consoleErrors.filter((text) => /nina/i.test(text));
  if (cardErrors.length) await fail(`console errors from the card: ${cardErrors.join(" | ")}`);
  console.log(JSON.stringify({ ok: true, seen, fallback: fallbackSeen, editor, consoleErrors }));
  await browser.close();
} catch (err) {
  await fail(String(err?.stack || err));
}
