using Vdi.Vmm.Interop;

namespace Vdi.Vmm.Memory;

/// <summary>An anonymous host mapping that backs one or more slots; unmapped when the last slot lets go.</summary>
internal sealed class MemoryMapping
{
    private int _references;

    private MemoryMapping(nint address, ulong size)
    {
        Address = address;
        Size = size;
    }

    public nint Address { get; }

    public ulong Size { get; }

    public static MemoryMapping Create(ulong size)
    {
        var address = LibcCalls.MapAnonymous(size);
        if (address == 0)
            throw new GuestMemoryException($"cannot map {size >> 20} MiB of guest memory: {LibcCalls.Describe(LibcCalls.Errno)}");
        return new MemoryMapping(address, size);
    }

    public void AddReference() => Interlocked.Increment(ref _references);

    public void Release()
    {
        if (Interlocked.Decrement(ref _references) == 0)
            _ = LibcCalls.Unmap(Address, Size);
    }
}
