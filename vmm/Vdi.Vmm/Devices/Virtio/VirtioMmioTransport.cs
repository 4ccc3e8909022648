using System.Buffers.Binary;
using Vdi.Vmm.Iommu;
using Vdi.Vmm.Memory;

namespace Vdi.Vmm.Devices.Virtio;

/// <summary>
/// The virtio-mmio transport (virtio 1.x, version 2 register layout; no legacy interface) for one
/// device: discovery, feature negotiation, queue setup, notifications and interrupts. A driver that
/// breaks the contract puts the device into DEVICE_NEEDS_RESET (with a configuration-change
/// interrupt, as the specification asks) until it resets the device; the VMM is never affected.
/// Interrupts are level: the line is high while InterruptStatus has a bit set.
/// </summary>
public sealed partial class VirtioMmioTransport : IBusDevice
{
    private readonly IVirtioDevice _device;
    private readonly IInterruptLine? _irq;
    private readonly Virtqueue[] _queues;
    private readonly VirtioHost _host;
    private uint _status, _deviceFeaturesSel, _driverFeaturesSel, _queueSel, _interruptStatus, _configGeneration;
    private ulong _driverFeatures;
    private bool _line;

    /// <param name="dma">The device's IOMMU domain: its rings and buffers are DMA through it, and its name is the writer
    /// the write trace sees.</param>
    public VirtioMmioTransport(IVirtioDevice device, IommuDomain dma, IInterruptLine? irq)
    {
        ArgumentNullException.ThrowIfNull(device);
        ArgumentNullException.ThrowIfNull(dma);
        _device = device;
        _irq = irq;
        _queues = [.. Enumerable.Range(0, device.QueueCount).Select(i => new Virtqueue(dma, i, device.MaxQueueSize))];
        _host = new VirtioHost(this, dma);
        device.Attach(_host);
    }

    public IVirtioDevice Device => _device;

    /// <summary>The device's IOMMU domain, through which all its DMA goes.</summary>
    public IommuDomain Dma => _host.Dma;

    /// <summary>The last contract violation that put the device into DEVICE_NEEDS_RESET.</summary>
    public string? LastError { get; private set; }

    public uint Status
    {
        get
        {
            lock (_host.Gate)
                return _status;
        }
    }

    internal VirtioContext? ActiveContext { get; private set; }

    private ulong OfferedFeatures => _device.DeviceFeatures | (1UL << VirtioMmio.FeatureVersion1);

    public bool Read(in BusAccess access, Span<byte> data)
    {
        lock (_host.Gate)
        {
            var offset = (int)access.Offset;
            if (offset >= VirtioMmio.RegConfig)
            {
                var configOffset = offset - VirtioMmio.RegConfig;
                if (configOffset + data.Length > _device.ConfigSize)
                    return false;
                try
                {
                    _device.ReadConfig(configOffset, data);
                }
                catch (VirtioException e)
                {
                    NeedsReset(e.Message);
                    data.Fill(0xFF);
                }
                return true;
            }
            if (data.Length != 4)
                return false;
            uint value;
            switch (offset)
            {
                case VirtioMmio.RegMagic: value = VirtioMmio.MagicValue; break;
                case VirtioMmio.RegVersion: value = VirtioMmio.Version; break;
                case VirtioMmio.RegDeviceId: value = _device.DeviceId; break;
                case VirtioMmio.RegVendorId: value = VirtioMmio.VendorId; break;
                case VirtioMmio.RegDeviceFeatures: value = _deviceFeaturesSel < 2 ? (uint)(OfferedFeatures >> (int)(32 * _deviceFeaturesSel)) : 0; break;
                case VirtioMmio.RegQueueNumMax: value = SelectedQueue?.MaxSize ?? 0; break;
                case VirtioMmio.RegQueueNum: value = SelectedQueue?.Size ?? 0; break;
                case VirtioMmio.RegQueueReady: value = SelectedQueue?.Ready == true ? 1u : 0u; break;
                case VirtioMmio.RegInterruptStatus: value = _interruptStatus; break;
                case VirtioMmio.RegStatus: value = _status; break;
                case VirtioMmio.RegConfigGeneration: value = _configGeneration; break;
                case VirtioMmio.RegQueueDescLow: value = (uint)(SelectedQueue?.DescriptorTable ?? 0); break;
                case VirtioMmio.RegQueueDescHigh: value = (uint)((SelectedQueue?.DescriptorTable ?? 0) >> 32); break;
                case VirtioMmio.RegQueueDriverLow: value = (uint)(SelectedQueue?.AvailRing ?? 0); break;
                case VirtioMmio.RegQueueDriverHigh: value = (uint)((SelectedQueue?.AvailRing ?? 0) >> 32); break;
                case VirtioMmio.RegQueueDeviceLow: value = (uint)(SelectedQueue?.UsedRing ?? 0); break;
                case VirtioMmio.RegQueueDeviceHigh: value = (uint)((SelectedQueue?.UsedRing ?? 0) >> 32); break;
                case VirtioMmio.RegQueueReset: value = 0; break;
                default: return false;
            }
            BinaryPrimitives.WriteUInt32LittleEndian(data, value);
            return true;
        }
    }

    public bool Write(in BusAccess access, ReadOnlySpan<byte> data)
    {
        lock (_host.Gate)
        {
            var offset = (int)access.Offset;
            try
            {
                if (offset >= VirtioMmio.RegConfig)
                {
                    var configOffset = offset - VirtioMmio.RegConfig;
                    return configOffset + data.Length <= _device.ConfigSize && _device.WriteConfig(configOffset, data);
                }
                return data.Length == 4 && WriteRegister(offset, BinaryPrimitives.ReadUInt32LittleEndian(data));
            }
            catch (Exception e) when (e is VirtioException or GuestMemoryException)
            {
                // GuestMemoryException: a DMA faulted in the device's IOMMU domain, the trace refused a write, or RAM under a
                // live ring went away (a slot was removed).
                NeedsReset(e.Message);
                return true;
            }
        }
    }

    private Virtqueue? SelectedQueue => _queueSel < _queues.Length ? _queues[_queueSel] : null;

    private bool WriteRegister(int offset, uint value)
    {
        switch (offset)
        {
            case VirtioMmio.RegDeviceFeaturesSel: _deviceFeaturesSel = value; return true;
            case VirtioMmio.RegDriverFeaturesSel: _driverFeaturesSel = value; return true;
            case VirtioMmio.RegDriverFeatures:
                if (_driverFeaturesSel > 1 || (_status & VirtioMmio.StatusFeaturesOk) != 0)
                    return false;
                var shift = (int)(32 * _driverFeaturesSel);
                _driverFeatures = (_driverFeatures & ~(0xFFFF_FFFFUL << shift)) | ((ulong)value << shift);
                return true;
            case VirtioMmio.RegQueueSel: _queueSel = value; return true;
            case VirtioMmio.RegQueueNum: return SetQueueField(q => q.Size = (ushort)Math.Min(value, ushort.MaxValue), value <= ushort.MaxValue);
            case VirtioMmio.RegQueueDescLow: return SetQueueField(q => q.DescriptorTable = (q.DescriptorTable & ~0xFFFF_FFFFUL) | value);
            case VirtioMmio.RegQueueDescHigh: return SetQueueField(q => q.DescriptorTable = (q.DescriptorTable & 0xFFFF_FFFFUL) | ((ulong)value << 32));
            case VirtioMmio.RegQueueDriverLow: return SetQueueField(q => q.AvailRing = (q.AvailRing & ~0xFFFF_FFFFUL) | value);
            case VirtioMmio.RegQueueDriverHigh: return SetQueueField(q => q.AvailRing = (q.AvailRing & 0xFFFF_FFFFUL) | ((ulong)value << 32));
            case VirtioMmio.RegQueueDeviceLow: return SetQueueField(q => q.UsedRing = (q.UsedRing & ~0xFFFF_FFFFUL) | value);
            case VirtioMmio.RegQueueDeviceHigh: return SetQueueField(q => q.UsedRing = (q.UsedRing & 0xFFFF_FFFFUL) | ((ulong)value << 32));
            case VirtioMmio.RegQueueReady:
                if (SelectedQueue is not { } queue)
                    return false;
                if (value == 1)
                    queue.Validate();
                queue.Ready = value == 1;
                return true;
            case VirtioMmio.RegQueueNotify:
                if (value >= _queues.Length || ActiveContext is null || (_status & VirtioMmio.StatusDeviceNeedsReset) != 0)
                    return false;
                if (!_queues[value].Ready)
                    throw new VirtioException($"queue {value} notified before it was made ready");
                _device.QueueNotify((int)value);
                return true;
            case VirtioMmio.RegInterruptAck:
                _interruptStatus &= ~value;
                UpdateLine();
                return true;
            case VirtioMmio.RegStatus:
                SetStatus(value);
                return true;
            default:
                return false;
        }
    }

    private bool SetQueueField(Action<Virtqueue> set, bool valid = true)
    {
        // Queue registers are writable only while the queue is not live (spec 4.2.2.2).
        if (!valid || SelectedQueue is not { Ready: false } queue || (_status & VirtioMmio.StatusDriverOk) != 0)
            return false;
        set(queue);
        return true;
    }

    private void SetStatus(uint value)
    {
        if (value == 0)
        {
            ResetLocked();
            return;
        }
        if ((value & _status) != _status)
            throw new VirtioException($"driver cleared status bits 0x{_status & ~value:X} without a reset");
        var added = value & ~_status & ~VirtioMmio.StatusDeviceNeedsReset; // only the device sets NEEDS_RESET
        if ((added & VirtioMmio.StatusFeaturesOk) != 0 && !FeaturesAcceptable())
            added &= ~VirtioMmio.StatusFeaturesOk; // the driver reads the status back and sees the refusal
        if ((added & VirtioMmio.StatusDriverOk) != 0 && (_status & VirtioMmio.StatusDeviceNeedsReset) != 0)
            added &= ~VirtioMmio.StatusDriverOk; // a device that needs a reset does not go live
        if ((added & VirtioMmio.StatusDriverOk) != 0)
        {
            if ((_status & VirtioMmio.StatusFeaturesOk) == 0 && (added & VirtioMmio.StatusFeaturesOk) == 0)
                throw new VirtioException("DRIVER_OK set before FEATURES_OK");
            _status |= added;
            ActiveContext = new VirtioContext(_queues, _driverFeatures);
            _device.Activate(ActiveContext);
            return;
        }
        _status |= added;
    }

    private bool FeaturesAcceptable() =>
        (_driverFeatures & ~OfferedFeatures) == 0 && (_driverFeatures & (1UL << VirtioMmio.FeatureVersion1)) != 0;

    private void ResetLocked()
    {
        _status = 0;
        _driverFeatures = 0;
        _deviceFeaturesSel = _driverFeaturesSel = _queueSel = 0;
        _interruptStatus = 0;
        ActiveContext = null;
        foreach (var q in _queues)
            q.ResetIndexes();
        _device.Reset();
        UpdateLine();
    }

    private void NeedsReset(string reason)
    {
        LastError = reason;
        ActiveContext = null;
        _status |= VirtioMmio.StatusDeviceNeedsReset;
        ConfigChanged();
    }

    internal void RaiseInterrupt(uint bits)
    {
        _interruptStatus |= bits;
        UpdateLine();
    }

    internal void ConfigChanged()
    {
        _configGeneration++;
        RaiseInterrupt(VirtioMmio.InterruptConfigChange);
    }

    /// <summary>Stops or restarts the device's host-side writes into guest memory (<see cref="VirtioHost.Quiesced"/>).</summary>
    public void Quiesce(bool quiesced)
    {
        Guard(() =>
        {
            if (_host.Quiesced == quiesced)
                return;
            _host.Quiesced = quiesced;
            if (!quiesced)
                _device.Unquiesced();
        });
    }

    /// <summary>Runs device work that may break the contract (queue processing from a host thread), turning a violation into DEVICE_NEEDS_RESET.</summary>
    public void Guard(Action work)
    {
        lock (_host.Gate)
        {
            try
            {
                work();
            }
            catch (Exception e) when (e is VirtioException or GuestMemoryException)
            {
                NeedsReset(e.Message);
            }
        }
    }

    private void UpdateLine()
    {
        var level = _interruptStatus != 0;
        if (level != _line)
        {
            _line = level;
            _irq?.SetLevel(level);
        }
    }
}
