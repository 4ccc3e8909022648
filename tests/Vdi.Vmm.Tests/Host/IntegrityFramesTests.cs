using Vdi.Vmm.Host;
using Vdi.Vmm.Integrity;

namespace Vdi.Vmm.Tests.Host;

/// <summary>The integrity frames' fields: what a hostile peer could put there is refused by name, and long fields are cut, never overrun.</summary>
public sealed class IntegrityFramesTests
{
    private static readonly IntegrityAlert s_alert = new(1, DateTimeOffset.FromUnixTimeMilliseconds(1000), IntegrityAlertKind.ProtectedPage, 0, null,
        0x1000, 0x10_0000, 0x10_0000, [1], [2], ProtectionAction.Refuse, false, "detail");

    [Fact]
    public void Bad_integrity_fields_are_refused_naming_them()
    {
        Assert.Contains("integrity level 3", Refused(HostMessageType.SetIntegrityLevel, [3]), StringComparison.Ordinal);

        var status = Payload(IntegrityStatusMessage.Of(IntegrityLevel.Enforce, true, [new(0x10_0000, 2, ProtectionAction.Refuse, 1)]));
        Assert.Contains("protection action 0", Refused(HostMessageType.IntegrityStatus, With(status, 8 + 16, 0)), StringComparison.Ordinal);
        Assert.Contains("not a protected range", Refused(HostMessageType.IntegrityStatus, With(status, 8, 0x10)), StringComparison.Ordinal); // start not page-aligned
        Assert.Contains("not a protected range", Refused(HostMessageType.IntegrityStatus, With(status, 8 + 8, 0)), StringComparison.Ordinal); // zero pages
        Assert.Contains("1 ranges of 0", Refused(HostMessageType.IntegrityStatus, With(status, 2, 0)), StringComparison.Ordinal); // listed more than there are

        var alert = Payload(new IntegrityAlertMessage(s_alert));
        Assert.Contains("alert kind 9", Refused(HostMessageType.IntegrityAlert, With(alert, 16, 9)), StringComparison.Ordinal);
        Assert.Contains("flags 0x08", Refused(HostMessageType.IntegrityAlert, With(alert, 21, 8)), StringComparison.Ordinal);
        Assert.Contains("protection action 7", Refused(HostMessageType.IntegrityAlert, With(alert, 46, 7)), StringComparison.Ordinal);
        Assert.Contains("not a date", Refused(HostMessageType.IntegrityAlert, With(alert, 15, 0x80)), StringComparison.Ordinal); // negative time
        Assert.Contains("negative count", Refused(HostMessageType.IntegritySuppressed, [0, 0, 0, 0, 0, 0, 0, 0x80]), StringComparison.Ordinal);
    }

    [Fact]
    public void A_bytes_field_longer_than_its_bound_is_refused_and_long_values_are_cut_when_sent()
    {
        var payload = Payload(new IntegrityAlertMessage(s_alert));
        Assert.Contains("at most 64", Refused(HostMessageType.IntegrityAlert, With(payload, 47, 65)), StringComparison.Ordinal);

        var long_ = s_alert with { Before = new byte[4096], After = new byte[4096], Device = new string('d', 500), Detail = new string('x', 5000) };
        var frame = new IntegrityAlertMessage(long_).Encode();
        var (type, length) = HostProtocol.ParseHeader(frame);
        var decoded = Assert.IsType<IntegrityAlertMessage>(HostMessages.Decode(type, frame.AsSpan(HostProtocol.HeaderSize, length))).Alert;
        Assert.Equal((IntegrityAlertMessage.MaxBytes, IntegrityAlertMessage.MaxBytes), (decoded.Before.Length, decoded.After.Length));
        Assert.Equal((IntegrityAlertMessage.MaxDevice, HostProtocol.MaxText), (decoded.Device!.Length, decoded.Detail.Length));
    }

    [Fact]
    public void A_status_with_more_ranges_than_a_frame_holds_lists_the_first_and_says_how_many()
    {
        var ranges = Enumerable.Range(0, 300).Select(i => new IntegrityRange((ulong)i << 12, 1, ProtectionAction.Alert, (uint)i)).ToList();
        var frame = IntegrityStatusMessage.Of(IntegrityLevel.Audit, true, ranges).Encode();
        var (type, length) = HostProtocol.ParseHeader(frame);
        var status = Assert.IsType<IntegrityStatusMessage>(HostMessages.Decode(type, frame.AsSpan(HostProtocol.HeaderSize, length)));
        Assert.Equal(300, status.Total);
        Assert.Equal(ranges.Take(IntegrityStatusMessage.MaxRanges), status.Ranges);
    }

    private static byte[] Payload(HostMessage message) => message.Encode()[HostProtocol.HeaderSize..];

    private static byte[] With(byte[] payload, int offset, byte value)
    {
        var copy = payload.ToArray();
        copy[offset] = value;
        return copy;
    }

    private static string Refused(HostMessageType type, byte[] payload) =>
        Assert.Throws<HostProtocolException>(() => HostMessages.Decode(type, payload)).Message;
}
