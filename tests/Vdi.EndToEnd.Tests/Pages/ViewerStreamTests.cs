using System.Text.Json;
using Vdi.EndToEnd.Tests.Infrastructure;

namespace Vdi.EndToEnd.Tests.Pages;

/// <summary>
/// The real viewer.js in Chromium, fed hub messages in order through a stand-in for the SignalR client
/// (the <c>signalR</c> global it uses): the canvas follows the frames' mode, a ModeChanged message alone
/// never touches it, each frame is acknowledged once painted, and keys go to the hub as they are typed.
/// </summary>
public sealed class ViewerStreamTests(SiteWithFailedDesktop site) : IClassFixture<SiteWithFailedDesktop>
{
    /// <summary>Installs the stand-in hub, starts a viewer on a fresh canvas and exposes helpers as window.__stream.</summary>
    private const string Setup = """
        async () => {
            const handlers = {}, sent = [];
            const connection = {
                state: "Connected",
                on: (name, handler) => { handlers[name] = handler; },
                onreconnecting() { }, onreconnected() { }, onclose() { },
                start: async () => { },
                stop: async () => { connection.state = "Disconnected"; },
                send: async (method, message) => { sent.push({ method, message }); },
                invoke: async (method, ...args) => {
                    sent.push({ method, message: args.length === 1 ? args[0] : args });
                    return method === "Connect" ? { Width: 320, Height: 200, Dpi: 96 } : null;
                },
            };
            class HubConnectionBuilder {
                withUrl() { return this; } withHubProtocol() { return this; } withAutomaticReconnect() { return this; }
                configureLogging() { return this; } build() { return connection; }
            }
            window.signalR = { HubConnectionBuilder, LogLevel: { Warning: 3 }, protocols: { msgpack: { MessagePackHubProtocol: class { } } } };

            const { create } = await import("/js/viewer.js");
            const host = Object.assign(document.createElement("div"), { id: "viewport" });
            host.style.cssText = "position:fixed;inset:0";
            const canvas = Object.assign(document.createElement("canvas"), { id: "screen", tabIndex: 0 });
            const cursor = document.createElement("div");
            host.append(canvas, cursor);
            document.body.append(host);
            const dotnet = { invokeMethodAsync: async () => null };
            const viewer = create(host, canvas, cursor, dotnet, "/hubs/desktop", ["KeyA", "KeyB"], true, [320, 200, 7680, 4320, 10]);
            viewer.measure();
            await viewer.connect("token");

            // A solid-colour PNG of w x h, as the server's encoder would send.
            const png = async (w, h, colour) => {
                const c = new OffscreenCanvas(w, h);
                const g = c.getContext("2d");
                g.fillStyle = colour;
                g.fillRect(0, 0, w, h);
                return new Uint8Array(await (await c.convertToBlob({ type: "image/png" })).arrayBuffer());
            };
            const frame = async (id, w, h, colour) => ({
                FrameId: id, Width: w, Height: h, Dpi: 96,
                Tiles: [{ X: 0, Y: 0, Width: w, Height: h, Encoding: "png", Data: await png(w, h, colour), Slot: -1, SourceX: 0, SourceY: 0 }],
            });
            const acked = id => sent.some(s => s.method === "Ack" && s.message.FrameId === id);
            const settle = async test => { for (let i = 0; i < 500 && !test(); i++) await new Promise(r => setTimeout(r, 10)); return test(); };
            const centre = () => Array.from(canvas.getContext("2d").getImageData(canvas.width >> 1, canvas.height >> 1, 1, 1).data.slice(0, 3));
            window.__stream = { handlers, sent, canvas, frame, acked, settle, centre, viewer };
        }
        """;

    [Fact]
    public async Task A_frame_of_a_new_size_resizes_the_canvas_and_a_mode_change_alone_never_does()
    {
        await using var context = await site.NewContextAsync(640, 400);
        var page = await context.NewPageAsync();
        await page.GotoAsync("/signin");
        await page.EvaluateAsync(Setup);

        var result = await page.EvaluateAsync<JsonElement>("""
            async () => {
                const s = window.__stream;
                const seen = [];
                const look = label => seen.push({ label, width: s.canvas.width, height: s.canvas.height, centre: s.centre() });
                s.handlers.FrameUpdate(await s.frame(1, 320, 200, "#ff0000"));
                const first = await s.settle(() => s.acked(1));
                look("first frame");
                s.handlers.ModeChanged({ Width: 640, Height: 400, Dpi: 96 });
                await new Promise(r => setTimeout(r, 300));
                look("mode changed, no frame yet");
                s.handlers.FrameUpdate(await s.frame(2, 640, 400, "#0000ff"));
                const second = await s.settle(() => s.acked(2));
                look("frame at the new mode");
                return { first, second, seen };
            }
            """);

        Assert.True(result.GetProperty("first").GetBoolean(), "the first frame was never acknowledged");
        Assert.True(result.GetProperty("second").GetBoolean(), "the frame at the new mode was never acknowledged");
        var seen = result.GetProperty("seen").EnumerateArray().ToArray();
        AssertCanvas(seen[0], 320, 200, [255, 0, 0]);
        AssertCanvas(seen[1], 320, 200, [255, 0, 0]);
        AssertCanvas(seen[2], 640, 400, [0, 0, 255]);
    }

    [Fact]
    public async Task Frames_are_acknowledged_only_after_they_are_painted_and_keys_go_to_the_hub()
    {
        await using var context = await site.NewContextAsync(640, 400);
        var page = await context.NewPageAsync();
        await page.GotoAsync("/signin");
        await page.EvaluateAsync(Setup);

        var result = await page.EvaluateAsync<JsonElement>("""
            async () => {
                const s = window.__stream;
                const draw = CanvasRenderingContext2D.prototype.drawImage;
                let drawnBeforeAck = null;
                CanvasRenderingContext2D.prototype.drawImage = function (...args) {
                    if (this.canvas === s.canvas && drawnBeforeAck === null) drawnBeforeAck = !s.acked(7);
                    return draw.apply(this, args);
                };
                s.handlers.FrameUpdate(await s.frame(7, 320, 200, "#00ff00"));
                const acked = await s.settle(() => s.acked(7));
                CanvasRenderingContext2D.prototype.drawImage = draw;
                return { acked, drawnBeforeAck, centre: s.centre() };
            }
            """);
        Assert.True(result.GetProperty("acked").GetBoolean(), "the frame was never acknowledged");
        Assert.True(result.GetProperty("drawnBeforeAck").GetBoolean(), "the frame was acknowledged before it was drawn");
        Assert.Equal([0, 255, 0], result.GetProperty("centre").EnumerateArray().Select(e => e.GetInt32()));

        await page.Locator("canvas#screen").FocusAsync();
        await page.Keyboard.PressAsync("a");
        await page.Keyboard.PressAsync("c"); // KeyC is not among the desktop's keys here: left to the browser, never sent
        var keys = await page.EvaluateAsync<JsonElement>(
            "() => window.__stream.sent.filter(s => s.method === 'SendKey').map(s => `${s.message.Code}:${s.message.Key}:${s.message.Down}`)");
        Assert.Equal(["KeyA:a:true", "KeyA:a:false"], keys.EnumerateArray().Select(k => k.GetString()));
    }

    private static void AssertCanvas(JsonElement seen, int width, int height, int[] centre)
    {
        var label = seen.GetProperty("label").GetString();
        Assert.True(seen.GetProperty("width").GetInt32() == width && seen.GetProperty("height").GetInt32() == height,
            $"{label}: the canvas is {seen.GetProperty("width")}x{seen.GetProperty("height")}, expected {width}x{height}");
        Assert.True(centre.SequenceEqual(seen.GetProperty("centre").EnumerateArray().Select(e => e.GetInt32())),
            $"{label}: the canvas's centre is {seen.GetProperty("centre")}, expected [{string.Join(", ", centre)}]");
    }
}
