using Vdi.Vmm.Devices.Display;
using Vdi.Vmm.Devices.Gpu;

namespace Vdi.Vmm.Host;

/// <summary>One decoded frame of the host protocol; <see cref="Encode"/> makes its bytes, <see cref="HostMessages.Decode"/> reads them.</summary>
public abstract record HostMessage
{
    public abstract HostMessageType Type { get; }

    public byte[] Encode() => Write(new FrameBuilder(Type)).ToArray();

    protected abstract FrameBuilder Write(FrameBuilder frame);
}

public sealed record HelloMessage(ushort MinVersion, ushort MaxVersion) : HostMessage
{
    public override HostMessageType Type => HostMessageType.Hello;

    protected override FrameBuilder Write(FrameBuilder frame) => frame.U16(MinVersion).U16(MaxVersion);
}

/// <summary>Start, pause and resume: no fields.</summary>
public sealed record ControlMessage(HostMessageType Kind) : HostMessage
{
    public override HostMessageType Type => Kind;

    protected override FrameBuilder Write(FrameBuilder frame) => frame;
}

/// <summary>Power the guest off; after <see cref="DeadlineMs"/> the host stops the machine whatever the guest does.</summary>
public sealed record StopMessage(uint DeadlineMs) : HostMessage
{
    public override HostMessageType Type => HostMessageType.Stop;

    protected override FrameBuilder Write(FrameBuilder frame) => frame.U32(DeadlineMs);
}

public sealed record DisplayRequestMessage(uint RequestId, DisplayProperties Properties, uint TimeoutMs) : HostMessage
{
    public override HostMessageType Type => HostMessageType.DisplayRequest;

    protected override FrameBuilder Write(FrameBuilder frame) => frame.U32(RequestId).I32(Properties.Width).I32(Properties.Height)
        .F64(Properties.Dpi).I32(Properties.RefreshHz).I32(Properties.WidthMm ?? 0).I32(Properties.HeightMm ?? 0).U32(TimeoutMs);
}

public sealed record MotionMessage(bool On) : HostMessage
{
    public override HostMessageType Type => HostMessageType.Motion;

    protected override FrameBuilder Write(FrameBuilder frame) => frame.U8(On ? (byte)1 : (byte)0);
}

/// <summary>An evdev key code pressed or released.</summary>
public sealed record KeyMessage(ushort Code, bool Pressed) : HostMessage
{
    public override HostMessageType Type => HostMessageType.Key;

    protected override FrameBuilder Write(FrameBuilder frame) => frame.U16(Code).U8(Pressed ? (byte)1 : (byte)0);
}

public sealed record PointerMessage(int X, int Y, uint Buttons, int Wheel) : HostMessage
{
    public override HostMessageType Type => HostMessageType.PointerInput;

    protected override FrameBuilder Write(FrameBuilder frame) => frame.I32(X).I32(Y).U32(Buttons).I32(Wheel);
}

/// <summary>Test-only (honoured when the host runs with --test-hooks): make the named system call, as a guest that took over the process might.</summary>
public sealed record TestForbiddenCallMessage(string Name) : HostMessage
{
    public override HostMessageType Type => HostMessageType.TestForbiddenCall;

    protected override FrameBuilder Write(FrameBuilder frame) => frame.Text(Name, 64);
}

/// <summary>
/// The host's answer to hello, carrying the shared scanout's descriptor (SCM_RIGHTS) and its layout
/// (<see cref="ScanoutMemory"/>), and the engine the machine runs on with the reason.
/// </summary>
public sealed record WelcomeMessage(ushort Version, bool Software, int MaxWidth, int MaxHeight, long MemorySize, int Stride, int CursorOffset, string EngineReason) : HostMessage
{
    public override HostMessageType Type => HostMessageType.Welcome;

    protected override FrameBuilder Write(FrameBuilder frame) => frame.U16(Version).U8(Software ? (byte)1 : (byte)0).U8(0)
        .I32(MaxWidth).I32(MaxHeight).I64(MemorySize).I32(Stride).I32(CursorOffset).Text(EngineReason);
}

/// <summary>
/// A new mode. Its pixels are in the shared scanout at <see cref="PixelOffset"/> (the scanout's first pixel, bytes from
/// the mapping's start), rows <see cref="PixelStride"/> bytes apart: the copy area for a resource the host copies, or
/// the resource's own image in the arena, which the guest writes directly.
/// </summary>
public sealed record ScanoutChangedMessage(bool Enabled, int Width, int Height, double Dpi, uint ResourceId, long PixelOffset, int PixelStride) : HostMessage
{
    public override HostMessageType Type => HostMessageType.ScanoutChanged;

    protected override FrameBuilder Write(FrameBuilder frame) =>
        frame.U8(Enabled ? (byte)1 : (byte)0).I32(Width).I32(Height).F64(Dpi).U32(ResourceId).I64(PixelOffset).I32(PixelStride);
}

/// <summary>A flushed rectangle, already copied into shared memory: <see cref="Sequence"/> is the seqlock's value after the copy.</summary>
public sealed record FlushedMessage(long Sequence, int ScanoutWidth, int ScanoutHeight, GpuRect Damage) : HostMessage
{
    public override HostMessageType Type => HostMessageType.Flushed;

    protected override FrameBuilder Write(FrameBuilder frame) => frame.I64(Sequence).I32(ScanoutWidth).I32(ScanoutHeight)
        .I32(Damage.X).I32(Damage.Y).I32(Damage.Width).I32(Damage.Height);
}

/// <summary>The cursor image changed (its pixels are in shared memory at the cursor area) or was hidden.</summary>
public sealed record CursorChangedMessage(long Sequence, bool Visible, int Width, int Height, int HotX, int HotY, uint Format) : HostMessage
{
    public override HostMessageType Type => HostMessageType.CursorChanged;

    protected override FrameBuilder Write(FrameBuilder frame) => frame.I64(Sequence).U8(Visible ? (byte)1 : (byte)0)
        .I32(Width).I32(Height).I32(HotX).I32(HotY).U32(Format);
}

public sealed record CursorMovedMessage(int X, int Y) : HostMessage
{
    public override HostMessageType Type => HostMessageType.CursorMoved;

    protected override FrameBuilder Write(FrameBuilder frame) => frame.I32(X).I32(Y);
}

public sealed record DisplayShownMessage(uint RequestId, int Width, int Height, double Dpi, int RefreshHz, long ElapsedMicroseconds) : HostMessage
{
    public override HostMessageType Type => HostMessageType.DisplayShown;

    protected override FrameBuilder Write(FrameBuilder frame) => frame.U32(RequestId).I32(Width).I32(Height).F64(Dpi).I32(RefreshHz).I64(ElapsedMicroseconds);
}

/// <summary>Why a display request failed: 0 refused (bad properties), 1 timed out, 2 superseded by a newer request.</summary>
public sealed record DisplayFailedMessage(uint RequestId, byte Kind, string Reason) : HostMessage
{
    public const byte Refused = 0, TimedOut = 1, Superseded = 2;

    public override HostMessageType Type => HostMessageType.DisplayFailed;

    protected override FrameBuilder Write(FrameBuilder frame) => frame.U32(RequestId).U8(Kind).Text(Reason);
}

/// <summary>The guest powered off (kind 0), was stopped by the host (1) or crashed (2).</summary>
public sealed record ExitedMessage(byte Kind, int ExitCode, string Reason) : HostMessage
{
    public override HostMessageType Type => HostMessageType.Exited;

    protected override FrameBuilder Write(FrameBuilder frame) => frame.U8(Kind).I32(ExitCode).Text(Reason);
}

/// <summary>The sandbox the host applied: level (0 none, 1 partial, 2 full) and its report, one line per step.</summary>
public sealed record SandboxReportMessage(byte Level, string Report) : HostMessage
{
    public override HostMessageType Type => HostMessageType.SandboxReport;

    protected override FrameBuilder Write(FrameBuilder frame) => frame.U8(Level).Text(Report);
}

public sealed record CountersMessage(long Exits, long Flushes, long GpuErrors, long InputEvents) : HostMessage
{
    public override HostMessageType Type => HostMessageType.Counters;

    protected override FrameBuilder Write(FrameBuilder frame) => frame.I64(Exits).I64(Flushes).I64(GpuErrors).I64(InputEvents);
}

/// <summary>Every vCPU is parked: the answer to Pause (a refusal is an Error with code 4).</summary>
public sealed record PausedMessage : HostMessage
{
    public override HostMessageType Type => HostMessageType.Paused;

    protected override FrameBuilder Write(FrameBuilder frame) => frame;
}

public sealed record StartedMessage : HostMessage
{
    public override HostMessageType Type => HostMessageType.Started;

    protected override FrameBuilder Write(FrameBuilder frame) => frame;
}

public sealed record ErrorMessage(ushort Code, string Text) : HostMessage
{
    public override HostMessageType Type => HostMessageType.Error;

    protected override FrameBuilder Write(FrameBuilder frame) => frame.U16(Code).Text(Text);
}

public static class HostMessages
{
    /// <summary>Decodes a payload whose header <see cref="HostProtocol.ParseHeader"/> accepted; throws <see cref="HostProtocolException"/>.</summary>
    public static HostMessage Decode(HostMessageType type, ReadOnlySpan<byte> payload)
    {
        var r = new PayloadReader(type, payload);
        HostMessage message = type switch
        {
            HostMessageType.Hello => new HelloMessage(r.U16(), r.U16()),
            HostMessageType.Start or HostMessageType.Pause or HostMessageType.Resume or HostMessageType.Promote => new ControlMessage(type),
            HostMessageType.Stop => new StopMessage(r.U32()),
            HostMessageType.DisplayRequest => DecodeDisplayRequest(ref r),
            HostMessageType.Motion => new MotionMessage(r.Bool()),
            HostMessageType.SetIntegrityLevel => SetIntegrityLevelMessage.Read(ref r),
            HostMessageType.ReadGuest => ReadGuestMessage.Read(ref r),
            HostMessageType.MigrateListen => MigrateListenMessage.Read(ref r),
            HostMessageType.MigrateTo => MigrateToMessage.Read(ref r),
            HostMessageType.Checkpoint => CheckpointMessage.Read(ref r),
            HostMessageType.JournalFeed => JournalFeedMessage.Read(ref r),
            HostMessageType.Key => new KeyMessage(r.U16(), r.Bool()),
            HostMessageType.PointerInput => new PointerMessage(r.I32(), r.I32(), r.U32(), r.I32()),
            HostMessageType.TestForbiddenCall => new TestForbiddenCallMessage(r.Text(64)),
            HostMessageType.Welcome => DecodeWelcome(ref r),
            HostMessageType.ScanoutChanged => new ScanoutChangedMessage(r.Bool(), r.I32(), r.I32(), r.F64(), r.U32(), r.I64(), r.I32()),
            HostMessageType.Flushed => new FlushedMessage(r.I64(), r.I32(), r.I32(), new GpuRect(r.I32(), r.I32(), r.I32(), r.I32())),
            HostMessageType.CursorChanged => new CursorChangedMessage(r.I64(), r.Bool(), r.I32(), r.I32(), r.I32(), r.I32(), r.U32()),
            HostMessageType.CursorMoved => new CursorMovedMessage(r.I32(), r.I32()),
            HostMessageType.DisplayShown => new DisplayShownMessage(r.U32(), r.I32(), r.I32(), r.F64(), r.I32(), r.I64()),
            HostMessageType.DisplayFailed => new DisplayFailedMessage(r.U32(), r.U8(), r.Text()),
            HostMessageType.Exited => new ExitedMessage(r.U8(), r.I32(), r.Text()),
            HostMessageType.SandboxReport => new SandboxReportMessage(r.U8(), r.Text()),
            HostMessageType.Counters => new CountersMessage(r.I64(), r.I64(), r.I64(), r.I64()),
            HostMessageType.Started => new StartedMessage(),
            HostMessageType.Paused => new PausedMessage(),
            HostMessageType.IntegrityStatus => IntegrityStatusMessage.Read(ref r),
            HostMessageType.IntegrityAlert => IntegrityAlertMessage.Read(ref r),
            HostMessageType.IntegritySuppressed => IntegritySuppressedMessage.Read(ref r),
            HostMessageType.GuestBytes => GuestBytesMessage.Read(ref r),
            HostMessageType.MigrationListening => MigrationListeningMessage.Read(ref r),
            HostMessageType.MigrationProgress => MigrationProgressMessage.Read(ref r),
            HostMessageType.MigrationResult => MigrationResultMessage.Read(ref r),
            HostMessageType.Journal => JournalMessage.Read(ref r),
            HostMessageType.Checkpointed or HostMessageType.Promoted => JournalPointMessage.Read(type, ref r),
            HostMessageType.Error => new ErrorMessage(r.U16(), r.Text()),
            _ => throw new HostProtocolException($"unknown frame type 0x{(byte)type:X2}"),
        };
        r.End();
        return message;
    }

    private static WelcomeMessage DecodeWelcome(ref PayloadReader r)
    {
        var (version, software) = (r.U16(), r.Bool());
        if (r.U8() != 0)
            throw new HostProtocolException("Welcome: reserved byte is not zero");
        return new WelcomeMessage(version, software, r.I32(), r.I32(), r.I64(), r.I32(), r.I32(), r.Text());
    }

    private static DisplayRequestMessage DecodeDisplayRequest(ref PayloadReader r)
    {
        var id = r.U32();
        var (w, h, dpi, hz, wmm, hmm, timeout) = (r.I32(), r.I32(), r.F64(), r.I32(), r.I32(), r.I32(), r.U32());
        var properties = new DisplayProperties(w, h, dpi, hz) { WidthMm = wmm == 0 ? null : wmm, HeightMm = hmm == 0 ? null : hmm };
        if (DisplayProperties.Validate(properties, int.MaxValue, int.MaxValue) is { } error)
            throw new HostProtocolException($"DisplayRequest: {error}");
        return new DisplayRequestMessage(id, properties, timeout);
    }
}
