using Vdi.Vmm.Introspection;

namespace Vdi.Vmm.Machine;

/// <summary>Host reads of guest memory by guest-virtual address (<see cref="GuestReader"/>), with a fault forwarded to the guest when asked.</summary>
public sealed partial class Machine
{
    private static readonly TimeSpan s_introspectionPause = TimeSpan.FromSeconds(5);

    /// <summary>vCPU <paramref name="vcpu"/>'s CR3; a running machine is paused for the read (on KVM it is an ioctl on a vCPU out of the guest).</summary>
    public ulong ReadCr3(int vcpu)
    {
        ArgumentOutOfRangeException.ThrowIfGreaterThanOrEqual((uint)vcpu, (uint)_vcpus.Length, nameof(vcpu));
        ulong cr3 = 0;
        RunWithAllParked(() => cr3 = _vcpus[vcpu].ReadCr3());
        return cr3;
    }

    /// <summary>Reads through <paramref name="cr3"/>'s tables; a fault is an error result, or goes to <paramref name="handler"/>.</summary>
    public GuestRead ReadVirtual(ulong cr3, ulong linear, Span<byte> destination, IntrospectionFaultHandler? handler = null)
    {
        using var lease = Lease();
        return lease.IsHeld ? GuestReader.Read(Memory, cr3, linear, destination, handler) : new GuestRead(false, 0, new IntrospectionFault(linear, WalkFault.OutsideRam));
    }

    /// <summary>
    /// Reads through vCPU <paramref name="vcpu"/>'s tables (its CR3 read once, the machine paused for it); a fault, or a
    /// machine that does not run, is an error result.
    /// </summary>
    public GuestRead ReadVirtualAs(int vcpu, ulong linear, Span<byte> destination)
    {
        ulong cr3;
        try
        {
            cr3 = ReadCr3(vcpu);
        }
        catch (InvalidOperationException)
        {
            return new GuestRead(false, 0, new IntrospectionFault(linear, WalkFault.OutsideRam));
        }
        return ReadVirtual(cr3, linear, destination);
    }

    /// <summary>
    /// Reads through vCPU <paramref name="vcpu"/>'s tables; a page fault on the way is forwarded: with the machine paused,
    /// the vCPU is made to take the #PF the guest would have taken (CR2, error code), the machine resumes, the guest's
    /// own handler runs, and the read is retried until it translates or <paramref name="timeout"/> passes. A fault the
    /// guest's handler cannot fix (non-canonical, outside RAM) is an error result at once. Never throws for the guest's
    /// state; throws <see cref="InvalidOperationException"/> when the machine is not running.
    /// </summary>
    public async Task<GuestRead> ReadVirtualForwardingAsync(int vcpu, ulong linear, byte[] destination, TimeSpan timeout, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(destination);
        ArgumentOutOfRangeException.ThrowIfGreaterThanOrEqual((uint)vcpu, (uint)_vcpus.Length, nameof(vcpu));
        ulong cr3 = 0;
        GuestRead first = default;
        RunWithAllParked(() =>
        {
            cr3 = _vcpus[vcpu].ReadCr3();
            first = ReadVirtual(cr3, linear, destination);
            if (!first.Succeeded && first.Fault is { Fault: WalkFault.NotPresent or WalkFault.Reserved } fault)
                _vcpus[vcpu].InjectPageFault(fault.Linear, fault.PageFaultErrorCode);
        });
        if (first.Succeeded || first.Fault is not { Fault: WalkFault.NotPresent or WalkFault.Reserved })
            return first;

        var deadline = DateTime.UtcNow + timeout;
        while (true)
        {
            await Task.Delay(1, cancellationToken).ConfigureAwait(false);
            var again = ReadVirtual(cr3, linear, destination);
            if (again.Succeeded || DateTime.UtcNow >= deadline || State is not (MachineState.Running or MachineState.Paused))
                return again with { Forwarded = true };
        }
    }

    /// <summary>Runs <paramref name="action"/> with every vCPU parked (the machine paused), or directly when none runs.</summary>
    private void RunWithAllParked(Action action)
    {
        if (State != MachineState.Running)
        {
            if (State is MachineState.Paused or MachineState.Created)
            {
                action();
                return;
            }
            throw new InvalidOperationException($"machine is {State}");
        }
        if (!PauseAll(s_introspectionPause))
        {
            ResumeAll();
            throw new InvalidOperationException(_rendezvous.Released ? "the machine stopped" : "the vCPUs did not park");
        }
        try
        {
            action();
        }
        finally
        {
            ResumeAll();
        }
    }
}
