using System.Buffers.Binary;

namespace Vdi.Vmm.Devices;

/// <summary>
/// A port that reads as a deterministic pseudo-random sequence (xorshift32, one step per read, 1–4 bytes of it), so a
/// guest can fold device input into a checksum that must come out the same on every engine: the exit-storm tests and
/// benchmark poll it. A 4-byte write sets the state (0 restores <see cref="Seed"/>).
/// </summary>
public sealed class SequenceDevice : IBusDevice
{
    public const uint Seed = 0x2545_F491;

    private readonly Lock _gate = new();
    private uint _state = Seed;
    private long _reads;

    public long Reads => Interlocked.Read(ref _reads);

    /// <summary>The value the n-th read (from 1) after a reset returns, as the guest sees it in a 4-byte read.</summary>
    public static uint ValueAt(int n)
    {
        var state = Seed;
        for (var i = 0; i < n; i++)
            state = Next(state);
        return state;
    }

    public bool Read(in BusAccess access, Span<byte> data)
    {
        uint value;
        lock (_gate)
            value = _state = Next(_state);
        Interlocked.Increment(ref _reads);
        Span<byte> bytes = stackalloc byte[4];
        BinaryPrimitives.WriteUInt32LittleEndian(bytes, value);
        bytes[..Math.Min(4, data.Length)].CopyTo(data);
        if (data.Length > 4)
            data[4..].Clear();
        return true;
    }

    public bool Write(in BusAccess access, ReadOnlySpan<byte> data)
    {
        if (data.Length != 4)
            return true; // other widths are dropped
        var seed = BinaryPrimitives.ReadUInt32LittleEndian(data);
        lock (_gate)
            _state = seed == 0 ? Seed : seed;
        return true;
    }

    private static uint Next(uint x)
    {
        x ^= x << 13;
        x ^= x >> 17;
        x ^= x << 5;
        return x;
    }
}
