using Vdi.Vmm.Devices.Gpu;
using Vdi.Vmm.Guest;
using Vdi.Vmm.Guest.Desktop;
using Vdi.Vmm.Kvm;
using Vdi.Vmm.Machine;

namespace Vdi.Server.Desktops;

/// <summary>
/// One desktop's VM and its state. Start failures and crashes stay inside: the desktop shows as
/// Failed or Crashed with the reason, can be started again, and nothing else is affected.
/// </summary>
public sealed class DesktopHost : IAsyncDisposable
{
    private static readonly Lazy<GuestImage> s_image = new(DesktopGuest.Build);
    private static readonly TimeSpan s_powerOffGrace = TimeSpan.FromSeconds(5);

    private readonly SemaphoreSlim _lifecycle = new(1, 1); // one start/stop at a time
    private readonly ILogger _log;
    private readonly DesktopOptions _options;
    private Vmm.Machine.Machine? _machine;
    private volatile bool _stopping; // sessions are being ended: no new one may reach the machine

    public DesktopHost(Guid id, string name, int vcpus, int memoryMiB, int maxWidth, int maxHeight, DesktopOptions options, ILogger log)
    {
        _options = options;
        Id = id;
        Name = name;
        Vcpus = vcpus;
        MemoryMiB = memoryMiB;
        MaxWidth = maxWidth;
        MaxHeight = maxHeight;
        _log = log;
    }

    public Guid Id { get; }

    public string Name { get; }

    public int Vcpus { get; }

    public int MemoryMiB { get; }

    public int MaxWidth { get; }

    public int MaxHeight { get; }

    public DesktopState State { get; private set; } = DesktopState.Stopped;

    public string? StateReason { get; private set; }

    /// <summary>The engine the running VM uses and why ("KVM (available)", "software engine (no usable KVM: …)"), or null.</summary>
    public string? Engine => Machine?.Engine.ToString();

    /// <summary>The running VM, or null.</summary>
    public Vmm.Machine.Machine? Machine => State == DesktopState.Running && !_stopping ? _machine : null;

    /// <summary>
    /// Ends every session on this desktop (reason <c>desktop-stopped</c>, the clients told the message) before its VM
    /// stops or after it crashed. Set by the pool; the sessions' frames stop before guest memory goes away.
    /// </summary>
    public Func<Guid, string, Task>? EndSessions { get; set; }

    public async Task StartAsync()
    {
        await _lifecycle.WaitAsync().ConfigureAwait(false);
        try
        {
            if (State is DesktopState.Running or DesktopState.Starting)
                return;
            (State, StateReason) = (DesktopState.Starting, null);
            try
            {
                var machine = MachineBuilder.Build(new MachineConfig
                {
                    Vcpus = Vcpus,
                    MemoryMiB = MemoryMiB,
                    Image = s_image.Value,
                    Gpu = new GpuOptions { MaxWidth = MaxWidth, MaxHeight = MaxHeight },
                    KvmDevicePath = _options.KvmDevicePath,
                    Engine = _options.Engine,
                });
                try
                {
                    machine.Start();
                }
                catch
                {
                    machine.Dispose();
                    throw;
                }
                _machine = machine;
                State = DesktopState.Running;
                _ = WatchAsync(machine);
                DesktopLog.Started(_log, Name, machine.Engine);
            }
            catch (Exception e) when (e is KvmException or ArgumentException or Vmm.Memory.GuestMemoryException)
            {
                (State, StateReason) = (DesktopState.Failed, e.Message);
                DesktopLog.StartFailed(_log, Name, e.Message);
            }
        }
        finally
        {
            _lifecycle.Release();
        }
    }

    /// <param name="why">What the clients of its sessions are told.</param>
    public async Task StopAsync(string why = "The desktop was stopped.")
    {
        await _lifecycle.WaitAsync().ConfigureAwait(false);
        try
        {
            if (_machine is not { } machine)
            {
                (State, StateReason) = (DesktopState.Stopped, null);
                return;
            }
            _stopping = true;
            await EndSessionsAsync(why).ConfigureAwait(false);
            machine.RequestPowerOff();
            await machine.WaitForExitAsync(s_powerOffGrace).ConfigureAwait(false);
            machine.Dispose(); // waits for host accesses still under way (leases), then unmaps guest memory
            _machine = null;
            (State, StateReason) = (DesktopState.Stopped, null);
        }
        finally
        {
            _stopping = false;
            _lifecycle.Release();
        }
    }

    private async Task EndSessionsAsync(string why)
    {
        if (EndSessions is not { } end)
            return;
        try
        {
            // A client that does not take the notice in time is closed anyway when its machine goes.
            await end(Id, why).WaitAsync(s_powerOffGrace).ConfigureAwait(false);
        }
        catch (TimeoutException)
        {
        }
    }

    public async Task RestartAsync()
    {
        await StopAsync("The desktop is restarting; open it again in a moment.").ConfigureAwait(false);
        await StartAsync().ConfigureAwait(false);
    }

    private async Task WatchAsync(Vmm.Machine.Machine machine)
    {
        var exit = await machine.Completion.ConfigureAwait(false);
        if (exit.Kind == MachineExitKind.Crashed && _machine == machine)
        {
            (State, StateReason) = (DesktopState.Crashed, exit.Crash?.Reason);
            DesktopLog.Crashed(_log, Name, exit.Crash?.ToString() ?? "crashed");
            if (!_stopping)
                await EndSessionsAsync($"The desktop crashed: {exit.Crash?.Reason ?? "unknown reason"}.").ConfigureAwait(false);
        }
        else if (_machine == machine && State == DesktopState.Running)
        {
            (State, StateReason) = (DesktopState.Stopped, $"the guest {exit.Kind.ToString().ToLowerInvariant()}");
            if (!_stopping) // a stop already ended them, and awaits that itself
                await EndSessionsAsync($"The desktop stopped (the guest {exit.Kind.ToString().ToLowerInvariant()}).").ConfigureAwait(false);
        }
    }

    /// <summary>Stops the VM. The host stays usable afterwards (a late stop or start is harmless), so the lifecycle
    /// lock is never disposed: shutdown may reach a host through the pool's stop and its disposal in either order.</summary>
    public ValueTask DisposeAsync() => new(StopAsync("The desktop was deleted."));
}

internal static partial class DesktopLog
{
    [LoggerMessage(EventId = 2001, Level = LogLevel.Information, Message = "Desktop {Name} started on {Engine}")]
    public static partial void Started(ILogger logger, string name, Vmm.Execution.EngineSelection engine);

    [LoggerMessage(EventId = 2002, Level = LogLevel.Warning, Message = "Desktop {Name} could not start: {Reason}")]
    public static partial void StartFailed(ILogger logger, string name, string reason);

    [LoggerMessage(EventId = 2003, Level = LogLevel.Error, Message = "Desktop {Name} crashed: {Report}")]
    public static partial void Crashed(ILogger logger, string name, string report);
}
