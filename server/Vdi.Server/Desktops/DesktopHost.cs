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
    public Vmm.Machine.Machine? Machine => State == DesktopState.Running ? _machine : null;

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

    public async Task StopAsync()
    {
        await _lifecycle.WaitAsync().ConfigureAwait(false);
        try
        {
            if (_machine is not { } machine)
            {
                (State, StateReason) = (DesktopState.Stopped, null);
                return;
            }
            machine.RequestPowerOff();
            await machine.WaitForExitAsync(s_powerOffGrace).ConfigureAwait(false);
            machine.Dispose();
            _machine = null;
            (State, StateReason) = (DesktopState.Stopped, null);
        }
        finally
        {
            _lifecycle.Release();
        }
    }

    public async Task RestartAsync()
    {
        await StopAsync().ConfigureAwait(false);
        await StartAsync().ConfigureAwait(false);
    }

    private async Task WatchAsync(Vmm.Machine.Machine machine)
    {
        var exit = await machine.Completion.ConfigureAwait(false);
        if (exit.Kind == MachineExitKind.Crashed && _machine == machine)
        {
            (State, StateReason) = (DesktopState.Crashed, exit.Crash?.Reason);
            DesktopLog.Crashed(_log, Name, exit.Crash?.ToString() ?? "crashed");
        }
        else if (_machine == machine && State == DesktopState.Running)
        {
            (State, StateReason) = (DesktopState.Stopped, $"the guest {exit.Kind.ToString().ToLowerInvariant()}");
        }
    }

    /// <summary>Stops the VM. The host stays usable afterwards (a late stop or start is harmless), so the lifecycle
    /// lock is never disposed: shutdown may reach a host through the pool's stop and its disposal in either order.</summary>
    public ValueTask DisposeAsync() => new(StopAsync());
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
