using Vdi.Vmm.Memory;
using Vdi.Vmm.Tests.Devices.Virtio;
using Vdi.Vmm.Tracing;

namespace Vdi.Vmm.Tests.Tracing;

/// <summary>Device writes into guest memory (DMA) meet the same trace as the vCPUs' stores.</summary>
public sealed class DeviceWriteTracingTests : IDisposable
{
    private readonly VirtioTestBed<EchoDevice> _bed = EchoTestBed.Create();
    private readonly TraceRing _ring = new();
    private readonly List<TracedWrite> _seen = [];

    public void Dispose() => _bed.Dispose();

    private WriteTracer TraceUsedRing(TraceDecision decision)
    {
        var tracer = new WriteTracer(_bed.Memory, _ring, splitSlots: false);
        // The test driver stands for the guest and writes its rings through the same memory: only the device's
        // writes are this test's; the driver's are let through.
        tracer.Trace(_bed.Driver.QueueUsedRing(0), 1, w =>
        {
            if (w.Device != nameof(EchoDevice))
                return TraceDecision.Apply;
            _seen.Add(w);
            return decision;
        });
        return tracer;
    }

    [Fact]
    public void A_refused_used_ring_write_is_a_device_error_not_a_crash()
    {
        _bed.Driver.Initialize();
        TraceUsedRing(TraceDecision.Refuse);

        var request = _bed.Driver.Alloc(3);
        _bed.Memory.Write(request, "abc"u8);
        var response = _bed.Driver.Alloc(8);
        _bed.Driver.Submit(0, (request, 3, false), (response, 8, true));
        _bed.Driver.Notify(0);

        Assert.True(_bed.Driver.NeedsReset);
        Assert.Contains("write-traced", _bed.Transport.LastError, StringComparison.Ordinal);
        Assert.Equal(0, _bed.Driver.UsedIndex(0)); // nothing published
        var write = Assert.Single(_seen);
        Assert.Equal(WriteOrigin.Device, write.Origin);
        Assert.Equal(nameof(EchoDevice), write.Device);
        Assert.Null(write.Rip);
        Assert.Equal(TraceDecision.Refuse, Assert.Single(_ring.Snapshot().Entries, e => e.Write!.Device == nameof(EchoDevice)).Decision);
    }

    [Fact]
    public void An_applied_used_ring_write_completes_the_request()
    {
        _bed.Driver.Initialize();
        TraceUsedRing(TraceDecision.Apply);

        var response = _bed.Driver.Request(0, "hello"u8, 8);

        Assert.Equal("hello"u8.ToArray(), response);
        Assert.False(_bed.Driver.NeedsReset);
        var used = _bed.Driver.QueueUsedRing(0);
        Assert.Equal([used + 4, used + 8, used + 2], _seen.Where(w => w.Address - used < 0x100).Select(w => w.Address)); // id, length, then the index
        Assert.All(_seen, w => Assert.Equal(nameof(EchoDevice), w.Device));
    }

    [Fact]
    public void Untraced_memory_takes_no_check_and_untrace_removes_it()
    {
        var tracer = new WriteTracer(_bed.Memory, _ring, splitSlots: false);
        Assert.Null(_bed.Memory.DeviceWriteCheck);
        tracer.Trace(0x8000, 0x1000, _ => TraceDecision.Refuse);
        Assert.Same(tracer, _bed.Memory.DeviceWriteCheck);

        Assert.True(_bed.Memory.TryWrite(0x7000, [1, 2], "dev")); // the page below: no decision
        Assert.False(_bed.Memory.TryWrite(0x8000, [1, 2], "dev"));
        Assert.Throws<GuestMemoryException>(() => _bed.Memory.Write(0x8FFC, 7u, "dev"));

        tracer.Untrace(0x8000, 0x1000);
        Assert.Null(_bed.Memory.DeviceWriteCheck);
        Assert.True(_bed.Memory.TryWrite(0x8000, [1, 2], "dev"));
        Assert.Equal(2, _ring.Snapshot().Entries.Count);
    }
}
