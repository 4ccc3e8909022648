// The viewer's hot path: painting tiles, capturing input and watching the display. It knows no
// protocol: .NET hands it decoded messages (tile bytes arrive as Uint8Array) and receives neutral
// input events (DOM code/key, pointer in device pixels of the canvas, the measured display) through
// a DotNetObjectReference. Pointer moves are coalesced to one per animation frame.

// The tile cache is a module of its own, loaded with this module's version (its query string), so a
// browser never pairs this viewer with a cached older cache.
const { TileCache } = await import(`./tile-cache.js${new URL(import.meta.url).search}`);

// Pixels per line / page when a wheel reports lines (Firefox) or pages instead of pixels.
const WHEEL_LINE_PX = 40;

export function create(host, canvas, cursor, dotnet, knownCodes, inputEnabled) {
    return new Viewer(host, canvas, cursor, dotnet, new Set(knownCodes), inputEnabled);
}

/** A short label for this device, shown to administrators and in take-over notices. */
export function describeClient() {
    const platform = navigator.userAgentData?.platform || navigator.platform || "unknown platform";
    const mobile = navigator.userAgentData?.mobile ? "phone or tablet" : "browser";
    return `Web ${mobile} on ${platform}`.replace(/[^\x20-\x7e]/g, "").slice(0, 64);
}

class Viewer {
    constructor(host, canvas, cursor, dotnet, knownCodes, inputEnabled) {
        this.host = host;
        this.canvas = canvas;
        this.cursor = cursor;
        this.dotnet = dotnet;
        this.knownCodes = knownCodes;
        this.inputEnabled = inputEnabled;
        this.ctx = canvas.getContext("2d", { alpha: false });
        this.ctx.imageSmoothingEnabled = false;

        this.measured = this.#measureNow();    // latest device-pixel size of the host
        this.reported = { ...this.measured }; // what .NET last heard, so nothing is echoed
        this.pendingMove = null;
        this.moveScheduled = false;
        this.buttons = 0;
        this.downKeys = new Map();             // code -> key, released on blur
        this.cursorImage = null;               // { url, hotX, hotY, width, height } or null
        this.cursorHidden = false;
        this.pointerCss = null;                // last local pointer position, CSS px in the canvas
        this.disposed = false;
        this.displayCheckScheduled = false;
        this.tiles = new TileCache();          // images the server asked us to keep, by slot

        this.#observeDisplay();
        this.#captureInput();
        this.#layout();
    }

    /** [width, height, devicePixelRatio] of the area the desktop should fill, in device pixels. */
    measure() {
        this.measured = this.#measureNow();
        return [this.measured.width, this.measured.height, this.measured.dpr];
    }

    /** Sizes the canvas backing store to the desktop's mode; clears it only when the size changes. */
    setMode(width, height) {
        if (this.canvas.width !== width || this.canvas.height !== height) {
            this.canvas.width = width;
            this.canvas.height = height;
            // Resizing resets the context state.
            this.ctx.imageSmoothingEnabled = false;
            this.ctx.fillStyle = "#000";
            this.ctx.fillRect(0, 0, width, height);
        }
        this.#layout();
    }

    /**
     * Applies a frame's operations in order (the order matters: copies read the picture as the
     * operations before them left it, cache slots are filled and reused in sequence). Images are
     * decoded in parallel first; resolves once everything is painted, so .NET acknowledges only
     * painted frames. Operations that fail are skipped and counted.
     *   png, jpeg: draw the image at (x, y); a png with slot >= 0 is also kept in that cache slot
     *   cache:     draw the image kept in the slot, w x h, at (x, y)
     *   copy:      copy w x h of this canvas from (sx, sy) to (x, y)
     */
    async drawFrame(width, height, xs, ys, ws, hs, encodings, slots, sxs, sys, data) {
        const decoded = await Promise.all(data.map((bytes, i) =>
            encodings[i] === "png" || encodings[i] === "jpeg"
                ? createImageBitmap(new Blob([bytes], { type: encodings[i] === "jpeg" ? "image/jpeg" : "image/png" }),
                    { premultiplyAlpha: "none", colorSpaceConversion: "none" }).catch(() => null)
                : null));
        if (this.disposed) {
            decoded.forEach(b => b?.close());
            return 0;
        }
        this.setMode(width, height);
        let failed = 0;
        for (let i = 0; i < encodings.length; i++) {
            const [x, y, w, h, slot] = [xs[i], ys[i], ws[i], hs[i], slots[i]];
            switch (encodings[i]) {
                case "png":
                case "jpeg": {
                    const bitmap = decoded[i];
                    if (bitmap === null) {
                        failed++;
                        if (slot >= 0) this.tiles.forget(slot);
                        break;
                    }
                    this.ctx.drawImage(bitmap, x, y);
                    if (slot >= 0) this.tiles.keep(slot, bitmap);
                    bitmap.close();
                    break;
                }
                case "cache":
                    if (!this.tiles.paint(slot, this.ctx, x, y, w, h)) failed++;
                    break;
                case "copy":
                    // Drawing a canvas onto itself copies the source first, so overlapping is fine.
                    this.ctx.drawImage(this.canvas, sxs[i], sys[i], w, h, x, y, w, h);
                    break;
                default:
                    failed++;
            }
        }
        return failed;
    }

    /** The guest's cursor image (PNG bytes, device pixels) or null to hide the cursor. */
    setCursor(png, hotX, hotY, width, height) {
        if (this.cursorImage) URL.revokeObjectURL(this.cursorImage.url);
        this.cursorImage = png ? { url: URL.createObjectURL(new Blob([png], { type: "image/png" })), hotX, hotY, width, height } : null;
        this.cursorHidden = !png;
        this.cursor.style.backgroundImage = this.cursorImage ? `url(${this.cursorImage.url})` : "none";
        // The local pointer is replaced by the guest's image, drawn at device-pixel size.
        this.canvas.style.cursor = "none";
        this.#placeCursor();
    }

    /** The guest moved its cursor (x, y: hot spot in device pixels of the mode). */
    moveCursor(x, y) {
        const scale = this.#cssPerDevicePixel();
        this.pointerCss = { x: x * scale.x, y: y * scale.y };
        this.#placeCursor();
    }

    setInputEnabled(enabled) {
        this.inputEnabled = enabled;
        if (!enabled) this.#releaseKeys();
    }

    /** The session ended (reason: taken-over, desktop-stopped, …): no input, and the last picture is shown as not live; null: live again. */
    setEnded(reason) {
        if (reason === null) {
            delete this.host.dataset.ended;
            this.host.classList.remove("viewport-ended");
            return;
        }
        this.setInputEnabled(false);
        this.host.dataset.ended = reason;
        this.host.classList.add("viewport-ended");
    }

    focus() {
        this.canvas.focus({ preventScroll: true });
    }

    dispose() {
        this.disposed = true;
        this.#releaseKeys();
        this.resizeObserver?.disconnect();
        clearInterval(this.pollTimer);
        this.dprQuery?.removeEventListener("change", this.onDprChange);
        for (const [target, type, handler, options] of this.listeners) target.removeEventListener(type, handler, options);
        if (this.cursorImage) URL.revokeObjectURL(this.cursorImage.url);
    }

    // ---- display observation ----

    /**
     * The host's size in device pixels: round(CSS size × devicePixelRatio). The host fills the
     * window, so its CSS size is whole and the product exact at the usual ratios (1, 1.25, 1.5, 2, 3).
     */
    #measureNow() {
        const dpr = window.devicePixelRatio || 1;
        const rect = this.host.getBoundingClientRect();
        return {
            width: Math.max(1, Math.round(rect.width * dpr)),
            height: Math.max(1, Math.round(rect.height * dpr)),
            dpr,
        };
    }

    #remeasure() {
        if (this.disposed) return;
        const m = this.#measureNow();
        const old = this.measured;
        this.measured = m;
        if (m.width !== old.width || m.height !== old.height || m.dpr !== old.dpr) this.#layout();
        this.#scheduleDisplayCheck();
    }

    #observeDisplay() {
        this.resizeObserver = new ResizeObserver(() => this.#remeasure());
        this.resizeObserver.observe(this.host);
        // Zoom or a move to a monitor of another density changes devicePixelRatio without
        // resizing anything in CSS pixels; the query matches one ratio only, so it is renewed.
        this.onDprChange = () => {
            this.dprQuery.removeEventListener("change", this.onDprChange);
            this.#watchDpr();
            this.#remeasure();
        };
        this.#watchDpr();
        // Some environments (emulated device metrics, some embedded browsers) change the ratio
        // without either event; a cheap check twice a second catches those.
        this.pollTimer = setInterval(() => this.#remeasure(), 500);
    }

    #watchDpr() {
        this.dprQuery = window.matchMedia(`(resolution: ${window.devicePixelRatio || 1}dppx)`);
        this.dprQuery.addEventListener("change", this.onDprChange);
    }

    #scheduleDisplayCheck() {
        if (this.displayCheckScheduled) return;
        this.displayCheckScheduled = true;
        requestAnimationFrame(() => {
            this.displayCheckScheduled = false;
            const m = this.measured;
            const r = this.reported;
            if (this.disposed || (m.width === r.width && m.height === r.height && m.dpr === r.dpr)) return;
            this.reported = { ...m };
            this.dotnet.invokeMethodAsync("OnDisplayChanged", m.width, m.height, m.dpr).catch(() => { });
        });
    }

    /**
     * One canvas pixel per device pixel: when the mode equals the measured area the canvas fills
     * it exactly; otherwise (a mode clamped to the desktop's limits, or a resize in flight) the
     * canvas keeps its device-pixel size instead of being stretched.
     */
    #layout() {
        const { width, height, dpr } = this.measured;
        const style = this.canvas.style;
        if (this.canvas.width === width && this.canvas.height === height) {
            style.width = "100%";
            style.height = "100%";
        } else {
            style.width = `${this.canvas.width / dpr}px`;
            style.height = `${this.canvas.height / dpr}px`;
        }
        this.#placeCursor();
    }

    #cssPerDevicePixel() {
        const rect = this.canvas.getBoundingClientRect();
        return {
            x: this.canvas.width ? rect.width / this.canvas.width : 1,
            y: this.canvas.height ? rect.height / this.canvas.height : 1,
        };
    }

    #placeCursor() {
        const image = this.cursorImage;
        const style = this.cursor.style;
        if (!image || this.cursorHidden || !this.pointerCss) {
            style.display = "none";
            return;
        }
        const scale = this.#cssPerDevicePixel();
        const rect = this.canvas.getBoundingClientRect();
        const hostRect = this.host.getBoundingClientRect();
        style.display = "block";
        style.width = `${image.width * scale.x}px`;
        style.height = `${image.height * scale.y}px`;
        style.left = `${rect.left - hostRect.left + this.pointerCss.x - image.hotX * scale.x}px`;
        style.top = `${rect.top - hostRect.top + this.pointerCss.y - image.hotY * scale.y}px`;
    }

    // ---- input ----

    #listen(target, type, handler, options) {
        target.addEventListener(type, handler, options);
        this.listeners.push([target, type, handler, options]);
    }

    #captureInput() {
        this.listeners = [];
        const canvas = this.canvas;
        this.#listen(window, "keydown", e => this.#onKey(e, true), true);
        this.#listen(window, "keyup", e => this.#onKey(e, false), true);
        this.#listen(window, "blur", () => this.#releaseKeys());
        this.#listen(canvas, "pointerdown", e => {
            canvas.focus({ preventScroll: true });
            canvas.setPointerCapture?.(e.pointerId);
            this.#onPointer(e, true);
            e.preventDefault();
        });
        this.#listen(canvas, "pointermove", e => this.#onPointer(e, false));
        this.#listen(canvas, "pointerup", e => this.#onPointer(e, true));
        this.#listen(canvas, "pointercancel", e => this.#onPointer(e, true));
        this.#listen(canvas, "pointerleave", () => {
            this.pointerCss = null;
            this.#placeCursor();
        });
        this.#listen(canvas, "wheel", e => this.#onWheel(e), { passive: false });
        this.#listen(canvas, "contextmenu", e => e.preventDefault());
    }

    #onKey(e, down) {
        if (!this.inputEnabled || this.disposed) return;
        const target = e.target;
        if (target instanceof HTMLInputElement || target instanceof HTMLTextAreaElement) return;
        if (!this.knownCodes.has(e.code)) return;
        // The desktop handles the key: keep the browser from acting on it (Tab, F5, Backspace...).
        e.preventDefault();
        e.stopPropagation();
        if (down) this.downKeys.set(e.code, e.key);
        else this.downKeys.delete(e.code);
        this.dotnet.invokeMethodAsync("OnKey", e.code, e.key, down).catch(() => { });
    }

    /** Keys still held when the window loses focus would stick in the guest; let them go. */
    #releaseKeys() {
        if (this.downKeys.size === 0) return;
        for (const [code, key] of this.downKeys) this.dotnet.invokeMethodAsync("OnKey", code, key, false).catch(() => { });
        this.downKeys.clear();
    }

    /** Device pixels of the mode under a DOM event, clamped onto the screen. */
    #position(e) {
        const rect = this.canvas.getBoundingClientRect();
        const cssX = e.clientX - rect.left;
        const cssY = e.clientY - rect.top;
        this.pointerCss = { x: cssX, y: cssY };
        const x = Math.floor(cssX * this.canvas.width / Math.max(1, rect.width));
        const y = Math.floor(cssY * this.canvas.height / Math.max(1, rect.height));
        return {
            x: Math.min(Math.max(0, x), Math.max(0, this.canvas.width - 1)),
            y: Math.min(Math.max(0, y), Math.max(0, this.canvas.height - 1)),
        };
    }

    #onPointer(e, immediate) {
        const { x, y } = this.#position(e);
        this.#placeCursor();
        if (!this.inputEnabled || this.disposed || this.canvas.width === 0) return;
        this.buttons = e.buttons & 0x1f;
        if (immediate || this.buttons !== this.lastSentButtons) {
            // Button changes go at once (a pending move is superseded by this position).
            this.pendingMove = null;
            this.#sendPointer(x, y, this.buttons, 0);
            return;
        }
        this.pendingMove = { x, y, buttons: this.buttons };
        if (this.moveScheduled) return;
        this.moveScheduled = true;
        requestAnimationFrame(() => {
            this.moveScheduled = false;
            const move = this.pendingMove;
            this.pendingMove = null;
            if (move && !this.disposed) this.#sendPointer(move.x, move.y, move.buttons, 0);
        });
    }

    #onWheel(e) {
        e.preventDefault();
        if (!this.inputEnabled || this.disposed || this.canvas.width === 0) return;
        const { x, y } = this.#position(e);
        const perUnit = e.deltaMode === 1 ? WHEEL_LINE_PX : e.deltaMode === 2 ? this.canvas.height : 1;
        const delta = Math.max(-10000, Math.min(10000, e.deltaY * perUnit));
        if (delta !== 0) this.#sendPointer(x, y, e.buttons & 0x1f, delta);
    }

    #sendPointer(x, y, buttons, wheel) {
        this.lastSentButtons = buttons;
        this.dotnet.invokeMethodAsync("OnPointer", x, y, buttons, wheel).catch(() => { });
    }
}
