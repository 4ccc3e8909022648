// Keyboard, pointer and wheel on the viewer's canvas, as neutral events for the hub: DOM code/key
// with down/up; pointer in device pixels of the canvas (the mode) with the DOM button mask and the
// wheel in pixels. Pointer moves are coalesced to one per animation frame; button changes and the
// wheel go at once. Only keys the desktop knows are captured (and kept from the browser).

// Pixels per line when a wheel reports lines (Firefox) instead of pixels; a page is the canvas's height.
const WHEEL_LINE_PX = 40;
const BUTTONS = 0x1f;
const MAX_WHEEL = 10000;

export class InputCapture {
    /** `sink`: { key(code, key, down), pointer(x, y, buttons, wheelDeltaY), pointerAt(css or null) }. */
    constructor(canvas, knownCodes, sink, enabled) {
        this.canvas = canvas;
        this.knownCodes = new Set(knownCodes);
        this.sink = sink;
        this.enabled = enabled;
        this.downKeys = new Map();    // code -> key, released on blur
        this.pendingMove = null;
        this.moveScheduled = false;
        this.lastSentButtons = 0;
        this.listeners = [];
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
        this.#listen(canvas, "pointerleave", () => this.sink.pointerAt(null));
        this.#listen(canvas, "wheel", e => this.#onWheel(e), { passive: false });
        this.#listen(canvas, "contextmenu", e => e.preventDefault());
    }

    setEnabled(enabled) {
        if (!enabled) this.#releaseKeys();
        this.enabled = enabled;
    }

    dispose() {
        this.#releaseKeys();
        this.enabled = false;
        for (const [target, type, handler, options] of this.listeners) target.removeEventListener(type, handler, options);
    }

    #listen(target, type, handler, options) {
        target.addEventListener(type, handler, options);
        this.listeners.push([target, type, handler, options]);
    }

    #onKey(e, down) {
        if (!this.enabled) return;
        const target = e.target;
        if (target instanceof HTMLInputElement || target instanceof HTMLTextAreaElement) return;
        if (!this.knownCodes.has(e.code)) return;
        // The desktop handles the key: keep the browser from acting on it (Tab, F5, Backspace...).
        e.preventDefault();
        e.stopPropagation();
        if (down) this.downKeys.set(e.code, e.key);
        else this.downKeys.delete(e.code);
        this.sink.key(e.code, e.key, down);
    }

    /** Keys still held when the window loses focus would stick in the guest; let them go. */
    #releaseKeys() {
        if (!this.enabled) return;
        for (const [code, key] of this.downKeys) this.sink.key(code, key, false);
        this.downKeys.clear();
    }

    /** Device pixels of the mode under a DOM event, clamped onto the screen. */
    #position(e) {
        const rect = this.canvas.getBoundingClientRect();
        const cssX = e.clientX - rect.left;
        const cssY = e.clientY - rect.top;
        this.sink.pointerAt({ x: cssX, y: cssY });
        const x = Math.floor(cssX * this.canvas.width / Math.max(1, rect.width));
        const y = Math.floor(cssY * this.canvas.height / Math.max(1, rect.height));
        return {
            x: Math.min(Math.max(0, x), Math.max(0, this.canvas.width - 1)),
            y: Math.min(Math.max(0, y), Math.max(0, this.canvas.height - 1)),
        };
    }

    #onPointer(e, immediate) {
        const { x, y } = this.#position(e);
        if (!this.enabled || this.canvas.width === 0) return;
        const buttons = e.buttons & BUTTONS;
        if (immediate || buttons !== this.lastSentButtons) {
            // Button changes go at once (a pending move is superseded by this position).
            this.pendingMove = null;
            this.#send(x, y, buttons, 0);
            return;
        }
        this.pendingMove = { x, y, buttons };
        if (this.moveScheduled) return;
        this.moveScheduled = true;
        requestAnimationFrame(() => {
            this.moveScheduled = false;
            const move = this.pendingMove;
            this.pendingMove = null;
            if (move && this.enabled) this.#send(move.x, move.y, move.buttons, 0);
        });
    }

    #onWheel(e) {
        e.preventDefault();
        if (!this.enabled || this.canvas.width === 0) return;
        const { x, y } = this.#position(e);
        const perUnit = e.deltaMode === 1 ? WHEEL_LINE_PX : e.deltaMode === 2 ? this.canvas.height : 1;
        const delta = Math.max(-MAX_WHEEL, Math.min(MAX_WHEEL, e.deltaY * perUnit));
        if (delta !== 0) this.#send(x, y, e.buttons & BUTTONS, delta);
    }

    #send(x, y, buttons, wheel) {
        this.lastSentButtons = buttons;
        this.sink.pointer(x, y, buttons, wheel);
    }
}
