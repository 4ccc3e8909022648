using Vdi.Vmm.FaultTolerance;

namespace Vdi.Vmm.Machine;

/// <summary>A machine under an execution journal: the one that records, or the one that replays (fault tolerance).</summary>
public sealed partial class Machine
{
    /// <summary>The journal this machine records into or replays from; null when it runs free.</summary>
    public ExecutionJournal? Journal { get; private set; }

    /// <summary>
    /// Before the machine starts: from now on it records into <paramref name="journal"/>, or replays it, and its
    /// outputs — serial bytes, flushed frames — are noted in it for comparison. Needs one vCPU. On the software engine
    /// the journal's count is the instructions retired, exact; on KVM it is the vCPU's exits, and the replay is quasi
    /// (<see cref="ExecutionJournal.Exact"/>).
    /// </summary>
    public void UseJournal(ExecutionJournal journal)
    {
        ArgumentNullException.ThrowIfNull(journal);
        lock (_gate)
        {
            if (_state != MachineState.Created || Journal is not null)
                throw new InvalidOperationException($"a journal is chosen before the machine starts, once; it is {_state}");
            switch (_vcpus)
            {
                case [Execution.Software.SoftVcpuThread soft]:
                    journal.Attach(this, () => soft.InstructionsRetired, exact: true);
                    soft.UseJournal(journal);
                    break;
                case [Vcpu.VcpuThread kvm]:
                    journal.Attach(this, () => kvm.Exits, exact: false);
                    kvm.UseJournal(journal);
                    break;
                default:
                    throw new InvalidOperationException($"an execution journal needs one vCPU: its count orders the journal; this machine has {_vcpus.Length}");
            }
            Devices.Hypercalls.Journal = journal;
            Devices.Com1.ByteOutput = b => journal.RecordOutput(OutputKind.Serial, b, 0);
            Devices.Gpu.FrameOutput = (rect, hash) => journal.RecordOutput(OutputKind.Frame, GuestOutput.Rect(rect.X, rect.Y, rect.Width, rect.Height), hash);
            Devices.Display.Route = (properties, queued) => journal.Submit(new DisplayInput(properties) { Queued = queued });
            Journal = journal;
        }
    }

    /// <summary>
    /// Under a journal: where its one vCPU is in the journal's order — instructions retired on the software engine,
    /// exits on KVM; null without a journal.
    /// </summary>
    public long? JournalPosition => Journal is null ? null : _vcpus switch
    {
        [Execution.Software.SoftVcpuThread soft] => soft.InstructionsRetired,
        [Vcpu.VcpuThread kvm] => kvm.Exits,
        _ => null,
    };

    /// <summary>
    /// An input from the host: recorded and applied by the vCPU's thread at its next instruction boundary when the
    /// machine records; applied at once when it runs free. A replaying machine takes inputs from its journal only.
    /// </summary>
    public void Submit(GuestInput input)
    {
        ArgumentNullException.ThrowIfNull(input);
        if (Journal is { } journal)
            journal.Submit(input);
        else
            input.Apply(this);
    }
}
