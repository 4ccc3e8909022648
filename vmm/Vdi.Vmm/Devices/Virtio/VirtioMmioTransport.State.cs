using Vdi.Vmm.State;

namespace Vdi.Vmm.Devices.Virtio;

/// <summary>
/// The transport's state: its registers and, per queue, size, readiness, ring addresses and the device's positions in
/// the rings (the rings themselves are guest memory). The device behind it saves its own section.
/// </summary>
public sealed partial class VirtioMmioTransport : IDeviceState
{
    private const uint KnownStatus = VirtioMmio.StatusAcknowledge | VirtioMmio.StatusDriver | VirtioMmio.StatusDriverOk
        | VirtioMmio.StatusFeaturesOk | VirtioMmio.StatusDeviceNeedsReset | VirtioMmio.StatusFailed;

    /// <summary>The section's name; the machine names each transport by its slot (<c>virtio.0</c>, …).</summary>
    public string SectionName { get; init; } = "virtio";

    public ushort SectionVersion => 1;

    public void SaveState(SectionWriter section)
    {
        lock (_host.Gate)
        {
            section.U64("status", _status).U64("device_features_sel", _deviceFeaturesSel).U64("driver_features_sel", _driverFeaturesSel)
                .U64("queue_sel", _queueSel).U64("interrupt_status", _interruptStatus).U64("config_generation", _configGeneration)
                .U64("driver_features", _driverFeatures).Text("last_error", LastError ?? "")
                .U64s("q_size", [.. _queues.Select(q => (ulong)q.Size)])
                .U64s("q_ready", [.. _queues.Select(q => q.Ready ? 1UL : 0)])
                .U64s("q_desc", [.. _queues.Select(q => q.DescriptorTable)])
                .U64s("q_avail", [.. _queues.Select(q => q.AvailRing)])
                .U64s("q_used", [.. _queues.Select(q => q.UsedRing)])
                .U64s("q_last_avail", [.. _queues.Select(q => (ulong)q.Indexes.LastAvail)])
                .U64s("q_used_idx", [.. _queues.Select(q => (ulong)q.Indexes.Used)]);
        }
    }

    /// <summary>
    /// Takes a saved transport: every value checked as the guest's register writes would be (status bits in order,
    /// features offered, ready queues placed in RAM); a live device is activated again on its restored queues.
    /// </summary>
    public void RestoreState(SavedSection section)
    {
        var status = (uint)section.U64("status", 0, KnownStatus);
        var driverFeatures = section.U64("driver_features");
        var (sizes, ready, desc, avail, used, lastAvail, usedIdx) = (Queue(section, "q_size"), Queue(section, "q_ready"), Queue(section, "q_desc"),
            Queue(section, "q_avail"), Queue(section, "q_used"), Queue(section, "q_last_avail"), Queue(section, "q_used_idx"));
        var registers = (Dsel: (uint)section.U64("device_features_sel", 0, uint.MaxValue), Fsel: (uint)section.U64("driver_features_sel", 0, uint.MaxValue),
            Qsel: (uint)section.U64("queue_sel", 0, uint.MaxValue), Irq: (uint)section.U64("interrupt_status", 0, 3),
            Generation: (uint)section.U64("config_generation", 0, uint.MaxValue));
        var lastError = section.Text("last_error");
        section.EnsureAllRead();
        if ((status & VirtioMmio.StatusDriverOk) != 0 && (status & VirtioMmio.StatusFeaturesOk) == 0)
            throw new StateFormatException($"section '{section.Name}': DRIVER_OK without FEATURES_OK");
        if ((status & VirtioMmio.StatusFeaturesOk) != 0 && ((driverFeatures & ~OfferedFeatures) != 0 || (driverFeatures & (1UL << VirtioMmio.FeatureVersion1)) == 0))
            throw new StateFormatException($"section '{section.Name}': driver features 0x{driverFeatures:X} were never acceptable");

        for (var i = 0; i < _queues.Length; i++)
        {
            if (sizes[i] > ushort.MaxValue || ready[i] > 1 || lastAvail[i] > ushort.MaxValue || usedIdx[i] > ushort.MaxValue)
                throw new StateFormatException($"section '{section.Name}': queue {i} holds a value out of range");
        }

        lock (_host.Gate)
        {
            var before = _queues.Select(q => (q.Size, q.DescriptorTable, q.AvailRing, q.UsedRing, q.Indexes, q.Ready)).ToArray();
            try
            {
                for (var i = 0; i < _queues.Length; i++)
                {
                    var q = _queues[i];
                    (q.Size, q.DescriptorTable, q.AvailRing, q.UsedRing) = ((ushort)sizes[i], desc[i], avail[i], used[i]);
                    q.Indexes = ((ushort)lastAvail[i], (ushort)usedIdx[i]);
                    q.Ready = ready[i] == 1;
                    if (q.Ready)
                        q.Validate();
                }
            }
            catch (VirtioException e)
            {
                for (var i = 0; i < _queues.Length; i++) // nothing changed
                    (_queues[i].Size, _queues[i].DescriptorTable, _queues[i].AvailRing, _queues[i].UsedRing, _queues[i].Indexes, _queues[i].Ready) = before[i];
                throw new StateFormatException($"section '{section.Name}': {e.Message}");
            }
            _status = status;
            _driverFeatures = driverFeatures;
            (_deviceFeaturesSel, _driverFeaturesSel, _queueSel, _interruptStatus, _configGeneration) = (registers.Dsel, registers.Fsel, registers.Qsel, registers.Irq, registers.Generation);
            LastError = lastError.Length == 0 ? null : lastError;
            ActiveContext = null;
            if ((status & VirtioMmio.StatusDriverOk) != 0 && (status & VirtioMmio.StatusDeviceNeedsReset) == 0)
            {
                ActiveContext = new VirtioContext(_queues, _driverFeatures);
                _device.Activate(ActiveContext);
            }
            UpdateLine();
        }
    }

    private ulong[] Queue(SavedSection section, string field)
    {
        var values = section.U64s(field);
        return values.Length == _queues.Length ? values
            : throw new StateFormatException($"section '{section.Name}': field '{field}' has {values.Length} queues, the device {_queues.Length}");
    }
}
