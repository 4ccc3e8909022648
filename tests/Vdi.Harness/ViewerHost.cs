using System.Diagnostics;
using System.Net;
using System.Text.Json;
using Vdi.Protocol;

namespace Vdi.Harness;

/// <summary>
/// The viewers' own process (<c>vdi-harness viewers …</c>), so that the broker's process CPU is the server's alone:
/// it connects one <see cref="HubViewer"/> per token, says <c>ready</c> once each shows its first frame, then answers
/// one JSON line per command read from standard input (<see cref="ViewerProcess"/> is the other end).
/// </summary>
internal static class ViewerHost
{
    /// <summary>
    /// <c>viewers URL COOKIE WIDTH HEIGHT PAINT TOKEN…</c>; commands: <c>measure MS</c> (frames each viewer got),
    /// <c>motion MS</c> and <c>type MS</c> (the first viewer's frames, intervals and bytes; <c>type</c> also types),
    /// <c>settle TOPBAR</c>, <c>quit</c>.
    /// </summary>
    public static async Task<int> RunAsync(string[] args)
    {
        var baseAddress = new Uri(args[0]);
        var cookies = new CookieContainer();
        cookies.SetCookies(baseAddress, string.Join(',', args[1].Split("; ", StringSplitOptions.RemoveEmptyEntries)));
        var display = Scenario.Display(int.Parse(args[2], System.Globalization.CultureInfo.InvariantCulture), int.Parse(args[3], System.Globalization.CultureInfo.InvariantCulture));
        var paint = args[4] == "paint";
        var viewers = new List<HubViewer>();
        try
        {
            foreach (var token in args[5..])
            {
                var viewer = await HubViewer.ConnectAsync(baseAddress, cookies, token, display, paint);
                viewers.Add(viewer);
                await viewer.FrameOfAsync(display.Width, display.Height);
            }
            Reply(new { ready = true });
            while (Console.ReadLine() is { } line)
            {
                var parts = line.Split(' ');
                var argument = parts.Length > 1 ? int.Parse(parts[1], System.Globalization.CultureInfo.InvariantCulture) : 0;
                switch (parts[0])
                {
                    case "measure":
                        viewers.ForEach(v => v.ClearFrames());
                        var started = Stopwatch.GetTimestamp();
                        await Task.Delay(argument);
                        var seconds = Stopwatch.GetElapsedTime(started).TotalSeconds;
                        Reply(new ViewerCounts([.. viewers.Select(v => v.Frames.Count)], seconds));
                        break;
                    case "motion":
                        Reply(await RecordAsync(viewers[0], () => Task.Delay(argument)));
                        break;
                    case "type":
                        var keys = 0;
                        var record = await RecordAsync(viewers[0], async () =>
                        {
                            var end = Stopwatch.GetTimestamp() + (argument * Stopwatch.Frequency / 1000);
                            while (Stopwatch.GetTimestamp() < end)
                            {
                                var code = ++keys % 40 == 0 ? "Enter" : "KeyA";
                                await viewers[0].KeyAsync(code, down: true);
                                await viewers[0].KeyAsync(code, down: false);
                                await Task.Delay(16);
                            }
                        });
                        Reply(record with { Keys = keys });
                        break;
                    case "settle":
                        await Scenario.SettleAsync(viewers[0], argument);
                        Reply(new { settled = true });
                        break;
                    case "quit":
                        return 0;
                    default:
                        Console.Error.WriteLine($"vdi-harness viewers: unknown command '{line}'");
                        return 64;
                }
            }
            return 0;
        }
        finally
        {
            foreach (var viewer in viewers)
                await viewer.DisposeAsync();
        }
    }

    private static async Task<ViewerRecord> RecordAsync(HubViewer viewer, Func<Task> load)
    {
        viewer.ClearFrames();
        var started = Stopwatch.GetTimestamp();
        await load();
        var seconds = Stopwatch.GetElapsedTime(started).TotalSeconds;
        var frames = viewer.Frames;
        return new ViewerRecord(
            frames.Count,
            seconds,
            [.. frames.Zip(frames.Skip(1), (a, b) => Figures.Milliseconds(a.PaintedAt, b.PaintedAt))],
            [.. frames.Select(f => f.WireBytes)],
            0);
    }

    private static void Reply<T>(T value)
    {
        Console.Out.WriteLine(JsonSerializer.Serialize(value));
        Console.Out.Flush();
    }
}

/// <summary>Frames each viewer got over a measured span.</summary>
internal sealed record ViewerCounts(int[] Frames, double Seconds);

/// <summary>The first viewer's frames over a measured span: how many, the intervals between paints, each frame's wire bytes, keys typed.</summary>
internal sealed record ViewerRecord(int Frames, double Seconds, double[] Intervals, int[] Bytes, int Keys);
