namespace Vdi.Vmm.Devices.Virtio;

/// <summary>
/// A virtio device behind a transport. All calls come from the transport under its lock
/// (the device may take its own lock for host-side APIs); none may throw except
/// <see cref="VirtioException"/>, which the transport turns into DEVICE_NEEDS_RESET.
/// </summary>
public interface IVirtioDevice
{
    uint DeviceId { get; }

    /// <summary>Device-specific feature bits (the transport adds VIRTIO_F_VERSION_1).</summary>
    ulong DeviceFeatures { get; }

    int QueueCount { get; }

    ushort MaxQueueSize { get; }

    /// <summary>Bytes of device configuration space.</summary>
    int ConfigSize { get; }

    /// <summary>Called once, when the transport is created.</summary>
    void Attach(VirtioHost host);

    void ReadConfig(int offset, Span<byte> data);

    /// <summary>Returns false to refuse the write (read-only field, bad value).</summary>
    bool WriteConfig(int offset, ReadOnlySpan<byte> data);

    /// <summary>The driver set DRIVER_OK: queues are ready and features final.</summary>
    void Activate(VirtioContext context);

    /// <summary>The driver notified queue <paramref name="queue"/>.</summary>
    void QueueNotify(int queue);

    /// <summary>The driver reset the device (status 0) or the transport is resetting it after an error.</summary>
    void Reset();

    /// <summary>
    /// The host let the device work again after <see cref="VirtioHost.Quiesced"/>: deliver what host-side calls queued
    /// meanwhile. Devices that never write guest memory from a host thread have nothing to do.
    /// </summary>
    void Unquiesced()
    {
    }
}
