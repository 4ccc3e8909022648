namespace Vdi.Vmm.Sandbox;

/// <summary>How much of the sandbox a process got.</summary>
public enum SandboxLevel
{
    /// <summary>Nothing applied.</summary>
    None,
    /// <summary>Some steps applied, others unavailable here (each says why).</summary>
    Partial,
    /// <summary>Every step applied.</summary>
    Full,
}

/// <summary>One step: its name, whether it applied, and one line saying what it did or why it could not.</summary>
public sealed record SandboxStep(string Name, bool Applied, string Detail)
{
    public override string ToString() => $"{Name}: {(Applied ? "" : "unavailable: ")}{Detail}";
}

/// <summary>
/// What the sandbox did, step by step, with an overall level — what the broker shows in the desktop record. Printed
/// as one line per step after a header line <c>sandbox: Full|Partial|None</c>.
/// </summary>
public sealed class SandboxReport
{
    private readonly List<SandboxStep> _steps = [];

    public IReadOnlyList<SandboxStep> Steps => _steps;

    /// <summary>How long applying took.</summary>
    public TimeSpan Elapsed { get; internal set; }

    public SandboxLevel Level =>
        _steps.Count == 0 || _steps.All(s => !s.Applied) ? SandboxLevel.None
        : _steps.All(s => s.Applied) ? SandboxLevel.Full
        : SandboxLevel.Partial;

    internal void Add(string name, bool applied, string detail) => _steps.Add(new SandboxStep(name, applied, detail));

    public SandboxStep? this[string name] => _steps.FirstOrDefault(s => s.Name == name);

    public IEnumerable<string> Lines()
    {
        yield return $"sandbox: {Level} ({Elapsed.TotalMilliseconds:F0} ms)";
        foreach (var step in _steps)
            yield return $"sandbox: {step}";
    }
}
