namespace Vdi.Vmm.Execution.Switching;

/// <summary>
/// The numbers behind exit-storm switching, derived from costs on real hardware: a VM exit to user space and back
/// costs about 1–2 µs; the software engine runs about 30–100 M instructions/s (10–30 ns each); a switch each way
/// costs about two exits (completing the pending I/O with an immediate-exit <c>KVM_RUN</c>, then <c>KVM_SET_REGS</c>).
/// So software wins where the guest takes an exit at least every ~50–150 instructions, and a slice must run several
/// exits' worth of work to pay for its two switches. The defaults hold on the nested test machine too, where exits
/// cost ~7 µs and guest instructions ~0.7 µs each under KVM.
/// </summary>
public sealed record ExitStormThresholds
{
    public static ExitStormThresholds Default { get; } = new();

    /// <summary>Instructions decoded ahead of an exiting RIP (and back over an enclosing loop) to find a pattern.</summary>
    public int ScanInstructions { get; init; } = 64;

    /// <summary>Bytes of code a region may span (a short loop or a burst of device accesses, not a routine).</summary>
    public int ScanBytes { get; init; } = 512;

    /// <summary>
    /// A straight-line cluster needs this many privileged instructions (port I/O, MMIO accesses) — the exiting one
    /// included — no further apart on average than <see cref="MaxInstructionsPerPrivileged"/>.
    /// </summary>
    public int MinClusterSize { get; init; } = 3;

    /// <summary>
    /// Density of a cluster: at most this many instructions per privileged one. Break-even is ~75 (1.5 µs exit /
    /// 20 ns per software instruction); half of that leaves room for the switches.
    /// </summary>
    public int MaxInstructionsPerPrivileged { get; init; } = 32;

    /// <summary>
    /// Rate rule: this many exits from at most <see cref="RateAddresses"/> RIPs within <see cref="RateWindow"/> mark a
    /// storm even where decoding found no pattern (e.g. a loop longer than the scan). 32 exits in 1 ms is ≥ 5% of a
    /// real CPU spent on exit overhead alone.
    /// </summary>
    public int RateExits { get; init; } = 32;

    public int RateAddresses { get; init; } = 4;

    public TimeSpan RateWindow { get; init; } = TimeSpan.FromMilliseconds(1);

    /// <summary>
    /// A slice's time bound, so interrupts KVM holds pending meanwhile wait at most this long (plus the way back into
    /// <c>KVM_RUN</c>): keeps interrupt latency ≤ 1 ms.
    /// </summary>
    public TimeSpan SliceTime { get; init; } = TimeSpan.FromMicroseconds(500);

    /// <summary>A slice's instruction bound (5 ms at 40 M instructions/s: the time bound normally ends it first).</summary>
    public int SliceInstructions { get; init; } = 200_000;

    /// <summary>
    /// Instructions without a device access after which the slice ends and the vCPU goes back to KVM: ~10–30 µs of
    /// software time, worth ~10 exits, is long enough that the storm is over.
    /// </summary>
    public int QuietInstructions { get; init; } = 1024;

    /// <summary>Instructions between checks of the clock and of kicks (pause, stop) during a slice.</summary>
    public int CheckInterval { get; init; } = 64;

    /// <summary>
    /// After a refused switch, or a slice that saved fewer than two exits (its two switches cost about that), the exit's
    /// RIP stays in KVM this long: a storm the engine cannot take over costs one extra completion, not one per exit.
    /// </summary>
    public TimeSpan Backoff { get; init; } = TimeSpan.FromMilliseconds(10);

    /// <summary>Throws <see cref="ArgumentException"/> naming the bad field.</summary>
    public void Validate()
    {
        if (ScanInstructions is < 4 or > 4096)
            throw new ArgumentException("scan instructions must be 4–4096", nameof(ScanInstructions));
        if (ScanBytes is < 16 or > 65536)
            throw new ArgumentException("scan bytes must be 16–65536", nameof(ScanBytes));
        if (MinClusterSize < 2 || MaxInstructionsPerPrivileged < 1)
            throw new ArgumentException("a cluster needs at least 2 privileged instructions and a positive density", nameof(MinClusterSize));
        if (RateExits < 2 || RateAddresses < 1 || RateWindow <= TimeSpan.Zero)
            throw new ArgumentException("rate rule: at least 2 exits from at least 1 address in a positive window", nameof(RateExits));
        if (SliceTime <= TimeSpan.Zero || SliceTime > TimeSpan.FromMilliseconds(1))
            throw new ArgumentException("slice time must be positive and at most 1 ms (interrupt latency)", nameof(SliceTime));
        if (Backoff < TimeSpan.Zero)
            throw new ArgumentException("backoff must not be negative", nameof(Backoff));
        if (SliceInstructions < 1 || QuietInstructions < 1 || CheckInterval < 1)
            throw new ArgumentException("slice bounds must be positive", nameof(SliceInstructions));
    }
}
