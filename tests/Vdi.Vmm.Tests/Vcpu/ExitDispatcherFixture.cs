using Vdi.Vmm.Devices;
using Vdi.Vmm.Hypercalls;
using Vdi.Vmm.Memory;
using Vdi.Vmm.Tests.Devices;
using Vdi.Vmm.Vcpu;

namespace Vdi.Vmm.Tests.Vcpu;

/// <summary>A real dispatcher (buses, memory, hypercalls, log) and a hand-built <c>kvm_run</c> page to feed it.</summary>
public abstract class ExitDispatcherFixture : IDisposable
{
    internal const ulong Page = DirtyBitmap.PageSize;

    internal ExitDispatcherFixture()
    {
        Pio = new Bus(AccessSpace.Pio, Log);
        Mmio = new Bus(AccessSpace.Mmio, Log);
        Hypercalls = new HypercallDispatcher(Log);
        Dispatcher = new ExitDispatcher(Pio, Mmio, Memory, Hypercalls, Log);
    }

    internal AccessLog Log { get; } = new();

    internal Bus Pio { get; }

    internal Bus Mmio { get; }

    internal GuestMemory Memory { get; } = new();

    internal HypercallDispatcher Hypercalls { get; }

    internal ExitDispatcher Dispatcher { get; }

    internal KvmRunPage Run { get; } = new();

    internal RegisterFile Registers { get; } = new(default);

    /// <summary>Dispatches the exit currently described by <see cref="Run"/>.</summary>
    internal ExitResult Dispatch(int vcpuId = 0) => Dispatcher.Dispatch(Run.Exit(), vcpuId, Registers);

    internal RecordingDevice AddPioDevice(ulong start, ulong length, byte readByte = 0x5A)
    {
        var device = new RecordingDevice { ReadByte = readByte };
        Pio.Register(start, length, device);
        return device;
    }

    public void Dispose()
    {
        Run.Dispose();
        Memory.Dispose();
        GC.SuppressFinalize(this);
    }
}
