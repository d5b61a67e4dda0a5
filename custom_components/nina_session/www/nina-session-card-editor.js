/**
 * Visual editor of nina-session-card (loaded on demand by the card's getConfigElement).
 *
 * Uses Home Assistant's own <ha-form> with selectors (config entry, entity, text, booleans,
 * object), so it looks like every built-in card editor. When ha-form is not loaded yet it is
 * pulled in through a built-in card's editor; if that fails a plain form is shown.
 *
 * Goals are typed as one line of text ("Ha: 3, OIII 2.5"), not a YAML box: every keystroke
 * is parsed leniently (an unfinished pair is left out, never an error), and the text stays
 * as typed while the editor is open.
 */

const DOMAIN = "nina_session";
const EDITOR_TYPE = "nina-session-card-editor";

const SCHEMA = [
  { name: "entry_id", selector: { config_entry: { integration: DOMAIN } } },
  {
    name: "entity",
    selector: { entity: { filter: { integration: DOMAIN, domain: "sensor" } } },
  },
  { name: "title", selector: { text: {} } },
  {
    type: "grid",
    name: "",
    schema: [
      { name: "show_quality", selector: { boolean: {} } },
      { name: "show_timeline", selector: { boolean: {} } },
      { name: "show_counts", selector: { boolean: {} } },
    ],
  },
  { name: "goals_text", selector: { text: {} } },
];

const LABELS = {
  entry_id: "NINA instance",
  entity: "Session state sensor (optional; picks the instance too)",
  title: "Title (default: the device name)",
  show_quality: "HFR, stars, guiding",
  show_timeline: "Timeline of the night",
  show_counts: "Dithers, autofocus, flips, pauses",
  goals_text: "Integration goals, hours per filter (e.g. Ha: 3, OIII: 2.5)",
};

/** "Ha: 3, OIII 2.5; S=1,5" → {Ha: 3, OIII: 2.5, S: 1.5}; what does not parse is left out. */
export function parseGoals(text) {
  const goals = {};
  for (const part of String(text ?? "").split(/[,;\n]+(?=\s*[^\d\s])/)) {
    const match = part.match(/^\s*(.+?)\s*[:=]?\s*(\d+(?:[.,]\d+)?)\s*h?\s*$/i);
    if (!match) continue;
    const hours = Number(match[2].replace(",", "."));
    if (Number.isFinite(hours) && hours > 0) goals[match[1]] = hours;
  }
  return goals;
}

/** {Ha: 3, OIII: 2.5} → "Ha: 3, OIII: 2.5". */
export function formatGoals(goals) {
  return Object.entries(goals ?? {})
    .map(([name, hours]) => `${name}: ${hours}`)
    .join(", ");
}

async function ensureHaForm() {
  if (customElements.get("ha-form")) return true;
  try {
    // A built-in card's editor imports ha-form: the usual way to get it loaded.
    const helpers = await window.loadCardHelpers?.();
    const card = await helpers?.createCardElement({ type: "entities", entities: [] });
    await card?.constructor?.getConfigElement?.();
  } catch (_err) {
    // fall through to the wait below
  }
  const timeout = new Promise((resolve) => setTimeout(() => resolve(false), 3000));
  return Promise.race([customElements.whenDefined("ha-form").then(() => true), timeout]);
}

class NinaSessionCardEditor extends HTMLElement {
  constructor() {
    super();
    this.attachShadow({ mode: "open" });
    this._config = {};
    this._hass = null;
    this._form = null;
    this._plain = false;
    this._entries = null;
    this._goalsText = null; // as typed, while the editor is open
    this._ready = ensureHaForm().then((ok) => {
      this._plain = !ok;
      this._render();
    });
  }

  setConfig(config) {
    this._config = { ...(config ?? {}) };
    this._update();
  }

  set hass(hass) {
    this._hass = hass;
    if (this._form) this._form.hass = hass;
    if (this._plain && this._entries === null) this._loadEntries();
  }

  _withDefaults() {
    const { goals, ...rest } = this._config;
    return {
      show_quality: true,
      show_timeline: true,
      show_counts: true,
      ...rest,
      goals_text: this._goalsText ?? formatGoals(goals),
    };
  }

  _render() {
    this.shadowRoot.innerHTML = "";
    if (!this._plain) {
      const form = document.createElement("ha-form");
      form.schema = SCHEMA;
      form.computeLabel = (field) => LABELS[field.name] ?? field.name;
      form.addEventListener("value-changed", (ev) => this._changed(ev.detail.value));
      this._form = form;
      this.shadowRoot.appendChild(form);
      this._update();
      return;
    }
    this._renderPlain();
  }

  _update() {
    if (this._form) {
      this._form.hass = this._hass;
      this._form.data = this._withDefaults();
    } else if (this._plain) {
      this._renderPlain();
    }
  }

  async _loadEntries() {
    this._entries = [];
    try {
      this._entries = await this._hass.callWS({ type: "config_entries/get", domain: DOMAIN });
    } catch (_err) {
      this._entries = [];
    }
    this._renderPlain();
  }

  _renderPlain() {
    const config = this._withDefaults();
    const options = (this._entries ?? [])
      .map((entry) => {
        const selected = entry.entry_id === config.entry_id ? " selected" : "";
        const title = String(entry.title).replace(/[&<>"]/g, "");
        return `<option value="${entry.entry_id}"${selected}>${title}</option>`;
      })
      .join("");
    this.shadowRoot.innerHTML = `
      <style>
        label { display: block; margin: 8px 0 4px; color: var(--secondary-text-color); }
        select, input[type=text] { width: 100%; box-sizing: border-box; padding: 6px; }
      </style>
      <label for="entry">${LABELS.entry_id}</label>
      <select id="entry"><option value="">(the only one)</option>${options}</select>
      <label for="title">${LABELS.title}</label>
      <input id="title" type="text">`;
    const title = this.shadowRoot.getElementById("title");
    title.value = config.title ?? "";
    this.shadowRoot.getElementById("entry").addEventListener("change", (ev) => {
      this._changed({ ...this._config, entry_id: ev.target.value || undefined });
    });
    title.addEventListener("change", (ev) => {
      this._changed({ ...this._config, title: ev.target.value || undefined });
    });
  }

  _changed(value) {
    const { goals_text: goalsText, ...config } = value;
    if (goalsText !== undefined) {
      this._goalsText = goalsText;
      config.goals = parseGoals(goalsText);
    }
    for (const key of Object.keys(config)) {
      if (config[key] === undefined || config[key] === "" || config[key] === null) delete config[key];
    }
    // Defaults are not written into the YAML.
    for (const key of ["show_quality", "show_timeline", "show_counts"]) {
      if (config[key] === true) delete config[key];
    }
    if (config.goals && !Object.keys(config.goals).length) delete config.goals;
    if (!config.type) config.type = this._config.type ?? "custom:nina-session-card";
    this._config = config;
    this.dispatchEvent(
      new CustomEvent("config-changed", { detail: { config }, bubbles: true, composed: true }),
    );
  }
}

if (!customElements.get(EDITOR_TYPE)) {
  customElements.define(EDITOR_TYPE, NinaSessionCardEditor);
}
