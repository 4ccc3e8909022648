using Vdi.Vmm.Devices.Display;
using Vdi.Vmm.Execution;
using Vdi.Vmm.Integrity;

namespace Vdi.Vmm.Host;

/// <summary>How to start a desktop's host process (`vdi-vmm serve`) and what it runs.</summary>
public sealed record RemoteDesktopOptions
{
    /// <summary>The program that runs `vdi-vmm` (by default `dotnet`, with <see cref="HostArguments"/> naming vdi-vmm.dll).</summary>
    public string HostProgram { get; init; } = "dotnet";

    /// <summary>Arguments before `serve`; by default the vdi-vmm.dll beside this assembly.</summary>
    public IReadOnlyList<string> HostArguments { get; init; } = [Path.Combine(AppContext.BaseDirectory, "vdi-vmm.dll")];

    /// <summary>The host's own folder: its socket lives here, and with <see cref="Sandbox"/> it is the only folder it may write.</summary>
    public required string WorkDirectory { get; init; }

    public int Vcpus { get; init; } = 1;

    public int MemoryMiB { get; init; } = 512;

    public EngineChoice Engine { get; init; } = EngineChoice.Auto;

    /// <summary>The display offered before any request.</summary>
    public DisplayProperties Display { get; init; } = new(1280, 720);

    /// <summary>The largest mode: the shared scanout is sized for it.</summary>
    public int MaxWidth { get; init; } = 3840;

    public int MaxHeight { get; init; } = 2160;

    /// <summary>How the guest's integrity driver's protections are treated (`serve --integrity`).</summary>
    public IntegrityLevel Integrity { get; init; } = IntegrityLevel.Enforce;

    /// <summary>Apply the sandbox (docs/sandbox.md) before the guest runs.</summary>
    public bool Sandbox { get; init; }

    /// <summary>With <see cref="Sandbox"/>: memory limit of the process in MiB (0: none).</summary>
    public int MemoryLimitMiB { get; init; }

    /// <summary>With <see cref="Sandbox"/>: CPU limit of the process in percent of one core (0: none); a rate under cgroup v2, else a lower priority.</summary>
    public int CpuLimitPercent { get; init; }

    /// <summary>How long the host waits for a broker that went away to reconnect (0: it powers off at once).</summary>
    public int ReconnectSeconds { get; init; }

    /// <summary>The KVM device the host opens (null: its own default, /dev/kvm or VDI_KVM_DEVICE), passed as VDI_KVM_DEVICE.</summary>
    public string? KvmDevicePath { get; init; }

    /// <summary>`serve --incoming`: the guest is not booted; the machine comes from a live migration.</summary>
    public bool Incoming { get; init; }

    /// <summary>`serve --fault-tolerance`: the host records (primary) or replays (secondary, with <see cref="Incoming"/>) an execution journal.</summary>
    public FaultToleranceRole FaultTolerance { get; init; }

    /// <summary>The socket's file name in <see cref="WorkDirectory"/> (a migration's destination shares its desktop's folder under another name).</summary>
    public string SocketName { get; init; } = "host.sock";

    /// <summary>Let the broker ask for test-only actions (a forbidden system call). Tests only.</summary>
    public bool TestHooks { get; init; }

    /// <summary>
    /// At most this many KiB of the shared scanout's arena hold the guest's resource images (`serve --arena-kib`); null:
    /// all of it. For tests and comparisons: 0 copies every flushed rectangle, as protocol version 1 did.
    /// </summary>
    public int? ArenaKiB { get; init; }

    /// <summary>How long the host may take to open its socket (build the VM, calibrate engines).</summary>
    public TimeSpan ConnectTimeout { get; init; } = TimeSpan.FromSeconds(60);

    /// <summary>Called with the host process as soon as it runs, before it listens (a broker records it there).</summary>
    public Action<HostProcess>? ProcessStarted { get; init; }

    /// <summary>Receives the host's stderr lines and the client's own complaints.</summary>
    public Action<string>? Log { get; init; }

    public string SocketPath => Path.Combine(WorkDirectory, SocketName);

    internal IEnumerable<string> ServeArguments()
    {
        foreach (var a in HostArguments)
            yield return a;
        string[] args =
        [
            "serve", "--socket", SocketPath, "--vcpus", $"{Vcpus}", "--memory", $"{MemoryMiB}", "--engine", Engine.ToString().ToLowerInvariant(),
            "--max-width", $"{MaxWidth}", "--max-height", $"{MaxHeight}",
            "--display", FormattableString.Invariant($"{Display.Width}x{Display.Height}@{Display.Dpi}"),
            "--integrity", Integrity.ToString().ToLowerInvariant(),
        ];
        foreach (var a in args)
            yield return a;
        if (Sandbox)
        {
            yield return "--sandbox";
            yield return "--sandbox-dir";
            yield return WorkDirectory;
            if (MemoryLimitMiB > 0)
            {
                yield return "--memory-limit";
                yield return $"{MemoryLimitMiB}";
            }
            if (CpuLimitPercent > 0)
            {
                yield return "--cpu-percent";
                yield return $"{CpuLimitPercent}";
            }
        }
        if (TestHooks)
            yield return "--test-hooks";
        if (Incoming)
            yield return "--incoming";
        if (FaultTolerance != FaultToleranceRole.None)
        {
            yield return "--fault-tolerance";
            yield return FaultTolerance == FaultToleranceRole.Primary ? "primary" : "secondary";
        }
        if (ArenaKiB is { } arena)
        {
            yield return "--arena-kib";
            yield return $"{arena}";
        }
        if (ReconnectSeconds > 0)
        {
            yield return "--reconnect-seconds";
            yield return $"{ReconnectSeconds}";
        }
    }
}
