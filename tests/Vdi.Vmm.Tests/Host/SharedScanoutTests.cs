using Vdi.Vmm.Devices.Display;
using Vdi.Vmm.Devices.Gpu;
using Vdi.Vmm.Host;
using Vdi.Vmm.Tests.Sandbox;

namespace Vdi.Vmm.Tests.Host;

/// <summary>
/// The guest's resources in shared memory, end to end: a served desktop whose scanout the broker reads from the
/// resource's own image shows an in-process desktop's pixels across mode changes and resizes, a resource that does
/// not fit the arena is copied and still right, and a host naming a place outside the mapping is refused.
/// </summary>
public sealed class SharedScanoutTests
{
    [Fact]
    public async Task The_shared_resource_shows_an_in_process_desktops_pixels_across_mode_changes_and_resizes()
    {
        using var work = VmmProcess.Folder("host");
        await using var remote = await HostedDesktops.LaunchAsync(work.Path);
        await using var local = HostedDesktops.Local();
        await Task.WhenAll(remote.StartAsync(), local.StartAsync());
        // A mode change (size and DPI), a shrink, a grow past the first mode: each a new resource, made before the old goes.
        foreach (var mode in new[] { new DisplayProperties(1024, 768, 120), new DisplayProperties(800, 600, 96), new DisplayProperties(1600, 900, 144) })
        {
            await ShowAsync(mode, remote, local);
            Assert.True(remote.PixelLocation.Offset >= remote.Scanout.ArenaOffset, $"{mode.Width}x{mode.Height} read from {remote.PixelLocation}, not the arena");
            Assert.Equal(mode.Width * 4, remote.PixelLocation.Stride);
            await AssertSamePictureAsync(remote, local, mode.Width, mode.Height);
        }
        Assert.True(remote.LastFlushSequence > 0 && remote.LastFlushSequence % 2 == 0, $"flush sequence {remote.LastFlushSequence}");
    }

    [Fact]
    public async Task A_resource_that_does_not_fit_the_arena_is_copied_and_shows_the_right_pixels()
    {
        using var work = VmmProcess.Folder("host");
        // Room for the boot mode's 1280×720 resource only: the next mode's resource is made while it still lives.
        await using var remote = await HostedDesktops.LaunchAsync(work.Path, arenaKiB: 1280 * 720 * 4 / 1024);
        await using var local = HostedDesktops.Local();
        await Task.WhenAll(remote.StartAsync(), local.StartAsync());
        await HostedDesktops.UntilAsync(() => remote.Mode == (1280, 720), "boot mode");
        Assert.True(remote.PixelLocation.Offset >= remote.Scanout.ArenaOffset, $"the boot mode read from {remote.PixelLocation}");

        await ShowAsync(new DisplayProperties(1024, 768, 120), remote, local);
        Assert.Equal((4096L, remote.Scanout.Stride), remote.PixelLocation); // the copy area
        await AssertSamePictureAsync(remote, local, 1024, 768);

        // The boot resource is gone: the next one fits again.
        await ShowAsync(new DisplayProperties(1280, 720, 96), remote, local);
        Assert.True(remote.PixelLocation.Offset >= remote.Scanout.ArenaOffset, $"the third mode read from {remote.PixelLocation}");
        await AssertSamePictureAsync(remote, local, 1280, 720);
    }

    [Fact]
    public async Task A_host_placing_the_scanout_outside_the_mapping_is_disconnected_naming_it()
    {
        using var work = VmmProcess.Folder("host");
        using var listener = FakeHost.Listen(work.Path, out var path);
        using var scanout = ScanoutWriter.Create(640, 480);
        var host = Task.Run(() =>
        {
            using var connection = listener.Accept();
            using var channel = new FrameChannel((int)connection.SafeHandle.DangerousGetHandle());
            Assert.IsType<HelloMessage>(channel.Receive()!.Value.Message);
            Assert.True(channel.Send(new WelcomeMessage(HostProtocol.Version, true, 640, 480, scanout.Size, scanout.Stride, (int)scanout.CursorOffset, "fake"), scanout.Descriptor));
            // The mode fits, its place does not: its last row runs into the cursor area and past the mapping.
            Assert.True(channel.Send(new ScanoutChangedMessage(true, 640, 480, 96, 1, scanout.CursorOffset - 2560, 2560)));
            return channel.Receive()?.Message;
        });
        await using var remote = RemoteDesktop.Connect(path);
        var exit = await remote.Completion.WaitAsync(TimeSpan.FromSeconds(10));
        Assert.Equal(DesktopExitKind.ProtocolError, exit.Kind);
        Assert.Contains("outside the shared scanout", exit.Reason, StringComparison.Ordinal);
        var answer = Assert.IsType<ErrorMessage>(await host.WaitAsync(TimeSpan.FromSeconds(10)));
        Assert.Equal(HostProtocol.ErrorMalformed, answer.Code);
    }

    private static async Task ShowAsync(DisplayProperties mode, RemoteDesktop remote, LocalDesktop local) =>
        await Task.WhenAll(remote.RequestDisplayAsync(mode, TimeSpan.FromSeconds(30)), local.RequestDisplayAsync(mode, TimeSpan.FromSeconds(30)));

    /// <summary>
    /// Everything below the top bar, and the bar's left half (its right holds the clock, which may tick between
    /// captures); the two guests repaint after a mode change at their own pace, so the pictures have 10 s to agree.
    /// </summary>
    private static async Task AssertSamePictureAsync(RemoteDesktop remote, LocalDesktop local, int width, int height)
    {
        var deadline = DateTime.UtcNow.AddSeconds(10);
        while (true)
        {
            var served = HostedDesktops.CaptureAll(remote, width, height);
            var own = HostedDesktops.CaptureAll(local, width, height);
            var bar = 0;
            while (bar < height && own.ArgbAt(0, bar) == own.ArgbAt(0, 0))
                bar++;
            Assert.InRange(bar, 4, 200);
            var below = HostedDesktops.Changed(served, own, new GpuRect(0, bar, width, height - bar));
            var left = HostedDesktops.Changed(served, own, new GpuRect(0, 0, width / 2, bar));
            if (below == 0 && left == 0)
                return;
            Assert.True(DateTime.UtcNow < deadline, $"{width}x{height}: {below} pixels below the top bar and {left} in its left half differ");
            await Task.Delay(50);
        }
    }
}
