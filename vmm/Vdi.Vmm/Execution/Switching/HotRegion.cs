namespace Vdi.Vmm.Execution.Switching;

/// <summary>How a region was found.</summary>
public enum HotRegionKind
{
    /// <summary>A short loop (backward branch) whose body holds a privileged instruction: every iteration exits.</summary>
    Loop,

    /// <summary>Straight-line code with a dense cluster of privileged instructions.</summary>
    Cluster,
}

/// <summary>
/// Guest code [<see cref="Start"/>, <see cref="End"/>) the software engine runs instead of KVM: every instruction in it
/// was decoded and found runnable in a slice. A slice stays inside it, on the decoded instruction boundaries; the
/// code bytes are kept so a cached region is used only while the guest's code is unchanged.
/// </summary>
public sealed class HotRegion
{
    private readonly bool[] _boundaries; // by offset from Start: an instruction the scan decoded starts here
    private readonly byte[] _code;

    internal HotRegion(HotRegionKind kind, ulong start, byte[] code, IEnumerable<ulong> instructionStarts, int instructions, int privileged)
    {
        Kind = kind;
        Start = start;
        _code = code;
        _boundaries = new bool[code.Length];
        foreach (var address in instructionStarts)
            _boundaries[address - start] = true;
        Instructions = instructions;
        Privileged = privileged;
    }

    public HotRegionKind Kind { get; }

    public ulong Start { get; }

    public ulong End => Start + (ulong)_code.Length;

    /// <summary>Instructions in the region.</summary>
    public int Instructions { get; }

    /// <summary>Privileged instructions (port I/O, MMIO accesses) among them.</summary>
    public int Privileged { get; }

    /// <summary>True when <paramref name="rip"/> is the start of one of the region's instructions.</summary>
    public bool Contains(ulong rip)
    {
        var offset = rip - Start;
        return offset < (ulong)_boundaries.Length && _boundaries[offset];
    }

    /// <summary>True when the guest's code at the region still has the bytes that were decoded.</summary>
    internal bool CodeMatches(ReadOnlySpan<byte> current) => current.SequenceEqual(_code);

    internal int Length => _code.Length;

    public override string ToString() => $"{Kind} [0x{Start:X}, 0x{End:X}): {Instructions} instructions, {Privileged} privileged";
}
