using Vdi.Server.Desktops;

namespace Vdi.Server.Tests.Desktops;

/// <summary>What the desktop tests wait for: a running desktop's terminal line (read from inside the guest), or a condition.</summary>
internal static class DesktopWaits
{
    /// <summary>Until the terminal's last line is <paramref name="line"/>, as the VMM reads it from the guest (30 s at most).</summary>
    public static async Task UntilLineAsync(DesktopHost host, string line)
    {
        string? last = null;
        for (var i = 0; i < 300; i++)
        {
            last = (await host.InspectAsync())?.LastLine;
            if (last == line)
                return;
            await Task.Delay(100);
        }
        Assert.Fail($"the terminal's last line is '{last}', not '{line}'");
    }

    public static async Task UntilAsync(Func<bool> condition, string what)
    {
        for (var i = 0; i < 600 && !condition(); i++)
            await Task.Delay(50);
        Assert.True(condition(), $"no {what} within 30 s");
    }
}
