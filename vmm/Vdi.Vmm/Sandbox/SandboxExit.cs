using System.Globalization;
using System.Text.RegularExpressions;

namespace Vdi.Vmm.Sandbox;

/// <summary>
/// The parent's side: turns how a sandboxed child ended (its exit code as .NET reports it — 128 + signal for a
/// death by signal — and its stderr) into one line such as "killed by seccomp: system call 101 (ptrace)". The number
/// comes from the <see cref="SigsysReporter"/>'s line; the signal alone says only that seccomp killed it.
/// </summary>
public static partial class SandboxExit
{
    /// <summary>SIGSYS, the signal a seccomp kill (and the reporter) ends a process with.</summary>
    public const int Sigsys = 31;

    [GeneratedRegex(@"vdi-vmm: sandbox: forbidden system call (\d+)")]
    private static partial Regex ReportLine();

    /// <summary>The forbidden call's number from the child's stderr, or null.</summary>
    public static int? ForbiddenCall(string stderr)
    {
        var matches = ReportLine().Matches(stderr);
        return matches.Count == 0 ? null : int.Parse(matches[^1].Groups[1].Value, CultureInfo.InvariantCulture);
    }

    /// <summary>One line for an exit code as <see cref="System.Diagnostics.Process.ExitCode"/> gives it.</summary>
    public static string Describe(int exitCode, string stderr)
    {
        if (exitCode == 128 + Sigsys)
        {
            return ForbiddenCall(stderr) is { } call
                ? $"killed by seccomp: system call {call} ({SyscallNames.Of(call)})"
                : "killed by seccomp (SIGSYS) before it could name the call";
        }
        return exitCode > 128 ? $"killed by signal {exitCode - 128}" : $"exited with code {exitCode}";
    }

    /// <summary>True when the child died by SIGSYS.</summary>
    public static bool KilledBySeccomp(int exitCode) => exitCode == 128 + Sigsys;
}
