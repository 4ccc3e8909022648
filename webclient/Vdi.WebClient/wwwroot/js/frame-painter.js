// Paints FrameUpdates (server/Vdi.Protocol/Hub/FrameUpdate.cs, Tile.cs) on the viewer's canvas. It
// knows the frame's operations, not the transport: tiles are { X, Y, Width, Height, Encoding, Data
// (Uint8Array), Slot, SourceX, SourceY }, as MessagePack delivers them.

const { TileCache } = await import(`./tile-cache.js${new URL(import.meta.url).search}`);

const NO_SLOT = -1;
// Tiles are opaque, so premultiplying changes no pixel, and it is the form the canvas draws from without
// a conversion per draw; no colour-space conversion, so pixels land exactly as sent.
const DECODE_OPTIONS = { colorSpaceConversion: "none" };

/**
 * Why `tile` cannot be painted on a width x height frame, or null when it can: the rules of
 * server/Vdi.Protocol/Hub/FrameValidator.cs. Invalid tiles are skipped and counted, like tiles that
 * fail to decode, so a bad tile never reaches the canvas.
 */
export function invalidTile(tile, width, height) {
    if (tile === null || typeof tile !== "object") return "a tile is missing";
    const { X: x, Y: y, Width: w, Height: h, Encoding: encoding, Slot: slot = NO_SLOT } = tile;
    const sx = tile.SourceX ?? 0, sy = tile.SourceY ?? 0;
    const data = tile.Data?.length ?? 0;
    const inside = (ax, ay) => w > 0 && h > 0 && ax >= 0 && ay >= 0 && ax + w <= width && ay + h <= height;
    const isSlot = slot >= 0 && slot < TileCache.SLOTS && Number.isInteger(slot);
    const fitsSlot = w <= TileCache.SIZE && h <= TileCache.SIZE;
    if (!inside(x, y)) return "tile is not inside the frame";
    if (encoding !== "copy" && (sx !== 0 || sy !== 0)) return "only a copy tile has a source";
    switch (encoding) {
        case "png":
            if (data === 0) return "a png tile carries no image";
            if (slot !== NO_SLOT && !(isSlot && fitsSlot)) return "bad slot";
            return null;
        case "jpeg":
            if (data === 0) return "a jpeg tile carries no image";
            return slot !== NO_SLOT ? "a jpeg tile is never cached" : null;
        case "cache":
            if (!isSlot || !fitsSlot) return "bad slot";
            return data !== 0 ? "a cache tile carries no image" : null;
        case "copy":
            if (data !== 0 || slot !== NO_SLOT) return "a copy tile carries no image and no slot";
            return inside(sx, sy) ? null : "copy source is not inside the frame";
        default:
            return `unknown encoding ${encoding}`;
    }
}

export class FramePainter {
    /** `onResize()` runs after the canvas took a new size (its CSS size needs laying out), before the frame is painted. */
    constructor(canvas, onResize = () => { }) {
        this.canvas = canvas;
        this.onResize = onResize;
        this.ctx = canvas.getContext("2d", { alpha: false });
        this.ctx.imageSmoothingEnabled = false;
        this.tiles = new TileCache();
        this.disposed = false;
        // The mode of the frames painted; 0 x 0 before the first (the canvas's own 300 x 150 means nothing).
        this.width = 0;
        this.height = 0;
    }

    /**
     * Applies a frame's operations in order (copies read the picture as the operations before them
     * left it; cache slots are filled and reused in sequence). Images are decoded in parallel first.
     * A frame of another size than the canvas resizes it first: after a mode change the first frame
     * covers the whole screen. Resolves to the number of tiles skipped (invalid or undecodable) once
     * everything is on the canvas.
     *   png, jpeg: draw the image at (x, y); a png with a slot is also kept in that slot
     *   cache:     draw the image kept in the slot, w x h, at (x, y)
     *   copy:      copy w x h of this canvas from (sx, sy) to (x, y)
     */
    async paint(frame) {
        const { Width: width, Height: height } = frame;
        if (!(Number.isInteger(width) && Number.isInteger(height) && width > 0 && height > 0)) return frame.Tiles?.length ?? 0;
        const all = frame.Tiles ?? [];
        const tiles = all.filter(t => invalidTile(t, width, height) === null);
        let failed = all.length - tiles.length;
        const decoded = await Promise.all(tiles.map(t =>
            t.Encoding === "png" || t.Encoding === "jpeg"
                ? createImageBitmap(new Blob([t.Data], { type: `image/${t.Encoding}` }), DECODE_OPTIONS).catch(() => null)
                : null));
        if (this.disposed) {
            decoded.forEach(b => b?.close());
            return failed;
        }
        this.#size(width, height);
        this.width = width;
        this.height = height;
        const ctx = this.ctx;
        for (let i = 0; i < tiles.length; i++) {
            const { X: x, Y: y, Width: w, Height: h, Slot: slot = NO_SLOT } = tiles[i];
            switch (tiles[i].Encoding) {
                case "png":
                case "jpeg": {
                    const bitmap = decoded[i];
                    if (bitmap === null) {
                        failed++;
                        if (slot !== NO_SLOT) this.tiles.forget(slot);
                        break;
                    }
                    ctx.drawImage(bitmap, x, y);
                    if (slot !== NO_SLOT) this.tiles.keep(slot, bitmap);
                    bitmap.close();
                    break;
                }
                case "cache":
                    if (!this.tiles.paint(slot, ctx, x, y, w, h)) failed++;
                    break;
                case "copy":
                    // Drawing a canvas onto itself copies the source first, so overlapping is fine.
                    ctx.drawImage(this.canvas, tiles[i].SourceX, tiles[i].SourceY, w, h, x, y, w, h);
                    break;
            }
        }
        return failed;
    }

    dispose() {
        this.disposed = true;
    }

    /** The backing store follows the frames' mode; a new size clears it (the frame paints it all). */
    #size(width, height) {
        if (this.canvas.width === width && this.canvas.height === height) return;
        this.canvas.width = width;
        this.canvas.height = height;
        // Resizing resets the context state.
        this.ctx.imageSmoothingEnabled = false;
        this.ctx.fillStyle = "#000";
        this.ctx.fillRect(0, 0, width, height);
        this.onResize();
    }
}
