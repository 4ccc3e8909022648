// Figures for the status panel: frames painted and tile bytes received over the last second, the
// round trip of the latest frame acknowledgement, and tiles skipped since the start.

const WINDOW_MS = 1000;

export class ViewerStats {
    constructor() {
        this.reset();
    }

    reset() {
        this.frames = [];      // [at, bytes], oldest first
        this.bytes = 0;
        this.latencyMs = null;
        this.failed = 0;
    }

    framePainted(frame, failed) {
        let bytes = 0;
        for (const tile of frame.Tiles ?? []) bytes += tile?.Data?.length ?? 0;
        const now = performance.now();
        this.frames.push([now, bytes]);
        this.bytes += bytes;
        this.failed += failed;
        this.#trim(now);
    }

    ackRoundTrip(ms) {
        this.latencyMs = ms;
    }

    /** { fps, bytesPerSecond, latencyMs (or null), failed } now. */
    snapshot() {
        this.#trim(performance.now());
        return { fps: this.frames.length, bytesPerSecond: this.bytes, latencyMs: this.latencyMs, failed: this.failed };
    }

    #trim(now) {
        let drop = 0;
        while (drop < this.frames.length && now - this.frames[drop][0] > WINDOW_MS) this.bytes -= this.frames[drop++][1];
        if (drop > 0) this.frames.splice(0, drop);
    }
}
