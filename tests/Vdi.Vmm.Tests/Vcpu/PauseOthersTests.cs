using Vdi.Vmm.Vcpu;

namespace Vdi.Vmm.Tests.Vcpu;

/// <summary>A vCPU thread pausing all the others (the concurrency guard's stall) through <see cref="PauseRendezvous"/>.</summary>
public sealed class PauseOthersTests
{
    [Fact]
    public void A_lone_vcpu_pauses_the_others_without_waiting_for_itself()
    {
        var rendezvous = new PauseRendezvous();
        rendezvous.Join();
        Assert.True(rendezvous.TryPauseOthers(0));
        var waiter = new Thread(rendezvous.WaitOthersParked) { IsBackground = true };
        waiter.Start();
        Assert.True(waiter.Join(TimeSpan.FromSeconds(5)));
        Assert.True(rendezvous.PauseRequested);
        rendezvous.ResumeOthers();
        Assert.False(rendezvous.PauseRequested);
    }

    [Fact]
    public void Vcpus_asking_at_once_take_turns_and_each_runs_alone()
    {
        const int Threads = 3;
        const int Rounds = 2000;
        var rendezvous = new PauseRendezvous();
        var inside = 0;
        var overlaps = 0;
        long plainCounter = 0;
        var workers = Enumerable.Range(0, Threads).Select(index =>
        {
            rendezvous.Join();
            return new Thread(() =>
            {
                try
                {
                    for (var round = 0; round < Rounds; round++)
                    {
                        rendezvous.Checkpoint(index); // between "instructions"
                        while (!rendezvous.TryPauseOthers(index))
                            rendezvous.Checkpoint(index);
                        rendezvous.WaitOthersParked();
                        if (Interlocked.Increment(ref inside) != 1)
                            Interlocked.Increment(ref overlaps);
                        plainCounter++; // not atomic: only correct if the others really are parked
                        Interlocked.Decrement(ref inside);
                        rendezvous.ResumeOthers();
                    }
                }
                finally
                {
                    rendezvous.Leave();
                }
            }) { IsBackground = true };
        }).ToList();
        workers.ForEach(t => t.Start());

        Assert.All(workers, t => Assert.True(t.Join(TimeSpan.FromSeconds(60)), "a vCPU thread never finished: deadlock"));
        Assert.Equal(0, overlaps);
        Assert.Equal(Threads * Rounds, plainCounter);
    }

    [Fact]
    public void A_host_pause_requested_during_a_stall_stays_in_force_after_it()
    {
        var rendezvous = new PauseRendezvous();
        rendezvous.Join(); // the stalling vCPU
        rendezvous.Join(); // another vCPU, parked by the stall
        Assert.True(rendezvous.TryPauseOthers(0));
        var other = new Thread(() => rendezvous.Checkpoint(1)) { IsBackground = true };
        other.Start();
        rendezvous.WaitOthersParked();
        rendezvous.RequestPause(); // the host, meanwhile
        Assert.False(rendezvous.TryPauseOthers(0)); // nobody else may stall now

        rendezvous.ResumeOthers();
        Assert.True(rendezvous.PauseRequested);
        Assert.False(other.Join(200)); // still parked: the host's pause holds
        var stallerParked = new Thread(() => rendezvous.Checkpoint(0)) { IsBackground = true };
        stallerParked.Start();
        Assert.True(rendezvous.WaitAllParked(TimeSpan.FromSeconds(5)));
        rendezvous.Resume();
        Assert.True(other.Join(TimeSpan.FromSeconds(5)));
        Assert.True(stallerParked.Join(TimeSpan.FromSeconds(5)));
    }

    [Fact]
    public void The_stalling_vcpu_runs_on_through_its_own_checkpoints_until_the_host_pauses()
    {
        var rendezvous = new PauseRendezvous();
        rendezvous.Join(); // vCPU 0 stalls the others across guest entries (privileged mode)
        rendezvous.Join();
        Assert.True(rendezvous.TryPauseOthers(0));
        var other = new Thread(() => rendezvous.Checkpoint(1)) { IsBackground = true };
        other.Start();
        rendezvous.WaitOthersParked();

        Assert.False(rendezvous.Checkpoint(0)); // its own stall does not park it
        Assert.False(other.Join(100));

        rendezvous.RequestPause();
        var staller = new Thread(() => rendezvous.Checkpoint(0)) { IsBackground = true };
        staller.Start();
        Assert.True(rendezvous.WaitAllParked(TimeSpan.FromSeconds(5))); // a host pause parks it too
        rendezvous.Resume();
        Assert.True(staller.Join(TimeSpan.FromSeconds(5)));
        Assert.False(other.Join(100)); // still stalled by vCPU 0
        rendezvous.ResumeOthers();
        Assert.True(other.Join(TimeSpan.FromSeconds(5)));
    }
}
