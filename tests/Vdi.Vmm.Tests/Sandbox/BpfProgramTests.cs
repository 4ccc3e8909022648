using Vdi.Vmm.Sandbox;

namespace Vdi.Vmm.Tests.Sandbox;

/// <summary>The filter as a program: run by a small classic-BPF interpreter on made-up <c>seccomp_data</c>.</summary>
public sealed class BpfProgramTests
{
    private const uint X86_64 = 0xC000003E, I386 = 0x40000003;
    private const uint Allow = 0x7fff0000, Trap = 0x00030000, KillProcess = 0x80000000, ErrnoEnosys = 0x00050000 | 38;
    private const int Pid = 4242;

    private static readonly SockFilter[] s_program = BpfProgram.Build(SyscallAllowList.For(Pid));

    [Theory]
    [InlineData("write", Allow)]
    [InlineData("futex", Allow)]
    [InlineData("ioctl", Allow)]
    [InlineData("ptrace", Trap)]
    [InlineData("execve", Trap)]
    [InlineData("socket", Trap)]
    [InlineData("mount", Trap)]
    [InlineData("clone3", ErrnoEnosys)]
    public void Calls_get_their_answer(string name, uint action) =>
        Assert.Equal(action, Run(X86_64, SyscallNames.Number(name)));

    [Fact]
    public void Another_architecture_and_x32_numbers_kill_the_process()
    {
        Assert.Equal(KillProcess, Run(I386, SyscallNames.Number("write")));
        Assert.Equal(KillProcess, Run(X86_64, 0x40000000 | SyscallNames.Number("write")));
    }

    [Fact]
    public void Clone_is_allowed_only_for_threads()
    {
        Assert.Equal(Allow, Run(X86_64, 56, 0x3d0f00));   // glibc's pthread_create flags
        Assert.Equal(Trap, Run(X86_64, 56, 0x1200011));   // fork()
    }

    [Fact]
    public void Nobody_may_replace_the_sigsys_reporter_and_tgkill_stays_in_the_process()
    {
        Assert.Equal(KillProcess, Run(X86_64, 13, 31));
        Assert.Equal(Allow, Run(X86_64, 13, 2));
        Assert.Equal(Allow, Run(X86_64, 234, Pid, 99, 35));
        Assert.Equal(Trap, Run(X86_64, 234, 1, 1, 9));
    }

    [Fact]
    public void Limits_can_be_read_but_not_set_and_prctl_only_names_things()
    {
        Assert.Equal(Allow, Run(X86_64, 302, 0, 9, 0, 0x7fff0000));
        Assert.Equal(Trap, Run(X86_64, 302, 0, 9, 0x7fff0000));
        Assert.Equal(Trap, Run(X86_64, 302, 0, 9, 1UL << 40));
        Assert.Equal(Allow, Run(X86_64, 157, 15));
        Assert.Equal(Trap, Run(X86_64, 157, 38));          // PR_SET_NO_NEW_PRIVS: nothing to do once sandboxed
    }

    [Fact]
    public void The_table_names_match_their_numbers_and_appear_once()
    {
        var table = SyscallAllowList.For(Pid);
        Assert.All(table, c => Assert.Equal(c.Name, SyscallNames.Of(c.Number)));
        Assert.Equal(table.Count, table.Select(c => c.Number).Distinct().Count());
        Assert.True(s_program.Length < 4096);
    }

    [Fact]
    public void Sock_filter_has_the_kernel_layout() =>
        // struct sock_filter { __u16 code; __u8 jt; __u8 jf; __u32 k; }
        Assert.Equal(8, System.Runtime.InteropServices.Marshal.SizeOf<SockFilter>());

    /// <summary>Classic BPF over struct seccomp_data: only the instructions the builder emits.</summary>
    private static uint Run(uint arch, int nr, params ulong[] args)
    {
        var data = new byte[64];
        BitConverter.TryWriteBytes(data.AsSpan(0), nr);
        BitConverter.TryWriteBytes(data.AsSpan(4), arch);
        for (var i = 0; i < args.Length; i++)
            BitConverter.TryWriteBytes(data.AsSpan(16 + 8 * i), args[i]);
        uint a = 0;
        for (var pc = 0; pc < s_program.Length; pc++)
        {
            var f = s_program[pc];
            switch (f.Code)
            {
                case 0x20: a = BitConverter.ToUInt32(data, (int)f.K); break;
                case 0x54: a &= f.K; break;
                case 0x15: pc += a == f.K ? f.Jt : f.Jf; break;
                case 0x35: pc += a >= f.K ? f.Jt : f.Jf; break;
                case 0x06: return f.K;
                default: throw new InvalidOperationException($"unexpected opcode {f.Code:x}");
            }
        }
        throw new InvalidOperationException("fell off the end");
    }
}
