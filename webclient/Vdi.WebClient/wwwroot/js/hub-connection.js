// The desktop hub (/hubs/desktop) through the official SignalR client with the MessagePack protocol
// (wwwroot/lib, restored from npm by the build). Messages are handled strictly in arrival order, one
// at a time, so a frame is painted (and acknowledged) before the next message is looked at. Wire
// names and shapes are server/Vdi.Protocol's records: MessagePack maps keyed by the C# property names.

// The same delays as the .NET client had: 0, 1, 2, 5, 10, 10, 30, 30 s, then give up.
const RECONNECT_DELAYS_MS = [0, 1000, 2000, 5000, 10000, 10000, 30000, 30000];

let librariesLoaded = null;

/** Loads signalr.min.js, then its MessagePack protocol (which extends the global signalR). */
function loadLibraries() {
    const load = src => new Promise((resolve, reject) => {
        const script = Object.assign(document.createElement("script"), { src, async: false });
        script.onload = resolve;
        script.onerror = () => reject(new Error(`could not load ${src}`));
        document.head.append(script);
    });
    librariesLoaded ??= (globalThis.signalR?.protocols?.msgpack
        ? Promise.resolve()
        : load("lib/signalr.min.js").then(() => load("lib/signalr-protocol-msgpack.min.js")));
    return librariesLoaded;
}

/**
 * One viewer's link to its desktop. `handlers` receives, in order: frame(FrameUpdate) (a promise:
 * the frame is acknowledged once it resolves), cursor(CursorUpdate), cursorMove(CursorMove),
 * mode(ModeChanged), ended(SessionEnded), status(name, reason), acked(roundTripMs). A session that
 * ends because its desktop moved to another host (reason "moved") is not ended: the link follows it.
 * `reopen()` opens a new session for a reconnect (tokens are single use; it may setDisplay first) and
 * resolves to its token, or to null when that failed (the page then shows why).
 */
export class HubConnection {
    constructor(url, handlers, reopen) {
        this.url = url;
        this.handlers = handlers;
        this.reopen = reopen;
        this.status = "connecting";
        this.ended = false;
        this.moving = false;
        this.inbox = Promise.resolve();
        this.connection = null;
    }

    /** Starts the hub and connects the session `token` with `display` (a ClientDisplay). */
    async start(token, display) {
        this.display = display;
        this.#setStatus("connecting", null);
        try {
            await loadLibraries();
        } catch (e) {
            return this.#fail(`Could not load the viewer: ${e.message}`);
        }
        const signalR = globalThis.signalR;
        const connection = new signalR.HubConnectionBuilder()
            .withUrl(this.url)
            .withHubProtocol(new signalR.protocols.msgpack.MessagePackHubProtocol())
            .withAutomaticReconnect(RECONNECT_DELAYS_MS)
            .configureLogging(signalR.LogLevel.Warning)
            .build();
        this.connection = connection;
        connection.on("FrameUpdate", f => this.#post(() => this.#frame(f)));
        connection.on("CursorUpdate", c => this.#post(() => this.handlers.cursor(c)));
        connection.on("CursorMove", m => this.#post(() => this.handlers.cursorMove(m)));
        connection.on("ModeChanged", m => this.#post(() => this.handlers.mode(m)));
        connection.on("SessionEnded", e => {
            // At once, not in turn: the server closes the connection next, and that close must not
            // be taken for a drop to reconnect from.
            if (e.Reason === "moved") {
                // The desktop runs on another host now: a new connection through the same address
                // reaches it there, with a new session. The picture stays until its first frame.
                this.moving = true;
                this.#post(() => this.#follow(e));
                return;
            }
            this.ended = true;
            this.#post(() => this.#end(e));
        });
        connection.onreconnecting(() => {
            if (this.ended) return void connection.stop();
            if (this.moving) return; // #follow stops this and starts afresh
            this.#setStatus("reconnecting", null);
        });
        connection.onreconnected(async () => {
            if (this.ended) return void connection.stop();
            if (this.moving) return;
            const token = await this.reopen();
            if (token === null) return this.#fail(null);
            await this.#connectSession(token);
        });
        connection.onclose(error => {
            if (this.ended || this.moving || this.status === "failed") return;
            this.#setStatus("disconnected", error?.message ?? "The connection closed.");
        });
        try {
            await connection.start();
        } catch (e) {
            return this.#fail(`Could not reach the broker: ${e.message}`);
        }
        await this.#connectSession(token);
    }

    /** The display this link connects (and reconnects) with; the server hears of it through changeDisplay. */
    setDisplay(display) {
        this.display = display;
    }

    get connected() {
        return !this.ended && this.status === "connected" && this.connection?.state === "Connected";
    }

    sendKey(code, key, down) {
        this.#send("SendKey", { Code: code, Key: key, Down: down });
    }

    sendPointer(x, y, buttons, wheelDeltaY) {
        this.#send("SendPointer", { X: x, Y: y, Buttons: buttons, WheelDeltaY: wheelDeltaY });
    }

    changeDisplay(display) {
        this.display = display;
        this.#send("ChangeDisplay", { Display: display });
    }

    async stop() {
        this.ended = true;
        await this.connection?.stop().catch(() => { });
    }

    #send(method, message) {
        if (this.connected) this.connection.send(method, message).catch(() => { });
    }

    async #connectSession(token) {
        try {
            const mode = await this.connection.invoke("Connect", token, this.display);
            // In the inbox, so a frame that raced ahead of the answer is not reordered after it.
            this.#post(() => this.handlers.mode(mode));
            this.#setStatus("connected", null);
        } catch (e) {
            if (this.connection.state !== "Connected") {
                // The connection dropped while connecting; the reconnect handlers take it from here.
                this.#setStatus("reconnecting", e.message);
                return;
            }
            await this.#fail(HubConnection.#hubMessage(e));
        }
    }

    /** Connects the same session again with the token its old host gave; false when the server refused it. */
    async #resume(token) {
        try {
            const mode = await this.connection.invoke("Connect", token, this.display);
            this.#post(() => this.handlers.mode(mode));
            this.#setStatus("connected", null);
        } catch (e) {
            if (this.connection.state !== "Connected") this.#setStatus("reconnecting", e.message);
            return this.connection.state !== "Connected";
        }
        return true;
    }

    async #frame(frame) {
        await this.handlers.frame(frame);
        // Acknowledge after painting; the round trip is the latency shown. Not awaited, so the next
        // message is handled as soon as it arrives.
        if (this.connection.state !== "Connected") return;
        const started = performance.now();
        this.connection.invoke("Ack", { FrameId: frame.FrameId })
            .then(() => this.handlers.acked(performance.now() - started), () => { });
    }

    /** Follows the desktop to its new host: the connection is started again, then a new session connected. */
    async #follow(moved) {
        this.#setStatus("reconnecting", moved.Message);
        // The same session goes on there with the token the old host gave; without one (the record ended meanwhile),
        // a new session is asked for while the connection restarts (the desktop's record names its new host already).
        const resume = moved.ResumeToken ?? null;
        let early = resume !== null ? Promise.resolve(resume) : this.reopen();
        await this.connection.stop().catch(() => { });
        for (const delay of RECONNECT_DELAYS_MS) {
            if (this.ended) return;
            await new Promise(resolve => setTimeout(resolve, delay));
            try {
                await this.connection.start();
            } catch {
                early = null; // a later attempt asks for a fresh one
                continue;
            }
            this.moving = false;
            const token = await (early ?? this.reopen());
            if (token === null) return this.#fail(null);
            if (token === resume && !(await this.#resume(token))) {
                // Refused there (it expired while the connection restarted): a new session instead.
                const fresh = await this.reopen();
                if (fresh === null) return this.#fail(null);
                return await this.#connectSession(fresh);
            }
            if (token !== resume) await this.#connectSession(token);
            return;
        }
        this.moving = false;
        this.#setStatus("disconnected", "Could not reach the desktop on its new host.");
    }

    async #end(ended) {
        await this.handlers.ended(ended);
        this.#setStatus("ended", ended.Message);
        await this.connection.stop().catch(() => { });
    }

    async #fail(reason) {
        this.ended = true;
        if (reason !== null) this.#setStatus("failed", reason);
        await this.connection?.stop().catch(() => { });
    }

    #setStatus(status, reason) {
        this.status = status;
        this.handlers.status(status, reason);
    }

    #post(work) {
        this.inbox = this.inbox.then(work).catch(e => {
            // One bad message (an undecodable image, a page being torn down) must not stop the viewer.
            console.error("Vdi viewer:", e);
        });
    }

    /** The server's reason without "An unexpected error occurred invoking 'Connect' on the server. HubException:". */
    static #hubMessage(e) {
        const message = String(e?.message ?? e);
        const marker = "HubException: ";
        const at = message.indexOf(marker);
        return at >= 0 ? message.slice(at + marker.length) : message;
    }
}
