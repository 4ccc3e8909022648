namespace Vdi.Vmm.Migration;

/// <summary>How a live migration runs (<see cref="MigrationSource"/>).</summary>
public sealed record MigrationOptions
{
    /// <summary>The pause the last round aims for: rounds go on until the pages left would take at most half of it to send.</summary>
    public TimeSpan DowntimeTarget { get; init; } = TimeSpan.FromMilliseconds(50);

    /// <summary>Rounds after the first full copy before the last round is taken whatever is left.</summary>
    public int MaxRounds { get; init; } = 30;

    /// <summary>
    /// Rounds in a row that left more than 90% of the previous round's pages dirty before the last round is taken
    /// anyway: the guest dirties memory as fast as it is sent, and more rounds would not shorten the pause.
    /// </summary>
    public int StalledRounds { get; init; } = 2;

    /// <summary>Progress within a round is reported at most this often; each phase and round is reported as it starts and ends.</summary>
    public TimeSpan ProgressInterval { get; init; } = TimeSpan.FromMilliseconds(50);

    /// <summary>How long the vCPUs have to park for the last round.</summary>
    public TimeSpan PauseTimeout { get; init; } = TimeSpan.FromSeconds(5);

    /// <summary>How long the destination has to say it restored, and then that it runs.</summary>
    public TimeSpan ConfirmTimeout { get; init; } = TimeSpan.FromSeconds(30);

    public void Validate()
    {
        if (DowntimeTarget <= TimeSpan.Zero || DowntimeTarget > TimeSpan.FromSeconds(60))
            throw new ArgumentException("the downtime target must be between 0 and 60 s", nameof(DowntimeTarget));
        if (MaxRounds is < 0 or > 1000)
            throw new ArgumentException("max rounds must be between 0 and 1000", nameof(MaxRounds));
        if (StalledRounds is < 1 or > 1000)
            throw new ArgumentException("stalled rounds must be between 1 and 1000", nameof(StalledRounds));
    }
}

/// <summary>Where a migration is, reported after each message batch of a round and at each phase change.</summary>
/// <param name="Phase">copying (round 0: all memory), round (pages dirtied meanwhile), final (paused), confirming, done, failed.</param>
/// <param name="Round">0 for the full copy, then 1, 2, …</param>
/// <param name="RoundPages">Pages this round sends.</param>
/// <param name="RoundPagesSent">Of those, sent so far.</param>
/// <param name="DmaPages">Pages of this round that only the IOMMU's dirty bits recorded (device DMA).</param>
public sealed record MigrationProgress(
    string Phase, int Round, long RoundPages, long RoundPagesSent, long DmaPages, long PagesSent, long ZeroPages, long BytesSent,
    double BytesPerSecond, TimeSpan Elapsed);

/// <summary>How a live migration ended. On failure the source machine runs as it did before.</summary>
/// <param name="Downtime">From the source's pause to the destination's word that it runs (zero when it failed before the pause).</param>
/// <param name="Rounds">Rounds after the full copy, the last (paused) one included.</param>
/// <param name="FinalPages">Pages sent while paused.</param>
/// <param name="DmaPages">Pages, over all rounds, that only the IOMMU's dirty bits recorded.</param>
public sealed record MigrationOutcome(
    bool Succeeded, string? Error, TimeSpan Total, TimeSpan Downtime, int Rounds, long PagesSent, long ZeroPages, long BytesSent,
    long FinalPages, long StateBytes, long DmaPages)
{
    public override string ToString() => Succeeded
        ? FormattableString.Invariant($"migrated in {Total.TotalMilliseconds:F0} ms, downtime {Downtime.TotalMilliseconds:F1} ms, {Rounds} round(s), {PagesSent} pages ({ZeroPages} zero), {BytesSent / 1048576.0:F1} MiB")
        : $"migration failed: {Error}";
}

/// <summary>What the destination received.</summary>
public sealed record MigrationReceipt(MachineIdentity Source, long Pages, long ZeroPages, long Bytes, long StateBytes, TimeSpan Elapsed, TimeSpan RestoreTime)
{
    /// <summary>The destination's side of a successful migration, as an outcome (rounds, downtime and DMA pages are the source's to know).</summary>
    public MigrationOutcome ToOutcome() => new(true, null, Elapsed, TimeSpan.Zero, 0, Pages, ZeroPages, Bytes, 0, StateBytes, 0);
}
