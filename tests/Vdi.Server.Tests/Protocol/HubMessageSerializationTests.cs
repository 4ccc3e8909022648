using System.Text.Json;
using Vdi.Protocol;

namespace Vdi.Server.Tests.Protocol;

/// <summary>Every wire record survives System.Text.Json with web defaults, by reflection and by the source-generated context.</summary>
public class HubMessageSerializationTests
{
    private static readonly JsonSerializerOptions s_web = new(JsonSerializerDefaults.Web);

    public static TheoryData<JsonSerializerOptions> AllOptions => new() { s_web, ProtocolJson.Options };

    private static T RoundTrip<T>(T value, JsonSerializerOptions options) =>
        JsonSerializer.Deserialize<T>(JsonSerializer.Serialize(value, options), options)!;

    [Theory]
    [MemberData(nameof(AllOptions))]
    public void Client_to_server_messages_round_trip(JsonSerializerOptions options)
    {
        var key = new KeyEvent("KeyA", "A", true);
        var pointer = new PointerEvent(100.5, 200.25, 3, -120);
        var display = new DisplayChanged(new ClientDisplay(2560, 1440, 2, 218, 597, 336, 144));
        var ack = new FrameAck(long.MaxValue);

        Assert.Equal(key, RoundTrip(key, options));
        Assert.Equal(pointer, RoundTrip(pointer, options));
        Assert.Equal(display, RoundTrip(display, options));
        Assert.Equal(ack, RoundTrip(ack, options));
    }

    [Theory]
    [MemberData(nameof(AllOptions))]
    public void Server_to_client_messages_round_trip(JsonSerializerOptions options)
    {
        var move = new CursorMove(-3, 4000);
        var mode = new ModeChanged(3840, 2160, 163.2);
        var ended = new SessionEnded(SessionEndReasons.TakenOver, "This desktop was opened on another device.");

        Assert.Equal(move, RoundTrip(move, options));
        Assert.Equal(mode, RoundTrip(mode, options));
        Assert.Equal(ended, RoundTrip(ended, options));
    }

    [Theory]
    [MemberData(nameof(AllOptions))]
    public void Frame_update_round_trips_tiles_and_bytes(JsonSerializerOptions options)
    {
        var frame = new FrameUpdate(42, 1920, 1080,
        [
            new Tile(0, 0, 64, 64, TileEncodings.Png, [0x89, 0x50, 0x4E, 0x47, 0, 255]),
            new Tile(64, 0, 128, 32, TileEncodings.Jpeg, [0xFF, 0xD8, 0xFF]),
            new Tile(0, 64, 1, 1, TileEncodings.Png, []),
        ]);

        var copy = RoundTrip(frame, options);

        // Records compare arrays by reference, so compare the contents.
        Assert.Equal((frame.FrameId, frame.Width, frame.Height), (copy.FrameId, copy.Width, copy.Height));
        Assert.Equal(frame.Tiles.Length, copy.Tiles.Length);
        for (var i = 0; i < frame.Tiles.Length; i++)
        {
            Assert.Equal(frame.Tiles[i] with { Data = [] }, copy.Tiles[i] with { Data = [] });
            Assert.Equal(frame.Tiles[i].Data, copy.Tiles[i].Data);
        }
    }

    [Theory]
    [MemberData(nameof(AllOptions))]
    public void Cursor_update_round_trips_with_and_without_image(JsonSerializerOptions options)
    {
        var shown = new CursorUpdate(1, 2, 32, 32, [1, 2, 3]);
        var copy = RoundTrip(shown, options);
        Assert.Equal(shown with { Png = null }, copy with { Png = null });
        Assert.Equal(shown.Png, copy.Png);

        var hidden = new CursorUpdate(0, 0, 0, 0, null);
        Assert.Equal(hidden, RoundTrip(hidden, options));
    }

    [Theory]
    [MemberData(nameof(AllOptions))]
    public void Rest_records_round_trip(JsonSerializerOptions options)
    {
        var display = new ClientDisplay(1920, 1080, 1.25, RefreshHz: 59.94);
        var create = new CreateSessionRequest(Guid.NewGuid(), display, "kiosk");
        var response = new CreateSessionResponse(Guid.NewGuid(), "tok_abc", new DateTimeOffset(2026, 11, 27, 14, 0, 0, TimeSpan.Zero));
        var desktop = new DesktopSummary(Guid.NewGuid(), "Dev", "running", 2, 1024, 7680, 4320, null);
        var newDesktop = new CreateDesktopRequest("Dev", 2, 1024, null, 1440, "alice");
        var session = new SessionSummary(Guid.NewGuid(), desktop.Id, "alice", null, display,
            response.TokenExpiresAt.AddMinutes(-5), response.TokenExpiresAt, SessionEndReasons.Expired, IsShadow: false);

        Assert.Equal(create, RoundTrip(create, options));
        Assert.Equal(response, RoundTrip(response, options));
        Assert.Equal(desktop, RoundTrip(desktop, options));
        Assert.Equal(newDesktop, RoundTrip(newDesktop, options));
        Assert.Equal(session, RoundTrip(session, options));
    }

    [Fact]
    public void Wire_names_are_camel_case_and_bytes_are_base64()
    {
        Assert.Equal("""{"code":"Enter","key":"Enter","down":false}""",
            JsonSerializer.Serialize(new KeyEvent("Enter", "Enter", false), ProtocolJson.Options));
        Assert.Equal("""{"x":1.5,"y":2,"buttons":1,"wheelDeltaY":0}""",
            JsonSerializer.Serialize(new PointerEvent(1.5, 2, 1), ProtocolJson.Options));
        Assert.Equal("""{"frameId":7,"width":640,"height":480,"tiles":[{"x":0,"y":0,"width":2,"height":2,"encoding":"png","data":"AQID","slot":-1,"sourceX":0,"sourceY":0}],"dpi":96}""",
            JsonSerializer.Serialize(new FrameUpdate(7, 640, 480, [new Tile(0, 0, 2, 2, "png", [1, 2, 3])], 96), ProtocolJson.Options));
        // A null image hides the cursor; it must not become "" (an empty image).
        Assert.Equal("""{"hotX":0,"hotY":0,"width":0,"height":0,"png":null}""",
            JsonSerializer.Serialize(new CursorUpdate(0, 0, 0, 0, null), ProtocolJson.Options));
        Assert.Equal("""{"reason":"desktop-stopped","message":"The desktop was shut down."}""",
            JsonSerializer.Serialize(new SessionEnded(SessionEndReasons.DesktopStopped, "The desktop was shut down."), s_web));
    }

    [Fact]
    public void End_reasons_and_encodings_are_the_documented_strings()
    {
        Assert.Equal(["taken-over", "disconnected-by-admin", "desktop-stopped", "expired", "disconnected", "signed-out", "server-restarted", "moved"], SessionEndReasons.All);
        Assert.All(SessionEndReasons.All, reason => Assert.True(SessionEndReasons.IsKnown(reason)));
        Assert.False(SessionEndReasons.IsKnown("crashed"));
        Assert.False(SessionEndReasons.IsKnown(null));

        Assert.True(TileEncodings.IsKnown("png"));
        Assert.True(TileEncodings.IsKnown("jpeg"));
        Assert.False(TileEncodings.IsKnown("PNG"));
        Assert.False(TileEncodings.IsKnown("webp"));
    }
}
