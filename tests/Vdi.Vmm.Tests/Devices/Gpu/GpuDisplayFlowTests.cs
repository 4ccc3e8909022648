using System.Buffers.Binary;
using Vdi.Vmm.Devices.Display;
using Vdi.Vmm.Devices.Gpu;
using Vdi.Vmm.Devices.Virtio;

namespace Vdi.Vmm.Tests.Devices.Gpu;

public sealed class GpuDisplayFlowTests
{
    private static uint Pattern(int x, int y) => (uint)(((x * 7) & 0xFF) << 16 | ((y * 13) & 0xFF) << 8 | ((x + y) & 0xFF));

    [Fact]
    public void Display_info_and_edid_describe_the_requested_mode()
    {
        using var g = new GpuGuestDriver();
        Assert.Equal((1280, 720, true), g.DisplayInfo());

        g.Gpu.RequestDisplay(new DisplayProperties(2560, 1440, Dpi: 192));

        Assert.Equal(VirtioMmio.InterruptConfigChange, g.Driver.InterruptStatus & VirtioMmio.InterruptConfigChange);
        Assert.Equal(GpuCommands.VIRTIO_GPU_EVENT_DISPLAY, BinaryPrimitives.ReadUInt32LittleEndian(g.Driver.ReadConfig(0, 4)));
        Assert.Equal((2560, 1440, true), g.DisplayInfo());
        var edid = EdidParser.Parse(g.GetEdid());
        Assert.Equal((2560, 1440), (edid.PreferredWidth, edid.PreferredHeight));
        Assert.InRange(edid.WidthMm ?? 0, 338, 339); // 2560 px at 192 dpi = 338.7 mm

        g.Driver.WriteConfig(4, BitConverter.GetBytes(GpuCommands.VIRTIO_GPU_EVENT_DISPLAY)); // events_clear
        Assert.Equal(0u, BinaryPrimitives.ReadUInt32LittleEndian(g.Driver.ReadConfig(0, 4)));
    }

    [Theory]
    [InlineData(1280, 720)]
    [InlineData(801, 601)]
    [InlineData(320, 200)]
    public void A_full_frame_reaches_the_host_exactly_including_the_right_and_bottom_edges(int width, int height)
    {
        using var g = new GpuGuestDriver();
        var flushes = new List<ScanoutFlush>();
        g.Gpu.Flushed += flushes.Add;

        g.ShowMode(1, width, height, Pattern);

        var flush = Assert.Single(flushes);
        Assert.True(flush.IsFullFrame);
        var shot = g.Gpu.Capture()!;
        Assert.Equal((width, height), (shot.Width, shot.Height));
        for (var x = 0; x < width; x++)
            Assert.Equal(Pattern(x, height - 1) | 0xFF00_0000, shot.ArgbAt(x, height - 1));
        for (var y = 0; y < height; y++)
            Assert.Equal(Pattern(width - 1, y) | 0xFF00_0000, shot.ArgbAt(width - 1, y));
        Assert.Equal(Pattern(width / 2, height / 3) | 0xFF00_0000, shot.ArgbAt(width / 2, height / 3));
    }

    [Fact]
    public void Partial_transfer_and_flush_report_exactly_the_damaged_rectangle()
    {
        using var g = new GpuGuestDriver();
        g.ShowMode(1, 640, 480, (_, _) => 0);
        var flushes = new List<ScanoutFlush>();
        g.Gpu.Flushed += flushes.Add;

        g.FillFramebuffer(640, 480, (x, y) => x is >= 100 and < 116 && y is >= 40 and < 64 ? 0x00FF_FFFFu : 0);
        Assert.Equal(GpuCommands.VIRTIO_GPU_RESP_OK_NODATA, g.Transfer(1, 100, 40, 16, 24, (ulong)((40 * 640) + 100) * 4));
        Assert.Equal(GpuCommands.VIRTIO_GPU_RESP_OK_NODATA, g.Flush(1, 100, 40, 16, 24));

        Assert.Equal(new GpuRect(100, 40, 16, 24), Assert.Single(flushes).Damage);
        var shot = g.Gpu.Capture()!;
        Assert.Equal(0xFFFF_FFFFu, shot.ArgbAt(115, 63));
        Assert.Equal(0xFF00_0000u, shot.ArgbAt(116, 63));
        Assert.Equal(0xFF00_0000u, shot.ArgbAt(99, 40));
    }

    [Fact]
    public async Task RequestAsync_completes_once_the_guest_shows_and_flushes_the_exact_mode()
    {
        using var g = new GpuGuestDriver();
        var request = g.Display.RequestAsync(new DisplayProperties(1024, 768), TimeSpan.FromSeconds(5));
        Assert.False(request.IsCompleted);

        g.ShowMode(1, 1000, 768, Pattern); // wrong size: not an acknowledgement
        Assert.False(request.IsCompleted);
        g.ShowMode(2, 1024, 768, Pattern);

        var ack = await request;
        Assert.Equal(new DisplayProperties(1024, 768), ack.Properties);
        Assert.Equal(ack, g.Display.LastAcknowledged);
    }

    [Fact]
    public async Task RequestAsync_times_out_with_a_message_naming_what_the_guest_showed()
    {
        using var g = new GpuGuestDriver();
        g.ShowMode(1, 800, 600, Pattern);
        var e = await Assert.ThrowsAsync<TimeoutException>(() => g.Display.RequestAsync(new DisplayProperties(1920, 1080), TimeSpan.FromMilliseconds(50)));
        Assert.Contains("1920x1080", e.Message, StringComparison.Ordinal);
        Assert.Contains("last scanout: 800x600", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_repaint_for_an_earlier_request_of_the_same_size_does_not_acknowledge_a_newer_one()
    {
        using var g = new GpuGuestDriver();
        var first = g.Display.RequestAsync(new DisplayProperties(1024, 768, Dpi: 96), TimeSpan.FromSeconds(5));
        g.DisplayInfo(); // the guest reads the 96-dpi request...
        var second = g.Display.RequestAsync(new DisplayProperties(1024, 768, Dpi: 192), TimeSpan.FromSeconds(5));
        await Assert.ThrowsAsync<OperationCanceledException>(() => first);

        g.ShowMode(1, 1024, 768, Pattern, readMode: false); // ...and shows it after the 192-dpi one arrived
        Assert.False(second.IsCompleted);

        g.ShowMode(2, 1024, 768, Pattern); // reads the 192-dpi request and shows it
        Assert.Equal(192, (await second).Properties.Dpi);
    }

    [Fact]
    public async Task A_newer_request_supersedes_one_in_flight()
    {
        using var g = new GpuGuestDriver();
        var first = g.Display.RequestAsync(new DisplayProperties(1024, 768));
        var second = g.Display.RequestAsync(new DisplayProperties(800, 600));
        await Assert.ThrowsAsync<OperationCanceledException>(() => first);
        g.ShowMode(1, 800, 600, Pattern);
        Assert.Equal(800, (await second).Properties.Width);
    }

    [Theory]
    [InlineData(0, 720, "Width")]
    [InlineData(7681, 720, "Width")]
    [InlineData(1280, 4321, "Height")]
    public void Invalid_requests_are_refused_with_the_field_named(int width, int height, string field)
    {
        using var g = new GpuGuestDriver();
        var e = Assert.Throws<ArgumentException>(() => g.Gpu.RequestDisplay(new DisplayProperties(width, height)));
        Assert.Contains(field, e.Message, StringComparison.Ordinal);
        Assert.Equal((1280, 720, true), g.DisplayInfo());
    }

    [Fact]
    public void Unref_of_the_shown_resource_disables_the_scanout()
    {
        using var g = new GpuGuestDriver();
        var changes = new List<ScanoutChange>();
        g.Gpu.ScanoutChanged += changes.Add;
        g.ShowMode(1, 640, 480, Pattern);
        Assert.Equal(GpuCommands.VIRTIO_GPU_RESP_OK_NODATA, g.Unref(1));
        Assert.Equal([new ScanoutChange(true, 640, 480, 1), new ScanoutChange(false, 0, 0, 0)], changes);
        Assert.Null(g.Gpu.Capture());
        Assert.Equal(0, g.Gpu.ResourceBytes);
    }

    [Fact]
    public void Fenced_commands_echo_the_fence()
    {
        using var g = new GpuGuestDriver();
        var response = g.Control(GpuGuestDriver.Header(GpuCommands.VIRTIO_GPU_CMD_GET_DISPLAY_INFO, GpuCommands.VIRTIO_GPU_FLAG_FENCE, 0xFEED_F00D), 408);
        Assert.Equal(GpuCommands.VIRTIO_GPU_FLAG_FENCE, BinaryPrimitives.ReadUInt32LittleEndian(response.AsSpan(4)));
        Assert.Equal(0xFEED_F00DUL, BinaryPrimitives.ReadUInt64LittleEndian(response.AsSpan(8)));
    }
}
