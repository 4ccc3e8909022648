using System.Diagnostics;

namespace Vdi.Vmm.Tests.Sandbox;

/// <summary>Runs `vdi-vmm` as a child process, as the broker will run a desktop's host process.</summary>
internal static class VmmProcess
{
    public sealed record Result(int ExitCode, string Stdout, string Stderr);

    public static async Task<Result> RunAsync(params string[] args)
    {
        var info = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true };
        info.ArgumentList.Add(Path.Combine(AppContext.BaseDirectory, "vdi-vmm.dll"));
        foreach (var arg in args)
            info.ArgumentList.Add(arg);
        using var process = Process.Start(info)!;
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        await process.WaitForExitAsync().WaitAsync(TimeSpan.FromSeconds(120));
        return new Result(process.ExitCode, await stdout, await stderr);
    }

    /// <summary>A fresh folder standing for the sandboxed process's own area, deleted with the returned handle.</summary>
    public static TempFolder Folder(string name) => new(Path.Combine(Path.GetTempPath(), $"vdi-{name}-{Guid.NewGuid():N}"));

    public sealed class TempFolder : IDisposable
    {
        public TempFolder(string path)
        {
            Path = path;
            Directory.CreateDirectory(path);
        }

        public string Path { get; }

        public void Dispose() => Directory.Delete(Path, recursive: true);
    }
}
