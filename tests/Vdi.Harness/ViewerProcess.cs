using System.Diagnostics;
using System.Reflection;
using System.Text.Json;
using Vdi.Protocol;

namespace Vdi.Harness;

/// <summary>
/// Viewers in a process of their own (<see cref="ViewerHost"/>): their receiving, decoding and painting never count
/// as the broker's CPU. The harness starts this same program with <c>viewers</c>, the broker's address, the sign-in
/// cookie and one session token per viewer, and talks to it one line at a time.
/// </summary>
internal sealed class ViewerProcess : IAsyncDisposable
{
    private readonly Process _process;

    private ViewerProcess(Process process) => _process = process;

    public static async Task<ViewerProcess> StartAsync(HarnessBroker broker, IReadOnlyList<string> tokens, int width, int height, bool paint)
    {
        var start = new ProcessStartInfo(Environment.ProcessPath!)
        {
            RedirectStandardInput = true,
            RedirectStandardOutput = true,
            UseShellExecute = false,
        };
        // Under `dotnet Vdi.Harness.dll` the program is an argument of the host; under the apphost it is the host.
        if (Path.GetFileNameWithoutExtension(Environment.ProcessPath) == "dotnet")
            start.ArgumentList.Add(Assembly.GetEntryAssembly()!.Location);
        foreach (var argument in (string[])["viewers", broker.BaseAddress.ToString(), broker.Cookies.GetCookieHeader(broker.BaseAddress),
            width.ToString(System.Globalization.CultureInfo.InvariantCulture), height.ToString(System.Globalization.CultureInfo.InvariantCulture), paint ? "paint" : "ack", .. tokens])
            start.ArgumentList.Add(argument);
        var process = Process.Start(start) ?? throw new InvalidOperationException("could not start the viewers' process");
        var viewers = new ViewerProcess(process);
        await viewers.ReadAsync<JsonElement>(TimeSpan.FromSeconds(60));
        return viewers;
    }

    /// <summary>A controller at <paramref name="width"/>x<paramref name="height"/> in its own process, shown its first frame.</summary>
    public static async Task<ViewerProcess> ControllerAsync(Scenario s, int width, int height, bool paint) =>
        await StartAsync(s.Broker, [await s.Broker.SessionTokenAsync(s.Desktop.Id, Scenario.Display(width, height))], width, height, paint);

    /// <summary>Frames each viewer got in <paramref name="span"/>.</summary>
    public Task<ViewerCounts> MeasureAsync(TimeSpan span) => CommandAsync<ViewerCounts>($"measure {(int)span.TotalMilliseconds}", span);

    /// <summary>The first viewer's frames in <paramref name="span"/>.</summary>
    public Task<ViewerRecord> MotionAsync(TimeSpan span) => CommandAsync<ViewerRecord>($"motion {(int)span.TotalMilliseconds}", span);

    /// <summary>The first viewer types (a key every 16 ms, Enter every 40) for <paramref name="span"/>; its frames.</summary>
    public Task<ViewerRecord> TypeAsync(TimeSpan span) => CommandAsync<ViewerRecord>($"type {(int)span.TotalMilliseconds}", span);

    /// <summary>Waits until the first viewer gets nothing below the top bar for a while.</summary>
    public Task SettleAsync(int topBar) => CommandAsync<JsonElement>($"settle {topBar}", TimeSpan.FromSeconds(10));

    public async ValueTask DisposeAsync()
    {
        try
        {
            await _process.StandardInput.WriteLineAsync("quit");
            await _process.WaitForExitAsync().WaitAsync(TimeSpan.FromSeconds(10));
        }
        catch (Exception e) when (e is IOException or TimeoutException or InvalidOperationException)
        {
            _process.Kill(entireProcessTree: true);
        }
        _process.Dispose();
    }

    private async Task<T> CommandAsync<T>(string command, TimeSpan span)
    {
        await _process.StandardInput.WriteLineAsync(command);
        await _process.StandardInput.FlushAsync();
        return await ReadAsync<T>(span + TimeSpan.FromSeconds(30));
    }

    private async Task<T> ReadAsync<T>(TimeSpan timeout)
    {
        var line = await _process.StandardOutput.ReadLineAsync().WaitAsync(timeout)
            ?? throw new InvalidOperationException($"the viewers' process ended (exit code {(_process.HasExited ? _process.ExitCode : -1)})");
        return JsonSerializer.Deserialize<T>(line) ?? throw new InvalidOperationException($"the viewers' process said '{line}'");
    }
}
