using Vdi.Vmm.Devices.Virtio;

namespace Vdi.Vmm.Tests.Devices.Virtio;

public sealed class ConcurrencyTests : IDisposable
{
    private readonly VirtioTestBed<EchoDevice> _bed = EchoTestBed.Create(queueCount: 1, maxQueueSize: 16);

    public void Dispose() => _bed.Dispose();

    /// <summary>
    /// The driver submits and notifies on its thread (the vCPU's role) while a host thread keeps
    /// draining the same queue under <see cref="VirtioHost.Guard"/>: every request completes
    /// exactly once with its own payload and the device stays healthy.
    /// </summary>
    [Fact]
    public void HostThreadWorkAndDriverNotifiesShareAQueueSafely()
    {
        const int Total = 5_000;
        var driver = _bed.Driver;
        var device = _bed.Device;
        driver.Initialize(queueSize: 16);
        var stop = 0;
        var hostPasses = 0;
        var host = new Thread(() =>
        {
            while (Volatile.Read(ref stop) == 0)
            {
                device.Host.Guard(() => device.ProcessQueue(0));
                hostPasses++;
            }
        });
        host.Start();

        var inFlight = new Dictionary<uint, (ulong Response, long Payload)>();
        var completed = 0;
        var submitted = 0;
        var deadline = DateTime.UtcNow.AddSeconds(30);
        try
        {
            while (completed < Total)
            {
                Assert.True(DateTime.UtcNow < deadline, $"stalled at {completed}/{Total}: {_bed.Transport.LastError}");
                while (submitted < Total && driver.FreeDescriptors(0) >= 2)
                {
                    long payload = (0x5EED_0000_0000L + submitted) ^ ((long)submitted << 40);
                    var request = driver.Alloc(8, 8);
                    var response = driver.Alloc(8, 8);
                    driver.Memory.Write(request, payload);
                    var head = driver.Submit(0, (request, 8, false), (response, 8, true));
                    inFlight.Add(head, (response, payload));
                    if (submitted++ % 3 == 0)
                        driver.Notify(0);
                }
                foreach (var (id, length) in driver.TakeUsed(0))
                {
                    Assert.True(inFlight.Remove(id, out var request), $"head {id} completed twice or was never submitted");
                    Assert.Equal(8u, length);
                    Assert.Equal(request.Payload, driver.Memory.Read<long>(request.Response));
                    completed++;
                }
                driver.Ack(VirtioMmio.InterruptUsedBuffer);
            }
        }
        finally
        {
            Volatile.Write(ref stop, 1);
            host.Join();
        }

        Assert.Empty(inFlight);
        Assert.Equal(0u, driver.Status & VirtioMmio.StatusDeviceNeedsReset);
        Assert.Null(_bed.Transport.LastError);
        Assert.Equal((ushort)Total, driver.UsedIndex(0));
        Assert.True(hostPasses > 0);
        Assert.True(device.Notifications > 0);
    }
}
