namespace Vdi.Vmm.Sandbox;

/// <summary>What a desktop's host process may keep once sandboxed.</summary>
public sealed record SandboxConfig
{
    /// <summary>Memory the process may use (guest RAM included), in bytes; null: no limit.</summary>
    public ulong? MemoryLimitBytes { get; init; }

    /// <summary>CPU the process may use, in percent of one core (200 = two cores); null: no limit.</summary>
    public int? CpuPercent { get; init; }

    /// <summary>
    /// The one folder the process may write (its socket and shared files; the CLI's screenshots); bound read-write at
    /// the same path inside the jail. Null: none.
    /// </summary>
    public string? WorkDirectory { get; init; }

    /// <summary>Device nodes to keep (/dev/kvm when the machine runs on KVM).</summary>
    public IReadOnlyList<string> Devices { get; init; } = [];

    /// <summary>Whether to enter the mount jail (only possible in a mount namespace of the process's own).</summary>
    public bool FileSystem { get; init; } = true;
}
