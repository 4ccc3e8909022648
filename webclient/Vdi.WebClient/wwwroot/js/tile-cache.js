// The viewer's tile cache (see docs/broker.md, "Tile cache").

/**
 * The tile cache: slots the server fills (a png tile with a slot) and paints from (a cache tile).
 * The server picks every slot number and does all the evicting, so this only stores and paints;
 * the images live in one atlas canvas, slot n at column n % 32, row n / 32.
 */
export class TileCache {
    static SLOTS = 1024;
    static SIZE = 64;
    static COLUMNS = 32;

    constructor() {
        this.atlas = null;
        this.filled = new Uint8Array(TileCache.SLOTS);
    }

    keep(slot, bitmap) {
        if (slot >= TileCache.SLOTS || bitmap.width > TileCache.SIZE || bitmap.height > TileCache.SIZE) return;
        if (this.atlas === null) {
            const size = TileCache.SIZE * TileCache.COLUMNS;
            this.atlas = typeof OffscreenCanvas === "function" ? new OffscreenCanvas(size, size) : Object.assign(document.createElement("canvas"), { width: size, height: size });
            this.atlasCtx = this.atlas.getContext("2d", { alpha: false });
            this.atlasCtx.imageSmoothingEnabled = false;
        }
        const [ax, ay] = TileCache.#origin(slot);
        this.atlasCtx.drawImage(bitmap, ax, ay);
        this.filled[slot] = 1;
    }

    forget(slot) {
        if (slot < TileCache.SLOTS) this.filled[slot] = 0;
    }

    /** Paints slot's image (w x h of it) at (x, y); false when the slot holds nothing. */
    paint(slot, ctx, x, y, w, h) {
        if (!(slot >= 0 && slot < TileCache.SLOTS && this.filled[slot])) return false;
        const [ax, ay] = TileCache.#origin(slot);
        ctx.drawImage(this.atlas, ax, ay, w, h, x, y, w, h);
        return true;
    }

    static #origin(slot) {
        return [(slot % TileCache.COLUMNS) * TileCache.SIZE, Math.floor(slot / TileCache.COLUMNS) * TileCache.SIZE];
    }
}
