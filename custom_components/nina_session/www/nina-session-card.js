/**
 * nina-session-card: tonight's N.I.N.A. imaging session on a Home Assistant dashboard.
 *
 * Plain JavaScript module, no build step, no framework: a custom element with a shadow root.
 * The nina_session integration serves this file and adds it to the frontend itself, so no
 * dashboard resource has to be added by hand.
 *
 * Data: the WebSocket subscription `nina_session/subscribe` (the canonical session JSON at
 * once, then after every change). When the subscription is refused (integration not loaded,
 * older version) or ends, the card falls back to the entity states of the NINA device and
 * tries the subscription again later.
 *
 * Config:
 *   type: custom:nina-session-card
 *   entry_id: 01J...          # which NINA instance (optional when there is only one)
 *   entity: sensor.observatory_session_state   # optional; also picks the instance
 *   title: Observatory        # optional (default: the device's name)
 *   goals: {Ha: 3, OIII: 3}   # optional integration goals in hours per filter
 *   show_quality: true
 *   show_timeline: true
 *   show_counts: true
 */

// Sibling modules carry the card's own cache buster (`?v=<content hash>`, frontend.py): the
// files are served with long cache headers, and a static `import` cannot add a query, so an
// updated card would otherwise run beside a stale row or editor from the browser's cache.
const VERSION_QUERY = new URL(import.meta.url).search;
const sibling = (name) => new URL(`./${name}${VERSION_QUERY}`, import.meta.url).href;
const { findEquipmentEntities, equipmentRowHtml, bindEquipmentRow, EQUIPMENT_ROW_STYLE } =
  await import(sibling("nina-equipment-row.js"));
const { QualityFeed, qualitySparkHtml, bindQualitySpark, QUALITY_SPARK_STYLE } = await import(
  sibling("nina-quality-spark.js")
);
const { framesStrip } = await import(sibling("nina-frames-strip.js"));
const { causeWords } = await import(sibling("nina-cause-words.js"));

const CARD_TYPE = "nina-session-card";
const EDITOR_TYPE = "nina-session-card-editor";
const DOMAIN = "nina_session";
const CARD_VERSION = "0.1.0";
const RETRY_MS = 30000;
const TICK_MS = 30000;

// Fixed mid-tones that read on light and dark themes alike (the theme's disabled grey is
// nearly the card's own colour in the dark theme).
const STATE_COLORS = {
  imaging: "var(--success-color, #43a047)",
  flats: "#4fc3f7",
  darks: "#9575cd",
  paused: "var(--warning-color, #ff9800)",
  waiting: "#26a69a",
  idle: "#90a4ae",
  disconnected: "var(--error-color, #db4437)",
};
const STATE_ICONS = {
  imaging: "mdi:telescope",
  flats: "mdi:lightbulb-on-outline",
  darks: "mdi:weather-night",
  paused: "mdi:pause-circle-outline",
  waiting: "mdi:timer-sand",
  idle: "mdi:sleep",
  disconnected: "mdi:lan-disconnect",
};
const STATE_NAMES = {
  imaging: "Imaging",
  flats: "Flats",
  darks: "Darks",
  paused: "Paused",
  waiting: "Waiting",
  idle: "Idle",
  disconnected: "Disconnected",
};
const FILTER_COLORS = {
  l: "#90a4ae",
  lum: "#90a4ae",
  luminance: "#90a4ae",
  r: "#e53935",
  red: "#e53935",
  g: "#43a047",
  green: "#43a047",
  b: "#1e88e5",
  blue: "#1e88e5",
  ha: "#c2185b",
  "h-alpha": "#c2185b",
  oiii: "#00acc1",
  o3: "#00acc1",
  sii: "#ef6c00",
  s2: "#ef6c00",
  none: "#78909c",
};

/** HTML-escape anything that came from NINA or the user. */
function esc(value) {
  return String(value ?? "").replace(
    /[&<>"']/g,
    (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" })[c],
  );
}

function num(value) {
  if (value === null || value === undefined || value === "" || typeof value === "boolean") {
    return null;
  }
  const n = Number(value);
  return Number.isFinite(n) ? n : null;
}

function filterColor(name) {
  const key = String(name ?? "none").trim().toLowerCase();
  if (FILTER_COLORS[key]) return FILTER_COLORS[key];
  let hash = 0;
  for (const c of key) hash = (hash * 31 + c.charCodeAt(0)) % 360;
  return `hsl(${hash}, 55%, 50%)`;
}

/** "3h 20m", "45m", "50s". */
export function formatDuration(seconds) {
  const s = num(seconds);
  if (s === null) return "–";
  if (s < 60) return `${Math.round(s)}s`;
  const minutes = Math.round(s / 60);
  const h = Math.floor(minutes / 60);
  const m = minutes % 60;
  return h ? `${h}h ${String(m).padStart(2, "0")}m` : `${m}m`;
}

/** "3h", "2h 30m": a goal, as short as it can be. */
export function formatGoal(seconds) {
  const minutes = Math.round(seconds / 60);
  const h = Math.floor(minutes / 60);
  const m = minutes % 60;
  if (!h) return `${m}m`;
  return m ? `${h}h ${m}m` : `${h}h`;
}

function parseTime(iso) {
  if (!iso) return null;
  const t = Date.parse(iso);
  return Number.isNaN(t) ? null : t;
}

/** The canonical session JSON built from the entity states (the fallback source). */
function sessionFromEntities(hass, entities) {
  const st = (key) => {
    const id = entities[key];
    const s = id ? hass.states[id] : undefined;
    return s && s.state !== "unavailable" && s.state !== "unknown" ? s : undefined;
  };
  const raw = (key) => st(key)?.state ?? null;
  const stateObj = hass.states[entities.session_state];
  if (!stateObj) return null;
  const framesObj = st("session_frames");
  const byFilter = framesObj?.attributes?.by_filter ?? {};
  let integration = 0;
  for (const slot of Object.values(byFilter)) integration += num(slot?.seconds) ?? 0;
  const attrs = stateObj.attributes ?? {};
  return {
    id: attrs.session_id ?? null,
    start: raw("session_start"),
    end: null,
    state: stateObj.state === "unavailable" ? "disconnected" : stateObj.state,
    current: {
      target: raw("current_target"),
      filter: raw("current_filter"),
      image_type: null,
      exposure: num(raw("last_exposure")),
      last_image_at: raw("last_image_saved"),
    },
    targets: raw("current_target") ? [raw("current_target")] : [],
    frames: {
      total: num(framesObj?.state) ?? 0,
      by_type: framesObj?.attributes?.by_type ?? {},
      by_filter: byFilter,
    },
    integration_seconds: integration,
    quality: {
      hfr_last: num(raw("last_hfr")),
      stars_last: num(raw("last_star_count")),
      guiding_rms_last: num(raw("guiding_rms")),
    },
    counts: null,
    state_history: attrs.since
      ? [{ state: stateObj.state, since: attrs.since, cause: attrs.cause, reason: attrs.reason }]
      : [],
    state_detail: { wait_until: attrs.wait_until ?? null },
  };
}

class NinaSessionCard extends HTMLElement {
  constructor() {
    super();
    this.attachShadow({ mode: "open" });
    this._config = null;
    this._hass = null;
    this._unsub = null;
    this._subscribing = false;
    this._retryTimer = null;
    this._tickTimer = null;
    this._live = null; // last subscription message
    this._source = "loading"; // "live" | "entities" | "loading"
    this._error = null;
    this._entryId = null;
    this._renderQueued = false;
    this._entitySignature = "";
    // The park button's two clicks are handled once for the root; the row redraws freely.
    bindEquipmentRow(this.shadowRoot, () => this._hass);
    this._qualityFeed = new QualityFeed(() => this._queueRender());
    bindQualitySpark(this.shadowRoot);
  }

  // -- Lovelace API --------------------------------------------------------------------
  static async getConfigElement() {
    await import(sibling("nina-session-card-editor.js"));
    return document.createElement(EDITOR_TYPE);
  }

  static getStubConfig(hass) {
    const entity = Object.values(hass?.entities ?? {}).find(
      (e) => e.platform === DOMAIN && e.translation_key === "session_state",
    );
    return entity ? { entity: entity.entity_id } : {};
  }

  setConfig(config) {
    if (!config || typeof config !== "object") throw new Error("Invalid configuration");
    if (config.entry_id !== undefined && typeof config.entry_id !== "string") {
      throw new Error("entry_id must be a config entry id (text)");
    }
    if (config.entity !== undefined && typeof config.entity !== "string") {
      throw new Error("entity must be an entity id");
    }
    if (config.goals !== undefined && (typeof config.goals !== "object" || config.goals === null)) {
      throw new Error("goals must map filter names to hours, e.g. {Ha: 3}");
    }
    const changed =
      !this._config ||
      this._config.entry_id !== config.entry_id ||
      this._config.entity !== config.entity;
    this._config = {
      show_quality: true,
      show_timeline: true,
      show_counts: true,
      ...config,
    };
    if (changed) {
      this._unsubscribe();
      this._live = null;
      this._source = "loading";
      this._entryId = null;
      if (this.isConnected && this._hass) this._subscribe();
    }
    this._queueRender();
  }

  set hass(hass) {
    const first = !this._hass;
    this._hass = hass;
    if (first && this.isConnected) this._subscribe();
    // HA calls this on every state change anywhere: redraw only when ours changed.
    const signature = this._entitySignatureOf(hass);
    if (signature === this._entitySignature && !first) return;
    this._entitySignature = signature;
    this._queueRender();
  }

  get hass() {
    return this._hass;
  }

  getCardSize() {
    return 6;
  }

  getGridOptions() {
    return { columns: 12, min_columns: 6, rows: "auto" };
  }

  connectedCallback() {
    if (this._hass) this._subscribe();
    if (!this._tickTimer) this._tickTimer = setInterval(() => this._queueRender(), TICK_MS);
    this._queueRender();
  }

  disconnectedCallback() {
    this._unsubscribe();
    framesStrip(this).dispose();
    clearInterval(this._tickTimer);
    this._tickTimer = null;
    this._qualityFeed.stop();
  }

  // -- data sources --------------------------------------------------------------------
  /** Entity ids of our NINA device, by translation key. */
  _entities() {
    const hass = this._hass;
    if (!hass?.entities) return {};
    const all = Object.values(hass.entities).filter((e) => e.platform === DOMAIN);
    let deviceId = null;
    if (this._config?.entity && hass.entities[this._config.entity]) {
      deviceId = hass.entities[this._config.entity].device_id;
    } else {
      const entryId = this._config?.entry_id || this._entryId || this._live?.entry_id;
      if (entryId && hass.devices) {
        const device = Object.values(hass.devices).find((d) =>
          (d.config_entries ?? []).includes(entryId),
        );
        deviceId = device?.id ?? null;
      }
      if (!deviceId) {
        deviceId = all.find((e) => e.translation_key === "session_state")?.device_id ?? null;
      }
    }
    const out = {};
    for (const e of all) {
      if (deviceId && e.device_id !== deviceId) continue;
      if (e.translation_key && !out[e.translation_key]) out[e.translation_key] = e.entity_id;
    }
    if (this._config?.entity && hass.states[this._config.entity]) {
      out.session_state = this._config.entity;
    }
    out._device_id = deviceId;
    return out;
  }

  _entitySignatureOf(hass) {
    const entities = this._entities();
    const ids = Object.entries(entities)
      .filter(([k]) => !k.startsWith("_"))
      .map(([, id]) => id);
    // The equipment row's entities live on the equipment devices (via the NINA device).
    ids.push(...Object.values(findEquipmentEntities(hass, entities._device_id)));
    return ids.map((id) => hass.states[id]?.last_updated ?? "").join("|");
  }

  async _entryFromEntity() {
    const entity = this._config?.entity;
    if (!entity || !this._hass) return null;
    try {
      const entry = await this._hass.callWS({ type: "config/entity_registry/get", entity_id: entity });
      return entry?.config_entry_id ?? null;
    } catch (_err) {
      return null;
    }
  }

  async _subscribe() {
    if (this._unsub || this._subscribing || !this._hass || !this._config || !this.isConnected) {
      return;
    }
    this._subscribing = true;
    clearTimeout(this._retryTimer);
    this._retryTimer = null;
    try {
      const entryId = this._config.entry_id || (await this._entryFromEntity());
      this._entryId = entryId;
      const message = { type: `${DOMAIN}/subscribe` };
      if (entryId) message.entry_id = entryId;
      const unsub = await this._hass.connection.subscribeMessage(
        (msg) => this._onMessage(msg),
        message,
      );
      if (!this.isConnected) {
        unsub();
        return;
      }
      this._unsub = unsub;
      this._source = "live";
      this._error = null;
    } catch (err) {
      this._source = "entities";
      this._error = err?.message || err?.code || String(err);
      this._scheduleRetry();
    } finally {
      this._subscribing = false;
      this._queueRender();
    }
  }

  _scheduleRetry() {
    if (this._retryTimer || !this.isConnected) return;
    this._retryTimer = setTimeout(() => {
      this._retryTimer = null;
      this._subscribe();
    }, RETRY_MS);
  }

  _unsubscribe() {
    clearTimeout(this._retryTimer);
    this._retryTimer = null;
    if (this._unsub) {
      const unsub = this._unsub;
      this._unsub = null;
      Promise.resolve()
        .then(() => unsub())
        .catch(() => undefined);
    }
  }

  _onMessage(msg) {
    if (msg?.type === "session") {
      this._live = msg;
      this._source = "live";
      this._error = null;
    } else if (msg?.type === "unloaded") {
      // The server ended the subscription (entry reloading or removed).
      this._unsub = null;
      this._live = null;
      this._source = "entities";
      this._scheduleRetry();
    }
    this._queueRender();
  }

  // -- rendering -----------------------------------------------------------------------
  _queueRender() {
    if (this._renderQueued) return;
    this._renderQueued = true;
    requestAnimationFrame(() => {
      this._renderQueued = false;
      this._render();
    });
  }

  _t(state) {
    const key = `component.${DOMAIN}.entity.sensor.session_state.state.${state}`;
    const localized = this._hass?.localize?.(key);
    return localized || STATE_NAMES[state] || String(state ?? "–");
  }

  /** Why the session entered a state, in the words of strings.json (HA's translations). */
  _cause(entry) {
    return causeWords(this._hass?.localize, entry?.cause, entry?.state, entry?.reason);
  }

  _timeZone() {
    const zone = this._hass?.locale?.time_zone;
    return zone === "server" ? this._hass?.config?.time_zone : undefined;
  }

  _time(iso) {
    const t = parseTime(iso);
    if (t === null) return "–";
    try {
      return new Date(t).toLocaleTimeString(this._hass?.locale?.language || undefined, {
        hour: "2-digit",
        minute: "2-digit",
        timeZone: this._timeZone(),
      });
    } catch (_err) {
      return new Date(t).toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" });
    }
  }

  /** What to draw: the session, its state (disconnected wins), since when NINA dropped. */
  _model() {
    const entities = this._entities();
    if (this._source === "live" && this._live) {
      const connected = this._live.connected !== false;
      const session = this._live.session;
      let state = session?.state;
      if (!session) {
        const st = entities.session_state && this._hass?.states[entities.session_state];
        state = st?.state && st.state !== "unavailable" ? st.state : "idle";
      }
      return {
        session,
        state: connected ? state : "disconnected",
        connected,
        disconnectedSince: connected ? null : (this._live.connected_since ?? null),
        entities,
        source: "live",
      };
    }
    const session = this._hass ? sessionFromEntities(this._hass, entities) : null;
    const conn = entities.connected && this._hass?.states[entities.connected];
    const connected = conn ? conn.state === "on" : session?.state !== "disconnected";
    return {
      session,
      state: connected ? (session?.state ?? null) : "disconnected",
      connected,
      disconnectedSince: !connected && conn ? conn.last_changed : null,
      entities,
      source: session ? "entities" : this._source,
    };
  }

  _title(model) {
    if (this._config?.title) return this._config.title;
    const deviceId = model.entities._device_id;
    const device = deviceId && this._hass?.devices?.[deviceId];
    return device?.name_by_user || device?.name || "NINA session";
  }

  _n(value) {
    const n = num(value);
    if (n === null) return "–";
    try {
      return new Intl.NumberFormat(this._hass?.locale?.language || undefined).format(n);
    } catch (_err) {
      return String(n);
    }
  }

  _goals() {
    const goals = {};
    for (const [name, hours] of Object.entries(this._config.goals ?? {})) {
      const h = num(hours);
      if (h !== null && h > 0) goals[name] = h;
    }
    return goals;
  }

  _render() {
    if (!this._config) return;
    const model = this._model();
    this.shadowRoot.innerHTML = `
      <style>${STYLE}${EQUIPMENT_ROW_STYLE}${QUALITY_SPARK_STYLE}${ROW_SPACING}</style>
      <ha-card>
        ${this._renderHeader(model)}
        ${this._renderSubheader(model)}
        ${this._renderBody(model)}
        ${this._renderFooter(model)}
      </ha-card>`;
  }

  _renderHeader(model) {
    const state = model.state;
    const color = STATE_COLORS[state] ?? STATE_COLORS.idle;
    const icon = STATE_ICONS[state] ?? "mdi:telescope";
    return `
      <div class="header">
        <div class="title">
          <ha-icon icon="mdi:telescope"></ha-icon>
          <span class="name">${esc(this._title(model))}</span>
        </div>
        <div class="badge state" data-state="${esc(state ?? "unknown")}" style="--state-color:${color}">
          <ha-icon icon="${esc(icon)}"></ha-icon><span class="state-text">${esc(this._t(state))}</span>
        </div>
      </div>`;
  }

  /** Since when and why, in words; while NINA is unreachable, since when it dropped. */
  _renderSubheader(model) {
    let text = "";
    if (model.state === "disconnected") {
      text = model.disconnectedSince
        ? `NINA unreachable since ${esc(this._time(model.disconnectedSince))}`
        : "NINA unreachable";
    } else {
      const history = model.session?.state_history ?? [];
      const last = history[history.length - 1];
      if (last?.since) {
        const parts = [`since ${esc(this._time(last.since))}`];
        const words = this._cause(last);
        if (words) parts.push(esc(words));
        // A scheduler wait says when it ends (the engine's state_detail.wait_until).
        const waitUntil = model.state === "waiting" ? model.session?.state_detail?.wait_until : null;
        if (waitUntil) parts.push(`until ${esc(this._time(waitUntil))}`);
        text = parts.join(" · ");
      }
    }
    return `<div class="subheader">${text}</div>`;
  }

  _renderBody(model) {
    const { session, state } = model;
    if (!session && model.source === "loading") {
      return `<div class="empty">Connecting to NINA Session…</div>`;
    }
    if (!session && !state) {
      return `<div class="empty warning">${esc(
        this._error
          ? `NINA Session is not available: ${this._error}`
          : "No NINA Session data. Check the integration and the card's instance.",
      )}</div>`;
    }
    if (!session) {
      // Between nights the equipment still matters (park the mount after the last frame).
      return `<div class="empty">${
        state === "disconnected"
          ? "NINA is not reachable. The last night's history is kept."
          : "No imaging session is open. The card fills in when NINA starts a sequence or takes frames."
      }</div>${this._renderEquipment(model)}`;
    }
    return this._rows(model).join("");
  }

  /** The card's rows, top to bottom: a new row is one more entry here. */
  _rows(model) {
    const { session } = model;
    const config = this._config;
    return [
      this._renderCurrent(session),
      this._renderEquipment(model),
      this._renderFilters(session),
      framesStrip(this).html(this._hass, this._config.entry_id || this._entryId, model),
      config.show_quality ? this._renderQuality(model) : "",
      config.show_quality ? this._renderQualitySpark(session) : "",
      config.show_timeline ? this._renderTimeline(model) : "",
      config.show_counts ? this._renderCounts(session) : "",
    ];
  }

  /** Cooler, mount, guider, sky and the park button; "" with no equipment connected. */
  _renderEquipment(model) {
    if (!this._hass) return "";
    const found = findEquipmentEntities(this._hass, model.entities._device_id);
    return equipmentRowHtml(this._hass, found, this.shadowRoot);
  }

  /** HFR per filter over the night, the last AF curve, flagged frames; "" until data comes. */
  _renderQualitySpark(session) {
    const entryId = this._config.entry_id || this._entryId || this._live?.entry_id;
    const frameKey = `${session.frames?.total ?? ""}|${session.current?.last_image_at ?? ""}`;
    this._qualityFeed.want(this._hass, entryId, session.id, frameKey);
    return qualitySparkHtml(this._qualityFeed.current(session.id), {
      root: this.shadowRoot,
      color: filterColor,
      time: (iso) => this._time(iso),
    });
  }

  _renderFooter(model) {
    const offline = model.state === "disconnected";
    const source = offline ? "offline" : model.source;
    const label = { live: "live", offline: "offline", entities: "from entities" }[source] ?? "";
    const start = model.session?.start;
    return `
      <div class="footer">
        <span class="source ${esc(source)}" title="${esc(this._error ?? "")}">${esc(label)}</span>
        ${start ? `<span class="started">session started ${esc(this._time(start))}</span>` : ""}
      </div>`;
  }

  _renderCurrent(session) {
    const c = session.current ?? {};
    const filterName = c.filter;
    const type = c.image_type ? String(c.image_type) : "";
    const frameBits = [
      type ? esc(type.charAt(0) + type.slice(1).toLowerCase()) : "",
      num(c.exposure) !== null ? `${esc(this._n(c.exposure))} s` : "",
      c.last_image_at ? esc(this._time(c.last_image_at)) : "",
    ].filter(Boolean);
    return `
      <div class="current">
        <div class="field">
          <div class="label">Target</div>
          <div class="value target">${esc(c.target || (session.targets ?? []).slice(-1)[0] || "–")}</div>
        </div>
        <div class="field">
          <div class="label">Filter</div>
          <div class="value filter">${
            filterName
              ? `<span class="chip" style="--chip:${filterColor(filterName)}">${esc(filterName)}</span>`
              : "–"
          }</div>
        </div>
        <div class="field wide">
          <div class="label">Last frame</div>
          <div class="value frame">${frameBits.join(" · ") || "–"}</div>
        </div>
      </div>`;
  }

  /** Integration per filter on one time scale; goals are marks on it, not a second scale. */
  _renderFilters(session) {
    const frames = session.frames ?? {};
    const byFilter = Object.entries(frames.by_filter ?? {});
    const goals = this._goals();
    const total = num(session.integration_seconds) ?? 0;
    const byType = Object.entries(frames.by_type ?? {})
      .map(([type, count]) => `${esc(this._n(count))} ${esc(type.toLowerCase())}`)
      .join(", ");
    const head = `
      <div class="section-head">
        <span>Integration <b class="integration">${esc(formatDuration(total))}</b></span>
        <span class="muted">${esc(this._n(frames.total ?? 0))} frames${byType ? ` (${byType})` : ""}</span>
      </div>`;
    if (!byFilter.length) {
      return `<div class="filters">${head}<div class="muted small">No light frames yet.</div></div>`;
    }
    const longestGoal = Math.max(0, ...byFilter.map(([name]) => (goals[name] ?? 0) * 3600));
    const longest = Math.max(1, ...byFilter.map(([, slot]) => num(slot?.seconds) ?? 0));
    // A little room past the longest goal, so its mark is not lost in the bar's end.
    const scale = Math.max(longest, longestGoal * 1.08);
    const pctOf = (seconds) => Math.max(0, Math.min(100, (seconds / scale) * 100));
    const rows = byFilter
      .map(([name, slot]) => {
        const seconds = num(slot?.seconds) ?? 0;
        const goal = goals[name] ? goals[name] * 3600 : null;
        const pct = pctOf(seconds);
        const done = goal ? Math.round(Math.min(seconds / goal, 9.99) * 100) : null;
        const mark = goal
          ? `<div class="goal-mark" title="Goal ${esc(formatGoal(goal))}" style="left:${pctOf(goal).toFixed(1)}%"></div>`
          : "";
        return `
          <div class="filter-row" data-filter="${esc(name)}"${done === null ? "" : ` data-goal-pct="${done}"`}>
            <span class="filter-name"><span class="dot" style="--chip:${filterColor(name)}"></span>${esc(name)}</span>
            <div class="filter-bar" role="progressbar" aria-label="${esc(name)}" aria-valuenow="${Math.round(done ?? pct)}" aria-valuemin="0" aria-valuemax="100">
              <div class="filter-fill" style="width:${pct.toFixed(1)}%;--chip:${filterColor(name)}"></div>${mark}
            </div>
            <span class="filter-time">${esc(formatDuration(seconds))}${goal ? `<span class="muted"> / ${esc(formatGoal(goal))}</span>` : ""}</span>
            <span class="filter-count muted">${esc(this._n(slot?.count ?? 0))}×</span>
          </div>`;
      })
      .join("");
    return `<div class="filters">${head}<div class="filter-rows">${rows}</div></div>`;
  }

  /** HFR, stars and guiding of the last light frame (flats and darks have none of them). */
  _renderQuality(model) {
    const session = model.session;
    const q = session.quality ?? {};
    const type = session.current?.image_type;
    const calibrating =
      ["flats", "darks"].includes(model.state) || (type && String(type).toUpperCase() !== "LIGHT");
    const tile = (cls, label, value, mean, unit = "") => `
      <div class="tile ${cls}">
        <div class="label">${label}</div>
        <div class="big">${value === null ? "–" : esc(value)}${value === null ? "" : unit}</div>
        ${mean === null || mean === undefined ? "" : `<div class="muted small">mean ${esc(mean)}${unit}</div>`}
      </div>`;
    const fixed = (v, d = 2) => (num(v) === null ? null : num(v).toFixed(d));
    const stars = num(q.stars_last) === null ? null : this._n(Math.round(num(q.stars_last)));
    const kind = model.state === "flats" || type === "FLAT" ? "flat" : "dark";
    const hint = calibrating
      ? `<div class="quality-hint muted small">From the last light frame (${kind} frames have no stars).</div>`
      : "";
    return `
      <div class="quality-wrap${calibrating ? " stale" : ""}">
        <div class="quality">
          ${tile("hfr", "HFR", fixed(q.hfr_last), fixed(q.hfr_mean))}
          ${tile("stars", "Stars", stars, null)}
          ${tile("rms", "Guiding", fixed(q.guiding_rms_last), fixed(q.guiding_rms_mean), "″")}
        </div>
        ${hint}
      </div>`;
  }

  /** The night's states on one bar; an outage of the link to NINA shows as its own segment. */
  _renderTimeline(model) {
    const session = model.session;
    const history = (session.state_history ?? []).filter((h) => parseTime(h.since) !== null);
    if (!history.length) return "";
    const endIso = session.end;
    const start = Math.min(parseTime(session.start) ?? Infinity, parseTime(history[0].since));
    const end = Math.max(parseTime(endIso) ?? Date.now(), parseTime(history[history.length - 1].since) + 1);
    const outageFrom = !endIso && model.disconnectedSince ? parseTime(model.disconnectedSince) : null;
    const spans = history.map((h, i) => ({
      state: h.state,
      cause: h.cause,
      reason: h.reason,
      from: parseTime(h.since),
      to: i + 1 < history.length ? parseTime(history[i + 1].since) : end,
    }));
    if (outageFrom !== null && outageFrom < end) {
      const from = Math.max(outageFrom, start);
      for (const s of spans) s.to = Math.min(s.to, from);
      spans.push({ state: "disconnected", from, to: end, outage: true });
    }
    const span = Math.max(end - start, 1);
    const iso = (t) => new Date(t).toISOString();
    const segments = spans
      .filter((s) => s.to > s.from || s === spans[spans.length - 1])
      .map((s) => {
        const width = Math.max(((s.to - s.from) / span) * 100, 0);
        const left = ((s.from - start) / span) * 100;
        const color = STATE_COLORS[s.state] ?? STATE_COLORS.idle;
        const until = s.to >= end && !endIso ? "now" : this._time(iso(s.to));
        const words = this._cause(s);
        const title = `${this._t(s.state)} ${this._time(iso(s.from))}–${until}${words ? ` (${words})` : ""}`;
        return `<div class="segment${s.outage ? " outage" : ""}" data-state="${esc(s.state)}" title="${esc(title)}" style="left:${left.toFixed(2)}%;width:${width.toFixed(2)}%;--seg:${color}"></div>`;
      })
      .join("");
    const seen = [...new Set(spans.map((s) => s.state))];
    const legend = seen
      .map(
        (s) =>
          `<span class="legend-item" data-state="${esc(s)}"><span class="dot" style="--chip:${STATE_COLORS[s] ?? STATE_COLORS.idle}"></span>${esc(this._t(s))}</span>`,
      )
      .join("");
    const changes = history.length - 1;
    return `
      <div class="timeline-wrap">
        <div class="section-head"><span>Tonight</span><span class="muted small">${
          changes > 0 ? `${esc(this._n(changes))} state change${changes === 1 ? "" : "s"}` : ""
        }</span></div>
        <div class="timeline">${segments}</div>
        <div class="ticks"><span>${esc(this._time(iso(start)))}</span><span>${
          endIso ? esc(this._time(endIso)) : "now"
        }</span></div>
        <div class="legend">${legend}</div>
      </div>`;
  }

  _renderCounts(session) {
    const c = session.counts;
    if (!c) return "";
    const items = [
      ["dithers", "dither", "dithers"],
      ["autofocus_runs", "autofocus run", "autofocus runs"],
      ["meridian_flips", "meridian flip", "meridian flips"],
      ["pauses", "pause", "pauses"],
      ["errors", "error", "errors"],
    ]
      .filter(([key]) => c[key] !== undefined)
      .map(
        ([key, one, many]) =>
          `<span class="count ${key === "errors" && c[key] > 0 ? "bad" : ""}" data-count="${key}"><b>${esc(this._n(c[key]))}</b> ${c[key] === 1 ? one : many}</span>`,
      )
      .join("");
    return `<div class="counts">${items}</div>`;
  }
}

const STYLE = `
  :host { display: block; }
  ha-card { padding: 16px; box-sizing: border-box; height: 100%; overflow: hidden;
    container: nina-card / inline-size; }
  .header { display: flex; flex-wrap: wrap; align-items: center; justify-content: space-between;
    gap: 4px 8px; }
  .title { display: flex; align-items: center; gap: 8px; font-size: 1.25em; font-weight: 500;
    color: var(--primary-text-color); min-width: 0; flex: 1 1 7em; }
  .title .name { overflow: hidden; text-overflow: ellipsis; white-space: nowrap; }
  .title ha-icon { flex: none; color: var(--state-icon-color, var(--paper-item-icon-color, #44739e)); }
  .badge { flex: none; display: inline-flex; align-items: center; gap: 6px; padding: 4px 12px 4px 8px;
    border-radius: 16px; font-weight: 600; font-size: 0.95em; white-space: nowrap;
    color: var(--primary-text-color);
    background: color-mix(in srgb, var(--state-color) 22%, transparent);
    border: 1px solid color-mix(in srgb, var(--state-color) 70%, transparent); }
  .badge ha-icon { --mdc-icon-size: 18px; color: var(--state-color); }
  .subheader { color: var(--secondary-text-color); font-size: 0.85em; min-height: 1.2em;
    margin: 4px 0 12px 0; }
  .current { display: grid; grid-template-columns: minmax(0, 1fr) auto minmax(0, 1.3fr);
    gap: 4px 12px; margin-bottom: 14px; }
  .field { min-width: 0; }
  .field .label, .tile .label { color: var(--secondary-text-color); font-size: 0.75em;
    text-transform: uppercase; letter-spacing: 0.04em; white-space: nowrap; }
  .field .value { font-size: 1.1em; font-weight: 500; color: var(--primary-text-color);
    overflow-wrap: anywhere; }
  .field .value.frame { font-size: 0.95em; font-weight: 400; }
  .chip { display: inline-block; padding: 0 10px; border-radius: 10px; color: #fff;
    background: var(--chip); font-weight: 600; }
  .dot { display: inline-block; flex: none; width: 10px; height: 10px; border-radius: 50%;
    background: var(--chip); margin-right: 6px; vertical-align: middle; }
  .section-head { display: flex; flex-wrap: wrap; justify-content: space-between;
    align-items: baseline; gap: 0 12px; margin-bottom: 6px; color: var(--primary-text-color); }
  .section-head > :first-child { white-space: nowrap; }
  .muted { color: var(--secondary-text-color); }
  .small { font-size: 0.8em; }
  .filters { margin-bottom: 14px; }
  .filter-rows { display: grid; grid-template-columns: max-content minmax(24px, 1fr) max-content max-content;
    align-items: center; gap: 6px 8px; font-size: 0.9em; }
  .filter-row { display: contents; }
  .filter-name { display: flex; align-items: center; white-space: nowrap; max-width: 7em;
    overflow: hidden; }
  .filter-bar { position: relative; height: 10px; border-radius: 5px; overflow: hidden;
    background: var(--divider-color, rgba(127,127,127,0.2)); }
  .filter-fill { height: 100%; border-radius: 5px; background: var(--chip);
    transition: width 0.6s ease; }
  .goal-mark { position: absolute; top: -1px; bottom: -1px; width: 2px; margin-left: -1px;
    background: var(--primary-text-color); opacity: 0.7; }
  .filter-time, .filter-count { text-align: right; white-space: nowrap;
    font-variant-numeric: tabular-nums; }
  .quality-wrap { margin-bottom: 14px; }
  .quality { display: grid; grid-template-columns: repeat(3, minmax(0, 1fr)); gap: 8px; }
  .quality-wrap.stale .tile .big { opacity: 0.55; }
  .quality-hint { margin-top: 4px; }
  .tile { border-radius: 10px; padding: 8px 10px; min-width: 0;
    background: var(--secondary-background-color, rgba(127,127,127,0.08)); }
  .tile .big { font-size: 1.4em; font-weight: 500; color: var(--primary-text-color);
    font-variant-numeric: tabular-nums; white-space: nowrap; }
  .timeline-wrap { margin-bottom: 10px; }
  .timeline { position: relative; height: 14px; border-radius: 7px; overflow: hidden;
    background: var(--divider-color, rgba(127,127,127,0.2)); }
  .segment { position: absolute; top: 0; bottom: 0; min-width: 2px; background: var(--seg); }
  .segment.outage { background: repeating-linear-gradient(135deg, var(--seg) 0 4px,
    transparent 4px 8px); }
  .ticks { display: flex; justify-content: space-between; font-size: 0.75em;
    color: var(--secondary-text-color); margin-top: 2px; }
  .legend { display: flex; flex-wrap: wrap; gap: 4px 12px; font-size: 0.8em;
    color: var(--secondary-text-color); margin-top: 4px; }
  .legend-item { display: inline-flex; align-items: center; white-space: nowrap; }
  .counts { display: flex; flex-wrap: wrap; gap: 4px 14px; font-size: 0.85em;
    color: var(--secondary-text-color); border-top: 1px solid var(--divider-color, #e0e0e0);
    padding-top: 8px; }
  .count { white-space: nowrap; }
  .counts b { color: var(--primary-text-color); }
  .counts .bad b { color: var(--error-color, #db4437); }
  .empty { padding: 16px 0; color: var(--secondary-text-color); }
  .empty.warning { color: var(--warning-color, #ff9800); }
  .footer { display: flex; flex-wrap: wrap; justify-content: space-between; gap: 0 8px;
    margin-top: 8px; font-size: 0.75em; color: var(--secondary-text-color); }
  .source.live::before, .source.offline::before { content: "●"; margin-right: 4px; }
  .source.live::before { color: var(--success-color, #43a047); }
  .source.offline { color: var(--error-color, #db4437); }
  @container nina-card (max-width: 420px) {
    .current { grid-template-columns: minmax(0, 1fr) auto; }
    .field.wide { grid-column: 1 / -1; }
  }
  @container nina-card (max-width: 320px) {
    ha-card { padding: 12px; }
    .title { font-size: 1.1em; }
    .tile { padding: 6px 8px; }
    .tile .big { font-size: 1.2em; }
    .field .label, .tile .label { letter-spacing: 0; }
    .filter-rows { gap: 6px; font-size: 0.85em; }
  }
`;

// After the row's own style: the row keeps the card's spacing between sections.
const ROW_SPACING = `
  .nina-eq-row { margin: 0 0 14px 0; }
`;

if (!customElements.get(CARD_TYPE)) {
  customElements.define(CARD_TYPE, NinaSessionCard);
  console.info(`%c NINA-SESSION-CARD %c ${CARD_VERSION} `, "color:#fff;background:#3949ab", "");
}

window.customCards = window.customCards || [];
if (!window.customCards.some((card) => card.type === CARD_TYPE)) {
  window.customCards.push({
    type: CARD_TYPE,
    name: "NINA Session",
    description:
      "Tonight's N.I.N.A. imaging session: state, target, filter, integration per filter, " +
      "HFR, stars, guiding and a timeline of the night.",
    preview: true,
    documentationURL: "https://github.com/nina-session/nina_session",
  });
}
