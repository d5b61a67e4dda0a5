// node --test tests/card/: the card's equipment row with a hass object as the frontend has it.
import assert from "node:assert/strict";
import { test } from "node:test";

import {
  bindEquipmentRow,
  equipmentRowHtml,
  findEquipmentEntities,
  formatFlip,
} from "../../custom_components/nina_session/www/nina-equipment-row.js";

function fakeHass(states, calls = []) {
  const entities = {};
  const add = (entity_id, translation_key, device_id, platform = "nina_session") => {
    entities[entity_id] = { entity_id, translation_key, device_id, platform };
  };
  add("sensor.asi_temperature", "cooler_temperature", "cam");
  add("sensor.asi_power", "cooler_power", "cam");
  add("binary_sensor.eq6_parked", "parked", "mount");
  add("binary_sensor.eq6_tracking", "tracking", "mount");
  add("sensor.eq6_flip", "time_to_meridian_flip", "mount");
  add("button.eq6_park", "mount_park", "mount");
  add("sensor.phd2_state", "guider_state", "guider");
  add("sensor.phd2_rms", "guiding_rms_total", "guider");
  add("binary_sensor.sky_safety", "safety", "safety");
  add("sensor.other_rig_temperature", "cooler_temperature", "cam2");
  add("sensor.foreign", "cooler_temperature", "cam", "other_integration");
  const devices = {
    nina: { id: "nina" },
    cam: { id: "cam", via_device_id: "nina" },
    mount: { id: "mount", via_device_id: "nina" },
    guider: { id: "guider", via_device_id: "nina" },
    safety: { id: "safety", via_device_id: "nina" },
    cam2: { id: "cam2", via_device_id: "nina2" },
  };
  const st = {};
  for (const [id, state] of Object.entries(states)) st[id] = { entity_id: id, state, attributes: {} };
  return {
    entities,
    devices,
    states: st,
    callService: async (domain, service, data) => {
      calls.push([domain, service, data]);
    },
  };
}

const NIGHT = {
  "sensor.asi_temperature": "-9.96",
  "sensor.asi_power": "41.2",
  "binary_sensor.eq6_parked": "off",
  "binary_sensor.eq6_tracking": "on",
  "sensor.eq6_flip": "65.4",
  "button.eq6_park": "unknown",
  "sensor.phd2_state": "guiding",
  "sensor.phd2_rms": "0.612",
  "binary_sensor.sky_safety": "off",
};

test("finds only this instance's equipment entities", () => {
  const found = findEquipmentEntities(fakeHass(NIGHT), "nina");
  assert.equal(found["sensor.cooler_temperature"], "sensor.asi_temperature");
  assert.equal(found["button.mount_park"], "button.eq6_park");
  assert.equal(Object.values(found).includes("sensor.other_rig_temperature"), false);
  assert.equal(Object.values(found).includes("sensor.foreign"), false);
  assert.deepEqual(findEquipmentEntities({}, "nina"), {});
});

test("shows cooler, mount with flip, guider, safety and a park button", () => {
  const hass = fakeHass(NIGHT);
  const html = equipmentRowHtml(hass, findEquipmentEntities(hass, "nina"));
  assert.match(html, /Cooler<\/span> -10\.0 °C · 41 %/);
  assert.match(html, /Mount<\/span> tracking · flip 1h 05m/);
  assert.match(html, /Guider<\/span> guiding · 0\.61″/);
  assert.match(html, /nina-eq-safe/);
  assert.match(html, /data-nina-park="button\.eq6_park"/);
});

test("parked and unsafe: no park button, unsafe shown; no equipment: nothing", () => {
  const hass = fakeHass({ ...NIGHT, "binary_sensor.eq6_parked": "on", "binary_sensor.sky_safety": "on" });
  const html = equipmentRowHtml(hass, findEquipmentEntities(hass, "nina"));
  assert.match(html, /Mount<\/span> parked/);
  assert.match(html, /nina-eq-unsafe/);
  assert.doesNotMatch(html, /data-nina-park/);
  const none = fakeHass({});
  assert.equal(equipmentRowHtml(none, findEquipmentEntities(none, "nina")), "");
  const gone = fakeHass(Object.fromEntries(Object.keys(NIGHT).map((id) => [id, "unavailable"])));
  assert.equal(equipmentRowHtml(gone, findEquipmentEntities(gone, "nina")), "");
});

test("a flip time shown in hours (the user's display unit) is still read right", () => {
  const hass = fakeHass({ ...NIGHT, "sensor.eq6_flip": "1.5" });
  hass.states["sensor.eq6_flip"].attributes = { unit_of_measurement: "h" };
  assert.match(equipmentRowHtml(hass, findEquipmentEntities(hass, "nina")), /flip 1h 30m/);
});

test("flip times", () => {
  assert.equal(formatFlip(12.4), "12m");
  assert.equal(formatFlip(125), "2h 05m");
  assert.equal(formatFlip(-3), "due");
  assert.equal(formatFlip(null), null);
});

/** A park button and a root as the card's shadow root has them (only what the row uses). */
function fakeRoot(entityId = "button.eq6_park") {
  const newButton = () => ({
    dataset: { ninaPark: entityId },
    classList: { add() {}, remove() {} },
    textContent: "Park",
    disabled: false,
    title: "",
    closest() {
      return this;
    },
  });
  const root = {
    button: newButton(),
    handler: null,
    addEventListener: (_type, fn) => (root.handler = fn),
    querySelector: () => root.button,
    redraw: () => (root.button = newButton()),
    click: () => root.handler({ target: root.button, stopPropagation() {} }),
  };
  return root;
}

test("park needs a second click within the arming time", async () => {
  const calls = [];
  const hass = fakeHass(NIGHT, calls);
  const root = fakeRoot();
  bindEquipmentRow(root, () => hass, 50);
  await root.click();
  assert.equal(calls.length, 0);
  assert.equal(root.button.textContent, "Confirm park?");
  await new Promise((resolve) => setTimeout(resolve, 80)); // disarmed again
  assert.equal(root.button.textContent, "Park");
  await root.click();
  await root.click();
  assert.deepEqual(calls, [["button", "press", { entity_id: "button.eq6_park" }]]);
  assert.equal(root.button.textContent, "Park");
});

test("a redraw between the two clicks keeps the button armed", async () => {
  const calls = [];
  const hass = fakeHass(NIGHT, calls);
  const root = fakeRoot();
  bindEquipmentRow(root, () => hass, 1000);
  await root.click();
  // The card redraws (a new frame came): the new HTML and button are still the armed ones.
  const html = equipmentRowHtml(hass, findEquipmentEntities(hass, "nina"), root);
  assert.match(html, /data-armed="1"[^>]*>Confirm park\?<\/button>/);
  root.redraw();
  await root.click();
  assert.deepEqual(calls, [["button", "press", { entity_id: "button.eq6_park" }]]);
  assert.doesNotMatch(equipmentRowHtml(hass, findEquipmentEntities(hass, "nina"), root), /Confirm/);
});

test("a refused park says so on the button", async () => {
  const hass = fakeHass(NIGHT);
  hass.callService = async () => {
    throw new Error("Mount not connected");
  };
  const root = fakeRoot();
  bindEquipmentRow(root, () => hass, 1000);
  await root.click();
  await root.click();
  assert.equal(root.button.textContent, "Park failed");
  assert.equal(root.button.title, "Mount not connected");
  assert.match(equipmentRowHtml(hass, findEquipmentEntities(hass, "nina"), root), /Park failed/);
});
