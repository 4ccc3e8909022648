using System.Diagnostics;

namespace Vdi.Tests.Shared;

/// <summary>
/// A Debian package a test needs (Chromium for the browser tests, edid-decode for the EDID checks), installed before
/// first use so `dotnet test` on a fresh machine needs no step by hand: as root, with apt-get, it installs the package
/// (once per process; apt's own lock orders two test processes); otherwise, or when the install fails, it says in one
/// line what to run. Compiled into each test project that needs it.
/// </summary>
internal static class DebianPackage
{
    private static readonly TimeSpan s_timeout = TimeSpan.FromMinutes(15);
    private static readonly SemaphoreSlim s_gate = new(1, 1);

    /// <param name="executablePath">The file the package installs and the test runs.</param>
    /// <param name="package">The Debian package that provides it.</param>
    /// <param name="purpose">What needs it, for the one-line fix ("the end-to-end tests drive Debian's Chromium").</param>
    public static async Task EnsureInstalledAsync(string executablePath, string package, string purpose)
    {
        if (File.Exists(executablePath))
            return;
        await s_gate.WaitAsync();
        try
        {
            if (File.Exists(executablePath))
                return;
            var fix = $"{executablePath} is missing: {purpose}; run `sudo apt-get install -y {package}`.";
            if (Environment.UserName != "root" || !File.Exists("/usr/bin/apt-get"))
                throw new InvalidOperationException(fix);
            Console.Error.WriteLine($"Installing Debian's {package} package for the tests ({executablePath} is missing)...");
            var update = await RunAsync("update");
            var install = await RunAsync("install", "-y", "--no-install-recommends", package);
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
        info.ArgumentList.Add("DPkg::Lock::Timeout=600"); // another test process may be installing right now
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
