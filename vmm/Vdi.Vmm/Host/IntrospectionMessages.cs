using Vdi.Vmm.Introspection;

namespace Vdi.Vmm.Host;

/// <summary>
/// Broker → host: read <see cref="Length"/> bytes (1 to <see cref="MaxLength"/>) at a guest-virtual address, through
/// vCPU 0's page tables, fault-safe. The host answers with a <see cref="GuestBytesMessage"/> of the same request id.
/// </summary>
public sealed record ReadGuestMessage(uint RequestId, ulong Address, ushort Length) : HostMessage
{
    public const int MaxLength = 4096;

    public override HostMessageType Type => HostMessageType.ReadGuest;

    protected override FrameBuilder Write(FrameBuilder frame) => frame.U32(RequestId).U64(Address).U16(Length);

    internal static ReadGuestMessage Read(ref PayloadReader r)
    {
        var message = new ReadGuestMessage(r.U32(), r.U64(), r.U16());
        if (message.Length is 0 or > MaxLength)
            throw new HostProtocolException($"{HostMessageType.ReadGuest}: {message.Length} bytes (1 to {MaxLength})");
        return message;
    }
}

/// <summary>
/// Host → broker: the answer to a <see cref="ReadGuestMessage"/>: the bytes, or the fault that stopped the read
/// (<see cref="WalkFault"/>; a machine that does not run answers <see cref="WalkFault.OutsideRam"/>) and no bytes.
/// </summary>
public sealed record GuestBytesMessage(uint RequestId, WalkFault Fault, byte[] Bytes) : HostMessage
{
    internal static (int, int) PayloadLimits => (7, 7 + ReadGuestMessage.MaxLength);

    public override HostMessageType Type => HostMessageType.GuestBytes;

    protected override FrameBuilder Write(FrameBuilder frame) => frame.U32(RequestId).U8((byte)Fault).Bytes(Bytes, ReadGuestMessage.MaxLength);

    internal static GuestBytesMessage Read(ref PayloadReader r)
    {
        var (id, fault, bytes) = (r.U32(), r.U8(), r.Bytes(ReadGuestMessage.MaxLength));
        if (!Enum.IsDefined((WalkFault)fault) || (fault != 0 && bytes.Length != 0))
            throw new HostProtocolException($"{HostMessageType.GuestBytes}: fault {fault} with {bytes.Length} bytes");
        return new GuestBytesMessage(id, (WalkFault)fault, bytes);
    }

    public bool Equals(GuestBytesMessage? other) =>
        other is not null && (RequestId, Fault) == (other.RequestId, other.Fault) && Bytes.AsSpan().SequenceEqual(other.Bytes);

    public override int GetHashCode() => HashCode.Combine(RequestId, Fault, Bytes.Length);
}
