// The session card's quality row: per-filter HFR over the night (a line per filter block, a
// dot per frame when filters are cycled frame by frame, so a filter's own trend shows: HFR
// rising through the night means refocus), the last autofocus
// curve with its best point, and "N frames flagged" that opens to the list. The data is the
// WebSocket command `nina_session/quality` (engine/quality.py). The card imports it:
//
//   import { QualityFeed, qualitySparkHtml, bindQualitySpark, QUALITY_SPARK_STYLE }
//     from "./nina-quality-spark.js";
//   const feed = new QualityFeed(() => render());            // once
//   bindQualitySpark(shadowRoot);                              // once
//   feed.want(hass, entryId, sessionId, frameKey);             // on render: fetches, throttled
//   html += qualitySparkHtml(feed.current(sessionId), {root, color, time});   // "" without data
//
// The SVGs scale with the card (a viewBox, width 100%), so one drawing fits a 270 px and a
// 390 px card; colours are theme variables in classes (SVG presentation attributes ignore
// var()), except each filter's own colour.

const SPARK_W = 300;
const SPARK_H = 56;
const AF_W = 300;
const AF_H = 48;
const PAD = 4;
const THROTTLE_MS = 30000;
// No frame for this long (a pause, a wait) breaks a line, as in the night report's picture.
const GAP_MS = 20 * 60 * 1000;
const DOT_R = 2;
// A filter's last HFR this far above its night median gets an arrow: time to refocus.
const RISING_RATIO = 1.15;
const FLAG_WORDS = { hfr_high: "HFR high", stars_low: "few stars", rms_high: "RMS high" };

function esc(value) {
  return String(value ?? "").replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

function num(value) {
  if (value === null || value === undefined || value === "" || typeof value === "boolean") {
    return null;
  }
  const n = Number(value);
  return Number.isFinite(n) ? n : null;
}

const fixed = (value, digits) => (num(value) === null ? null : num(value).toFixed(digits));
const coord = (value) => value.toFixed(1);

/** Runs of consecutive measured frames of one filter, in time order (see hfrSparklineSvg). */
function filterBlocks(rows) {
  const blocks = [];
  let block = null;
  for (const p of rows) {
    const name = String(p.row.filter ?? "");
    if (p.hfr === null) {
      block = null;
      continue;
    }
    if (!block || block.name !== name || p.t - block.last > GAP_MS) {
      block = { name, points: [] };
      blocks.push(block);
    }
    block.points.push(p);
    block.last = p.t;
  }
  return blocks;
}

/** Map [lo, hi] onto [from, to]; a zero-width range lands in the middle. */
function scaler(lo, hi, from, to) {
  if (!(hi > lo)) return () => (from + to) / 2;
  return (value) => from + ((value - lo) / (hi - lo)) * (to - from);
}

/**
 * Per-filter HFR lines as an SVG string; "" when no frame has both a time and an HFR.
 * x is the frame's time over the night, y the HFR (higher is worse, so it goes up). A line
 * joins the frames of one filter block: another filter's frame between two (LRGB cycled per
 * frame, or the next filter of a sequence), a frame without HFR, or no frame for `GAP_MS` (a
 * pause) breaks it, so no line crosses frames of other filters or bridges a gap. A lone
 * point is a dot, so frames cycled through the filters read as one dot cloud per colour.
 * `flagged`: frame indexes to ring. `color(filter)` gives each filter's stroke.
 */
export function hfrSparklineSvg(frames, { flagged = [], color = () => "currentColor" } = {}) {
  const rows = (frames ?? [])
    .map((row) => ({ row, t: Date.parse(row?.time ?? ""), hfr: num(row?.hfr) }))
    .filter((p) => !Number.isNaN(p.t))
    .sort((a, b) => a.t - b.t);
  const measured = rows.filter((p) => p.hfr !== null);
  if (!measured.length) return "";
  const ts = measured.map((p) => p.t);
  const hfrs = measured.map((p) => p.hfr);
  const x = scaler(Math.min(...ts), Math.max(...ts), PAD, SPARK_W - PAD);
  const y = scaler(Math.min(...hfrs), Math.max(...hfrs), SPARK_H - PAD, PAD);
  const shapes = [];
  for (const { name, points } of filterBlocks(rows)) {
    if (points.length === 1) {
      const [p] = points;
      shapes.push(
        `<circle class="nina-q-dot" data-filter="${esc(name)}" cx="${coord(x(p.t))}" cy="${coord(y(p.hfr))}" r="${DOT_R}" style="fill:${esc(color(name))}"/>`,
      );
    } else {
      const line = points.map((p) => `${coord(x(p.t))},${coord(y(p.hfr))}`).join(" ");
      shapes.push(
        `<polyline class="nina-q-line" data-filter="${esc(name)}" points="${line}" style="stroke:${esc(color(name))}"/>`,
      );
    }
  }
  const ringed = new Set(flagged);
  for (const p of measured) {
    if (ringed.has(p.row.index)) {
      shapes.push(
        `<circle class="nina-q-flag" data-index="${esc(p.row.index)}" cx="${coord(x(p.t))}" cy="${coord(y(p.hfr))}" r="3"/>`,
      );
    }
  }
  const lo = Math.min(...hfrs).toFixed(2);
  const hi = Math.max(...hfrs).toFixed(2);
  return `<svg class="nina-q-spark" viewBox="0 0 ${SPARK_W} ${SPARK_H}" role="img" aria-label="HFR over the night, ${lo} to ${hi}">${shapes.join("")}</svg>`;
}

/** The last autofocus run as an SVG string (HFR against focuser position, best point
 *  marked); "" without points. */
export function autofocusSvg(autofocus) {
  const points = (autofocus?.points ?? [])
    .map((p) => ({ position: num(p?.position), hfr: num(p?.hfr) }))
    .filter((p) => p.position !== null && p.hfr !== null)
    .sort((a, b) => a.position - b.position);
  if (!points.length) return "";
  const positions = points.map((p) => p.position);
  const hfrs = points.map((p) => p.hfr);
  const x = scaler(Math.min(...positions), Math.max(...positions), PAD, AF_W - PAD);
  const y = scaler(Math.min(...hfrs), Math.max(...hfrs), AF_H - PAD, PAD);
  const at = (p) => `cx="${coord(x(p.position))}" cy="${coord(y(p.hfr))}"`;
  const shapes = [];
  if (points.length > 1) {
    const line = points.map((p) => `${coord(x(p.position))},${coord(y(p.hfr))}`).join(" ");
    shapes.push(`<polyline class="nina-q-af-line" points="${line}"/>`);
  }
  for (const p of points) shapes.push(`<circle class="nina-q-af-point" ${at(p)} r="2"/>`);
  const best = autofocus?.best;
  if (num(best?.position) !== null && num(best?.hfr) !== null) {
    shapes.push(
      `<circle class="nina-q-af-best" ${at({ position: num(best.position), hfr: num(best.hfr) })} r="4"/>`,
    );
  }
  return `<svg class="nina-q-af" viewBox="0 0 ${AF_W} ${AF_H}" role="img" aria-label="Autofocus curve, ${points.length} points">${shapes.join("")}</svg>`;
}

/** Each filter's dot, name, last HFR and an arrow when it is well above the night median. */
function legendHtml(frames, medians, color) {
  const last = new Map();
  for (const row of frames) {
    if (num(row?.hfr) !== null) last.set(String(row.filter ?? ""), num(row.hfr));
  }
  return [...last]
    .map(([name, hfr]) => {
      const median = num(medians?.[name]?.hfr);
      const rising = median !== null && hfr > median * RISING_RATIO;
      const title = median === null ? "" : ` title="median ${esc(median.toFixed(2))}"`;
      return `<span class="nina-q-key${rising ? " rising" : ""}" data-filter="${esc(name)}"${title}><span class="nina-q-swatch" style="background:${esc(color(name))}"></span>${esc(name)} ${esc(hfr.toFixed(2))}${rising ? " ↑" : ""}</span>`;
    })
    .join("");
}

/** "3 frames flagged" that opens to one line per frame; "" when none is flagged. */
export function flaggedHtml(quality, { open = false, time = (iso) => iso ?? "" } = {}) {
  const wanted = new Set(quality?.rejected?.frames ?? []);
  const rows = (quality?.frames ?? []).filter((row) => wanted.has(row.index));
  if (!rows.length) return "";
  const items = rows
    .map((row) => {
      const bits = [
        `#${esc(row.index + 1)}`,
        esc(time(row.time)),
        esc(row.filter),
        fixed(row.hfr, 2) === null ? "" : `HFR ${esc(fixed(row.hfr, 2))}`,
        num(row.stars) === null ? "" : `${esc(Math.round(num(row.stars)))} stars`,
        fixed(row.guiding_rms, 2) === null ? "" : `RMS ${esc(fixed(row.guiding_rms, 2))}″`,
      ].filter(Boolean);
      const why = (row.flags ?? []).map((flag) => esc(FLAG_WORDS[flag] ?? flag)).join(", ");
      return `<li data-index="${esc(row.index)}">${bits.join(" · ")}${why ? ` <span class="nina-q-why">${why}</span>` : ""}</li>`;
    })
    .join("");
  const n = rows.length;
  return `<details class="nina-q-flagged" data-nina-flagged${open ? " open" : ""}><summary>${n} frame${n === 1 ? "" : "s"} flagged</summary><ul>${items}</ul></details>`;
}

/** Per root: whether the flagged list is open (the card redraws its HTML often). */
const OPEN = new WeakMap();

/** Remember the flagged list's open state for `root`, so a redraw keeps it as the user left it. */
export function bindQualitySpark(root) {
  // `toggle` does not bubble; a capturing listener on the root still sees it.
  root.addEventListener(
    "toggle",
    (event) => {
      const details = event.target;
      if (details?.dataset && "ninaFlagged" in details.dataset) OPEN.set(root, Boolean(details.open));
    },
    true,
  );
}

/** The whole row: HFR lines with a legend, the AF curve, the flagged frames; "" without data.
 *  `color(filter)`: the card's filter colours; `time(iso)`: the card's clock format. */
export function qualitySparkHtml(quality, { root = null, color = () => "currentColor", time } = {}) {
  if (!quality) return "";
  const frames = quality.frames ?? [];
  const flagged = quality.rejected?.frames ?? [];
  const spark = hfrSparklineSvg(frames, { flagged, color });
  const af = autofocusSvg(quality.autofocus);
  const list = flaggedHtml(quality, { open: root ? OPEN.get(root) === true : false, time });
  if (!spark && !af && !list) return "";
  const parts = [];
  if (spark) {
    parts.push(
      `<div class="nina-q-head"><span>HFR tonight</span><span class="nina-q-legend">${legendHtml(frames, quality.medians, color)}</span></div>${spark}`,
    );
  }
  if (af) {
    const run = quality.autofocus;
    const best = run.best;
    const bits = [
      run.start && time ? esc(time(run.start)) : "",
      num(best?.position) !== null
        ? `best ${esc(Math.round(num(best.position)))} · HFR ${esc(fixed(best.hfr, 2))}`
        : "",
      run.result && run.result !== "ok" ? `<span class="nina-q-why">${esc(run.result)}</span>` : "",
    ].filter(Boolean);
    parts.push(
      `<div class="nina-q-head"><span>Last autofocus</span><span class="nina-q-muted">${bits.join(" · ")}</span></div>${af}`,
    );
  }
  if (list) parts.push(list);
  return `<div class="nina-q-row">${parts.join("")}</div>`;
}

/**
 * Fetches `nina_session/quality` for the card: at once when the session changes, else at
 * most every `intervalMs` while frames come in (one call per frame would be many a minute
 * with short exposures). `onChange` is called when new data arrives.
 */
export class QualityFeed {
  constructor(onChange, intervalMs = THROTTLE_MS, clock = () => Date.now()) {
    this._onChange = onChange;
    this._interval = intervalMs;
    this._clock = clock;
    this._data = null;
    this._hass = null;
    this._wanted = null; // {key, entryId, sessionId}
    this._fetchedKey = null;
    this._fetchedSession = null;
    this._lastAt = -Infinity;
    this._busy = false;
    this._timer = null;
    this.error = null;
  }

  /** Ask for the quality of `sessionId` as of `frameKey` (anything that changes per frame). */
  want(hass, entryId, sessionId, frameKey) {
    this._hass = hass;
    if (!hass?.callWS || !sessionId) return;
    const key = `${entryId ?? ""}|${sessionId}|${frameKey ?? ""}`;
    this._wanted = { key, entryId, sessionId };
    this._pump();
  }

  /** The data of `sessionId`, or null (none yet, or another session's). */
  current(sessionId) {
    return this._data && this._data.session_id === sessionId ? this._data : null;
  }

  stop() {
    clearTimeout(this._timer);
    this._timer = null;
  }

  _pump() {
    const wanted = this._wanted;
    if (!wanted || this._busy || wanted.key === this._fetchedKey) return;
    const wait = this._lastAt + this._interval - this._clock();
    if (wanted.sessionId !== this._fetchedSession || wait <= 0) {
      this._fetch(wanted);
    } else if (!this._timer) {
      this._timer = setTimeout(() => {
        this._timer = null;
        this._pump();
      }, wait);
    }
  }

  async _fetch(wanted) {
    this.stop();
    this._busy = true;
    this._fetchedKey = wanted.key;
    this._fetchedSession = wanted.sessionId;
    this._lastAt = this._clock();
    const message = { type: "nina_session/quality", session_id: wanted.sessionId };
    if (wanted.entryId) message.entry_id = wanted.entryId;
    try {
      this._data = await this._hass.callWS(message);
      this.error = null;
      this._onChange?.();
    } catch (err) {
      // Keep the last data; the next frame (or session) asks again.
      this.error = err?.message ?? err?.code ?? String(err);
    } finally {
      this._busy = false;
    }
    this._pump();
  }
}

export const QUALITY_SPARK_STYLE = `
  .nina-q-row { margin: 0 0 14px 0; font-size: 0.85em; color: var(--primary-text-color); }
  .nina-q-head { display: flex; flex-wrap: wrap; justify-content: space-between;
    align-items: baseline; gap: 0 10px; margin: 6px 0 2px 0; }
  .nina-q-head > :first-child { white-space: nowrap; }
  .nina-q-legend { display: flex; flex-wrap: wrap; gap: 0 10px; }
  .nina-q-key { display: inline-flex; align-items: center; white-space: nowrap;
    color: var(--secondary-text-color); font-variant-numeric: tabular-nums; }
  .nina-q-key.rising { color: var(--warning-color, #ff9800); }
  .nina-q-swatch { width: 8px; height: 8px; border-radius: 50%; margin-right: 4px; }
  .nina-q-muted { color: var(--secondary-text-color); }
  .nina-q-why { color: var(--error-color, #db4437); }
  .nina-q-spark, .nina-q-af { display: block; width: 100%; height: auto; overflow: visible;
    border-radius: 6px; background: var(--secondary-background-color, rgba(127,127,127,0.08)); }
  .nina-q-line { fill: none; stroke-width: 1.5; stroke-linejoin: round; stroke-linecap: round; }
  .nina-q-flag { fill: none; stroke: var(--error-color, #db4437); stroke-width: 1.2; }
  .nina-q-af-line { fill: none; stroke: var(--secondary-text-color); stroke-width: 1.2; }
  .nina-q-af-point { fill: var(--secondary-text-color); }
  .nina-q-af-best { fill: var(--primary-color); stroke: var(--card-background-color, #fff);
    stroke-width: 1; }
  .nina-q-flagged { margin-top: 6px; }
  .nina-q-flagged summary { cursor: pointer; color: var(--error-color, #db4437); }
  .nina-q-flagged ul { margin: 4px 0 0 0; padding-left: 18px; max-height: 12em; overflow: auto;
    color: var(--secondary-text-color); font-variant-numeric: tabular-nums; }
`;
