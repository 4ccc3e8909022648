using Vdi.Vmm.Vcpu;

namespace Vdi.Vmm.Tests.Vcpu;

public sealed class PauseRendezvousTests : IDisposable
{
    private static readonly TimeSpan s_long = TimeSpan.FromSeconds(10);

    private readonly PauseRendezvous _rendezvous = new();
    private readonly List<Worker> _workers = [];

    /// <summary>Stands in for a vCPU thread: checkpoint, then "run the guest" (count, yield), until told to stop.</summary>
    private sealed class Worker
    {
        private readonly PauseRendezvous _rendezvous;
        private readonly Thread _thread;
        private long _progress;
        private int _parks, _parkCallbacks, _resumeCallbacks;
        private volatile bool _stop;
        private volatile bool _heldInGuest;

        /// <param name="heldInGuest">Starts as a vCPU that no kick gets out of the guest, until <see cref="LeaveGuest"/>.</param>
        public Worker(PauseRendezvous rendezvous, bool heldInGuest)
        {
            _rendezvous = rendezvous;
            _heldInGuest = heldInGuest;
            _rendezvous.Join();
            _thread = new Thread(Run) { IsBackground = true };
            _thread.Start();
        }

        public long Progress => Interlocked.Read(ref _progress);

        /// <summary>(checkpoints that parked, park callbacks, resume callbacks).</summary>
        public (int, int, int) ParkCounts => (Volatile.Read(ref _parks), Volatile.Read(ref _parkCallbacks), Volatile.Read(ref _resumeCallbacks));

        public Exception? Failure { get; private set; }

        public void LeaveGuest() => _heldInGuest = false;

        public void Stop()
        {
            _stop = true;
            _heldInGuest = false;
        }

        public bool Join() => _thread.Join(s_long);

        private void Run()
        {
            try
            {
                while (!_stop)
                {
                    if (_rendezvous.Checkpoint(0, () => Interlocked.Increment(ref _parkCallbacks), () => Interlocked.Increment(ref _resumeCallbacks)))
                        Interlocked.Increment(ref _parks);
                    Interlocked.Increment(ref _progress);
                    while (_heldInGuest)
                        Thread.Sleep(1);
                    Thread.Yield();
                }
            }
#pragma warning disable CA1031 // reported by the test's Dispose; an escaping exception would kill the test host
            catch (Exception e)
#pragma warning restore CA1031
            {
                Failure = e;
            }
            finally
            {
                _rendezvous.Leave();
            }
        }
    }

    private Worker Start(bool heldInGuest = false)
    {
        var worker = new Worker(_rendezvous, heldInGuest);
        _workers.Add(worker);
        return worker;
    }

    private static void WaitUntil(Func<bool> condition)
    {
        Assert.True(SpinWait.SpinUntil(condition, s_long), "condition not reached in time");
    }

    [Fact]
    public void PauseParksEveryWorkerAndStopsTheirProgressUntilResume()
    {
        var workers = Enumerable.Range(0, 4).Select(_ => Start()).ToList();
        WaitUntil(() => workers.All(w => w.Progress > 0));

        _rendezvous.RequestPause();

        Assert.True(_rendezvous.WaitAllParked(s_long));
        Assert.Equal(4, _rendezvous.ParkedCount);
        var frozen = workers.Select(w => w.Progress).ToList();
        Thread.Sleep(50);
        Assert.Equal(frozen, workers.Select(w => w.Progress));

        _rendezvous.Resume();

        Assert.False(_rendezvous.PauseRequested);
        WaitUntil(() => workers.Select((w, i) => w.Progress > frozen[i]).All(moved => moved));
        WaitUntil(() => _rendezvous.ParkedCount == 0);
        Assert.All(workers, w => Assert.Equal((1, 1, 1), w.ParkCounts));
    }

    [Fact]
    public void WorkersCanBePausedAgainRightAfterAResume()
    {
        var workers = Enumerable.Range(0, 3).Select(_ => Start()).ToList();

        for (var round = 0; round < 20; round++)
        {
            _rendezvous.RequestPause();
            Assert.True(_rendezvous.WaitAllParked(s_long), $"round {round}");
            Assert.Equal(3, _rendezvous.ParkedCount);
            _rendezvous.Resume();
        }
    }

    [Fact]
    public void CheckpointWithoutAPauseReturnsAtOnce()
    {
        var parked = false;

        Assert.False(_rendezvous.Checkpoint(0, () => parked = true));

        Assert.False(parked);
        Assert.Equal(0, _rendezvous.ParkedCount);
    }

    [Fact]
    public void AWorkerThatLeavesInsteadOfParkingDoesNotHoldUpThePause()
    {
        Start();
        Start();
        var finishing = Start(heldInGuest: true); // in the guest; it will finish instead of parking
        WaitUntil(() => finishing.Progress > 0);

        _rendezvous.RequestPause();
        bool? allParked = null;
        var waiter = new Thread(() => allParked = _rendezvous.WaitAllParked(s_long));
        waiter.Start();
        WaitUntil(() => _rendezvous.ParkedCount == 2);
        Thread.Sleep(50);
        Assert.True(waiter.IsAlive); // still waiting for the worker in the guest

        finishing.Stop();

        Assert.True(finishing.Join());
        Assert.True(waiter.Join(s_long));
        Assert.True(allParked);
        Assert.Equal((0, 0, 0), finishing.ParkCounts);
    }

    [Fact]
    public void WaitTimesOutWhenAWorkerNeverReachesACheckpoint()
    {
        Start();
        var late = Start(heldInGuest: true);
        WaitUntil(() => late.Progress > 0);

        _rendezvous.RequestPause();

        Assert.False(_rendezvous.WaitAllParked(TimeSpan.FromMilliseconds(200)));
        Assert.Equal(1, _rendezvous.ParkedCount);

        late.LeaveGuest(); // it leaves the guest and reaches its checkpoint

        Assert.True(_rendezvous.WaitAllParked(s_long));
        Assert.Equal(2, _rendezvous.ParkedCount);
    }

    [Fact]
    public void ReleaseFreesParkedWorkersForGood()
    {
        var workers = Enumerable.Range(0, 3).Select(_ => Start()).ToList();
        _rendezvous.RequestPause();
        Assert.True(_rendezvous.WaitAllParked(s_long));
        var frozen = workers.Select(w => w.Progress).ToList();

        _rendezvous.Release();

        WaitUntil(() => workers.Select((w, i) => w.Progress > frozen[i]).All(moved => moved));
        Assert.Equal(0, _rendezvous.ParkedCount);

        _rendezvous.RequestPause(); // after release nobody parks any more
        var moving = workers.Select(w => w.Progress).ToList();
        WaitUntil(() => workers.Select((w, i) => w.Progress > moving[i] + 10).All(moved => moved));
        Assert.False(_rendezvous.WaitAllParked(TimeSpan.Zero)); // released: the workers run on to their end, none is parked
    }

    public void Dispose()
    {
        foreach (var worker in _workers)
            worker.Stop();
        _rendezvous.Release();
        foreach (var worker in _workers)
        {
            Assert.True(worker.Join(), "a worker did not finish");
            Assert.Null(worker.Failure);
        }
    }
}
