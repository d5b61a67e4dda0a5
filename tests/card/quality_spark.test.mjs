// node --test tests/card/: the card's quality row with `nina_session/quality` answers as the
// integration sends them (engine/quality.py: frames, medians, rejected, autofocus).
import assert from "node:assert/strict";
import { test } from "node:test";

import {
  QualityFeed,
  autofocusSvg,
  bindQualitySpark,
  flaggedHtml,
  hfrSparklineSvg,
  qualitySparkHtml,
} from "../../custom_components/nina_session/www/nina-quality-spark.js";

const T0 = Date.parse("2026-12-02T20:00:00Z");

function frame(index, minutes, filter, hfr, extra = {}) {
  return {
    index,
    time: new Date(T0 + minutes * 60000).toISOString().replace(".000Z", "Z"),
    target: "M 31",
    filter,
    exposure: 300,
    hfr,
    stars: 1500,
    guiding_rms: 0.6,
    temperature: -10,
    adu_mean: 1200,
    flags: [],
    ...extra,
  };
}

function quality(frames, rejected = [], autofocus = null) {
  return {
    session_id: "s1",
    frames,
    medians: { Ha: { hfr: 2.0, stars: 1500 }, OIII: { hfr: 2.5, stars: 900 } },
    rejected: { count: rejected.length, frames: rejected },
    autofocus,
    rules: { hfr_ratio: 1.25, stars_ratio: 0.5, rms_limit: 1.5 },
  };
}

/** The viewBox and every (x, y) drawn, with the shape each belongs to. */
function geometry(svg) {
  const [, w, h] = svg.match(/viewBox="0 0 (\d+) (\d+)"/).map(Number);
  const shapes = [];
  for (const m of svg.matchAll(/<polyline [^>]*data-filter="([^"]*)" points="([^"]+)"/g)) {
    shapes.push({ kind: "line", filter: m[1], points: m[2].split(" ").map((p) => p.split(",").map(Number)) });
  }
  for (const m of svg.matchAll(/<circle class="([^"]+)"[^>]*?cx="([^"]+)" cy="([^"]+)"/g)) {
    shapes.push({ kind: m[1], points: [[Number(m[2]), Number(m[3])]] });
  }
  return { w, h, shapes };
}

test("one line per filter block, every point inside the box, higher HFR drawn higher", () => {
  const frames = [
    frame(0, 0, "Ha", 1.8),
    frame(1, 10, "Ha", 2.0),
    frame(2, 20, "Ha", 3.2),
    frame(3, 30, "OIII", 2.4),
    frame(4, 40, "OIII", 2.6),
  ];
  const { w, h, shapes } = geometry(hfrSparklineSvg(frames));
  const lines = shapes.filter((s) => s.kind === "line");
  assert.deepEqual(lines.map((s) => s.filter).sort(), ["Ha", "OIII"]);
  const all = lines.flatMap((s) => s.points);
  for (const [x, y] of all) {
    assert.ok(x >= 0 && x <= w && y >= 0 && y <= h, `${x},${y} outside ${w}x${h}`);
  }
  const ha = lines.find((s) => s.filter === "Ha").points;
  assert.equal(ha.length, 3);
  // Time runs left to right over the whole width; the worst HFR is at the top.
  assert.ok(ha[0][0] < ha[1][0] && ha[1][0] < ha[2][0]);
  assert.equal(Math.min(...all.map(([x]) => x)), ha[0][0]);
  const oiii = lines.find((s) => s.filter === "OIII").points;
  assert.equal(Math.max(...all.map(([x]) => x)), oiii[1][0]);
  assert.ok(ha[2][1] < ha[0][1]);
  assert.equal(Math.min(...all.map(([, y]) => y)), ha[2][1]);
  assert.ok(ha[0][0] < w * 0.1 && oiii[1][0] > w * 0.9, "spans the width");
});

test("a frame without HFR breaks its filter's line; a lone point is a dot", () => {
  const frames = [
    frame(0, 0, "Ha", 2.0),
    frame(1, 10, "Ha", 2.1),
    frame(2, 20, "Ha", null),
    frame(3, 30, "Ha", 2.2),
    frame(4, 40, "Ha", 2.3),
    frame(5, 50, "Ha", null),
    frame(6, 60, "Ha", 2.4),
    frame(7, 70, "OIII", 2.5),
  ];
  const { shapes } = geometry(hfrSparklineSvg(frames));
  const lines = shapes.filter((s) => s.kind === "line");
  assert.equal(lines.length, 2, "two runs of Ha, not one bridged line");
  assert.deepEqual(lines.map((s) => s.points.length), [2, 2]);
  assert.ok(lines[0].points[1][0] < lines[1].points[0][0]);
  const dots = shapes.filter((s) => s.kind === "nina-q-dot");
  assert.equal(dots.length, 2, "the last Ha frame and the single OIII frame");
});

test("filters cycled per frame: a dot per frame, no line across another filter's frames", () => {
  const cycle = ["L", "R", "G", "B"];
  const frames = Array.from({ length: 16 }, (_, i) => frame(i, i * 3, cycle[i % 4], 2 + (i % 5) / 10));
  const { shapes } = geometry(hfrSparklineSvg(frames));
  assert.equal(shapes.filter((s) => s.kind === "line").length, 0);
  assert.equal(shapes.filter((s) => s.kind === "nina-q-dot").length, 16);
});

test("a line is one filter block: it ends where the next filter's frames begin", () => {
  // LLL RR LL: the two L blocks stay apart, R's line lies between them.
  const frames = ["L", "L", "L", "R", "R", "L", "L"].map((f, i) => frame(i, i * 5, f, 2 + i / 10));
  const { shapes } = geometry(hfrSparklineSvg(frames));
  const lines = shapes.filter((s) => s.kind === "line");
  assert.deepEqual(lines.map((s) => [s.filter, s.points.length]), [["L", 3], ["R", 2], ["L", 2]]);
  const [first, r, second] = lines.map((s) => s.points.map(([x]) => x));
  assert.ok(Math.max(...first) < Math.min(...r) && Math.max(...r) < Math.min(...second));
});

test("no frame for more than 20 minutes (a pause) breaks a filter's line", () => {
  const frames = [frame(0, 0, "Ha", 2), frame(1, 5, "Ha", 2.1), frame(2, 40, "Ha", 2.2), frame(3, 45, "Ha", 2.3)];
  const { shapes } = geometry(hfrSparklineSvg(frames));
  assert.deepEqual(shapes.map((s) => [s.kind, s.points.length]), [["line", 2], ["line", 2]]);
});

test("a single frame is a dot in the middle of the box, not a line or NaN", () => {
  const svg = hfrSparklineSvg([frame(0, 0, "L", 2.2)]);
  const { w, h, shapes } = geometry(svg);
  assert.equal(shapes.length, 1);
  assert.equal(shapes[0].kind, "nina-q-dot");
  assert.deepEqual(shapes[0].points[0], [w / 2, h / 2]);
  assert.doesNotMatch(svg, /NaN|Infinity/);
});

test("no data: no drawing and no row", () => {
  assert.equal(hfrSparklineSvg([]), "");
  assert.equal(hfrSparklineSvg(undefined), "");
  assert.equal(hfrSparklineSvg([frame(0, 0, "Ha", null), { index: 1, time: "junk", hfr: 2 }]), "");
  assert.equal(autofocusSvg(null), "");
  assert.equal(autofocusSvg({ points: [], best: null, result: "failed" }), "");
  assert.equal(qualitySparkHtml(null), "");
  assert.equal(qualitySparkHtml(quality([])), "");
});

test("filter names are escaped in the drawing, the legend and the list", () => {
  const evil = `<img src=x onerror="alert(1)">`;
  const q = quality([frame(0, 0, evil, 2.0), frame(1, 5, evil, 4.0, { flags: ["hfr_high"] })], [1]);
  const html = qualitySparkHtml(q, { color: () => `red" onload="x` });
  assert.doesNotMatch(html, /<img/);
  assert.doesNotMatch(html, /" onload="/);
  assert.doesNotMatch(html, /onerror="/);
  assert.match(html, /&#60;img src=x onerror=&#34;alert\(1\)&#34;&#62;/);
});

test("the autofocus curve: points by position inside the box, the best point marked", () => {
  const af = {
    start: "2026-12-02T22:10:00Z",
    result: "ok",
    points: [
      { position: 5400, hfr: 3.1 },
      { position: 5000, hfr: 3.4 },
      { position: 5200, hfr: 2.2 },
      { position: 5300, hfr: 2.5 },
      { position: 5100, hfr: 2.6 },
    ],
    best: { position: 5200, hfr: 2.2 },
  };
  const svg = autofocusSvg(af);
  const { w, h } = geometry(svg);
  const line = svg.match(/nina-q-af-line" points="([^"]+)"/)[1].split(" ").map((p) => p.split(",").map(Number));
  assert.equal(line.length, 5);
  const xs = line.map(([x]) => x);
  assert.deepEqual(xs, [...xs].sort((a, b) => a - b), "drawn in focuser order");
  for (const [x, y] of line) assert.ok(x >= 0 && x <= w && y >= 0 && y <= h);
  const [, bx, by] = svg.match(/nina-q-af-best" cx="([^"]+)" cy="([^"]+)"/).map(Number);
  assert.deepEqual([bx, by], line[2], "the best point is the curve's bottom");
  assert.equal(by, Math.max(...line.map(([, y]) => y)));
  const html = qualitySparkHtml(quality([], [], { ...af, result: "failed" }), { time: () => "23:10" });
  assert.match(html, /Last autofocus/);
  assert.match(html, /23:10 · best 5200 · HFR 2\.20/);
  assert.match(html, /failed/);
});

test("flagged frames: a count that opens to one line per frame with the reasons", () => {
  const frames = [
    frame(0, 0, "Ha", 2.0),
    frame(1, 10, "Ha", 3.1, { flags: ["hfr_high"] }),
    frame(2, 20, "Ha", 2.1, { stars: 300, guiding_rms: 1.92, flags: ["stars_low", "rms_high"] }),
  ];
  const q = quality(frames, [1, 2]);
  const closed = flaggedHtml(q, { time: () => "21:10" });
  assert.match(closed, /<summary>2 frames flagged<\/summary>/);
  assert.doesNotMatch(closed, /<details[^>]* open/);
  const items = [...closed.matchAll(/<li data-index="(\d+)">(.*?)<\/li>/g)];
  assert.deepEqual(items.map((m) => m[1]), ["1", "2"]);
  assert.match(items[0][2], /^#2 · 21:10 · Ha · HFR 3\.10 · 1500 stars · RMS 0\.60″ .*HFR high/);
  assert.match(items[1][2], /300 stars · RMS 1\.92″ .*few stars, RMS high/);
  assert.match(flaggedHtml(q, { open: true }), /<details[^>]* open>/);
  assert.match(flaggedHtml(quality(frames.slice(0, 2), [1])), /<summary>1 frame flagged</);
  assert.equal(flaggedHtml(quality(frames, [])), "");
  // Flagged frames are ringed on the HFR lines.
  const rings = [...qualitySparkHtml(q).matchAll(/nina-q-flag" data-index="(\d+)"/g)].map((m) => m[1]);
  assert.deepEqual(rings, ["1", "2"]);
});

test("the list stays open across redraws once the user opened it", () => {
  const root = {
    listener: null,
    addEventListener(type, fn, capture) {
      assert.equal(type, "toggle");
      assert.equal(capture, true, "toggle does not bubble: only capture sees it");
      this.listener = fn;
    },
  };
  bindQualitySpark(root);
  const q = quality([frame(0, 0, "Ha", 2.0), frame(1, 5, "Ha", 3.0, { flags: ["hfr_high"] })], [1]);
  assert.doesNotMatch(qualitySparkHtml(q, { root }), /<details[^>]* open/);
  root.listener({ target: { dataset: { ninaFlagged: "" }, open: true } });
  assert.match(qualitySparkHtml(q, { root }), /<details[^>]* open>/);
  root.listener({ target: { dataset: {}, open: false } }); // some other details element
  assert.match(qualitySparkHtml(q, { root }), /<details[^>]* open>/);
  root.listener({ target: { dataset: { ninaFlagged: "" }, open: false } });
  assert.doesNotMatch(qualitySparkHtml(q, { root }), /<details[^>]* open/);
});

test("a filter whose last HFR is well above its night median is marked rising", () => {
  const html = qualitySparkHtml(quality([frame(0, 0, "Ha", 2.0), frame(1, 9, "Ha", 2.6), frame(2, 9, "OIII", 2.5)]));
  assert.match(html, /nina-q-key rising" data-filter="Ha"[^>]*>.*?Ha 2\.60 ↑/);
  assert.match(html, /nina-q-key" data-filter="OIII"/);
});

/** A hass whose callWS answers each call when the test says so. */
function fakeHass() {
  const calls = [];
  return {
    calls,
    callWS(message) {
      return new Promise((resolve, reject) => calls.push({ message, resolve, reject }));
    },
  };
}

const tick = () => new Promise((resolve) => setImmediate(resolve));

test("the feed asks at once for a new session, then at most once per interval", async () => {
  let now = 1000;
  let changes = 0;
  const feed = new QualityFeed(() => changes++, 50, () => now);
  const hass = fakeHass();
  feed.want(hass, "entry", "s1", "1");
  feed.want(hass, "entry", "s1", "1"); // a redraw: no second call
  assert.equal(hass.calls.length, 1);
  assert.deepEqual(hass.calls[0].message, { type: "nina_session/quality", session_id: "s1", entry_id: "entry" });
  hass.calls[0].resolve({ session_id: "s1", frames: [] });
  await tick();
  assert.equal(changes, 1);
  assert.deepEqual(feed.current("s1"), { session_id: "s1", frames: [] });
  assert.equal(feed.current("s2"), null, "another session's data is not shown");
  // Frames 2 and 3 come within the interval: one call, after it, for the latest.
  now += 10;
  feed.want(hass, "entry", "s1", "2");
  feed.want(hass, "entry", "s1", "3");
  assert.equal(hass.calls.length, 1);
  now += 40;
  await new Promise((resolve) => setTimeout(resolve, 70));
  assert.equal(hass.calls.length, 2);
  hass.calls[1].resolve({ session_id: "s1", frames: [1] });
  await tick();
  // A new session is asked for at once, throttle or not.
  feed.want(hass, "entry", "s2", "1");
  assert.equal(hass.calls.length, 3);
  assert.equal(hass.calls[2].message.session_id, "s2");
  hass.calls[2].reject(new Error("Session not found"));
  await tick();
  assert.equal(feed.error, "Session not found");
  assert.equal(feed.current("s2"), null);
  feed.want(hass, "entry", "s2", "1"); // no retry loop on the same frame
  assert.equal(hass.calls.length, 3);
  feed.want(hass, "entry", null, "1"); // no session: nothing to ask
  assert.equal(hass.calls.length, 3);
  feed.stop();
});
