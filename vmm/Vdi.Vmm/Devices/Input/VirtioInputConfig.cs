namespace Vdi.Vmm.Devices.Input;

/// <summary>The <c>select</c> values of virtio_input_config (virtio 1.x §5.8.4).</summary>
public static class VirtioInputSelect
{
    public const byte Unset = 0x00;
    public const byte IdName = 0x01;
    public const byte IdSerial = 0x02;
    public const byte IdDevIds = 0x03;
    public const byte PropBits = 0x10;
    public const byte EvBits = 0x11;
    public const byte AbsInfo = 0x12;
}

/// <summary>
/// The device configuration space of a virtio-input device:
/// <c>u8 select; u8 subsel; u8 size; u8 reserved[5]; u8 u[128];</c>. The driver writes
/// select/subsel and reads size and the payload; every other byte is read-only.
/// </summary>
/// <remarks>Accessed only under the transport's gate.</remarks>
internal sealed class VirtioInputConfig
{
    public const int Size = HeaderSize + InputCapabilities.PayloadSize;
    private const int HeaderSize = 8;
    private const int SelectOffset = 0, SubselOffset = 1, SizeOffset = 2;

    private readonly InputCapabilities _capabilities;
    private readonly byte[] _image = new byte[Size];
    private byte _select, _subsel;

    public VirtioInputConfig(InputCapabilities capabilities) => _capabilities = capabilities;

    public void Read(int offset, Span<byte> data)
    {
        // Rendered on every read: the payload can change under the driver (the tablet's ranges
        // follow the display), and it is only 136 bytes.
        Array.Clear(_image);
        _image[SelectOffset] = _select;
        _image[SubselOffset] = _subsel;
        _image[SizeOffset] = (byte)_capabilities.Render(_select, _subsel, _image.AsSpan(HeaderSize));
        _image.AsSpan(offset, data.Length).CopyTo(data);
    }

    /// <summary>Takes writes that fall entirely on select/subsel; refuses the rest.</summary>
    public bool Write(int offset, ReadOnlySpan<byte> data)
    {
        if (offset < 0 || offset + data.Length > SizeOffset)
            return false;
        for (var i = 0; i < data.Length; i++)
        {
            if (offset + i == SelectOffset)
                _select = data[i];
            else
                _subsel = data[i];
        }
        return true;
    }

    public void Reset() => _select = _subsel = 0;

    /// <summary>The select and subselect the driver last wrote (state).</summary>
    public (byte Select, byte Subsel) Selection
    {
        get => (_select, _subsel);
        set => (_select, _subsel) = value;
    }
}
