// Watches the area the desktop fills: its size in device pixels and the device pixel ratio, as the
// ClientDisplay (server/Vdi.Protocol/ClientDisplay.cs) to ask for, within the desktop's limits; and
// lays the canvas out so one canvas pixel stays one device pixel.

/**
 * The display to ask for: round(CSS size × devicePixelRatio) of `host`, clamped to `limits`
 * ({ minWidth, minHeight, maxWidth, maxHeight, maxDevicePixelRatio }: a window smaller than the
 * minimum mode, or larger than the desktop's maximum, still gets a session). The host fills the
 * window, so its CSS size is whole and the product exact at the usual ratios (1, 1.25, 1.5, 2, 3).
 */
export function measureDisplay(host, limits) {
    const ratio = window.devicePixelRatio;
    const dpr = Number.isFinite(ratio) && ratio > 0 ? Math.min(ratio, limits.maxDevicePixelRatio) : 1;
    const rect = host.getBoundingClientRect();
    const clamp = (v, min, max) => Math.min(Math.max(v, min), Math.max(min, max));
    return {
        Width: clamp(Math.round(rect.width * (ratio || 1)), limits.minWidth, limits.maxWidth),
        Height: clamp(Math.round(rect.height * (ratio || 1)), limits.minHeight, limits.maxHeight),
        DevicePixelRatio: dpr,
        Dpi: null, WidthMm: null, HeightMm: null, RefreshHz: null,
    };
}

export function sameDisplay(a, b) {
    return a.Width === b.Width && a.Height === b.Height && a.DevicePixelRatio === b.DevicePixelRatio;
}

export class DisplayWatch {
    /**
     * `onChange(display)` runs when the display differs from the last one reported: at once from the
     * ResizeObserver (which runs once per rendered frame, after layout), so a resize reaches the server
     * without waiting for another frame; other checks coalesce to one per animation frame.
     */
    constructor(host, canvas, limits, onChange) {
        this.host = host;
        this.canvas = canvas;
        this.limits = limits;
        this.onChange = onChange;
        this.reported = this.measure();
        this.checkScheduled = false;
        this.disposed = false;
        this.resizeObserver = new ResizeObserver(() => this.#check());
        this.resizeObserver.observe(host);
        // Zoom or a move to a monitor of another density changes devicePixelRatio without resizing
        // anything in CSS pixels; the query matches one ratio only, so it is renewed.
        this.onDprChange = () => {
            this.dprQuery.removeEventListener("change", this.onDprChange);
            this.#watchDpr();
            this.#changed();
        };
        this.#watchDpr();
        // Some environments (emulated device metrics, some embedded browsers) change the ratio
        // without either event; a cheap check twice a second catches those.
        this.pollTimer = setInterval(() => this.#changed(), 500);
        this.layout();
    }

    measure() {
        return measureDisplay(this.host, this.limits);
    }

    /** What the server was last told (or connected with). */
    setReported(display) {
        this.reported = display;
    }

    /**
     * When the canvas's backing store is what the window measures, it fills the window; otherwise
     * (a mode clamped to the desktop's limits, or a resize in flight) it keeps its device-pixel size
     * instead of being stretched.
     */
    layout() {
        const dpr = window.devicePixelRatio || 1;
        const rect = this.host.getBoundingClientRect();
        const style = this.canvas.style;
        if (this.canvas.width === Math.round(rect.width * dpr) && this.canvas.height === Math.round(rect.height * dpr)) {
            style.width = "100%";
            style.height = "100%";
        } else {
            style.width = `${this.canvas.width / dpr}px`;
            style.height = `${this.canvas.height / dpr}px`;
        }
    }

    dispose() {
        this.disposed = true;
        this.resizeObserver.disconnect();
        clearInterval(this.pollTimer);
        this.dprQuery.removeEventListener("change", this.onDprChange);
    }

    #watchDpr() {
        this.dprQuery = window.matchMedia(`(resolution: ${window.devicePixelRatio || 1}dppx)`);
        this.dprQuery.addEventListener("change", this.onDprChange);
    }

    #changed() {
        if (this.disposed || this.checkScheduled) return;
        this.checkScheduled = true;
        requestAnimationFrame(() => {
            this.checkScheduled = false;
            this.#check();
        });
    }

    #check() {
        if (this.disposed) return;
        this.layout();
        const display = this.measure();
        if (sameDisplay(display, this.reported)) return;
        this.reported = display;
        this.onChange(display);
    }
}
