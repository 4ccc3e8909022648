using Vdi.Vmm.Iommu;

namespace Vdi.Vmm.Devices.Virtio;

/// <summary>
/// The transport's services for its device, valid from attach to the end of the machine.
/// <see cref="Gate"/> is the transport's lock: register accesses and queue notifications hold it,
/// and the device's host-side APIs (a display request, an input event) take it before touching
/// queues or configuration.
/// </summary>
public sealed class VirtioHost
{
    private readonly VirtioMmioTransport _transport;

    internal VirtioHost(VirtioMmioTransport transport, IommuDomain dma)
    {
        _transport = transport;
        Dma = dma;
    }

    public Lock Gate { get; } = new();

    /// <summary>
    /// True while the machine is paused for a snapshot or a migration's last round: host-side calls (an input event)
    /// must queue in the device, not write guest memory, so the memory and the device state saved agree. Read under
    /// <see cref="Gate"/>.
    /// </summary>
    public bool Quiesced { get; internal set; }

    /// <summary>The device's IOMMU domain: every read and write the device makes in guest memory goes through it.</summary>
    public IommuDomain Dma { get; }

    /// <summary>Raises the used-buffer interrupt (after <see cref="Virtqueue.PushUsed"/>). Hold <see cref="Gate"/>.</summary>
    public void SignalUsedBuffers() => _transport.RaiseInterrupt(VirtioMmio.InterruptUsedBuffer);

    /// <summary>Bumps the configuration generation and raises the configuration-change interrupt. Hold <see cref="Gate"/>.</summary>
    public void SignalConfigChange() => _transport.ConfigChanged();

    /// <summary>Runs host-thread device work under <see cref="Gate"/>; a contract violation puts the device into DEVICE_NEEDS_RESET.</summary>
    public void Guard(Action work) => _transport.Guard(work);

    /// <summary>The device's active configuration, or null before DRIVER_OK / after a reset.</summary>
    public VirtioContext? Active => _transport.ActiveContext;
}

/// <summary>What an activated device works with: its queues and the negotiated features.</summary>
public sealed class VirtioContext
{
    internal VirtioContext(IReadOnlyList<Virtqueue> queues, ulong features)
    {
        Queues = queues;
        Features = features;
    }

    public IReadOnlyList<Virtqueue> Queues { get; }

    public ulong Features { get; }

    public bool HasFeature(int bit) => (Features & (1UL << bit)) != 0;
}
