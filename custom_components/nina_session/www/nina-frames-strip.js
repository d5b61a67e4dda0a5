// The session card's recent-frames strip: thumbnails of NINA's newest frames. A separate
// module so the card imports it:
//
//   import { framesStrip } from "./nina-frames-strip.js";
//   html += framesStrip(card).html(hass, entryId, model);   // "" until there is a thumbnail
//
// The pictures come from Home Assistant (`/api/nina_session/frames`), never from NINA: the
// observatory speaks plain HTTP, which an HTTPS dashboard may not load, and HA keeps one copy
// of each thumbnail for every viewer. The API needs the user's token, which an <img src>
// cannot carry, so each thumbnail is fetched with `hass.fetchWithAuth` and shown from a blob
// URL. The list is read again only when the session's newest frame changes.

const API = "nina_session/frames";

// One row of thumbnails, newest on the left, as many as the card's width holds: a grid whose
// rows after the first have no height (a scrolling strip would stick out of a narrow card).
const STYLE = `<style>
  .nina-frames { display: grid; grid-template-columns: repeat(auto-fill, minmax(56px, 1fr));
    grid-template-rows: auto; grid-auto-rows: 0; column-gap: 4px; overflow: hidden;
    margin: 8px 0; }
  .nina-frames img { width: 100%; aspect-ratio: 3 / 2; object-fit: cover; border-radius: 4px;
    display: block; background: var(--secondary-background-color); }
</style>`;

/** Thumbnails of one card's recent frames, kept as blob URLs by position. */
export class FramesStrip {
  /** `onChange()` is called when new thumbnails arrived (the card draws itself again). */
  constructor(onChange) {
    this._onChange = onChange;
    this._urls = new Map(); // position -> blob URL, oldest first
    this._key = undefined; // what the newest frame was at the last read
    this._loading = null;
    this._again = false;
  }

  /** The strip's HTML now ("" with no thumbnail); starts a read when a new frame exists. */
  html(hass, entryId, model) {
    const key = newestFrameKey(model);
    if (hass && key !== this._key) {
      this._key = key;
      this.refresh(hass, entryId);
    }
    if (this._urls.size === 0) return "";
    const images = [...this._urls]
      .reverse()
      .map(([index, url]) => `<img src="${url}" alt="Frame ${index + 1}" title="Frame ${index + 1}">`)
      .join("");
    return `${STYLE}<div class="nina-frames">${images}</div>`;
  }

  /** Read the list and fetch the thumbnails not yet held; one read at a time. */
  refresh(hass, entryId) {
    if (this._loading) {
      this._again = true;
      return this._loading;
    }
    this._loading = (async () => {
      do {
        this._again = false;
        try {
          await this._load(hass, entryId);
        } catch (err) {
          // NINA away or an old integration: the strip just stays as it was.
          console.debug("nina-frames-strip:", err);
        }
      } while (this._again);
      this._loading = null;
    })();
    return this._loading;
  }

  /** Let go of every blob URL (the card left the page). */
  dispose() {
    for (const url of this._urls.values()) URL.revokeObjectURL(url);
    this._urls.clear();
    this._key = undefined;
  }

  async _load(hass, entryId) {
    const query = entryId ? `?entry_id=${encodeURIComponent(entryId)}` : "";
    const { frames } = await hass.callApi("GET", `${API}${query}`);
    const wanted = Array.isArray(frames) ? frames.filter(Number.isInteger) : [];
    const next = new Map();
    let changed = false;
    for (const index of wanted) {
      let url = this._urls.get(index);
      if (url === undefined) {
        const response = await hass.fetchWithAuth(`/api/${API}/${index}${query}`);
        if (!response.ok) continue; // no thumbnail of that frame (plugin option off)
        url = URL.createObjectURL(await response.blob());
        changed = true;
      }
      next.set(index, url);
    }
    for (const [index, url] of this._urls) {
      if (!next.has(index)) {
        URL.revokeObjectURL(url);
        changed = true;
      }
    }
    this._urls = next;
    if (changed) this._onChange();
  }
}

/** What identifies the session's newest frame: a change means the strip may have moved. */
export function newestFrameKey(model) {
  const session = model?.session;
  return `${session?.current?.last_image_at ?? ""}|${session?.frames?.total ?? ""}`;
}

const STRIPS = new WeakMap();

/** The strip of a card, made on first use; it redraws the card when thumbnails arrive. */
export function framesStrip(card) {
  let strip = STRIPS.get(card);
  if (!strip) {
    strip = new FramesStrip(() => card._queueRender?.());
    STRIPS.set(card, strip);
  }
  return strip;
}
