// The viewer's hot path, put together: the hub connection (hub-connection.js) feeds the painter
// (frame-painter.js) and the guest's cursor (remote-cursor.js); input (input-capture.js) and display
// changes (display-watch.js) go straight to the hub. .NET hears only low-rate things, through a
// DotNetObjectReference: status changes (OnStatus), the end of the session (OnEnded), figures twice
// a second and when the mode changes (OnStats), and a request for a new session on reconnect (OpenSession).

// Submodules are loaded with this module's version (its query string), so a browser never pairs this
// viewer with cached older parts.
const version = new URL(import.meta.url).search;
const [{ HubConnection }, { FramePainter }, { DisplayWatch }, { InputCapture }, { RemoteCursor }, { ViewerStats }] = await Promise.all(
    ["hub-connection", "frame-painter", "display-watch", "input-capture", "remote-cursor", "viewer-stats"]
        .map(name => import(`./${name}.js${version}`)));

const STATS_INTERVAL_MS = 500;

/**
 * A viewer on `canvas` inside `host` (the area the desktop fills), the guest's cursor in `cursor`.
 * hubUrl: /hubs/desktop; knownCodes: the DOM codes the desktop takes; inputEnabled: false for a
 * view-only shadow (no input, no display changes); limits: [minWidth, minHeight, maxWidth,
 * maxHeight, maxDevicePixelRatio] of the display to ask for. Plain values, so .NET passes them as is.
 */
export function create(host, canvas, cursor, dotnet, hubUrl, knownCodes, inputEnabled, limits) {
    const [minWidth, minHeight, maxWidth, maxHeight, maxDevicePixelRatio] = limits;
    return new Viewer(host, canvas, cursor, dotnet,
        { hubUrl, knownCodes, inputEnabled, limits: { minWidth, minHeight, maxWidth, maxHeight, maxDevicePixelRatio } });
}

/** A short label for this device, shown to administrators and in take-over notices. */
export function describeClient() {
    const platform = navigator.userAgentData?.platform || navigator.platform || "unknown platform";
    const mobile = navigator.userAgentData?.mobile ? "phone or tablet" : "browser";
    return `Web ${mobile} on ${platform}`.replace(/[^\x20-\x7e]/g, "").slice(0, 64);
}

class Viewer {
    constructor(host, canvas, cursorElement, dotnet, options) {
        this.host = host;
        this.canvas = canvas;
        this.dotnet = dotnet;
        this.options = options;
        this.stats = new ViewerStats();
        this.hub = null;
        this.cursor = new RemoteCursor(host, canvas, cursorElement);
        this.display = new DisplayWatch(host, canvas, options.limits, d => this.#displayChanged(d));
        this.painter = new FramePainter(canvas, () => {
            this.display.layout();
            this.cursor.place();
        });
        this.input = new InputCapture(canvas, options.knownCodes, {
            key: (code, key, down) => this.hub?.sendKey(code, key, down),
            pointer: (x, y, buttons, wheel) => this.hub?.sendPointer(x, y, buttons, wheel),
            pointerAt: css => this.cursor.pointerAt(css),
        }, options.inputEnabled);
        this.statsTimer = setInterval(() => this.#report(), STATS_INTERVAL_MS);
    }

    /** The display to ask for now, as [width, height, devicePixelRatio]; connect uses it. */
    measure() {
        const d = this.measured = this.display.measure();
        return [d.Width, d.Height, d.DevicePixelRatio];
    }

    /**
     * Connects the session `token` (from POST /api/sessions, made for the display measure() returned
     * last) and runs the viewer until the session ends or the connection is given up. A connection
     * started before is stopped.
     */
    async connect(token) {
        await this.hub?.stop();
        const display = this.measured ??= this.display.measure();
        this.stats.reset();
        this.setEnded(null);
        this.input.setEnabled(this.options.inputEnabled);
        this.display.setReported(display);
        const hub = new HubConnection(this.options.hubUrl, {
            frame: f => this.#paint(f),
            cursor: c => this.cursor.set(c),
            cursorMove: m => this.cursor.moveTo(m.X, m.Y),
            // Informational: the canvas follows the frames, which carry the mode in order.
            mode: () => { },
            ended: e => this.#ended(e),
            status: (status, reason) => this.#call("OnStatus", status, reason),
            acked: ms => this.stats.ackRoundTrip(ms),
        }, () => this.#reopen(hub));
        this.hub = hub;
        await hub.start(token, display);
    }

    /** The session ended (reason: taken-over, desktop-stopped, …): no input, and the last picture is shown as not live; null: live again. */
    setEnded(reason) {
        if (reason === null) {
            delete this.host.dataset.ended;
            this.host.classList.remove("viewport-ended");
            return;
        }
        this.input.setEnabled(false);
        this.host.dataset.ended = reason;
        this.host.classList.add("viewport-ended");
    }

    focus() {
        this.canvas.focus({ preventScroll: true });
    }

    async dispose() {
        clearInterval(this.statsTimer);
        this.input.dispose();
        this.display.dispose();
        this.painter.dispose();
        this.cursor.dispose();
        await this.hub?.stop();
    }

    async #paint(frame) {
        const [width, height] = [this.painter.width, this.painter.height];
        const failed = await this.painter.paint(frame);
        this.stats.framePainted(frame, failed);
        if (this.painter.width !== width || this.painter.height !== height) this.#report();
    }

    async #ended(ended) {
        this.setEnded(ended.Reason);
        await this.#call("OnEnded", ended.Reason, ended.Message);
    }

    #displayChanged(display) {
        // Echo-free: DisplayWatch reports only a display that differs from the last one; the server debounces.
        if (this.hub?.connected && this.options.inputEnabled) this.hub.changeDisplay(display);
        else this.hub?.setDisplay(display);
    }

    /** A reconnect needs a new session (tokens are single use), for the display as it is now. */
    async #reopen(hub) {
        const display = this.measured = this.display.measure();
        this.display.setReported(display);
        hub.setDisplay(display);
        const token = await this.#call("OpenSession", display.Width, display.Height, display.DevicePixelRatio);
        return typeof token === "string" ? token : null;
    }

    #report() {
        const s = this.stats.snapshot();
        this.#call("OnStats", this.painter.width, this.painter.height, s.fps, s.latencyMs, s.bytesPerSecond, s.failed);
    }

    #call(method, ...args) {
        return this.dotnet.invokeMethodAsync(method, ...args).catch(() => null);
    }
}
