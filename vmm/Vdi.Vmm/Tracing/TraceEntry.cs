namespace Vdi.Vmm.Tracing;

public enum TraceEntryKind
{
    /// <summary>A write to a traced page, with its decision.</summary>
    TracedWrite,

    /// <summary>A hypercall: number, arguments, result, vCPU and RIP.</summary>
    Hypercall,

    /// <summary>An access the VMM refused outside the trace decision (e.g. a write to read-only memory nobody traces).</summary>
    RefusedAccess,
}

/// <summary>
/// One entry of a machine's <see cref="TraceRing"/>. <see cref="Sequence"/> numbers entries from 1 in the order they
/// were recorded; the other fields depend on <see cref="Kind"/>.
/// </summary>
public sealed record TraceEntry(
    long Sequence,
    long Timestamp,
    TraceEntryKind Kind,
    int Vcpu,
    ulong? Rip,
    TracedWrite? Write = null,
    TraceDecision? Decision = null,
    uint HypercallNumber = 0,
    ulong[]? Arguments = null,
    ulong Result = 0,
    string? Detail = null)
{
    public override string ToString() => Kind switch
    {
        TraceEntryKind.TracedWrite => $"#{Sequence} {Decision}: {Write}",
        TraceEntryKind.Hypercall => $"#{Sequence} hypercall {HypercallNumber}({string.Join(", ", (Arguments ?? []).Select(a => $"0x{a:X}"))}) = 0x{Result:X} vcpu {Vcpu} rip 0x{Rip:X}",
        _ => $"#{Sequence} refused: {Detail}",
    };
}
