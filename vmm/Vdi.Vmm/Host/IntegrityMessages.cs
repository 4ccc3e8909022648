using Vdi.Vmm.Integrity;

namespace Vdi.Vmm.Host;

/// <summary>Broker → host: switch a running desktop between <see cref="IntegrityLevel.Audit"/> and <see cref="IntegrityLevel.Enforce"/>.</summary>
/// <remarks>Off is well-formed but refused (an Error with code 4): integrity is switched off or on only when a desktop starts.</remarks>
public sealed record SetIntegrityLevelMessage(IntegrityLevel Level) : HostMessage
{
    public override HostMessageType Type => HostMessageType.SetIntegrityLevel;

    protected override FrameBuilder Write(FrameBuilder frame) => frame.U8((byte)Level);

    internal static SetIntegrityLevelMessage Read(ref PayloadReader r) => new(IntegrityWire.Level(r.U8(), HostMessageType.SetIntegrityLevel));
}

/// <summary>
/// Host → broker: the desktop's integrity level, whether a driver registered, and what it protects — after the welcome
/// and whenever any of it changes. At most <see cref="MaxRanges"/> ranges fit a frame; <see cref="Total"/> says how
/// many there are.
/// </summary>
public sealed record IntegrityStatusMessage(IntegrityLevel Level, bool DriverRegistered, int Total, IReadOnlyList<IntegrityRange> Ranges) : HostMessage
{
    public const int MaxRanges = 190;
    private const int Fixed = 8, PerRange = 21;

    internal static (int, int) PayloadLimits => (Fixed, Fixed + (MaxRanges * PerRange));

    public override HostMessageType Type => HostMessageType.IntegrityStatus;

    /// <summary>The status of <paramref name="ranges"/>, cut at <see cref="MaxRanges"/>.</summary>
    public static IntegrityStatusMessage Of(IntegrityLevel level, bool driver, IReadOnlyList<IntegrityRange> ranges) =>
        new(level, driver, ranges.Count, [.. ranges.Take(MaxRanges)]);

    protected override FrameBuilder Write(FrameBuilder frame)
    {
        frame.U8((byte)Level).U8(DriverRegistered ? (byte)1 : (byte)0).I32(Total).U16((ushort)Ranges.Count);
        foreach (var range in Ranges)
            frame.U64(range.Start).U64(range.Pages).U8((byte)range.Action).U32(range.Tag);
        return frame;
    }

    internal static IntegrityStatusMessage Read(ref PayloadReader r)
    {
        const HostMessageType type = HostMessageType.IntegrityStatus;
        var (level, driver, total, count) = (IntegrityWire.Level(r.U8(), type), r.Bool(), r.I32(), r.U16());
        if (count > MaxRanges || total < count)
            throw new HostProtocolException($"{type}: {count} ranges of {total} (at most {MaxRanges} in a frame)");
        var ranges = new IntegrityRange[count];
        for (var i = 0; i < count; i++)
        {
            var (start, pages, action, tag) = (r.U64(), r.U64(), IntegrityWire.Action(r.U8(), type), r.U32());
            if ((start & 0xFFF) != 0 || pages is 0 or > ProtectionTree.MaxPagesPerNode)
                throw new HostProtocolException($"{type}: range 0x{start:X} of {pages} pages is not a protected range");
            ranges[i] = new IntegrityRange(start, pages, action, tag);
        }
        return new IntegrityStatusMessage(level, driver, total, ranges);
    }

    public bool Equals(IntegrityStatusMessage? other) =>
        other is not null && (Level, DriverRegistered, Total) == (other.Level, other.DriverRegistered, other.Total) && Ranges.SequenceEqual(other.Ranges);

    public override int GetHashCode() => HashCode.Combine(Level, DriverRegistered, Total, Ranges.Count);
}

/// <summary>
/// Host → broker: one integrity alert. The bytes before and after are cut at <see cref="MaxBytes"/> each (a device may
/// write a long run; the start says enough), the device's name at 64 bytes, the detail at the text limit.
/// </summary>
public sealed record IntegrityAlertMessage(IntegrityAlert Alert) : HostMessage
{
    public const int MaxBytes = 64, MaxDevice = 64;
    private const byte HasRip = 1, HasVirtual = 2, Applied = 4;
    private const int Fixed = 8 + 8 + 1 + 4 + 1 + 8 + 8 + 8 + 1 + (4 * 2);

    internal static (int, int) PayloadLimits => (Fixed, Fixed + (2 * MaxBytes) + MaxDevice + HostProtocol.MaxText);

    public override HostMessageType Type => HostMessageType.IntegrityAlert;

    protected override FrameBuilder Write(FrameBuilder frame)
    {
        var a = Alert;
        var flags = (byte)((a.Rip is null ? 0 : HasRip) | (a.Virtual is null ? 0 : HasVirtual) | (a.Applied ? Applied : 0));
        return frame.I64(a.Sequence).I64(a.Time.ToUnixTimeMilliseconds()).U8((byte)a.Kind).I32(a.Vcpu).U8(flags)
            .U64(a.Rip ?? 0).U64(a.Physical).U64(a.Virtual ?? 0).U8((byte)a.Action)
            .Bytes(a.Before, MaxBytes).Bytes(a.After, MaxBytes).Text(a.Device ?? "", MaxDevice).Text(a.Detail);
    }

    internal static IntegrityAlertMessage Read(ref PayloadReader r)
    {
        const HostMessageType type = HostMessageType.IntegrityAlert;
        var (sequence, ms, kindByte, vcpu, flags) = (r.I64(), r.I64(), r.U8(), r.I32(), r.U8());
        if (!Enum.IsDefined((IntegrityAlertKind)kindByte))
            throw new HostProtocolException($"{type}: unknown alert kind {kindByte}");
        if ((flags & ~(HasRip | HasVirtual | Applied)) != 0)
            throw new HostProtocolException($"{type}: flags 0x{flags:X2}");
        if (ms < 0 || ms > DateTimeOffset.MaxValue.ToUnixTimeMilliseconds())
            throw new HostProtocolException($"{type}: time {ms} ms is not a date");
        var (rip, physical, virtualAddress, action) = (r.U64(), r.U64(), r.U64(), IntegrityWire.Action(r.U8(), type));
        var (before, after, device, detail) = (r.Bytes(MaxBytes), r.Bytes(MaxBytes), r.Text(MaxDevice), r.Text());
        return new IntegrityAlertMessage(new IntegrityAlert(sequence, DateTimeOffset.FromUnixTimeMilliseconds(ms), (IntegrityAlertKind)kindByte, vcpu,
            device.Length == 0 ? null : device, (flags & HasRip) != 0 ? rip : null, physical, (flags & HasVirtual) != 0 ? virtualAddress : null,
            before, after, action, (flags & Applied) != 0, detail));
    }

    /// <summary>Equal when their frames are: an alert's bytes are arrays, compared by content here.</summary>
    public bool Equals(IntegrityAlertMessage? other) => other is not null && Encode().AsSpan().SequenceEqual(other.Encode());

    public override int GetHashCode() => Alert.Sequence.GetHashCode();
}

/// <summary>Host → broker: how many alerts the host has not sent so far (over its rate limit), once a second while it grows.</summary>
public sealed record IntegritySuppressedMessage(long Total) : HostMessage
{
    public override HostMessageType Type => HostMessageType.IntegritySuppressed;

    protected override FrameBuilder Write(FrameBuilder frame) => frame.I64(Total);

    internal static IntegritySuppressedMessage Read(ref PayloadReader r)
    {
        var total = r.I64();
        return total >= 0 ? new(total) : throw new HostProtocolException($"{HostMessageType.IntegritySuppressed}: negative count {total}");
    }
}

/// <summary>The integrity fields' checks, shared by the messages.</summary>
internal static class IntegrityWire
{
    public static IntegrityLevel Level(byte value, HostMessageType type) =>
        value <= (byte)IntegrityLevel.Enforce ? (IntegrityLevel)value : throw new HostProtocolException($"{type}: integrity level {value}");

    public static ProtectionAction Action(byte value, HostMessageType type) =>
        value is >= (byte)ProtectionAction.Alert and <= (byte)ProtectionAction.Stop ? (ProtectionAction)value : throw new HostProtocolException($"{type}: protection action {value}");
}
