// The session card's equipment row: cooler, mount and meridian flip, guider, safety, and a
// park button that asks for confirmation. A separate module so the card imports it:
//
//   import { findEquipmentEntities, equipmentRowHtml, bindEquipmentRow, EQUIPMENT_ROW_STYLE }
//     from "./nina-equipment-row.js";
//   const found = findEquipmentEntities(hass, ninaDeviceId);   // on hass/config change
//   html += equipmentRowHtml(hass, found, shadowRoot);            // "" without equipment
//   bindEquipmentRow(shadowRoot, () => this._hass);               // once, after first render
//
// The park button's arming lives with the root, not the button: a card redraws on every
// session change (many a minute in a busy night), and a redrawn button must still be the
// armed one, or the confirming click would only arm it again.
//
// Entities are found through the frontend's registries (`hass.entities`, `hass.devices`):
// those of the nina_session platform on devices whose `via_device_id` is the NINA device,
// keyed "<domain>.<translation_key>". Nothing here needs an admin.

const PLATFORM = "nina_session";
const ARM_MS = 5000;

/** Entity ids of one NINA instance's equipment, keyed "<domain>.<translation_key>". */
export function findEquipmentEntities(hass, ninaDeviceId) {
  const found = {};
  if (!hass?.entities || !hass?.devices || !ninaDeviceId) return found;
  for (const entry of Object.values(hass.entities)) {
    if (entry.platform !== PLATFORM || !entry.translation_key || !entry.device_id) continue;
    if (hass.devices[entry.device_id]?.via_device_id !== ninaDeviceId) continue;
    const domain = entry.entity_id.split(".", 1)[0];
    found[`${domain}.${entry.translation_key}`] = entry.entity_id;
  }
  return found;
}

function esc(text) {
  return String(text).replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

function live(hass, id) {
  const s = id ? hass.states[id] : undefined;
  return s && s.state !== "unavailable" && s.state !== "unknown" ? s : undefined;
}

function number(stateObj, digits) {
  const value = stateObj ? Number.parseFloat(stateObj.state) : Number.NaN;
  return Number.isFinite(value) ? value.toFixed(digits) : null;
}

/** "1h 05m", "12m", "due" (a flip time in minutes; past the meridian, not flipped yet). */
export function formatFlip(minutes) {
  if (minutes === null || minutes === undefined || !Number.isFinite(minutes)) return null;
  if (minutes <= 0) return "due";
  const total = Math.round(minutes);
  const h = Math.floor(total / 60);
  const m = total % 60;
  return h ? `${h}h ${String(m).padStart(2, "0")}m` : `${m}m`;
}

// A duration sensor's state is in the unit the user picked for it (minutes by default).
const MINUTES_PER = { s: 1 / 60, min: 1, h: 60, d: 1440 };

function flipMinutes(stateObj) {
  const unit = stateObj.attributes?.unit_of_measurement ?? "min";
  return Number.parseFloat(stateObj.state) * (MINUTES_PER[unit] ?? 1);
}

function chip(kind, label, value, extra = "") {
  return `<span class="nina-eq-chip nina-eq-${kind}"${extra}><span class="nina-eq-label">${esc(
    label,
  )}</span> ${esc(value)}</span>`;
}

/** The row's HTML; "" when no equipment entity of the instance is available.
 *  `root`: the one given to bindEquipmentRow, so a redraw keeps the park button's arming. */
export function equipmentRowHtml(hass, found, root = null) {
  const get = (key) => live(hass, found[key]);
  const chips = [];
  const temperature = number(get("sensor.cooler_temperature"), 1);
  if (temperature !== null) {
    const power = number(get("sensor.cooler_power"), 0);
    chips.push(chip("cooler", "Cooler", `${temperature} °C${power !== null ? ` · ${power} %` : ""}`));
  }
  const parked = get("binary_sensor.parked");
  if (parked) {
    const tracking = get("binary_sensor.tracking");
    let mount = parked.state === "on" ? "parked" : tracking?.state === "on" ? "tracking" : "idle";
    const flipState = get("sensor.time_to_meridian_flip");
    const flip = flipState ? formatFlip(flipMinutes(flipState)) : null;
    if (parked.state !== "on" && flip) mount += ` · flip ${flip}`;
    chips.push(chip("mount", "Mount", mount));
  }
  const guider = get("sensor.guider_state");
  if (guider) {
    const rms = number(get("sensor.guiding_rms_total"), 2);
    const shown = guider.state.replace("_", " ");
    chips.push(chip("guider", "Guider", rms !== null && guider.state === "guiding" ? `${shown} · ${rms}″` : shown));
  }
  const safety = get("binary_sensor.safety");
  if (safety) {
    const unsafe = safety.state === "on";
    chips.push(chip(unsafe ? "unsafe" : "safe", "Sky", unsafe ? "unsafe" : "safe"));
  }
  // A button's state is when it was last pressed: "unknown" until then, and still usable.
  const park = hass.states[found["button.mount_park"]];
  const arming = root ? ARMING.get(root) : undefined;
  const busy = arming?.phase === "parking";
  if (park && park.state !== "unavailable" && ((parked && parked.state !== "on") || busy)) {
    chips.push(parkButtonHtml(park.entity_id, arming));
  }
  return chips.length ? `<div class="nina-eq-row">${chips.join("")}</div>` : "";
}

/** Per root: {phase: "armed" | "parking" | "failed", timer, error}; absent = plain "Park". */
const ARMING = new WeakMap();
const PARK_LABELS = { armed: "Confirm park?", parking: "Parking…", failed: "Park failed" };

function parkButtonHtml(entityId, arming) {
  const phase = arming?.phase ?? "";
  const attrs = [
    `class="nina-eq-park${phase === "armed" ? " armed" : ""}"`,
    `data-nina-park="${esc(entityId)}"`,
    `data-armed="${phase === "armed" ? "1" : ""}"`,
    'type="button"',
    phase === "parking" ? "disabled" : "",
    arming?.error ? `title="${esc(arming.error)}"` : "",
  ].filter(Boolean);
  return `<button ${attrs.join(" ")}>${esc(PARK_LABELS[phase] ?? "Park")}</button>`;
}

/** Show `root`'s arming on whichever park button is in it now (the card may have redrawn). */
function paint(root) {
  const button = root.querySelector?.("[data-nina-park]");
  if (!button) return;
  const arming = ARMING.get(root);
  const phase = arming?.phase ?? "";
  button.dataset.armed = phase === "armed" ? "1" : "";
  button.textContent = PARK_LABELS[phase] ?? "Park";
  button.disabled = phase === "parking";
  button.title = arming?.error ?? "";
  if (phase === "armed") button.classList.add("armed");
  else button.classList.remove("armed");
}

/** Park on a second click within ARM_MS ("Confirm park?"); `getHass` returns the current hass. */
export function bindEquipmentRow(root, getHass, armMs = ARM_MS) {
  root.addEventListener("click", async (event) => {
    const button = event.target?.closest?.("[data-nina-park]");
    if (!button) return;
    event.stopPropagation();
    const arming = ARMING.get(root);
    if (arming?.phase === "parking") return;
    clearTimeout(arming?.timer);
    if (arming?.phase !== "armed") {
      const timer = setTimeout(() => {
        ARMING.delete(root);
        paint(root);
      }, armMs);
      ARMING.set(root, { phase: "armed", timer });
      paint(root);
      return;
    }
    ARMING.set(root, { phase: "parking" });
    paint(root);
    try {
      await getHass().callService("button", "press", { entity_id: button.dataset.ninaPark });
      ARMING.delete(root);
    } catch (err) {
      ARMING.set(root, { phase: "failed", error: err?.message ?? String(err) });
    }
    paint(root);
  });
}

export const EQUIPMENT_ROW_STYLE = `
  .nina-eq-row { display: flex; flex-wrap: wrap; gap: 6px; align-items: center; margin: 8px 0; }
  .nina-eq-chip { font-size: 0.85em; padding: 2px 8px; border-radius: 12px;
    background: var(--secondary-background-color); color: var(--primary-text-color); }
  .nina-eq-label { color: var(--secondary-text-color); }
  .nina-eq-unsafe { background: var(--error-color); color: var(--text-primary-color, #fff); }
  .nina-eq-unsafe .nina-eq-label { color: inherit; }
  .nina-eq-park { margin-left: auto; border: 1px solid var(--divider-color); border-radius: 12px;
    background: none; color: var(--primary-color); padding: 2px 10px; cursor: pointer; }
  .nina-eq-park.armed { background: var(--warning-color, #ff9800); border-color: transparent;
    color: #1c1c1c; }
`;
