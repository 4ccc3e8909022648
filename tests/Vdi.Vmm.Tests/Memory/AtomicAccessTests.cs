using Vdi.Vmm.Memory;

namespace Vdi.Vmm.Tests.Memory;

/// <summary>
/// A naturally aligned value read or written through <see cref="GuestMemory.Read{T}"/> / <see cref="GuestMemory.Write{T}"/>
/// is one access: a reader racing a writer sees the old or the new value, never half of each. Virtio's ring indices
/// are published and read this way by drivers and devices on different threads, so the property is the contract, not
/// an accident of how a byte copy happens to be compiled.
/// </summary>
public sealed class AtomicAccessTests
{
    private const ulong Base = 0x10_0000;

    [Fact]
    public void A_racing_reader_never_sees_half_of_a_two_byte_index()
    {
        using var memory = new GuestMemory();
        memory.AddRam(Base, 0x1000);
        const ulong Index = Base + 0x102;
        memory.Write(Index, (ushort)0x00FF);
        var stop = 0;
        var writer = new Thread(() =>
        {
            for (var i = 0; Volatile.Read(ref stop) == 0; i++)
                memory.Write(Index, (ushort)((i & 1) == 0 ? 0x00FF : 0x0100)); // every byte flips
        });
        writer.Start();
        var torn = 0;
        try
        {
            for (var i = 0; i < 2_000_000; i++)
            {
                var seen = memory.Read<ushort>(Index);
                if (seen is not (0x00FF or 0x0100))
                    torn++;
            }
        }
        finally
        {
            Volatile.Write(ref stop, 1);
            writer.Join();
        }
        Assert.Equal(0, torn);
    }

    [Fact]
    public void A_racing_reader_never_sees_half_of_an_eight_byte_value()
    {
        using var memory = new GuestMemory();
        memory.AddRam(Base, 0x1000);
        const ulong Value = Base + 0x208;
        var stop = 0;
        var writer = new Thread(() =>
        {
            for (var i = 0; Volatile.Read(ref stop) == 0; i++)
                memory.Write(Value, (i & 1) == 0 ? 0UL : ulong.MaxValue);
        });
        writer.Start();
        var torn = 0;
        try
        {
            for (var i = 0; i < 2_000_000; i++)
            {
                if (memory.Read<ulong>(Value) is not (0 or ulong.MaxValue))
                    torn++;
            }
        }
        finally
        {
            Volatile.Write(ref stop, 1);
            writer.Join();
        }
        Assert.Equal(0, torn);
    }
}
