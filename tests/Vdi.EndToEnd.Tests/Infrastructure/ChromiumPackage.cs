using System.Diagnostics;

namespace Vdi.EndToEnd.Tests.Infrastructure;

/// <summary>
/// Makes sure Debian's Chromium is installed before the first browser starts, so `dotnet test` on a fresh machine needs
/// no step by hand: as root, with apt-get, it installs the package (once per process; apt's own lock orders two test
/// processes); otherwise, or when the install fails, it says in one line what to run.
/// </summary>
internal static class ChromiumPackage
{
    private static readonly TimeSpan s_timeout = TimeSpan.FromMinutes(15);
    private static readonly SemaphoreSlim s_gate = new(1, 1);

    public static async Task EnsureInstalledAsync(string executablePath)
    {
        if (File.Exists(executablePath))
            return;
        await s_gate.WaitAsync();
        try
        {
            if (File.Exists(executablePath))
                return;
            var fix = $"{executablePath} is missing: the end-to-end tests drive Debian's Chromium; run `sudo apt-get install -y chromium`.";
            if (Environment.UserName != "root" || !File.Exists("/usr/bin/apt-get"))
                throw new InvalidOperationException(fix);
            Console.Error.WriteLine($"Installing Debian's chromium package for the end-to-end tests ({executablePath} is missing)...");
            var update = await RunAsync("update");
            var install = await RunAsync("install", "-y", "--no-install-recommends", "chromium");
            if (!File.Exists(executablePath))
                throw new InvalidOperationException($"{fix} (apt-get update: {update}; apt-get install: {install})");
        }
        finally
        {
            s_gate.Release();
        }
    }

    /// <summary>Runs apt-get with <paramref name="args"/>; returns "exit N" and the last line it wrote.</summary>
    private static async Task<string> RunAsync(params string[] args)
    {
        var info = new ProcessStartInfo("/usr/bin/apt-get") { RedirectStandardOutput = true, RedirectStandardError = true };
        info.ArgumentList.Add("-o");
        info.ArgumentList.Add("DPkg::Lock::Timeout=600"); // another test process may be installing it right now
        foreach (var arg in args)
            info.ArgumentList.Add(arg);
        info.Environment["DEBIAN_FRONTEND"] = "noninteractive";
        using var process = Process.Start(info)!;
        var output = process.StandardOutput.ReadToEndAsync();
        var errors = process.StandardError.ReadToEndAsync();
        using var timeout = new CancellationTokenSource(s_timeout);
        try
        {
            await process.WaitForExitAsync(timeout.Token);
        }
        catch (OperationCanceledException)
        {
            process.Kill(entireProcessTree: true);
            return $"timed out after {s_timeout.TotalMinutes:F0} min";
        }
        var last = ((await errors).Trim() is { Length: > 0 } e ? e : (await output).Trim()).Split('\n')[^1];
        return $"exit {process.ExitCode}: {last}";
    }
}
