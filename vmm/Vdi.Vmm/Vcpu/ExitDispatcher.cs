using System.Buffers.Binary;
using Vdi.Vmm.Devices;
using Vdi.Vmm.Hypercalls;
using Vdi.Vmm.Kvm;
using Vdi.Vmm.Memory;
using Vdi.Vmm.Tracing;

namespace Vdi.Vmm.Vcpu;

public enum ExitAction
{
    /// <summary>Handled; enter the guest again.</summary>
    Continue,

    /// <summary>The guest can't go on (triple fault, failed entry, unhandled exit): stop the machine and report a crash.</summary>
    Crash,

    /// <summary>The guest asked the platform to power off (system event).</summary>
    PowerOff,
}

public readonly record struct ExitResult(ExitAction Action, string? Reason = null)
{
    public static readonly ExitResult Continue = new(ExitAction.Continue);
}

/// <summary>
/// Turns one vCPU exit into device, memory and hypercall work. A plain function of the exit view,
/// so tests drive it with a hand-built <c>kvm_run</c> page and no /dev/kvm.
/// </summary>
public sealed class ExitDispatcher
{
    private readonly Bus _pio;
    private readonly Bus _mmio;
    private readonly GuestMemory _memory;
    private readonly HypercallDispatcher _hypercalls;
    private readonly AccessLog _log;
    private readonly WriteTracer? _tracer;

    public ExitDispatcher(Bus pio, Bus mmio, GuestMemory memory, HypercallDispatcher hypercalls, AccessLog log, WriteTracer? tracer = null)
    {
        _pio = pio;
        _mmio = mmio;
        _memory = memory;
        _hypercalls = hypercalls;
        _log = log;
        _tracer = tracer;
    }

    public ExitResult Dispatch(VcpuExit exit, int vcpuId, IVcpuRegisterAccess registers)
    {
        switch (exit.Reason)
        {
            case VcpuExitReason.IoOut:
            case VcpuExitReason.IoIn:
                return DispatchIo(exit, vcpuId, registers);
            case VcpuExitReason.MmioRead:
                _mmio.Read(exit.MmioAddress, vcpuId, exit.MmioData);
                return ExitResult.Continue;
            case VcpuExitReason.MmioWrite:
                return DispatchMmioWrite(exit, vcpuId, registers);
            case VcpuExitReason.Interrupted:
                return ExitResult.Continue;
            case VcpuExitReason.Shutdown:
                return new(ExitAction.Crash, "triple fault (KVM_EXIT_SHUTDOWN)");
            case VcpuExitReason.FailEntry:
                return new(ExitAction.Crash, $"VM entry failed (hardware reason 0x{exit.FailEntryReason:X})");
            case VcpuExitReason.InternalError:
                return new(ExitAction.Crash, $"KVM internal error (suberror {exit.InternalSuberror})");
            case VcpuExitReason.SystemEvent:
                return exit.SystemEventType == 1
                    ? new(ExitAction.PowerOff, "system event: shutdown")
                    : new(ExitAction.Crash, $"system event {exit.SystemEventType}");
            case VcpuExitReason.Halt:
                return new(ExitAction.Crash, "HLT exit (no in-kernel irqchip to wait for an interrupt)");
            default:
                return new(ExitAction.Crash, $"unhandled exit reason {exit.RawReason}");
        }
    }

    private ExitResult DispatchIo(VcpuExit exit, int vcpuId, IVcpuRegisterAccess registers)
    {
        var port = exit.IoPort;
        var size = exit.IoSize;
        var data = exit.IoData;
        if (size is not (1 or 2 or 4) || data.Length != size * exit.IoCount || data.IsEmpty)
            return new(ExitAction.Crash, $"malformed I/O exit (port 0x{port:X}, size {size}, count {exit.IoCount})");

        if (port == PortMap.Hypercall && exit.Reason == VcpuExitReason.IoOut && size == 4 && exit.IoCount == 1)
        {
            var regs = registers.GetRegisters();
            var result = _hypercalls.Dispatch(vcpuId, regs, registers as IVcpuControlRegisters);
            registers.SetRegisters(regs with { Rax = result });
            return ExitResult.Continue;
        }

        // String I/O (rep ins/outs) arrives as `count` elements in one exit.
        for (var offset = 0; offset < data.Length; offset += size)
        {
            var element = data.Slice(offset, size);
            if (exit.Reason == VcpuExitReason.IoOut)
                _pio.Write(port, vcpuId, element);
            else
                _pio.Read(port, vcpuId, element);
        }
        return ExitResult.Continue;
    }

    /// <summary>
    /// An MMIO write: to a device, or a guest write to a read-only slot. A read-only slot holding write-traced pages
    /// hands the write to the tracer, which applies it through the host mapping or drops it; either way resuming
    /// completes the instruction, which KVM has already retired (RIP is past it).
    /// </summary>
    private ExitResult DispatchMmioWrite(VcpuExit exit, int vcpuId, IVcpuRegisterAccess registers)
    {
        var address = exit.MmioAddress;
        var data = exit.MmioData;
        if (_memory.FindSlot(address) is { IsReadOnly: true })
        {
            if (_tracer is { } tracer && tracer.Pages.AnyTraced(address, (ulong)data.Length))
            {
                tracer.OnGuestWrite(WriteOrigin.Kvm, vcpuId, registers.GetRegisters().Rip, address, data);
                return ExitResult.Continue;
            }
            Span<byte> value = stackalloc byte[8];
            value.Clear();
            data.CopyTo(value);
            _log.Record(new GuestAccess(AccessSpace.Mmio, address, data.Length, BinaryPrimitives.ReadUInt64LittleEndian(value), true, vcpuId, AccessOutcome.ReadOnlyMemoryWrite));
            _tracer?.Ring.RecordRefused(vcpuId, null, $"vcpu {vcpuId} wrote {data.Length} byte(s) at 0x{address:X} to read-only memory");
            return ExitResult.Continue;
        }
        _mmio.Write(address, vcpuId, data);
        return ExitResult.Continue;
    }
}
