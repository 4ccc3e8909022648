namespace Vdi.Vmm.Memory;

/// <summary>A guest-physical access outside guest RAM, or an invalid slot operation.</summary>
public sealed class GuestMemoryException : Exception
{
    public GuestMemoryException(string message)
        : base(message)
    {
    }

    public GuestMemoryException(ulong address, ulong length)
        : base($"guest-physical range 0x{address:X}+0x{length:X} is not guest RAM")
    {
        Address = address;
        Length = length;
    }

    public ulong Address { get; }

    public ulong Length { get; }
}
