using Vdi.Vmm.Devices.Display;
using Vdi.Vmm.Devices.Gpu;
using Vdi.Vmm.Devices.Input;
using Vdi.Vmm.Host;
using Vdi.Vmm.Integrity;
using Vdi.Vmm.Migration;

namespace Vdi.Vmm.FaultTolerance;

/// <summary>
/// A fault-tolerant desktop across host processes (<c>docs/vmm.md</c>, "Fault tolerance across processes"), seen
/// through <see cref="IDesktopMachine"/>. A primary host records the journal; this side relays its entries to a
/// secondary host that replays them, compares both sides' outputs (<see cref="OutputComparator"/>), and shows the
/// viewers the secondary: each of its frames is announced once the primary produced the same, and nothing the
/// secondary shows can be lost with the primary (it only ever ran on inputs it was given). A mismatch, or a
/// secondary that dies, makes a new secondary from a checkpoint of the primary; a primary whose process dies is
/// replaced by its secondary (promoted: it replays what it was fed, then records), and the input the dead primary
/// never handed over is given again. Input goes to the primary.
/// </summary>
public sealed partial class FaultTolerantDesktop : IDesktopMachine
{
    private readonly Lock _gate = new();
    private readonly PairHostLauncher _launch;
    private readonly Action<string>? _log;
    private readonly TaskCompletionSource<DesktopExit> _completion = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly CancellationTokenSource _stop = new();
    private readonly Queue<GuestInput> _pending = new(); // sent to the primary, not yet seen in its journal
    private RemoteDesktop _primary = null!;
    private RemoteDesktop? _secondary;
    private volatile RemoteDesktop _display = null!; // whose screen the viewers see
    private volatile bool _stopping;

    private FaultTolerantDesktop(PairHostLauncher launch, Action<string>? log)
    {
        _launch = launch;
        _log = log;
        Comparator.Released += OnReleased;
        Comparator.Mismatched += OnMismatched;
    }

    /// <summary>The desktop with its primary's host launched, not started (<see cref="StartAsync"/> boots it, then protects it).</summary>
    /// <param name="launch">Starts a host of the desktop's configuration in the given role (a secondary is an incoming host).</param>
    public static async Task<FaultTolerantDesktop> CreateAsync(PairHostLauncher launch, Action<string>? log = null,
        CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(launch);
        var desktop = new FaultTolerantDesktop(launch, log);
        desktop.Take(await launch(FaultToleranceRole.Primary, Execution.EngineChoice.Auto, cancellationToken).ConfigureAwait(false));
        return desktop;
    }

    public OutputComparator Comparator { get; } = new();

    public string Engine => _primary.Engine;

    public (int Width, int Height)? Mode => _display.Mode;

    public double Dpi => _display.Dpi;

    public CursorImage? Cursor => _display.Cursor;

    public Task<DesktopExit> Completion => _completion.Task;

    /// <summary>The primary's integrity, whichever host that is: its status and alerts, mirrored (a secondary's replayed alerts are not passed on).</summary>
    public IntegrityFeed Integrity { get; } = new(IntegrityLevel.Off);

    /// <summary>The primary's host.</summary>
    public RemoteDesktop Primary => _primary;

    /// <summary>The secondary's host, or null while the desktop is unprotected.</summary>
    public RemoteDesktop? Secondary
    {
        get
        {
            lock (_gate)
                return _secondary;
        }
    }

    /// <summary>
    /// A pair around <paramref name="primary"/>, a primary host already running (it received a desktop by live
    /// migration): it is protected at once — a secondary is made from it in the background.
    /// </summary>
    public static Task<FaultTolerantDesktop> AdoptAsync(RemoteDesktop primary, PairHostLauncher launch, Action<string>? log = null)
    {
        ArgumentNullException.ThrowIfNull(primary);
        ArgumentNullException.ThrowIfNull(launch);
        var desktop = new FaultTolerantDesktop(launch, log);
        desktop.Take(primary);
        desktop.Comparator.Unprotect();
        desktop.Protect(primary, "fault tolerance was switched on");
        return Task.FromResult(desktop);
    }

    public async Task StartAsync(CancellationToken cancellationToken = default)
    {
        var primary = _primary;
        Comparator.Unprotect(); // until the first secondary runs, the primary's outputs go out as they come
        try
        {
            await primary.StartAsync(cancellationToken).ConfigureAwait(false);
        }
        catch
        {
            _completion.TrySetResult(new DesktopExit(DesktopExitKind.Stopped, 0, "the desktop did not start"));
            throw;
        }
        Protect(primary, "the desktop started");
    }

    /// <summary>The first primary becomes the desktop's, and what the viewers see; its engine decides how outputs compare.</summary>
    private void Take(RemoteDesktop primary)
    {
        (_primary, _display) = (primary, primary);
        Comparator.ComparesCounts = primary.IsSoftware; // on KVM the pair is quasi: counts are exits
        Attach(primary);
        MirrorIntegrity(primary);
    }

    /// <summary>The running primary is watched (its end, its heartbeat) and a secondary is made from it.</summary>
    private void Protect(RemoteDesktop primary, string why)
    {
        _ = WatchPrimaryAsync(primary);
        Heard(primary);
        StartHeartbeat();
        RestoreProtection(why);
    }

    public async Task<DesktopExit> StopAsync(TimeSpan deadline)
    {
        _stopping = true;
        StopHeartbeat();
        await _stop.CancelAsync().ConfigureAwait(false);
        await DropSecondaryAsync().ConfigureAwait(false);
        var exit = await _primary.StopAsync(deadline).ConfigureAwait(false);
        _completion.TrySetResult(exit);
        return exit;
    }

    public Task<bool> PauseAsync() => _primary.PauseAsync();

    public Task ResumeAsync() => _primary.ResumeAsync();

    public Task<byte[]?> ReadGuestAsync(ulong address, int length, CancellationToken cancellationToken = default) => _primary.ReadGuestAsync(address, length, cancellationToken);

    public string? SetIntegrityLevel(IntegrityLevel level) => _primary.SetIntegrityLevel(level);

    /// <summary>
    /// Goes to the primary; one under way when the primary dies is asked again of the promoted secondary. Completes once
    /// the host the viewers see shows the mode too (a secondary replays the request a little after the primary), so
    /// no frame of the old mode follows the acknowledgement.
    /// </summary>
    public async Task<DisplayAcknowledgement> RequestDisplayAsync(DisplayProperties properties, TimeSpan? timeout = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(properties);
        var primary = _primary;
        DisplayAcknowledgement ack;
        try
        {
            ack = await primary.RequestDisplayAsync(properties, timeout, cancellationToken).ConfigureAwait(false);
        }
        catch (InvalidOperationException) when (!_stopping)
        {
            if (await WhenFailedOverAsync(primary).ConfigureAwait(false) is not { } next)
                throw;
            ack = await next.RequestDisplayAsync(properties, timeout, cancellationToken).ConfigureAwait(false);
        }
        for (var waited = System.Diagnostics.Stopwatch.StartNew(); waited.Elapsed < s_displayFollow; await Task.Delay(1, cancellationToken).ConfigureAwait(false))
        {
            if (_display.Mode == (properties.Width, properties.Height) || !_displayReplays)
                break; // the viewers' host shows it (a primary shown directly showed it already)
        }
        return ack;
    }

    /// <summary>How long a display request waits for the secondary the viewers see to show the mode after the primary did.</summary>
    private static readonly TimeSpan s_displayFollow = TimeSpan.FromSeconds(2);

    public bool SetMotion(bool enabled) => Send(new HostRequestInput(enabled ? Devices.PortMap.HostRequestMotionOn : Devices.PortMap.HostRequestMotionOff));

    public bool SendKey(ushort code, bool pressed) => Send(new KeyInput(code, pressed ? KeyAction.Press : KeyAction.Release));

    public bool SendPointer(int x, int y, PointerButtons buttons, int wheel = 0) => Send(new PointerInput(x, y, buttons, wheel));

    public bool Capture(GpuRect region, Span<byte> destination, int stride, out GpuFormat format) => _display.Capture(region, destination, stride, out format);

    /// <summary>Kept until the primary's journal shows it (a failover gives the rest to the promoted secondary), and sent unless a failover is under way.</summary>
    private bool Send(GuestInput input)
    {
        lock (_gate)
        {
            if (_completion.Task.IsCompleted)
                return false;
            _pending.Enqueue(input);
            if (!_failingOver)
                _ = SendTo(_primary, input); // a primary gone meanwhile: kept, for the secondary that takes over
            return true;
        }
    }

    private static bool SendTo(RemoteDesktop host, GuestInput input) => input switch
    {
        KeyInput k => host.SendKey(k.Code, k.Action == KeyAction.Press),
        PointerInput p => host.SendPointer(p.X, p.Y, p.Buttons, p.Wheel),
        HostRequestInput { Request: Devices.PortMap.HostRequestMotionOn } => host.SetMotion(true),
        HostRequestInput => host.SetMotion(false),
        _ => false,
    };

    /// <summary>Under the gate: the primary's journal shows these entries, so the inputs they record were handed over.</summary>
    private void Retire(IReadOnlyList<JournalEntry> entries)
    {
        foreach (var e in entries)
        {
            if (e.Kind is JournalKind.Key or JournalKind.Tablet or JournalKind.HostRequest)
                _pending.TryDequeue(out _);
        }
    }

    private void Log(string line) => _log?.Invoke($"fault tolerance: {line}");

    public async ValueTask DisposeAsync()
    {
        if (!_completion.Task.IsCompleted)
            await StopAsync(TimeSpan.FromSeconds(2)).ConfigureAwait(false);
        await DropSecondaryAsync().ConfigureAwait(false);
        await _primary.DisposeAsync().ConfigureAwait(false);
    }
}
