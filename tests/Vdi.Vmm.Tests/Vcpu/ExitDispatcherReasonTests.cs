using Vdi.Vmm.Vcpu;
using static Vdi.Vmm.Interop.KvmConstants;

namespace Vdi.Vmm.Tests.Vcpu;

public sealed class ExitDispatcherReasonTests : ExitDispatcherFixture
{
    [Fact]
    public void ShutdownIsATripleFaultCrash()
    {
        Run.SetReason(KVM_EXIT_SHUTDOWN);

        var result = Dispatch();

        Assert.Equal(ExitAction.Crash, result.Action);
        Assert.Contains("triple fault", result.Reason, StringComparison.Ordinal);
    }

    [Fact]
    public void FailedEntryIsACrashNamingTheHardwareReason()
    {
        Run.SetFailEntry(0x8000_0021);

        var result = Dispatch();

        Assert.Equal(ExitAction.Crash, result.Action);
        Assert.Contains("0x80000021", result.Reason, StringComparison.Ordinal);
    }

    [Fact]
    public void InternalErrorIsACrashNamingTheSuberror()
    {
        Run.SetInternalError(1);

        var result = Dispatch();

        Assert.Equal(ExitAction.Crash, result.Action);
        Assert.Contains("internal error", result.Reason, StringComparison.Ordinal);
        Assert.Contains("suberror 1", result.Reason, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData(KVM_EXIT_UNKNOWN)]
    [InlineData(KVM_EXIT_EXCEPTION)]
    [InlineData(KVM_EXIT_DEBUG)]
    [InlineData(0x1234u)]
    public void UnhandledReasonIsACrashNamingTheRawReason(uint reason)
    {
        Run.SetReason(reason);

        var result = Dispatch();

        Assert.Equal(ExitAction.Crash, result.Action);
        Assert.Equal($"unhandled exit reason {reason}", result.Reason);
    }

    [Fact]
    public void HltWithoutAnIrqchipIsACrash()
    {
        Run.SetReason(KVM_EXIT_HLT);

        Assert.Equal(ExitAction.Crash, Dispatch().Action);
    }

    [Fact]
    public void InterruptedRunContinues()
    {
        Run.SetReason(KVM_EXIT_INTR);

        Assert.Equal(ExitResult.Continue, Dispatch());
    }

    [Theory]
    [InlineData(1u, ExitAction.PowerOff)] // KVM_SYSTEM_EVENT_SHUTDOWN
    [InlineData(2u, ExitAction.Crash)] // KVM_SYSTEM_EVENT_RESET
    [InlineData(3u, ExitAction.Crash)] // KVM_SYSTEM_EVENT_CRASH
    public void SystemEventShutdownPowersOffAndAnythingElseCrashes(uint type, ExitAction expected)
    {
        Run.SetSystemEvent(type);

        Assert.Equal(expected, Dispatch().Action);
    }

    [Fact]
    public void TerminalExitsTouchNoDeviceRegisterOrLog()
    {
        var device = AddPioDevice(0, 0x1_0000);
        foreach (var reason in new[] { KVM_EXIT_SHUTDOWN, KVM_EXIT_FAIL_ENTRY, KVM_EXIT_INTERNAL_ERROR, 99u })
        {
            Run.SetReason(reason);
            Dispatch();
        }

        Assert.Empty(device.Calls);
        Assert.Equal(0, Registers.Gets + Registers.Sets);
        Assert.Equal(0, Log.Total);
    }
}
