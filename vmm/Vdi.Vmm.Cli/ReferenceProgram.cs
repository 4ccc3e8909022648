using System.Diagnostics;
using System.Globalization;

namespace Vdi.Vmm.Cli;

/// <summary>The C reference exit benchmark in tests/reference/: built with cc on first use, run on the same guest bytes.</summary>
internal static class ReferenceProgram
{
    public static string Build()
    {
        var root = FindRepositoryRoot();
        var source = Path.Combine(root, "tests", "reference", "exit_bench.c");
        var output = Path.Combine(root, "tests", "reference", "build", "exit_bench");
        Directory.CreateDirectory(Path.GetDirectoryName(output)!);
        if (File.Exists(output) && File.GetLastWriteTimeUtc(output) >= File.GetLastWriteTimeUtc(source))
            return output;
        var (code, _, err) = RunProcess("cc", ["-O2", "-Wall", "-Wextra", "-std=c11", "-o", output, source]);
        if (code != 0)
            throw new InvalidOperationException($"cc failed to build {source}: {err.Trim()}");
        return output;
    }

    /// <summary>Runs the reference on a guest image and returns its measured nanoseconds from first entry to power-off.</summary>
    public static long Run(string program, byte[] guest, ulong loadAddress)
    {
        var file = Path.GetTempFileName();
        try
        {
            File.WriteAllBytes(file, guest);
            var (code, stdout, stderr) = RunProcess(program, [file, loadAddress.ToString("X", CultureInfo.InvariantCulture)]);
            if (code != 0)
                throw new InvalidOperationException($"reference program failed: {stderr.Trim()}");
            foreach (var field in stdout.Split(' ', StringSplitOptions.RemoveEmptyEntries))
            {
                if (field.StartsWith("elapsed_ns=", StringComparison.Ordinal))
                    return long.Parse(field["elapsed_ns=".Length..], CultureInfo.InvariantCulture);
            }
            throw new InvalidOperationException($"reference program printed no elapsed_ns: {stdout.Trim()}");
        }
        finally
        {
            File.Delete(file);
        }
    }

    private static string FindRepositoryRoot()
    {
        foreach (var start in new[] { Environment.CurrentDirectory, AppContext.BaseDirectory })
        {
            for (var dir = new DirectoryInfo(start); dir is not null; dir = dir.Parent)
            {
                if (File.Exists(Path.Combine(dir.FullName, "tests", "reference", "exit_bench.c")))
                    return dir.FullName;
            }
        }
        throw new InvalidOperationException("cannot find tests/reference/exit_bench.c: run the benchmark from the repository");
    }

    private static (int Code, string Stdout, string Stderr) RunProcess(string file, IEnumerable<string> arguments)
    {
        var info = new ProcessStartInfo(file) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (var a in arguments)
            info.ArgumentList.Add(a);
        using var process = Process.Start(info) ?? throw new InvalidOperationException($"cannot start {file}");
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        process.WaitForExit();
        return (process.ExitCode, stdout.Result, stderr.Result);
    }
}
