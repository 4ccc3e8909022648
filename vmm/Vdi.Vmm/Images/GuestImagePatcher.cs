using Iced.Intel;

namespace Vdi.Vmm.Images;

/// <summary>
/// Gives <see cref="GuestAssembly.Patch"/> callbacks the assembled bytes and the final label addresses, for data
/// that holds code addresses (an IDT, a pointer to its table).
/// </summary>
public sealed class GuestImagePatcher
{
    private readonly GuestAssembly _assembly;
    private readonly AssemblerResult _result;
    private readonly byte[] _bytes;

    internal GuestImagePatcher(GuestAssembly assembly, AssemblerResult result, byte[] bytes)
    {
        _assembly = assembly;
        _result = result;
        _bytes = bytes;
    }

    /// <summary>Guest address of a label bound with <see cref="GuestAssembly.Bind"/>.</summary>
    public ulong AddressOf(Label label) => _assembly.AddressOf(_result, label);

    /// <summary>The image bytes at guest address <paramref name="address"/>, <paramref name="length"/> long.</summary>
    public Span<byte> At(ulong address, int length)
    {
        var load = _assembly.LoadAddress;
        if (address < load || address - load + (ulong)length > (ulong)_bytes.Length)
            throw new ArgumentOutOfRangeException(nameof(address), $"0x{address:X}+{length} is outside the image.");
        return _bytes.AsSpan((int)(address - load), length);
    }

    /// <summary>The bytes at <paramref name="label"/> (usually a data label), <paramref name="length"/> long.</summary>
    public Span<byte> At(Label label, int length) => At(AddressOf(label), length);
}
