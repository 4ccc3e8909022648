using System.Buffers.Binary;

namespace Vdi.Vmm.Devices.Input;

/// <summary>One virtio_input_event (virtio 1.x §5.8.6): le16 type, le16 code, le32 value; 8 bytes on the wire.</summary>
public readonly record struct InputEvent(ushort Type, ushort Code, int Value)
{
    public const int Size = 8;

    /// <summary>EV_SYN / SYN_REPORT: the end of one report.</summary>
    public static InputEvent SynReport => new(Evdev.EvSyn, Evdev.SynReport, 0);

    public void WriteTo(Span<byte> destination)
    {
        BinaryPrimitives.WriteUInt16LittleEndian(destination, Type);
        BinaryPrimitives.WriteUInt16LittleEndian(destination[2..], Code);
        BinaryPrimitives.WriteInt32LittleEndian(destination[4..], Value);
    }

    public static InputEvent Read(ReadOnlySpan<byte> source) => new(
        BinaryPrimitives.ReadUInt16LittleEndian(source),
        BinaryPrimitives.ReadUInt16LittleEndian(source[2..]),
        BinaryPrimitives.ReadInt32LittleEndian(source[4..]));
}
