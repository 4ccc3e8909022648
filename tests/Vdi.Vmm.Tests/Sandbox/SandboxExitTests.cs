using Vdi.Vmm.Sandbox;

namespace Vdi.Vmm.Tests.Sandbox;

public sealed class SandboxExitTests
{
    [Theory]
    [InlineData(159, "noise\nvdi-vmm: sandbox: forbidden system call 101\n", "killed by seccomp: system call 101 (ptrace)")]
    [InlineData(159, "", "killed by seccomp (SIGSYS) before it could name the call")]
    [InlineData(137, "", "killed by signal 9")]
    [InlineData(3, "", "exited with code 3")]
    public void Exit_codes_and_the_reporter_line_make_one_sentence(int code, string stderr, string expected) =>
        Assert.Equal(expected, SandboxExit.Describe(code, stderr));

    [Fact]
    public void Syscall_names_cover_the_table_and_unknown_numbers()
    {
        Assert.Equal("openat", SyscallNames.Of(257));
        Assert.Equal("syscall 9999", SyscallNames.Of(9999));
        Assert.Equal(101, SyscallNames.Number("ptrace"));
    }
}
