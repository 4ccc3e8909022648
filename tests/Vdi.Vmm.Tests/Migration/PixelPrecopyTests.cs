using Vdi.Guest.Desktop;
using Vdi.Vmm.Devices.Display;
using Vdi.Vmm.Devices.Gpu;
using Vdi.Vmm.Devices.Input;
using Vdi.Vmm.Execution;
using Vdi.Vmm.Host;
using Vdi.Vmm.Machine;
using Vdi.Vmm.Migration;
using Vdi.Vmm.State;
using Vdi.Vmm.Tests.Host;

namespace Vdi.Vmm.Tests.Migration;

/// <summary>
/// The GPU's resource pixels move in the pre-copy rounds, not in the paused state: a desktop resized and typed into
/// while it migrates shows the destination the same pixels at the switch, with a state of kilobytes; a state names only
/// the resources whose pixels were handed out and not written since; and every rule of a Pixels message is enforced.
/// </summary>
[Collection(MigrationCollection.Name)]
public sealed class PixelPrecopyTests
{
    private static MachineConfig Desktop(GpuOptions? gpu = null) => new()
    {
        Image = DesktopGuest.Build(), MemoryMiB = 128, Engine = EngineChoice.Software, Display = new(1280, 720, 96), Gpu = gpu ?? new GpuOptions(),
    };

    [Fact]
    public async Task A_desktop_resized_and_typed_into_while_it_migrates_shows_the_same_pixels_at_the_switch()
    {
        using var source = MachineBuilder.Build(Desktop());
        using var destination = MachineBuilder.Build(Desktop());
        source.Start();
        await LocalDesktop.WhenIdleAsync(source, TimeSpan.FromSeconds(30));

        // New resources made, written and destroyed between the rounds: each resize replaces the scanout's resource.
        var switched = 0;
        var churn = Task.Run(async () =>
        {
            for (var i = 0; Volatile.Read(ref switched) == 0; i++)
            {
                source.Devices.Gpu.RequestDisplay(i % 2 == 0 ? new DisplayProperties(1024, 768) : new DisplayProperties(1280, 720));
                UsKeyboardLayout.Type(source.Devices.Keyboard, "x");
                await Task.Delay(40);
            }
        });
        await Task.Delay(300);
        using var pair = await LoopbackPair.OpenAsync();
        (ScanoutSnapshot? Source, ScanoutSnapshot? Destination) atSwitch = default;
        var receive = MigrationTarget.ReceiveAsync(destination, pair.Destination, m =>
        {
            Volatile.Write(ref switched, 1);
            atSwitch = (source.Devices.Gpu.Capture(), m.Devices.Gpu.Capture()); // the source paused, the destination not started
            m.Start();
            return Task.CompletedTask;
        }, TimeSpan.FromSeconds(30));
        var outcome = await MigrationSource.SendAsync(source, pair.Source, new MigrationOptions { DowntimeTarget = TimeSpan.FromMilliseconds(1), MaxRounds = 6 });
        Volatile.Write(ref switched, 1);
        await churn;
        await receive.WaitAsync(TimeSpan.FromSeconds(30));

        Assert.True(outcome.Succeeded, outcome.Error);
        Assert.True(outcome.StateBytes < 256 << 10, $"the state carried {outcome.StateBytes} bytes: the pixels went with it, not before it");
        var (was, now) = atSwitch;
        Assert.NotNull(was);
        Assert.NotNull(now);
        Assert.Equal((was.Width, was.Height), (now.Width, now.Height));
        Assert.True(was.Pixels.AsSpan().SequenceEqual(now.Pixels), "the destination's scanout showed other pixels at the switch");
        Assert.Equal(0, destination.Devices.Gpu.ErrorResponses);

        var before = DesktopText.Read(destination.Config.Image, destination.Memory);
        Assert.Equal("", UsKeyboardLayout.Type(destination.Devices.Keyboard, "y"));
        for (var deadline = DateTime.UtcNow.AddSeconds(30); !DesktopText.Read(destination.Config.Image, destination.Memory).EndsWith('y'); await Task.Delay(10))
            Assert.True(DateTime.UtcNow < deadline, $"the destination's terminal shows '{DesktopText.Read(destination.Config.Image, destination.Memory)}' after '{before}'");
        source.Stop();
        destination.Stop();
    }

    [Fact]
    public async Task A_state_leaves_out_only_the_pixels_handed_out_and_not_written_since()
    {
        using var source = MachineBuilder.Build(Desktop());
        using var destination = MachineBuilder.Build(Desktop());
        source.Start();
        await LocalDesktop.WhenIdleAsync(source, TimeSpan.FromSeconds(30));
        source.Devices.Gpu.StartPixelTracking();
        HandOver(source.Devices.Gpu, destination.Devices.Gpu); // every resource's pixels, as a first round sends them

        // Nothing written since: the state leaves every resource's pixels out, and without them it does not restore.
        Assert.True(source.PauseAll(TimeSpan.FromSeconds(10)));
        var handedOut = Precopied(source.SaveState());
        Assert.NotEmpty(handedOut);
        using (var bare = WithRamOf(source, MachineBuilder.Build(Desktop())))
        {
            var e = Assert.Throws<StateFormatException>(() => bare.RestoreState(StateReader.Read(new MemoryStream(source.SaveState()))));
            Assert.Contains("did not come whole", e.Message, StringComparison.Ordinal);
        }

        // A key drawn after the hand-over: the scanout's resource goes in the state with its pixels; the others do not,
        // and the destination restores both kinds.
        source.ResumeAll();
        var flushed = 0;
        source.Devices.Gpu.Flushed += _ => Interlocked.Increment(ref flushed);
        UsKeyboardLayout.Type(source.Devices.Keyboard, "k");
        await HostedDesktops.UntilAsync(() => Volatile.Read(ref flushed) > 0, "a flush after the key");
        await Task.Delay(100);
        Assert.True(source.PauseAll(TimeSpan.FromSeconds(10)));
        var state = source.SaveState();
        var scanoutId = StateReader.Read(new MemoryStream(state)).Take("gpu", 2).U64("scanout");
        Assert.Contains(scanoutId, handedOut);
        Assert.DoesNotContain(scanoutId, Precopied(state));
        Assert.Equal(handedOut.Count - 1, Precopied(state).Count);
        var scanout = source.Devices.Gpu.Capture()!;
        source.Devices.Gpu.StopPixelTracking();
        WithRamOf(source, destination).RestoreState(StateReader.Read(new MemoryStream(state)));
        Assert.True(scanout.Pixels.AsSpan().SequenceEqual(destination.Devices.Gpu.Capture()!.Pixels), "the restored scanout shows other pixels");
        source.Stop();
    }

    [Fact]
    public void Every_rule_of_a_pixels_message_is_enforced_and_a_refused_one_changes_nothing()
    {
        var limit = 8L << 20; // two 1280x720 resources, not three
        using var machine = MachineBuilder.Build(Desktop(new GpuOptions { MaxWidth = 1920, MaxHeight = 1080, ResourceMemoryLimit = limit }));
        var gpu = machine.Devices.Gpu;
        var chunk = new byte[VirtioGpu.PixelChunkBytes];
        byte[] Message(uint id, uint flags, int width, int height, long offset, int length)
        {
            var buffer = new byte[PixelMessage.HeaderBytes + length];
            PixelMessage.Write(buffer, id, flags, width, height, offset, chunk.AsSpan(0, length));
            return buffer;
        }
        void Refused(byte[] payload, string why) =>
            Assert.Contains(why, Assert.Throws<MigrationException>(() => PixelMessage.Apply(payload, gpu)).Message, StringComparison.Ordinal);

        Refused(new byte[10], "shorter than its header");
        Refused(Message(0, 0, 1280, 720, 0, chunk.Length), "resource 0");
        Refused(Message(1, 2, 1280, 720, 0, chunk.Length), "flags 0x2");
        Refused(Message(1, PixelMessage.GoneFlag, 1280, 720, 0, 0), "carries data");
        Refused(Message(1, 0, 0, 720, 0, chunk.Length), "0x720 resource");
        Refused(Message(1, 0, 4096, 720, 0, chunk.Length), "over the 1920x1080 limit");
        Refused(Message(1, 0, 1280, 720, 100, chunk.Length), "not a chunk of it");
        Refused(Message(1, 0, 1280, 720, 1280L * 720 * 4, 16), "not a chunk of it");
        Refused(Message(1, 0, 1280, 720, 0, 100), "not a chunk of it");
        const long Odd = 1000L * 700 * 4; // not a whole number of chunks: its last one is shorter
        var last = (int)(Odd % VirtioGpu.PixelChunkBytes);
        Refused(Message(3, 0, 1000, 700, Odd - last, chunk.Length), "not a chunk of it");

        PixelMessage.Apply(Message(1, 0, 1280, 720, 0, chunk.Length), gpu);
        PixelMessage.Apply(Message(2, 0, 1280, 720, 0, chunk.Length), gpu);
        Refused(Message(3, 0, 1280, 720, 0, chunk.Length), "over the GPU's 8 MiB");
        PixelMessage.Apply(Message(1, PixelMessage.GoneFlag, 0, 0, 0, 0), gpu);
        PixelMessage.Apply(Message(3, 0, 1000, 700, Odd - last, last), gpu); // its last chunk, once 1 is gone
        PixelMessage.Apply(Message(2, 0, 1024, 768, 0, chunk.Length), gpu); // 2 again, at another size: replaces it
        Refused(Message(4, 0, 1280, 720, 0, chunk.Length), "over the GPU's 8 MiB");
        PixelMessage.Apply(Message(4, 0, 640, 480, 0, chunk.Length), gpu);
    }

    /// <summary>The resources a state's GPU section lists as pre-copied.</summary>
    private static HashSet<ulong> Precopied(byte[] state) =>
        [.. StateReader.Read(new MemoryStream(state)).Take("gpu", 2).U64s("res_precopied")];

    /// <summary>An unstarted <paramref name="machine"/> given the (paused) source's RAM.</summary>
    private static Vmm.Machine.Machine WithRamOf(Vmm.Machine.Machine source, Vmm.Machine.Machine machine)
    {
        var ram = new byte[source.Config.MemoryBytes];
        Assert.True(source.Memory.TryRead(0, ram));
        machine.Memory.Write(0, ram);
        return machine;
    }

    /// <summary>What a round does: the resources gone and the chunks written since the last harvest, from one GPU to another's stage.</summary>
    private static void HandOver(VirtioGpu from, VirtioGpu to)
    {
        var harvest = from.HarvestPixels();
        Assert.NotEmpty(harvest.Chunks);
        foreach (var id in harvest.Gone)
            to.DropStagedPixels(id);
        var buffer = new byte[VirtioGpu.PixelChunkBytes];
        foreach (var (resource, chunk) in harvest.Chunks)
        {
            Assert.True(from.TryReadPixelChunk(resource, chunk, buffer, out var length));
            Assert.Null(to.StagePixels(resource.Id, (uint)resource.Width, (uint)resource.Height, (long)chunk * VirtioGpu.PixelChunkBytes, buffer.AsSpan(0, length)));
        }
    }
}
