// Browser test of nina-session-card against a running demo (tests/e2e/test_card.py runs it).
//
//   node tests/e2e/card.mjs <demo-info.json> <output-dir>
//
// Logs in through Home Assistant's login page with headless Debian Chromium, creates a
// dashboard with the card over HA's WebSocket API (lovelace/dashboards/create and
// lovelace/config/save, sent through the logged-in frontend's connection), opens it, checks
// that the card shows real data (state, target, a filter bar, quality, timeline), opens the
// card's editor, and saves screenshots. Then: the card at 270 and 390 px in the dark and
// light themes with nothing overflowing and goal rows on one line, idle and darks in the dark
// theme (badge and idle segment contrast, the quality hint, the subheader in words), the
// editor's goals typed as text, and a NINA outage shown as one (badge, subheader, footer,
// timeline). The equipment row: shown with the simulator's devices (and measured in the
// narrow layouts), absent with none; its Park button asks first and parks the simulated mount
// on the second click. Prints one JSON line with what it saw; exit 0 = pass.
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

/** Mount a card in a fixed-width box on the page (the card picker's and a phone's widths). */
async function mountCard(id, width, config, session = null, { noEquipment = false } = {}) {
  await page.evaluate(
    async ({ id, width, config, session, noEquipment }) => {
      const box = document.createElement("div");
      box.id = id;
      box.style.cssText = `position:fixed;left:8px;top:8px;z-index:9999;width:${width}px;` +
        "background:var(--primary-background-color);padding:8px;";
      const host = document.querySelector("home-assistant");
      // HA sets the theme's variables on <html>: the box gets them as the dashboard does.
      document.body.appendChild(box);
      const card = document.createElement("nina-session-card");
      card.setConfig({ type: "custom:nina-session-card", ...config });
      let hass = host.hass;
      if (noEquipment) {
        // A rig with no equipment connected: none of the equipment devices' entities.
        const equipment = (e) => Boolean(hass.devices[e.device_id]?.via_device_id);
        hass = {
          ...hass,
          entities: Object.fromEntries(Object.entries(hass.entities).filter(([, e]) => !equipment(e))),
        };
      }
      card.hass = hass;
      box.appendChild(card);
      if (session) {
        // As the subscription would send it (no real night reaches every state quickly).
        await new Promise((resolve) => setTimeout(resolve, 300));
        card._unsubscribe();
        card._source = "live";
        card._onMessage({ type: "session", connected: true, session });
      }
    },
    { id, width, config, session, noEquipment },
  );
}

async function unmount(id) {
  await page.evaluate((id) => document.getElementById(id)?.remove(), id);
}

/** Overflow, one-line goal rows, the badge's text contrast and the idle segment's contrast. */
async function measure(id) {
  return page.evaluate((id) => {
    const box = document.getElementById(id);
    const root = box.querySelector("nina-session-card").shadowRoot;
    const card = root.querySelector("ha-card");
    const rgb = (text) => (text.match(/[\d.]+/g) ?? []).slice(0, 4).map(Number);
    const luminance = ([r, g, b]) => {
      const lin = (c) => ((c /= 255) <= 0.03928 ? c / 12.92 : ((c + 0.055) / 1.055) ** 2.4);
      return 0.2126 * lin(r) + 0.7152 * lin(g) + 0.0722 * lin(b);
    };
    const contrast = (a, b) => {
      const [x, y] = [luminance(a), luminance(b)].sort((p, q) => q - p);
      return Math.round(((x + 0.05) / (y + 0.05)) * 100) / 100;
    };
    // The colour behind an element: the first opaque background up the tree.
    const behind = (el) => {
      for (let node = el; node; node = node.parentElement ?? node.getRootNode()?.host) {
        const c = rgb(getComputedStyle(node).backgroundColor);
        if (c.length >= 3 && (c.length === 3 || c[3] > 0.5)) return c;
      }
      return [255, 255, 255];
    };
    const cardRect = card.getBoundingClientRect();
    const overflow = [];
    for (const el of root.querySelectorAll("*")) {
      const r = el.getBoundingClientRect();
      if (!r.width) continue;
      const label = `${el.tagName.toLowerCase()}.${[...el.classList].join(".")}`;
      if (el.scrollWidth > el.clientWidth + 1 && el.clientWidth > 0) overflow.push(`${label} scroll ${el.scrollWidth}>${el.clientWidth}`);
      if (r.right > cardRect.right + 0.5 || r.left < cardRect.left - 0.5) overflow.push(`${label} outside`);
    }
    const wrappedRows = [...root.querySelectorAll(".filter-time, .filter-name")]
      .filter((el) => el.getBoundingClientRect().height > parseFloat(getComputedStyle(el).lineHeight || "20") * 1.5 + 2)
      .map((el) => el.textContent.trim());
    const badge = root.querySelector(".badge.state");
    const idle = root.querySelector('.segment[data-state="idle"]');
    const badgeBg = (() => {
      // The badge's tint over the card: blend its translucent background onto the card's.
      const base = behind(card);
      const c = rgb(getComputedStyle(badge).backgroundColor);
      const a = c.length === 4 ? c[3] : 1;
      return base.map((v, i) => v * (1 - a) + (c[i] ?? v) * a);
    })();
    return {
      width: cardRect.width,
      overflow,
      wrappedRows,
      badgeContrast: contrast(rgb(getComputedStyle(root.querySelector(".state-text")).color), badgeBg),
      idleSegmentContrast: idle
        ? contrast(rgb(getComputedStyle(idle).backgroundColor), behind(root.querySelector(".timeline")))
        : null,
      qualityHint: Boolean(root.querySelector(".quality-hint")),
      equipmentRow: Boolean(root.querySelector(".nina-eq-row")),
      parkButton: Boolean(root.querySelector(".nina-eq-park")),
      subheader: root.querySelector(".subheader")?.textContent.trim() ?? "",
    };
  }, id);
}

/** A session in `state` with a night's timeline behind it (idle → imaging → … → state). */
function syntheticSession(state) {
  const now = Date.now();
  const at = (minutesAgo) => new Date(now - minutesAgo * 60000).toISOString();
  const history = [
    { state: "idle", since: at(400), cause: "SAFETY-CHANGED" },
    { state: "imaging", since: at(380), cause: "SEQUENCE-STARTING" },
    { state: "paused", since: at(200), cause: "MOUNT-BEFORE-FLIP" },
    { state: "imaging", since: at(195), cause: "MOUNT-AFTER-FLIP" },
    { state: "idle", since: at(60), cause: "SEQUENCE-FINISHED" },
  ];
  if (state === "darks") history.push({ state: "darks", since: at(20), cause: "IMAGE-SAVE" });
  return {
    id: "synthetic",
    start: at(400),
    end: null,
    state,
    current: { target: "NGC 7000", filter: "Ha", image_type: state === "darks" ? "DARK" : "LIGHT", exposure: 300, last_image_at: at(1) },
    targets: ["NGC 7000"],
    frames: {
      total: 1961,
      by_type: { LIGHT: 1200, DARK: 761 },
      by_filter: { Ha: { count: 700, seconds: 21000 }, OIII: { count: 500, seconds: 15000 } },
    },
    integration_seconds: 36000,
    quality: { hfr_last: 2.1, hfr_mean: 2.3, stars_last: 1450, guiding_rms_last: 0.62, guiding_rms_mean: 0.7 },
    counts: { dithers: 1019, autofocus_runs: 3, meridian_flips: 1, pauses: 1, errors: 0 },
    state_history: history,
    state_detail: {},
  };
}

/** The simulated mount's AtPark, from the simulator as NINA's plugin answers it. */
async function simulatorAtPark() {
  const response = await fetch(`${info.simulator}/v2/api/equipment/mount/info`);
  return (await response.json()).Response.AtPark;
}

/** A state from the frontend's hass object. */
async function stateOf(entityId) {
  return page.evaluate((id) => document.querySelector("home-assistant").hass.states[id]?.state ?? null, entityId);
}

/** Wait until `check()` is true (polled), or fail with `what`. */
async function until(what, check, timeout = TIMEOUT) {
  const deadline = Date.now() + timeout;
  while (!(await check())) {
    if (Date.now() > deadline) await fail(`timed out waiting for ${what}`);
    await page.waitForTimeout(250);
  }
}

/** The entity of ours with this translation key (the first one). */
async function entityOf(key) {
  return page.evaluate(
    (key) =>
      Object.values(document.querySelector("home-assistant").hass.entities).find(
        (e) => e.platform === "nina_session" && e.translation_key === key,
      )?.entity_id ?? null,
    key,
  );
}

async function demoDashboard() {
  const report = await entityOf("night_report");
  const progress = await entityOf("target_goal_progress");
  if (!report || !progress) await fail(`no report or goal entity: ${report} ${progress}`);
  await until("the night report picture", async () => !["unavailable", "unknown", null].includes(await stateOf(report)));
  await until("the goal progress", async () => Number.isFinite(Number.parseFloat(await stateOf(progress))));
  await page.goto(`${info.url}/lovelace/0`, { waitUntil: "domcontentloaded" });
  const picture = page.locator("hui-picture-entity-card img");
  await picture.waitFor({ timeout: TIMEOUT });
  await until("the report picture to load", () =>
    picture.evaluate((img) => img.complete && img.naturalWidth > 0),
  );
  await page.screenshot({ path: join(outDir, "demo-dashboard.png"), fullPage: true });
  const result = {
    report: await stateOf(report),
    reportNight: await page.evaluate((id) => document.querySelector("home-assistant").hass.states[id].attributes.night, report),
    progress: Number.parseFloat(await stateOf(progress)),
  };
  await page.goBack({ waitUntil: "domcontentloaded" });
  await page.waitForFunction(() => {
    const hass = document.querySelector("home-assistant")?.hass;
    return Boolean(hass && hass.connected && hass.user);
  });
  return result;
}

async function unparkTheMount(card) {
  await card.locator(".nina-eq-row").waitFor({ timeout: TIMEOUT });
  const unpark = await fetch(`${info.simulator}/v2/api/equipment/mount/unpark`);
  if (!(await unpark.json()).Success) await fail("the simulator refused to unpark the mount");
  await card.locator(".nina-eq-park").waitFor({ timeout: TIMEOUT });
}

/**
 * Park from the card. The night parks and unparks the mount itself (clouds, dawn): an attempt
 * whose button the night took away is tried again. The button entity's state (when it was
 * last pressed) tells a press from the card apart from the night's own park.
 */
async function parkFromTheCard(card) {
  const row = card.locator(".nina-eq-row");
  const parkedEntity = await entityOf("parked");
  if (!parkedEntity) await fail("no mount parked binary sensor");
  const park = card.locator(".nina-eq-park");
  let chips, button, pressedBefore, asked, afterOneClick;
  for (let attempt = 1; ; attempt++) {
    await unparkTheMount(card);
    chips = await row.locator(".nina-eq-chip").evaluateAll((els) => els.map((el) => el.textContent.trim()));
    if (attempt === 1) await card.screenshot({ path: join(outDir, "card-equipment.png") });
    button = await park.getAttribute("data-nina-park");
    pressedBefore = await stateOf(button);
    try {
      await park.click({ timeout: 5000 });
      asked = (await park.textContent({ timeout: 5000 })).trim();
      await page.waitForTimeout(1000); // nothing may happen on the first click alone
      afterOneClick = { pressed: await stateOf(button) };
      await card.screenshot({ path: join(outDir, "card-park-confirm.png") });
      if (asked !== "Confirm park?" || afterOneClick.pressed !== pressedBefore) {
        await fail(`the first click did more than ask: ${JSON.stringify({ asked, afterOneClick })}`);
      }
      await park.click({ timeout: 5000 });
      // A second click in the instant the night parks the mount itself lands on a button
      // that is going away: no press. Wait for the press here, and try again if it missed.
      const deadline = Date.now() + 15000;
      while ((await stateOf(button)) === pressedBefore) {
        if (Date.now() > deadline) throw new Error("the press did not reach the button entity");
        await page.waitForTimeout(250);
      }
      break;
    } catch (err) {
      if (attempt >= 3) await fail(`could not park from the card: ${err}`);
    }
  }
  await until("the mount parked sensor", async () => (await stateOf(parkedEntity)) === "on");
  // What the user sees: the card redraws on the next frame after the state change.
  await until("the card to show the mount parked", async () =>
    /parked/.test(await card.locator(".nina-eq-mount").textContent()),
  );
  const parked = {
    atPark: await simulatorAtPark(),
    pressed: await stateOf(button),
    mountChip: (await card.locator(".nina-eq-mount").textContent()).trim(),
    parkButtons: await card.locator(".nina-eq-park").count(),
  };
  await card.screenshot({ path: join(outDir, "card-parked.png") });
  if (!parked.atPark || !/parked/.test(parked.mountChip)) {
    await fail(`the park did not reach the mount: ${JSON.stringify(parked)}`);
  }
  return { chips, asked, afterOneClick, parked, parkedEntity };
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

  // The night parks and points the mount itself; unpark it as NINA's own UI would, so the
  // row's Park button is there (and measured below) whatever the night is doing.
  await unparkTheMount(card);

  // 6. Narrow cards (the card picker's ~270 px preview, a phone's 390 px), dark and light:
  //    nothing may stick out of the card or be cut (scrollWidth over clientWidth).
  const goalFilters = seen.filters.slice(0, 2).map((f) => f.name);
  const layouts = [];
  for (const scheme of ["dark", "light"]) {
    await page.emulateMedia({ colorScheme: scheme });
    for (const width of [270, 390]) {
      const name = `card-${width}-${scheme}`;
      await unparkTheMount(card); // the night may have parked it meanwhile (clouds, dawn)
      await mountCard(name, width, {
        entry_id: info.entry_id,
        title: "Observatory",
        goals: Object.fromEntries(goalFilters.map((f, i) => [f, i + 1])),
      });
      const probe = page.locator(`#${name} nina-session-card`);
      await probe.locator(".filter-row").first().waitFor();
      await page.waitForTimeout(700); // the bars' width transition
      const measured = await measure(name);
      layouts.push({ name, ...measured });
      await page.locator(`#${name}`).screenshot({ path: join(outDir, `${name}.png`) });
      await unmount(name);
      if (measured.overflow.length) await fail(`${name}: overflow ${JSON.stringify(measured)}`);
      if (!measured.equipmentRow || !measured.parkButton) await fail(`${name}: no equipment row to measure`);
      if (measured.wrappedRows.length) await fail(`${name}: goal rows wrap ${JSON.stringify(measured)}`);
      if (measured.badgeContrast < 4.5) await fail(`${name}: badge contrast ${measured.badgeContrast}`);
    }
  }

  // 6a. Parking the mount from the equipment row: the first click only asks, the second
  //     presses the park button entity; the simulated mount parks.
  await page.emulateMedia({ colorScheme: "dark" });
  const equipment = await parkFromTheCard(card);

  // 6c. The demo's own dashboard: the last night's report picture (earlier nights came with the
  //     backfill) and the current target's goal progress (goals set by the demo).
  const insight = await demoDashboard();

  // 6b. With no equipment connected the card has no row and still fits.
  await page.emulateMedia({ colorScheme: "dark" });
  await mountCard("card-noequipment", 270, { entry_id: info.entry_id, title: "Observatory" }, null, {
    noEquipment: true,
  });
  await page.locator("#card-noequipment nina-session-card .filter-row").first().waitFor();
  const noEquipment = { name: "card-noequipment", ...(await measure("card-noequipment")) };
  await page.locator("#card-noequipment").screenshot({ path: join(outDir, "card-noequipment.png") });
  await unmount("card-noequipment");
  if (noEquipment.equipmentRow || noEquipment.overflow.length) {
    await fail(`the card without equipment: ${JSON.stringify(noEquipment)}`);
  }

  // 7. Idle, darks and the idle timeline segment in the dark theme: states a short demo night
  //    does not reach, fed to a card as the subscription would send them.
  await page.emulateMedia({ colorScheme: "dark" });
  const states = [];
  for (const state of ["idle", "darks"]) {
    const name = `card-${state}-dark`;
    await mountCard(name, 390, { entry_id: "no-such-entry", title: "Synthetic" }, syntheticSession(state));
    await page.locator(`#${name} nina-session-card .segment`).first().waitFor();
    const measured = await measure(name);
    states.push({ name, ...measured });
    await page.locator(`#${name}`).screenshot({ path: join(outDir, `${name}.png`) });
    await unmount(name);
    if (measured.badgeContrast < 4.5) await fail(`${name}: badge contrast ${measured.badgeContrast}`);
    if (measured.idleSegmentContrast !== null && measured.idleSegmentContrast < 1.8) {
      await fail(`${name}: idle segment invisible ${JSON.stringify(measured)}`);
    }
    if (state === "darks" && !measured.qualityHint) await fail(`${name}: no hint on the quality tiles`);
    if (!/first dark frame|sequence finished/.test(measured.subheader)) {
      await fail(`${name}: subheader not in words: ${measured.subheader}`);
    }
  }

  // 8. The editor's goals: typed as text, parsed on every keystroke, never an error.
  const goalsEditor = await page.evaluate(async () => {
    const el = await customElements.get("nina-session-card").getConfigElement();
    el.setConfig({ type: "custom:nina-session-card", goals: { Ha: 3 } });
    el.hass = document.querySelector("home-assistant").hass;
    document.body.appendChild(el);
    const started = Date.now();
    let form = null;
    while (Date.now() - started < 10000 && !form) {
      form = el.shadowRoot.querySelector("ha-form");
      if (!form) await new Promise((resolve) => setTimeout(resolve, 200));
    }
    if (!form) return { form: null };
    const shown = form.data.goals_text;
    const configs = [];
    el.addEventListener("config-changed", (ev) => configs.push(ev.detail.config));
    for (const text of ["Ha: 3, O", "Ha: 3, OIII:", "Ha: 3, OIII: 2.5"]) {
      form.dispatchEvent(new CustomEvent("value-changed", { detail: { value: { ...form.data, goals_text: text } } }));
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    const kept = form.data.goals_text;
    el.remove();
    return { form: "ha-form", shown, kept, goals: configs.map((c) => c.goals ?? null) };
  });
  if (goalsEditor.form && JSON.stringify(goalsEditor.goals.at(-1)) !== '{"Ha":3,"OIII":2.5}') {
    await fail(`the goals editor: ${JSON.stringify(goalsEditor)}`);
  }

  // 9. A disconnect shown as such: NINA goes away for a while (the simulator's restart).
  const restart = await fetch(`${info.simulator}/sim/restart?downtime=60`, { method: "POST" });
  if (!restart.ok) await fail(`the simulator refused the restart: ${restart.status}`);
  await card.locator('.badge.state[data-state="disconnected"]').waitFor({ timeout: TIMEOUT });
  await page.waitForTimeout(1500);
  const disconnected = {
    subheader: (await card.locator(".subheader").textContent()).trim(),
    source: (await card.locator(".source").textContent()).trim(),
    sourceClass: await card.locator(".source").getAttribute("class"),
    outage: await card.locator(".timeline .segment.outage").count(),
  };
  await card.screenshot({ path: join(outDir, "card-disconnected.png") });
  if (!/unreachable since \d/.test(disconnected.subheader) || disconnected.source === "live" || !disconnected.outage) {
    await fail(`the disconnect is not shown as such: ${JSON.stringify(disconnected)}`);
  }

  const cardErrors = consoleErrors.filter((text) => /nina/i.test(text));
  if (cardErrors.length) await fail(`console errors from the card: ${cardErrors.join(" | ")}`);
  console.log(
    JSON.stringify({
      ok: true, seen, fallback: fallbackSeen, editor, equipment, insight, layouts, noEquipment, states,
      goalsEditor, disconnected, consoleErrors,
    }),
  );
  await browser.close();
} catch (err) {
  await fail(String(err?.stack || err));
}
