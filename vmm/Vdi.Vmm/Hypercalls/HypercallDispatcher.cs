using Vdi.Vmm.Devices;
using Vdi.Vmm.Tracing;
using Vdi.Vmm.Vcpu;

namespace Vdi.Vmm.Hypercalls;

/// <summary>A calling vCPU's control registers, read only when a handler asks (on KVM each read is an ioctl).</summary>
public interface IVcpuControlRegisters
{
    ulong ReadCr3();
}

/// <summary>
/// What a hypercall handler sees: the calling vCPU, its registers at the call (RIP as the engine reports it: at the
/// <c>out</c> or just past it) and, where the engine offers it, its control registers.
/// </summary>
public readonly record struct HypercallContext(int VcpuId, uint Number, VcpuRegisters Registers, IVcpuControlRegisters? Control = null);

/// <summary>Handles one hypercall; the return value goes back to the guest in rax.</summary>
public delegate ulong HypercallHandler(in HypercallContext context);

/// <summary>Numbers of the hypercalls every machine has.</summary>
public static class HypercallNumbers
{
    /// <summary>Returns <see cref="PingReply"/>: lets a guest detect the VMM.</summary>
    public const uint Ping = 0;

    /// <summary>Returns its argument (rbx): a round trip through the dispatch point.</summary>
    public const uint Echo = 1;

    /// <summary>Returns the host's wall clock as milliseconds since the Unix epoch (UTC): the guest has no RTC.</summary>
    public const uint WallClock = 2;

    public const ulong PingReply = 0x5644_4931; // "VDI1"

    /// <summary>Returned in rax for an unregistered number (-1).</summary>
    public const ulong Unsupported = ulong.MaxValue;
}

/// <summary>
/// The single numbered hypercall dispatch point. Guests call it with <c>out dx, eax</c> on
/// <see cref="PortMap.Hypercall"/> (number in eax, arguments in rbx, rcx, rsi, rdi; result in rax).
/// </summary>
public sealed class HypercallDispatcher
{
    private readonly Lock _gate = new();
    private readonly AccessLog _log;
    private volatile Dictionary<uint, HypercallHandler> _handlers = [];
    private long _calls;

    public HypercallDispatcher(AccessLog log, TimeProvider? timeProvider = null, TraceRing? ring = null)
    {
        _log = log;
        Ring = ring;
        TimeProvider = timeProvider ?? TimeProvider.System;
        Register(HypercallNumbers.Ping, static (in HypercallContext _) => HypercallNumbers.PingReply);
        Register(HypercallNumbers.Echo, static (in HypercallContext c) => c.Registers.Rbx);
        Register(HypercallNumbers.WallClock, (in HypercallContext _) => Journal is { } journal
            ? journal.Value(FaultTolerance.JournalKind.WallClock, ReadWallClock)
            : ReadWallClock());
    }

    public long Calls => Interlocked.Read(ref _calls);

    /// <summary>Where every call is recorded (number, arguments, result, vCPU, RIP); null: nowhere.</summary>
    public TraceRing? Ring { get; }

    /// <summary>The clock <see cref="HypercallNumbers.WallClock"/> reads.</summary>
    public TimeProvider TimeProvider { get; }

    /// <summary>Fault tolerance: the journal that records or replays the wall clock's readings; null: none.</summary>
    internal FaultTolerance.ExecutionJournal? Journal { get; set; }

    private ulong ReadWallClock() => (ulong)TimeProvider.GetUtcNow().ToUnixTimeMilliseconds();

    public void Register(uint number, HypercallHandler handler)
    {
        lock (_gate)
        {
            if (_handlers.ContainsKey(number))
                throw new InvalidOperationException($"hypercall {number} is already registered");
            _handlers = new Dictionary<uint, HypercallHandler>(_handlers) { [number] = handler };
        }
    }

    /// <summary>Runs the handler for the call the registers describe and returns the value for rax.</summary>
    public ulong Dispatch(int vcpuId, in VcpuRegisters registers, IVcpuControlRegisters? control = null)
    {
        var result = Run(vcpuId, registers, control);
        Ring?.RecordHypercall(vcpuId, registers.Rip, (uint)registers.Rax, [registers.Rbx, registers.Rcx, registers.Rsi, registers.Rdi], result);
        return result;
    }

    private ulong Run(int vcpuId, in VcpuRegisters registers, IVcpuControlRegisters? control)
    {
        Interlocked.Increment(ref _calls);
        var number = (uint)registers.Rax;
        if (!_handlers.TryGetValue(number, out var handler))
        {
            _log.Record(new GuestAccess(AccessSpace.Pio, PortMap.Hypercall, 4, number, true, vcpuId, AccessOutcome.UnknownHypercall));
            return HypercallNumbers.Unsupported;
        }
        try
        {
            return handler(new HypercallContext(vcpuId, number, registers, control));
        }
#pragma warning disable CA1031 // A failing handler costs the guest one call, not the VMM its process.
        catch (Exception)
#pragma warning restore CA1031
        {
            _log.Record(new GuestAccess(AccessSpace.Pio, PortMap.Hypercall, 4, number, true, vcpuId, AccessOutcome.DeviceFault));
            return HypercallNumbers.Unsupported;
        }
    }
}
