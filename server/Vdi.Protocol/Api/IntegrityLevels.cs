namespace Vdi.Protocol;

/// <summary>
/// A desktop's guest integrity setting as the API spells it: <c>off</c> (nothing traced), <c>audit</c> (every
/// protected write alerted and let through) or <c>enforce</c> (each protection's action applies: alert, refuse the
/// write, or stop the desktop). The default is enforce.
/// </summary>
public static class IntegrityLevels
{
    public const string Off = "off", Audit = "audit", Enforce = "enforce";

    public static IReadOnlyList<string> All { get; } = [Off, Audit, Enforce];

    /// <summary>The level's canonical spelling (any case accepted), or null for anything else.</summary>
    public static string? Normalize(string? value) =>
        value is null ? null : All.FirstOrDefault(l => string.Equals(l, value.Trim(), StringComparison.OrdinalIgnoreCase));

    /// <summary>Null when <paramref name="value"/> names a level; otherwise the error for <paramref name="field"/>.</summary>
    public static ValidationError? Check(string field, string? value) => Normalize(value) is null
        ? new ValidationError(field, $"{field} must be off, audit or enforce{(value is null ? "" : $", not '{Shorten(value)}'")}")
        : null;

    private static string Shorten(string value) => value.Length <= 32 ? value : value[..32] + "…";
}
