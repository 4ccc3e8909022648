using Vdi.Vmm.Execution;

namespace Vdi.Server.Desktops;

/// <summary>Where a desktop's VM runs.</summary>
public enum DesktopIsolation
{
    /// <summary>In a sandboxed host process of its own (<c>vdi-vmm serve</c>, docs/host-protocol.md, docs/sandbox.md).</summary>
    Process,

    /// <summary>In the broker's own process (the VMM library; no sandbox).</summary>
    InProcess,
}

/// <summary>How the pool runs desktops. Bound from "Vdi:Desktops".</summary>
public sealed class DesktopOptions
{
    /// <summary>Start the desktops marked to run when the server starts.</summary>
    public bool AutoStart { get; set; } = true;

    /// <summary>
    /// What runs the desktops' guest code: <c>Auto</c> (KVM where <c>/dev/kvm</c> works, else the VMM's software
    /// engine), <c>Kvm</c> (KVM or fail) or <c>Software</c>.
    /// </summary>
    public EngineChoice Engine { get; set; } = EngineChoice.Auto;

    /// <summary>The KVM device; null means /dev/kvm (or VDI_KVM_DEVICE).</summary>
    public string? KvmDevicePath { get; set; }

    /// <summary>Each desktop in a sandboxed process of its own (<c>Process</c>), or in the broker's (<c>InProcess</c>).</summary>
    public DesktopIsolation Isolation { get; set; } = DesktopIsolation.Process;

    /// <summary>
    /// With <see cref="DesktopIsolation.Process"/>: the folder under which each desktop's host gets a folder of its own
    /// (mode 0700; its socket). Null: <c>$XDG_RUNTIME_DIR/vdi-hosts</c>, else <c>/tmp/vdi-hosts-&lt;uid&gt;</c>. It must
    /// not lie inside the data folder: the host process may write its folder.
    /// </summary>
    public string? HostDirectory { get; set; }

    /// <summary>With <see cref="DesktopIsolation.Process"/>: apply the sandbox before the guest runs.</summary>
    public bool Sandbox { get; set; } = true;

    /// <summary>The broker's data folder (set from Vdi:Storage): the host folders must lie outside it.</summary>
    public string? DataDirectory { get; set; }

    /// <summary>Let the broker ask a host process for test-only actions (a forbidden system call). Tests only.</summary>
    public bool TestHooks { get; set; }

    /// <summary>
    /// With <see cref="DesktopIsolation.Process"/>: how long a host whose broker went away (a restart, a crash, a kill)
    /// keeps its desktop running for a broker to reattach (<c>serve --reconnect-seconds</c>); after it, the host powers
    /// its guest off and exits. 0: a host powers off as soon as its broker's connection goes.
    /// </summary>
    public int ReattachSeconds { get; set; } = 60;

    /// <summary>
    /// With <see cref="DesktopIsolation.Process"/> and <see cref="ReattachSeconds"/> above 0: a broker that shuts down
    /// lets go of its hosts (their desktops keep running) instead of powering them off, so a broker started again
    /// within <see cref="ReattachSeconds"/> reattaches. Sessions end either way.
    /// </summary>
    public bool KeepRunningOnShutdown { get; set; }

    /// <summary>Restart a desktop whose host or guest crashed, at most <see cref="MaxAutomaticRestarts"/> times in <see cref="AutomaticRestartWindow"/>.</summary>
    public bool RestartOnCrash { get; set; }

    /// <summary>With <see cref="RestartOnCrash"/>: how many automatic restarts a desktop gets within <see cref="AutomaticRestartWindow"/>.</summary>
    public int MaxAutomaticRestarts { get; set; } = 3;

    public TimeSpan AutomaticRestartWindow { get; set; } = TimeSpan.FromMinutes(10);

    /// <summary>With <see cref="RestartOnCrash"/>: the wait before the first automatic restart; it doubles with each further one in the window.</summary>
    public TimeSpan AutomaticRestartDelay { get; set; } = TimeSpan.FromSeconds(2);
}
