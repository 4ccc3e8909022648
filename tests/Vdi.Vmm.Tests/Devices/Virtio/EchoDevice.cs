using System.Buffers.Binary;
using Vdi.Vmm.Devices.Virtio;

namespace Vdi.Vmm.Tests.Devices.Virtio;

/// <summary>
/// A minimal virtio device for transport tests. Every queue echoes: the readable part of each
/// chain is copied into its writable part and the chain is returned with the bytes written.
/// Configuration: a read-only u32 at 0 (<see cref="Signature"/>) and a writable u32 at 4.
/// </summary>
internal sealed class EchoDevice : IVirtioDevice
{
    public const uint Id = 0x2A;
    public const uint Signature = 0xC0FF_EE01;
    public const ulong FeatureLow = 1UL << 0;   // an offered device feature in word 0
    public const ulong FeatureHigh = 1UL << 35; // an offered device feature in word 1

    private VirtioHost? _host;
    private uint _writable;

    public EchoDevice(int queueCount = 2, ushort maxQueueSize = 16)
    {
        QueueCount = queueCount;
        MaxQueueSize = maxQueueSize;
    }

    public uint DeviceId => Id;

    public ulong DeviceFeatures => FeatureLow | FeatureHigh;

    public int QueueCount { get; }

    public ushort MaxQueueSize { get; }

    public int ConfigSize => 8;

    public VirtioHost Host => _host ?? throw new InvalidOperationException("not attached");

    /// <summary>When false, notifications are only counted and the queues are processed by <see cref="ProcessQueue"/> from elsewhere.</summary>
    public bool EchoOnNotify { get; set; } = true;

    public int Notifications { get; private set; }

    public int Activations { get; private set; }

    public int Resets { get; private set; }

    public ulong? ActivatedFeatures { get; private set; }

    public uint WritableField => _writable;

    /// <summary>Makes configuration accesses throw <see cref="VirtioException"/>, as the device contract allows.</summary>
    public bool ConfigThrows { get; set; }

    public void Attach(VirtioHost host) => _host = host;

    public void ReadConfig(int offset, Span<byte> data)
    {
        if (ConfigThrows)
            throw new VirtioException("config read the device cannot serve");
        Span<byte> config = stackalloc byte[8];
        BinaryPrimitives.WriteUInt32LittleEndian(config, Signature);
        BinaryPrimitives.WriteUInt32LittleEndian(config[4..], _writable);
        config.Slice(offset, data.Length).CopyTo(data);
    }

    public bool WriteConfig(int offset, ReadOnlySpan<byte> data)
    {
        if (ConfigThrows)
            throw new VirtioException("config write the device cannot take");
        if (offset < 4)
            return false;
        Span<byte> field = stackalloc byte[4];
        BinaryPrimitives.WriteUInt32LittleEndian(field, _writable);
        data.CopyTo(field[(offset - 4)..]);
        _writable = BinaryPrimitives.ReadUInt32LittleEndian(field);
        return true;
    }

    public void Activate(VirtioContext context)
    {
        Activations++;
        ActivatedFeatures = context.Features;
    }

    public void QueueNotify(int queue)
    {
        Notifications++;
        if (EchoOnNotify)
            ProcessQueue(queue);
    }

    /// <summary>Echoes every pending chain of <paramref name="queue"/>. Hold the gate (notify path or <see cref="VirtioHost.Guard"/>).</summary>
    public int ProcessQueue(int queue)
    {
        if (Host.Active is not { } active)
            return 0;
        var q = active.Queues[queue];
        var done = 0;
        while (q.TryPop(out var chain))
        {
            var data = new byte[Math.Min(chain.ReadableLength, 1 << 20)];
            chain.ReadExactly(0, data);
            var written = chain.Write(0, data);
            q.PushUsed(chain, (uint)written);
            done++;
        }
        if (done > 0)
            Host.SignalUsedBuffers();
        return done;
    }

    public void Reset()
    {
        Resets++;
        _writable = 0;
        ActivatedFeatures = null;
    }
}
