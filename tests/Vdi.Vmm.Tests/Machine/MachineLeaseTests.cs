using System.Diagnostics;
using Vdi.Guest.Desktop;
using Vdi.Vmm.Devices.Display;
using Vdi.Vmm.Devices.Gpu;
using Vdi.Vmm.Devices.Input;
using Vdi.Vmm.Execution;
using Vdi.Vmm.Images;
using Vdi.Vmm.Machine;

namespace Vdi.Vmm.Tests.Machine;

/// <summary>
/// Host accesses to guest memory (input injected by a hub thread, a frame captured) hold a lease on the machine:
/// disposing it waits for them and refuses new ones, so no access ever touches unmapped guest memory.
/// </summary>
public sealed class MachineLeaseTests
{
    private static readonly Lazy<Vmm.Images.GuestImage> s_desktop = new(DesktopGuest.Build);

    private static Vmm.Machine.Machine SmallDesktop() => MachineBuilder.Build(new MachineConfig
    {
        Image = s_desktop.Value,
        MemoryMiB = 64,
        Engine = EngineChoice.Software,
        Display = new DisplayProperties(320, 200),
        Gpu = new GpuOptions { MaxWidth = 640, MaxHeight = 480 },
    });

    [Fact]
    public async Task Leases_are_refused_once_closing_began_and_closing_waits_for_those_held()
    {
        using var leases = new AccessLeases();
        Assert.True(leases.TryAcquire());
        var closed = Task.Run(() => leases.CloseAndWait(TimeSpan.FromSeconds(10)));
        SpinWait.SpinUntil(() => leases.IsClosed, TimeSpan.FromSeconds(5));
        Assert.False(leases.TryAcquire());
        Assert.NotSame(closed, await Task.WhenAny(closed, Task.Delay(100)));
        leases.Release();
        Assert.True(await closed.WaitAsync(TimeSpan.FromSeconds(5)));
    }

    [Fact]
    public async Task Dispose_keeps_guest_memory_mapped_while_a_lease_is_held()
    {
        var machine = SmallDesktop();
        machine.Start();
        var lease = machine.Lease();
        Assert.True(lease.IsHeld);
        var disposed = Task.Run(machine.Dispose);
        Assert.NotSame(disposed, await Task.WhenAny(disposed, Task.Delay(300)));
        Assert.False(machine.Lease().IsHeld); // new accesses are refused from the start of Dispose
        var bytes = new byte[16];
        machine.Memory.Read(0x1000, bytes); // still mapped: the lease holds it
        lease.Dispose();
        await disposed.WaitAsync(TimeSpan.FromSeconds(15));
    }

    [Fact]
    public void Stopping_a_desktop_under_an_input_flood_and_a_capture_loop_a_hundred_times_touches_no_unmapped_memory()
    {
        long done = 0, refused = 0, attempts = 0, injected = 0;
        for (var round = 0; round < 100; round++)
        {
            var machine = SmallDesktop();
            machine.Start();
            using var stop = new CancellationTokenSource();
            void Access(Func<Vmm.Machine.Machine, bool> work)
            {
                while (!stop.IsCancellationRequested)
                {
                    Interlocked.Increment(ref attempts);
                    using var lease = machine.Lease();
                    if (!lease.IsHeld)
                    {
                        Interlocked.Increment(ref refused);
                        continue;
                    }
                    if (work(machine))
                        Interlocked.Increment(ref injected);
                    Interlocked.Increment(ref done);
                }
            }
            var input = new Thread(() => Access(m => m.Devices.Keyboard.InjectKey(30, KeyAction.Press) | m.Devices.Tablet.InjectPointer(10, 10, PointerButtons.None)));
            var capture = new Thread(() => Access(m => m.Devices.Gpu.Capture() is not null));
            input.Start();
            capture.Start();
            // The first rounds let the guest's drivers come up, so input really reaches its queues; later ones stop at any time.
            var until = Stopwatch.StartNew();
            while (round < 3 && Volatile.Read(ref injected) == 0 && until.Elapsed < TimeSpan.FromSeconds(20))
                Thread.Sleep(5);
            Thread.Sleep(round % 10);
            machine.Dispose();
            stop.Cancel();
            input.Join();
            capture.Join();
            Assert.Equal(0, machine.OutstandingLeases);
        }
        Assert.Equal(attempts, done + refused);
        Assert.True(refused > 0, "some accesses came after Dispose began and were refused");
        Assert.True(injected > 0, "input reached the guest's queues");
    }
}
