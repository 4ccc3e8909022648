// The guest's cursor: its image (CursorUpdate) drawn at device-pixel size over the canvas where the
// pointer is, in place of the local pointer.

export class RemoteCursor {
    constructor(host, canvas, element) {
        this.host = host;
        this.canvas = canvas;
        this.element = element;
        this.image = null;         // { url, hotX, hotY, width, height } or null
        this.pointerCss = null;    // the pointer's position, CSS px in the canvas
    }

    /** A CursorUpdate: { HotX, HotY, Width, Height, Png (null hides the cursor) }. */
    set(update) {
        if (this.image) URL.revokeObjectURL(this.image.url);
        this.image = update.Png
            ? { url: URL.createObjectURL(new Blob([update.Png], { type: "image/png" })), hotX: update.HotX, hotY: update.HotY, width: update.Width, height: update.Height }
            : null;
        this.element.style.backgroundImage = this.image ? `url(${this.image.url})` : "none";
        this.canvas.style.cursor = "none";
        this.place();
    }

    /** The guest moved its cursor (x, y: hot spot in device pixels of the mode). */
    moveTo(x, y) {
        const scale = this.#cssPerDevicePixel();
        this.pointerCss = { x: x * scale.x, y: y * scale.y };
        this.place();
    }

    /** The local pointer is at (x, y) CSS px in the canvas, or left it (null). */
    pointerAt(css) {
        this.pointerCss = css;
        this.place();
    }

    place() {
        const image = this.image;
        const style = this.element.style;
        if (!image || !this.pointerCss) {
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

    dispose() {
        if (this.image) URL.revokeObjectURL(this.image.url);
    }

    #cssPerDevicePixel() {
        const rect = this.canvas.getBoundingClientRect();
        return {
            x: this.canvas.width ? rect.width / this.canvas.width : 1,
            y: this.canvas.height ? rect.height / this.canvas.height : 1,
        };
    }
}
