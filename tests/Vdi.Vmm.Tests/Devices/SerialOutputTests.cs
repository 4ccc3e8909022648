using System.Diagnostics;
using System.Text;
using Vdi.Vmm.Devices;

namespace Vdi.Vmm.Tests.Devices;

public sealed class SerialOutputTests
{
    private static readonly TimeSpan s_long = TimeSpan.FromSeconds(10);

    private static void Append(SerialOutput output, string text)
    {
        foreach (var b in Encoding.Latin1.GetBytes(text))
            output.Append(b);
    }

    [Fact]
    public async Task StreamReadsEverythingInOrderAndEndsAfterComplete()
    {
        var output = new SerialOutput();
        var expected = Enumerable.Range(0, 5000).Select(i => (byte)(i * 31)).ToArray();
        using var stream = output.OpenStream(); // opened before the first byte: it waits
        var writer = Task.Run(async () =>
        {
            for (var i = 0; i < expected.Length; i++)
            {
                output.Append(expected[i]);
                if (i % 1000 == 0)
                    await Task.Delay(5);
            }
            output.Complete();
        });

        using var received = new MemoryStream();
        await stream.CopyToAsync(received).WaitAsync(s_long);
        await writer;

        Assert.Equal(expected, received.ToArray());
        Assert.Equal(0, await stream.ReadAsync(new byte[1]).AsTask().WaitAsync(s_long));
    }

    [Fact]
    public async Task StreamOpenedLateStartsAtTheFirstByte()
    {
        var output = new SerialOutput();
        Append(output, "boot ok");
        output.Complete();

        using var reader = new StreamReader(output.OpenStream(), Encoding.Latin1);

        Assert.Equal("boot ok", await reader.ReadToEndAsync().WaitAsync(s_long));
    }

    [Fact]
    public async Task ReadWaitsForDataAndHonoursCancellation()
    {
        var output = new SerialOutput();
        using var stream = output.OpenStream();
        var buffer = new byte[16];
        using var cts = new CancellationTokenSource();

        var pending = stream.ReadAsync(buffer, cts.Token).AsTask();
        await Task.Delay(50);
        Assert.False(pending.IsCompleted);
        cts.Cancel();

        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => pending.WaitAsync(s_long));
    }

    [Fact]
    public async Task WaitForTextIsTrueOnceTheTextArrivesAcrossAppends()
    {
        var output = new SerialOutput();
        Append(output, "hello wo");

        var wait = output.WaitForTextAsync("world", s_long);
        await Task.Delay(20);
        Assert.False(wait.IsCompleted);
        Append(output, "rld\n");

        Assert.True(await wait.WaitAsync(s_long));
    }

    [Fact]
    public async Task WaitForTextIsFalseOnTimeout()
    {
        var output = new SerialOutput();
        Append(output, "nothing to see");

        var watch = Stopwatch.StartNew();
        Assert.False(await output.WaitForTextAsync("panic", TimeSpan.FromMilliseconds(100)));

        Assert.InRange(watch.Elapsed, TimeSpan.FromMilliseconds(90), s_long);
    }

    [Fact]
    public async Task WaitForTextIsFalseAtOnceWhenTheStreamCompletesWithoutIt()
    {
        var output = new SerialOutput();
        var wait = output.WaitForTextAsync("never", TimeSpan.FromMinutes(5));

        Append(output, "bye");
        output.Complete();

        Assert.False(await wait.WaitAsync(s_long));
    }

    [Fact]
    public void TextLengthAndFirstByteTimestampTrackAppends()
    {
        var output = new SerialOutput();
        Assert.Equal(0, output.FirstByteTimestamp);
        var before = Stopwatch.GetTimestamp();

        Append(output, "\u00E9t\u00E9"); // Latin-1: one byte per char

        Assert.Equal(3, output.Length);
        Assert.Equal("\u00E9t\u00E9", output.Text);
        Assert.InRange(output.FirstByteTimestamp, before, Stopwatch.GetTimestamp());
    }

    private static SerialOutput Overflowed()
    {
        var output = new SerialOutput();
        for (var i = 0; i < SerialOutput.Capacity; i++)
            output.Append((byte)'a');
        Append(output, "Z");
        output.Complete();
        return output;
    }

    [Fact]
    public void OutputBeyondCapacityDropsTheOldestQuarterButKeepsCounting()
    {
        var output = Overflowed();

        Assert.Equal(SerialOutput.Capacity + 1, output.Length);
        var text = output.Text;
        Assert.Equal(SerialOutput.Capacity - (SerialOutput.Capacity / 4) + 1, text.Length);
        Assert.EndsWith("aZ", text, StringComparison.Ordinal);
    }

    [Fact]
    public async Task StreamOpenedAfterOutputWasDroppedReadsTheRetainedBytesOnce()
    {
        var output = Overflowed();
        using var stream = output.OpenStream();

        using var received = new MemoryStream();
        await stream.CopyToAsync(received).WaitAsync(s_long);

        Assert.Equal(output.Text.Length, received.Length); // today: Capacity + 1 bytes, the first ones repeated
    }
}
