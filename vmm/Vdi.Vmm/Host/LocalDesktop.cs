using Vdi.Vmm.Devices;
using Vdi.Vmm.Devices.Display;
using Vdi.Vmm.Devices.Gpu;
using Vdi.Vmm.Devices.Input;
using Vdi.Vmm.Machine;

namespace Vdi.Vmm.Host;

/// <summary>A desktop whose VM runs in this process: <see cref="IDesktopMachine"/> over a <see cref="Machine"/> it owns.</summary>
public sealed partial class LocalDesktop : IDesktopMachine
{
    private static readonly TimeSpan s_startTimeout = TimeSpan.FromSeconds(30);

    private readonly Machine.Machine _machine;
    private readonly VirtioGpu _gpu;
    private readonly Task<DesktopExit> _completion;
    private readonly IntegrityFeed _integrity;
    private long _mode; // width << 32 | height; 0: no scanout
    private CursorImage? _cursor;

    public LocalDesktop(Machine.Machine machine)
    {
        _machine = machine;
        _gpu = machine.Devices.Gpu;
        _gpu.ScanoutChanged += OnScanoutChanged;
        _gpu.Flushed += OnFlushed;
        _gpu.CursorChanged += OnCursorChanged;
        _gpu.CursorMoved += OnCursorMoved;
        _completion = MapExitAsync(machine.Completion);
        _integrity = new IntegrityFeed(machine.Integrity.Level);
        WatchIntegrity();
    }

    /// <summary>Builds the desktop guest's VM from <paramref name="config"/> (its image is replaced by the desktop guest's).</summary>
    public static LocalDesktop Build(MachineConfig config) => new(MachineBuilder.Build(config));

    public Machine.Machine Machine => _machine;

    public string Engine => _machine.Engine.ToString();

    public (int Width, int Height)? Mode => Volatile.Read(ref _mode) is var m and not 0 ? ((int)(m >> 32), (int)m) : null;

    public double Dpi => _gpu.Display.Dpi;

    public CursorImage? Cursor => Volatile.Read(ref _cursor);

    public Task<DesktopExit> Completion => _completion;

    public event Action<ScanoutChange>? ScanoutChanged;

    public event Action<ScanoutFlush>? Flushed;

    public event Action<CursorImage>? CursorChanged;

    public event Action<int, int>? CursorMoved;

    /// <summary>Starts the guest; completes once it idles with its drivers up (keys sent earlier would be lost).</summary>
    public Task StartAsync(CancellationToken cancellationToken = default)
    {
        _machine.Start();
        return WhenIdleAsync(_machine, s_startTimeout, cancellationToken);
    }

    /// <summary>Completes when the guest reports the idle boot marker, or the machine ends, or after <paramref name="timeout"/>.</summary>
    internal static async Task WhenIdleAsync(Machine.Machine machine, TimeSpan timeout, CancellationToken cancellationToken = default)
    {
        var idle = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        void OnMarker(Devices.BootMarker marker)
        {
            if (marker.Value == BootMarkers.Idle)
                idle.TrySetResult();
        }
        machine.Devices.Power.MarkerReached += OnMarker;
        try
        {
            if (machine.Devices.Power.Markers.Any(m => m.Value == BootMarkers.Idle))
                return;
            await Task.WhenAny(idle.Task, machine.Completion, Task.Delay(timeout, cancellationToken)).ConfigureAwait(false);
            cancellationToken.ThrowIfCancellationRequested();
        }
        finally
        {
            machine.Devices.Power.MarkerReached -= OnMarker;
        }
    }

    public async Task<DesktopExit> StopAsync(TimeSpan deadline)
    {
        // A machine that migrated away stays paused for good: its guest runs elsewhere and must not see a power-off.
        if (_machine.State == MachineState.Created || Volatile.Read(ref _migratedAway))
            _machine.Stop();
        else
            _machine.RequestPowerOff();
        _ = await _machine.WaitForExitAsync(deadline).ConfigureAwait(false);
        return await _completion.ConfigureAwait(false);
    }

    public Task<bool> PauseAsync() => Task.Run(() => _machine.State == MachineState.Running && _machine.PauseAll(TimeSpan.FromSeconds(2)));

    public Task<byte[]?> ReadGuestAsync(ulong address, int length, CancellationToken cancellationToken = default)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(length, 1);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(length, ReadGuestMessage.MaxLength);
        return Task.Run(() =>
        {
            var bytes = new byte[length];
            return _machine.ReadVirtualAs(0, address, bytes).Succeeded ? bytes : null;
        }, cancellationToken);
    }

    public Task ResumeAsync()
    {
        _machine.ResumeAll();
        return Task.CompletedTask;
    }

    /// <summary>Posting the request (which raises the GPU's config interrupt) runs under a lease of the machine; once
    /// the machine is being disposed the request fails as cancelled.</summary>
    public Task<DisplayAcknowledgement> RequestDisplayAsync(DisplayProperties properties, TimeSpan? timeout = null, CancellationToken cancellationToken = default)
    {
        using var lease = _machine.Lease();
        if (!lease.IsHeld)
            return Task.FromException<DisplayAcknowledgement>(new OperationCanceledException("the desktop is stopping"));
        return _machine.Devices.Display.RequestAsync(properties, timeout, cancellationToken); // posted before its first await
    }

    public bool SetMotion(bool enabled) => _machine.SetMotion(enabled);

    public bool SendKey(ushort code, bool pressed)
    {
        using var lease = _machine.Lease();
        return lease.IsHeld && _machine.Devices.Keyboard.InjectKey(code, pressed ? KeyAction.Press : KeyAction.Release);
    }

    public bool SendPointer(int x, int y, PointerButtons buttons, int wheel = 0)
    {
        using var lease = _machine.Lease();
        return lease.IsHeld && _machine.Devices.Tablet.InjectPointer(x, y, buttons, wheel);
    }

    public bool Capture(GpuRect region, Span<byte> destination, int stride, out GpuFormat format)
    {
        format = default;
        using var lease = _machine.Lease();
        return lease.IsHeld && _gpu.Capture(region, destination, stride, out format);
    }

    public async ValueTask DisposeAsync()
    {
        await EndReceptionAsync().ConfigureAwait(false);
        _gpu.ScanoutChanged -= OnScanoutChanged;
        _gpu.Flushed -= OnFlushed;
        _gpu.CursorChanged -= OnCursorChanged;
        _gpu.CursorMoved -= OnCursorMoved;
        UnwatchIntegrity();
        _machine.Dispose();
    }

    /// <summary>A machine's exit as a desktop exit.</summary>
    public static DesktopExit Describe(MachineExit exit) => exit.Kind switch
    {
        MachineExitKind.PoweredOff => new DesktopExit(DesktopExitKind.PoweredOff, exit.ExitCode, $"the guest powered off (code {exit.ExitCode})"),
        MachineExitKind.Crashed => new DesktopExit(DesktopExitKind.Crashed, -1, exit.Crash is { } c ? $"vcpu {c.VcpuId} crashed: {c.Reason}" : "crashed"),
        _ => new DesktopExit(DesktopExitKind.Stopped, 0, "the machine was stopped by the host"),
    };

    private static async Task<DesktopExit> MapExitAsync(Task<MachineExit> completion) => Describe(await completion.ConfigureAwait(false));

    private void OnScanoutChanged(ScanoutChange change)
    {
        Volatile.Write(ref _mode, change.Enabled ? ((long)change.Width << 32) | (uint)change.Height : 0);
        ScanoutChanged?.Invoke(change);
    }

    private void OnFlushed(ScanoutFlush flush) => Flushed?.Invoke(flush);

    private void OnCursorChanged(CursorImage cursor)
    {
        Volatile.Write(ref _cursor, cursor);
        CursorChanged?.Invoke(cursor);
    }

    private void OnCursorMoved(int x, int y) => CursorMoved?.Invoke(x, y);
}
