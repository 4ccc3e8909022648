using System.Net;
using Vdi.Vmm.Devices.Display;
using Vdi.Vmm.Devices.Gpu;
using Vdi.Vmm.Devices.Input;
using Vdi.Vmm.Integrity;
using Vdi.Vmm.Migration;

namespace Vdi.Vmm.Host;

public enum DesktopExitKind
{
    /// <summary>The guest powered off; <see cref="DesktopExit.ExitCode"/> is its code.</summary>
    PoweredOff,

    /// <summary>The host stopped the machine (a stop whose deadline passed, a peer that went away).</summary>
    Stopped,

    /// <summary>A vCPU could not continue; the reason names it.</summary>
    Crashed,

    /// <summary>The host process died (a signal, seccomp, an unexpected exit code); the reason says how.</summary>
    ProcessDied,

    /// <summary>The host broke the protocol and was disconnected.</summary>
    ProtocolError,

    /// <summary>The broker let go of a host that waits for it to reconnect (<see cref="RemoteDesktop.Detach"/>); the desktop runs on.</summary>
    Detached,
}

/// <summary>How a desktop ended, in one line the broker can show.</summary>
public sealed record DesktopExit(DesktopExitKind Kind, int ExitCode, string Reason);

/// <summary>
/// A desktop as the broker sees it, whether its VM runs in this process (<see cref="LocalDesktop"/>) or in a host
/// process of its own (<see cref="RemoteDesktop"/>): life cycle, display requests, input, region reads of the
/// scanout, and events. Events may be raised on any thread; handlers must be quick and must not call back in.
/// </summary>
public interface IDesktopMachine : IAsyncDisposable
{
    /// <summary>The engine running the guest and why (for example "software engine (KVM unavailable: …)").</summary>
    string Engine { get; }

    /// <summary>The size of the visible scanout, or null when there is none.</summary>
    (int Width, int Height)? Mode { get; }

    /// <summary>The density the guest lays out for (the last requested display's).</summary>
    double Dpi { get; }

    /// <summary>The cursor as the guest last defined it, or null before it did.</summary>
    CursorImage? Cursor { get; }

    /// <summary>Completes once the desktop has ended, with how.</summary>
    Task<DesktopExit> Completion { get; }

    event Action<ScanoutChange>? ScanoutChanged;

    event Action<ScanoutFlush>? Flushed;

    event Action<CursorImage>? CursorChanged;

    event Action<int, int>? CursorMoved;

    /// <summary>
    /// The guest's integrity: <see cref="IntegrityFeed.Snapshot"/> (level, driver, protected set, recent alerts, alerts
    /// over the rate limit), <see cref="IntegrityFeed.AlertRaised"/> (at most <see cref="AlertThrottle.DefaultPerSecond"/>
    /// a second) and <see cref="IntegrityFeed.Changed"/>.
    /// </summary>
    IntegrityFeed Integrity { get; }

    /// <summary>
    /// Swaps <see cref="IntegrityLevel.Audit"/> and <see cref="IntegrityLevel.Enforce"/> while the desktop runs; null
    /// when done (or asked), else why not (Off is chosen when the desktop starts).
    /// </summary>
    string? SetIntegrityLevel(IntegrityLevel level);

    /// <summary>Starts the guest; completes when it runs.</summary>
    Task StartAsync(CancellationToken cancellationToken = default);

    /// <summary>Asks the guest to power off; stops it after <paramref name="deadline"/>; completes with the exit.</summary>
    Task<DesktopExit> StopAsync(TimeSpan deadline);

    /// <summary>Pauses every vCPU; false when the machine could not be paused.</summary>
    Task<bool> PauseAsync();

    /// <summary>
    /// Reads <paramref name="length"/> bytes (1 to <see cref="ReadGuestMessage.MaxLength"/>) at a guest-virtual address
    /// through vCPU 0's page tables, fault-safe (the VMM's introspection): null when the address does not translate or
    /// the desktop does not run (or its host does not answer within a few seconds). Never throws for the guest's state.
    /// </summary>
    Task<byte[]?> ReadGuestAsync(ulong address, int length, CancellationToken cancellationToken = default);

    Task ResumeAsync();

    /// <summary>As <see cref="DisplayController.RequestAsync"/>: completes once the guest shows exactly this display.</summary>
    Task<DisplayAcknowledgement> RequestDisplayAsync(DisplayProperties properties, TimeSpan? timeout = null, CancellationToken cancellationToken = default);

    /// <summary>Switches the guest's full-motion panel on or off.</summary>
    bool SetMotion(bool enabled);

    /// <summary>An evdev key pressed or released; false when the desktop cannot take it (gone, queue full).</summary>
    bool SendKey(ushort code, bool pressed);

    /// <summary>An absolute pointer position in scanout pixels, buttons held and wheel steps.</summary>
    bool SendPointer(int x, int y, PointerButtons buttons, int wheel = 0);

    /// <summary>
    /// Copies <paramref name="region"/> of the visible scanout into <paramref name="destination"/> (rows
    /// <paramref name="stride"/> bytes apart, at the region's own position), as
    /// <see cref="VirtioGpu.Capture(GpuRect, Span{byte}, int, out GpuFormat)"/>; false when there is no scanout or
    /// the region does not fit it.
    /// </summary>
    bool Capture(GpuRect region, Span<byte> destination, int stride, out GpuFormat format);

    /// <summary>
    /// On a desktop made by <see cref="DesktopMachines.CreateIncomingAsync"/> and not started: listens on loopback for
    /// ONE source that presents <paramref name="token"/> (<see cref="MigrateListenMessage.TokenLength"/> random bytes)
    /// and receives its machine (<see cref="MigrationTarget"/>); the desktop then runs as a started one does.
    /// </summary>
    Task<IncomingMigration> AcceptMigrationAsync(ReadOnlyMemory<byte> token, CancellationToken cancellationToken = default) =>
        throw new NotSupportedException($"{GetType().Name} cannot receive a migration");

    /// <summary>
    /// Sends this running desktop's machine to <paramref name="endpoint"/> (<see cref="MigrationSource"/>), presenting
    /// <paramref name="token"/> first. On success the machine is left paused for good (stop this desktop); on failure it
    /// runs on as before and the outcome says why.
    /// </summary>
    Task<MigrationOutcome> MigrateToAsync(IPEndPoint endpoint, ReadOnlyMemory<byte> token, MigrationOptions options, IProgress<MigrationProgress>? progress,
        CancellationToken cancellationToken = default) =>
        throw new NotSupportedException($"{GetType().Name} cannot migrate");
}

/// <summary>A receiving desktop's endpoint, and how the reception ended: success once the machine runs, else why not.</summary>
public sealed record IncomingMigration(IPEndPoint Endpoint, Task<MigrationOutcome> Received);
