using Vdi.Vmm.Devices.Gpu;
using Vdi.Vmm.Host;

namespace Vdi.Vmm.Tests.Host;

/// <summary>The shared scanout: its layout, its seals, and a reader that never takes a torn copy for a whole one.</summary>
public sealed class ScanoutMemoryTests
{
    [Fact]
    public void The_layout_fits_the_largest_mode_and_the_cursor()
    {
        Assert.Equal(4096 + (7680L * 4 * 4320), ScanoutLayout.ArenaOffset(7680, 4320));
        Assert.Equal(4096 + (3 * 7680L * 4 * 4320), ScanoutLayout.CursorOffset(7680, 4320)); // copy area, then two images in the arena
        Assert.Equal(0, ScanoutLayout.ArenaOffset(641, 480) % 4096);
        Assert.Equal(ScanoutLayout.CursorOffset(640, 480) + (256 * 256 * 4), ScanoutLayout.Size(640, 480));
        Assert.Equal(0, ScanoutLayout.CursorOffset(641, 480) % 4096);
    }

    [Fact]
    public void A_reader_refuses_a_mapping_that_does_not_match_the_welcome()
    {
        using var writer = ScanoutWriter.Create(640, 480);
        var e = Assert.Throws<HostProtocolException>(() => ScanoutReader.Open(Dup(writer.Descriptor), 1280, 720, ScanoutLayout.Size(1280, 720)));
        Assert.Contains("bytes", e.Message, StringComparison.Ordinal);
        Assert.Throws<HostProtocolException>(() => ScanoutReader.Open(Dup(writer.Descriptor), 640, 480, writer.Size - 4096));
    }

    [Fact]
    public void Copies_are_never_torn_while_the_host_rewrites_the_frame()
    {
        // A painter fills whole frames with one byte value, as fast as it can, through the writer's seqlock; every
        // copy the reader accepts must hold a single value.
        using var writer = ScanoutWriter.Create(320, 200);
        using var reader = ScanoutReader.Open(Dup(writer.Descriptor), 320, 200, writer.Size);
        writer.SetMode(320, 200);
        RaceReaderWithPainter(reader, value => writer.FillForTest(value));
    }

    /// <summary>
    /// Runs <paramref name="paint"/> (one whole 320×200 frame of one byte value, under the seqlock) on a thread of its
    /// own while the reader captures: every copy the reader accepts must hold a single value, and some must have met a write.
    /// </summary>
    internal static void RaceReaderWithPainter(ScanoutReader reader, Action<byte> paint)
    {
        var stop = 0;
        var frames = 0L;
        // A thread of its own: a pool thread may not be given a core while other tests keep the pool busy.
        var painter = new Thread(() =>
        {
            byte value = 0;
            while (Volatile.Read(ref stop) == 0)
            {
                value++;
                paint(value);
                Interlocked.Increment(ref frames);
                // A host writes at the guest's flush rate, not back to back: leave the reader a window (~50 µs).
                var paused = System.Diagnostics.Stopwatch.GetTimestamp();
                while (System.Diagnostics.Stopwatch.GetElapsedTime(paused).TotalMicroseconds < 50)
                    Thread.SpinWait(10);
            }
        })
        { IsBackground = true };
        painter.Start();
        var buffer = new byte[320 * 200 * 4];
        var reads = 0;
        string? torn = null;
        try
        {
            // The race starts once the painter runs, and lasts until both sides did enough of it.
            var started = DateTime.UtcNow;
            while (Interlocked.Read(ref frames) == 0 && DateTime.UtcNow < started.AddSeconds(10))
                Thread.Sleep(1);
            var deadline = DateTime.UtcNow.AddSeconds(1.5);
            while ((DateTime.UtcNow < deadline || (reader.Retries == 0 && DateTime.UtcNow < deadline.AddSeconds(10))) && torn is null)
            {
                if (!reader.Capture(new GpuRect(0, 0, 320, 200), buffer, 320 * 4, out _, out var sequence))
                    torn = "a capture failed";
                else if (sequence % 2 != 0)
                    torn = $"odd sequence {sequence}";
                else if (buffer.AsSpan().IndexOfAnyExcept(buffer[0]) is var at and >= 0)
                    torn = $"torn copy at sequence {sequence}: byte {at} is {buffer[at]}, byte 0 is {buffer[0]}";
                reads++;
            }
        }
        finally
        {
            // The painter writes into the mapping: stop it before the mapping goes.
            Volatile.Write(ref stop, 1);
            painter.Join();
        }
        Assert.Null(torn);
        Assert.True(reads > 10 && frames > 10, $"{reads} reads of {frames} frames: the race was not run");
        Assert.True(reader.Retries > 0, "no read ever met a write: the test did not exercise the seqlock");
    }

    [Fact]
    public void The_cursor_reads_back_as_written_and_hidden_when_hidden()
    {
        using var writer = ScanoutWriter.Create(320, 200);
        using var reader = ScanoutReader.Open(Dup(writer.Descriptor), 320, 200, writer.Size);
        var pixels = Enumerable.Range(0, 32 * 32 * 4).Select(i => (byte)i).ToArray();
        writer.SetCursor(new CursorImage(32, 32, 3, 4, pixels, GpuFormat.B8G8R8A8));
        var cursor = reader.ReadCursor()!;
        Assert.Equal((32, 32, 3, 4), (cursor.Width, cursor.Height, cursor.HotX, cursor.HotY));
        Assert.Equal(pixels, cursor.Pixels);
        writer.SetCursor(new CursorImage(0, 0, 0, 0, null, GpuFormat.B8G8R8A8));
        Assert.Null(reader.ReadCursor()!.Pixels);
    }

    [Fact]
    public void A_mode_beyond_the_mapping_is_no_mode()
    {
        using var writer = ScanoutWriter.Create(320, 200);
        using var reader = ScanoutReader.Open(Dup(writer.Descriptor), 320, 200, writer.Size);
        writer.SetMode(320, 200);
        Assert.Equal((320, 200), reader.Mode);
        writer.SetMode(5000, 200); // a hostile host
        Assert.Null(reader.Mode);
        Assert.False(reader.Capture(new GpuRect(0, 0, 10, 10), new byte[400], 40, out _));
    }

    private static int Dup(int fd) => Vmm.Interop.HostCalls.Dup(fd);
}
