using Vdi.Vmm.Devices;
using Vdi.Vmm.Devices.Gpu;
using Vdi.Vmm.Devices.Input;
using Vdi.Vmm.Devices.Virtio;
using Vdi.Vmm.Hypercalls;
using Vdi.Vmm.Iommu;
using Vdi.Vmm.Memory;

namespace Vdi.Vmm.Machine;

/// <summary>The buses and standard devices of one machine.</summary>
public sealed class MachineDevices
{
    private MachineDevices(AccessLog accesses, Bus pio, Bus mmio, HypercallDispatcher hypercalls, VirtualIommu iommu)
    {
        Iommu = iommu;
        Trace = hypercalls.Ring!;
        Accesses = accesses;
        Pio = pio;
        Mmio = mmio;
        Hypercalls = hypercalls;
    }

    public AccessLog Accesses { get; }

    /// <summary>The machine's trace ring: traced writes with their decisions, hypercalls, refused accesses.</summary>
    public Tracing.TraceRing Trace { get; }

    public Bus Pio { get; }

    public Bus Mmio { get; }

    public HypercallDispatcher Hypercalls { get; }

    /// <summary>The virtual IOMMU: one identity domain per virtio device, named after the device's type, carrying its DMA.</summary>
    public VirtualIommu Iommu { get; }

    public Serial16550 Com1 { get; private init; } = null!;

    public PowerDebugPort Power { get; private init; } = null!;

    public NullDevice Null { get; private init; } = null!;

    public SequenceDevice Sequence { get; private init; } = null!;

    /// <summary>The device that writes guest memory by DMA when the guest asks (the migration tests' and benchmark's).</summary>
    public DmaExerciser DmaExerciser { get; private init; } = null!;

    public VirtioGpu Gpu { get; private init; } = null!;

    public VirtioKeyboard Keyboard { get; private init; } = null!;

    public VirtioTablet Tablet { get; private init; } = null!;

    /// <summary>Display requests and their acknowledgement by the guest.</summary>
    public DisplayController Display { get; private init; } = null!;

    /// <summary>The virtio-mmio transports, in slot order.</summary>
    public IReadOnlyList<VirtioMmioTransport> Transports { get; private init; } = [];

    /// <summary>
    /// The devices that save and restore themselves (<c>docs/vmm.md</c>, "Machine state"), one section each; devices
    /// come before their transports, which activate them on restore.
    /// </summary>
    public IReadOnlyList<State.IDeviceState> States => [Com1, Power, DmaExerciser, Gpu, Keyboard, Tablet, .. Transports];

    /// <summary>
    /// Asks the desktop guest to switch its full-motion workload panel on or off (<see cref="PortMap.HostRequestMotionOn"/>,
    /// <see cref="PortMap.HostRequestMotionOff"/>); the guest applies it at its next wakeup, other guests ignore it.
    /// Returns false when the guest has left <see cref="PortMap.HostRequestQueueLength"/> requests unread.
    /// </summary>
    public bool SetMotion(bool on) => Power.PostRequest(on ? PortMap.HostRequestMotionOn : PortMap.HostRequestMotionOff);

    /// <summary>
    /// Creates and places every standard device (see <see cref="PortMap"/> and <see cref="MmioMap"/>).
    /// A plain function of its inputs, so it is tested without KVM.
    /// </summary>
    /// <param name="interruptLine">The line for a GSI of the machine's irqchip.</param>
    /// <param name="powerOff">Called on a vCPU thread with the guest's exit code.</param>
    public static MachineDevices Create(MachineConfig config, GuestMemory memory, Func<int, IInterruptLine> interruptLine, long createdTimestamp, Action<int> powerOff)
    {
        ArgumentNullException.ThrowIfNull(config);
        ArgumentNullException.ThrowIfNull(interruptLine);
        var accesses = new AccessLog();
        var pio = new Bus(AccessSpace.Pio, accesses);
        var mmio = new Bus(AccessSpace.Mmio, accesses);

        var com1 = new Serial16550(interruptLine(PortMap.Com1Irq));
        var power = new PowerDebugPort(createdTimestamp, powerOff, interruptLine(PortMap.HostRequestIrq));
        var nullDevice = new NullDevice();
        pio.Register(PortMap.Com1, 8, com1);
        pio.Register(PortMap.PowerBase, PortMap.PowerLength, power);
        pio.Register(PortMap.NullDevice, 1, nullDevice);
        var sequence = new SequenceDevice();
        pio.Register(PortMap.Sequence, PortMap.SequenceLength, sequence);
        var iommu = new VirtualIommu(memory, config.MemoryBytes);
        var dmaExerciser = new DmaExerciser(iommu.CreateIdentityDomain(nameof(DmaExerciser)));
        pio.Register(PortMap.DmaExerciser, PortMap.DmaExerciserLength, dmaExerciser);

        var transports = new List<VirtioMmioTransport>();
        var gpu = new VirtioGpu(config.Gpu, config.Display);
        var keyboard = new VirtioKeyboard { SectionName = "input.keyboard" };
        var tablet = new VirtioTablet { SectionName = "input.tablet" };
        AddVirtio(MmioMap.GpuSlot, gpu);
        AddVirtio(MmioMap.KeyboardSlot, keyboard);
        AddVirtio(MmioMap.TabletSlot, tablet);
        tablet.SetExtent(config.Display.Width, config.Display.Height);
        // Pointer coordinates span the visible scanout. Lock order: the GPU transport's gate, then the tablet's.
        gpu.ScanoutChanged += change =>
        {
            if (change.Enabled)
                tablet.SetExtent(change.Width, change.Height);
        };

        return new MachineDevices(accesses, pio, mmio, new HypercallDispatcher(accesses, ring: new Tracing.TraceRing()), iommu)
        {
            Com1 = com1,
            Power = power,
            Null = nullDevice,
            Sequence = sequence,
            DmaExerciser = dmaExerciser,
            Gpu = gpu,
            Keyboard = keyboard,
            Tablet = tablet,
            Display = new DisplayController(gpu),
            Transports = transports,
        };

        void AddVirtio(int slot, IVirtioDevice device)
        {
            // One identity domain per device, named as the device's writes always were (the trace's writer).
            var dma = iommu.CreateIdentityDomain(device.GetType().Name);
            var transport = new VirtioMmioTransport(device, dma, interruptLine(MmioMap.VirtioGsi(slot))) { SectionName = $"virtio.{slot}" };
            transports.Add(transport);
            mmio.Register(MmioMap.VirtioAddress(slot), VirtioMmio.WindowSize, transport);
        }
    }
}
