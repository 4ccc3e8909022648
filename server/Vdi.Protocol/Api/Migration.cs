namespace Vdi.Protocol;

/// <summary>The optional body of <c>POST /api/desktops/{id}/migrate</c>.</summary>
/// <param name="DowntimeMs">The pause the last round aims for, 1 to 60000 ms (default 50).</param>
/// <param name="MaxRounds">Rounds after the full copy before the last one is taken whatever is left, 0 to 1000 (default 30).</param>
public sealed record MigrateRequest(int? DowntimeMs = null, int? MaxRounds = null)
{
    public const int DefaultDowntimeMs = 50, MaxDowntimeMs = 60_000, DefaultMaxRounds = 30, MaxMaxRounds = 1000;

    public IReadOnlyList<ValidationError> Validate()
    {
        List<ValidationError> errors = [];
        if (DowntimeMs is < 1 or > MaxDowntimeMs)
            errors.Add(new ValidationError("downtimeMs", $"must be between 1 and {MaxDowntimeMs}"));
        if (MaxRounds is < 0 or > MaxMaxRounds)
            errors.Add(new ValidationError("maxRounds", $"must be between 0 and {MaxMaxRounds}"));
        return errors;
    }
}

/// <summary>
/// A desktop's latest live migration (<c>GET /api/desktops/{id}/migration</c>, and the answer to starting one).
/// </summary>
/// <param name="Result">running, succeeded or failed.</param>
/// <param name="Phase">starting (the destination being made), copying, round, final, confirming, done, failed.</param>
/// <param name="Error">Why it failed; null otherwise.</param>
public sealed record MigrationStatus(
    Guid DesktopId, string Result, string Phase, int Round, long RoundPages, long RoundPagesSent, long PagesSent, long BytesSent,
    double BytesPerSecond, double ElapsedMs, double? DowntimeMs, double? TotalMs, int? Rounds, string? Error, DateTimeOffset StartedAt, DateTimeOffset? EndedAt)
{
    public const string Running = "running", Succeeded = "succeeded", Failed = "failed";

    public bool IsRunning => Result == Running;
}
