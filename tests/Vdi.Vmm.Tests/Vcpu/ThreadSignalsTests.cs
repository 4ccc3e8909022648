using System.Globalization;
using Tmds.Linux;
using Vdi.Vmm.Interop;
using static Tmds.Linux.LibC;

namespace Vdi.Vmm.Tests.Vcpu;

/// <summary>
/// The kick signal, on dedicated threads that block it first: an unblocked kick would terminate
/// the test host, so no test sends one before its target confirmed the block.
/// </summary>
public sealed unsafe class ThreadSignalsTests
{
    private static readonly TimeSpan s_long = TimeSpan.FromSeconds(10);

    private static ulong KickBit => 1UL << (ThreadSignals.KickSignal - 1);

    /// <summary>A signal mask of the calling thread from /proc ("SigBlk", "SigPnd"): what the kernel sees, independent of libc.</summary>
    private static ulong ThreadMask(string field)
    {
        var line = File.ReadLines("/proc/thread-self/status").Single(l => l.StartsWith(field + ":", StringComparison.Ordinal));
        return ulong.Parse(line[(field.Length + 1)..].Trim(), NumberStyles.HexNumber, CultureInfo.InvariantCulture);
    }

    private static void RunOnDedicatedThread(Action body)
    {
        Exception? failure = null;
        var thread = new Thread(() =>
        {
            try
            {
                body();
            }
#pragma warning disable CA1031 // rethrown on the test thread; escaping here would kill the test host
            catch (Exception e)
#pragma warning restore CA1031
            {
                failure = e;
            }
        });
        thread.Start();
        Assert.True(thread.Join(s_long), "the signal thread did not finish");
        if (failure is not null)
            throw new InvalidOperationException("the signal thread failed", failure);
    }

    [Fact]
    public void KicksToAThreadThatBlocksThemStayPendingUntilDrained()
    {
        var blocked = new ManualResetEventSlim();
        var kicked = new ManualResetEventSlim();
        int blockResult = -1, tid = 0, firstDrain = -1, secondDrain = -1;
        ulong pendingBefore = 0, pendingAfter = 0;
        var thread = new Thread(() =>
        {
            blockResult = ThreadSignals.BlockKickInCurrentThread();
            if (blockResult == 0)
                tid = LibcCalls.GetThreadId();
            blocked.Set();
            if (blockResult != 0 || !kicked.Wait(s_long))
                return;
            pendingBefore = ThreadMask("SigPnd");
            firstDrain = ThreadSignals.DrainPendingKicks();
            secondDrain = ThreadSignals.DrainPendingKicks();
            pendingAfter = ThreadMask("SigPnd");
        });
        thread.Start();
        try
        {
            Assert.True(blocked.Wait(s_long));
            Assert.Equal(0, blockResult);
            Assert.NotEqual(0, tid);
            Assert.NotEqual(Environment.ProcessId, tid); // a thread of its own, not the process

            Assert.Equal(0, ThreadSignals.Kick(tid));
            Assert.Equal(0, ThreadSignals.Kick(tid));
        }
        finally
        {
            kicked.Set();
            Assert.True(thread.Join(s_long));
        }

        Assert.Equal(KickBit, pendingBefore & KickBit);
        Assert.Equal(2, firstDrain); // a real-time signal: both kicks queue
        Assert.Equal(0, secondDrain);
        Assert.Equal(0UL, pendingAfter & KickBit);
    }

    [Fact]
    public void DrainWithNothingPendingReturnsAtOnce()
    {
        var drained = -1;

        RunOnDedicatedThread(() =>
        {
            Assert.Equal(0, ThreadSignals.BlockKickInCurrentThread());
            drained = ThreadSignals.DrainPendingKicks();
        });

        Assert.Equal(0, drained);
    }

    [Fact]
    public void BlockingAddsTheKickToTheThreadsKernelMask()
    {
        ulong before = 0, after = 0;

        RunOnDedicatedThread(() =>
        {
            before = ThreadMask("SigBlk");
            Assert.Equal(0, ThreadSignals.BlockKickInCurrentThread());
            after = ThreadMask("SigBlk");
        });

        Assert.Equal(0UL, before & KickBit);
        Assert.Equal(before | KickBit, after);
    }

    [Fact]
    public void RunMaskIsTheThreadsMaskWithoutTheKick()
    {
        var other = ThreadSignals.KickSignal + 1;
        ulong blockedMask = 0, runMask = 0;

        RunOnDedicatedThread(() =>
        {
            Assert.Equal(0, ThreadSignals.BlockKickInCurrentThread());
            sigset_t set;
            // SAFETY: set is a local the calls initialise; blocking a second signal on this
            // short-lived thread only shows that the run mask keeps the thread's other bits.
            _ = sigemptyset(&set);
            _ = sigaddset(&set, other);
            Assert.Equal(0, pthread_sigmask(SIG_BLOCK, &set, null));
            blockedMask = ThreadMask("SigBlk");
            runMask = ThreadSignals.KernelMaskForRun();
        });

        var otherBit = 1UL << (other - 1);
        Assert.Equal(KickBit | otherBit, blockedMask & (KickBit | otherBit));
        Assert.Equal(blockedMask & ~KickBit, runMask);
    }

    [Fact]
    public void KickingAThreadThatDoesNotExistFails() => Assert.Equal(-1, ThreadSignals.Kick(-5));
}
