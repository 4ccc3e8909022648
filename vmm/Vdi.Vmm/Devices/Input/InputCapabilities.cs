using System.Buffers.Binary;
using System.Text;

namespace Vdi.Vmm.Devices.Input;

/// <summary>virtio_input_devids: the identity reported for ID_DEVIDS.</summary>
public readonly record struct InputDeviceIds(ushort BusType, ushort Vendor, ushort Product, ushort Version);

/// <summary>virtio_input_absinfo: the range of one absolute axis, reported for ABS_INFO.</summary>
public readonly record struct InputAbsInfo(int Min, int Max, int Fuzz = 0, int Flat = 0, int Resolution = 0);

/// <summary>
/// What one virtio-input device advertises: its name, serial and ids, input properties, the
/// event codes it supports per event type, and its absolute axes. Answers each configuration
/// select with the payload the driver reads from <c>u</c> (virtio 1.x §5.8.4).
/// </summary>
/// <remarks>Mutated only under the transport's gate (the absolute ranges follow the display size).</remarks>
public sealed class InputCapabilities
{
    /// <summary>Bytes of <c>u</c> in virtio_input_config.</summary>
    public const int PayloadSize = 128;

    private readonly SortedDictionary<ushort, byte[]> _eventBits = [];
    private readonly SortedDictionary<ushort, InputAbsInfo> _absInfo = [];
    private readonly byte[] _propBits = new byte[PayloadSize];

    public InputCapabilities(string name, string serial, InputDeviceIds ids)
    {
        if (Encoding.ASCII.GetByteCount(name) > PayloadSize || Encoding.ASCII.GetByteCount(serial) > PayloadSize)
            throw new ArgumentException("name and serial must fit 128 bytes");
        Name = name;
        Serial = serial;
        Ids = ids;
    }

    public string Name { get; }

    public string Serial { get; }

    public InputDeviceIds Ids { get; }

    /// <summary>Advertises event <paramref name="code"/> of event type <paramref name="type"/> (and so the type itself).</summary>
    public void AddEvent(ushort type, ushort code)
    {
        if (code >= PayloadSize * 8)
            throw new ArgumentOutOfRangeException(nameof(code), code, "event codes must fit the 1024-bit bitmap");
        if (!_eventBits.TryGetValue(type, out var bits))
            _eventBits[type] = bits = new byte[PayloadSize];
        bits[code / 8] |= (byte)(1 << (code % 8));
    }

    public void AddEvents(ushort type, ushort first, ushort last)
    {
        for (var code = first; code <= last; code++)
            AddEvent(type, code);
    }

    public void AddProperty(int property) => _propBits[property / 8] |= (byte)(1 << (property % 8));

    /// <summary>Advertises (or changes the range of) an absolute axis.</summary>
    public void SetAbsInfo(ushort axis, InputAbsInfo info)
    {
        AddEvent(Evdev.EvAbs, axis);
        _absInfo[axis] = info;
    }

    public InputAbsInfo? GetAbsInfo(ushort axis) => _absInfo.TryGetValue(axis, out var info) ? info : null;

    public bool Supports(ushort type, ushort code) =>
        code < PayloadSize * 8 && _eventBits.TryGetValue(type, out var bits) && (bits[code / 8] & (1 << (code % 8))) != 0;

    /// <summary>
    /// Writes the payload for <paramref name="select"/>/<paramref name="subsel"/> into
    /// <paramref name="payload"/> (128 bytes, zeroed by the caller) and returns its size:
    /// zero for a combination the device does not support, as the specification requires.
    /// </summary>
    public int Render(byte select, byte subsel, Span<byte> payload)
    {
        switch (select)
        {
            case VirtioInputSelect.IdName when subsel == 0:
                return Encoding.ASCII.GetBytes(Name, payload);
            case VirtioInputSelect.IdSerial when subsel == 0:
                return Encoding.ASCII.GetBytes(Serial, payload);
            case VirtioInputSelect.IdDevIds when subsel == 0:
                BinaryPrimitives.WriteUInt16LittleEndian(payload, Ids.BusType);
                BinaryPrimitives.WriteUInt16LittleEndian(payload[2..], Ids.Vendor);
                BinaryPrimitives.WriteUInt16LittleEndian(payload[4..], Ids.Product);
                BinaryPrimitives.WriteUInt16LittleEndian(payload[6..], Ids.Version);
                return 8;
            case VirtioInputSelect.PropBits when subsel == 0:
                return Bitmap(_propBits, payload);
            case VirtioInputSelect.EvBits:
                return _eventBits.TryGetValue(subsel, out var bits) ? Bitmap(bits, payload) : 0;
            case VirtioInputSelect.AbsInfo:
                if (!_absInfo.TryGetValue(subsel, out var abs))
                    return 0;
                BinaryPrimitives.WriteInt32LittleEndian(payload, abs.Min);
                BinaryPrimitives.WriteInt32LittleEndian(payload[4..], abs.Max);
                BinaryPrimitives.WriteInt32LittleEndian(payload[8..], abs.Fuzz);
                BinaryPrimitives.WriteInt32LittleEndian(payload[12..], abs.Flat);
                BinaryPrimitives.WriteInt32LittleEndian(payload[16..], abs.Resolution);
                return 20;
            default:
                return 0;
        }
    }

    /// <summary>A bitmap is reported up to its last non-zero byte; an empty one has size 0 (unsupported).</summary>
    private static int Bitmap(byte[] bits, Span<byte> payload)
    {
        var size = Array.FindLastIndex(bits, b => b != 0) + 1;
        bits.AsSpan(0, size).CopyTo(payload);
        return size;
    }
}
