using Vdi.Vmm.Interop;
using Vdi.Vmm.Vcpu;

namespace Vdi.Vmm.Tests.Vcpu;

public sealed class ThreadCpuTimeTests
{
    [Fact]
    public void A_busy_thread_accumulates_cpu_time_and_a_sleeping_one_does_not()
    {
        TimeSpan? busyBefore = null, busyAfter = null, idleBefore = null, idleAfter = null;
        var busy = new Thread(() =>
        {
            var tid = LibcCalls.GetThreadId();
            busyBefore = ThreadCpuTime.Read(tid);
            var until = DateTime.UtcNow.AddMilliseconds(300);
            var x = 0UL;
            while (DateTime.UtcNow < until)
                x = (x * 6364136223846793005UL) + 1;
            busyAfter = ThreadCpuTime.Read(tid);
            GC.KeepAlive(x);
        });
        var idle = new Thread(() =>
        {
            var tid = LibcCalls.GetThreadId();
            idleBefore = ThreadCpuTime.Read(tid);
            Thread.Sleep(300);
            idleAfter = ThreadCpuTime.Read(tid);
        });
        busy.Start();
        idle.Start();
        busy.Join();
        idle.Join();

        Assert.InRange((busyAfter!.Value - busyBefore!.Value).TotalMilliseconds, 30, 1000);
        Assert.InRange((idleAfter!.Value - idleBefore!.Value).TotalMilliseconds, 0, 30);
    }

    [Fact]
    public void A_thread_that_does_not_exist_has_no_cpu_time() => Assert.Null(ThreadCpuTime.Read(int.MaxValue));
}
