namespace Vdi.Vmm.State;

/// <summary>
/// The guest's clock section (<c>clock</c>, version 1): <c>ns</c>, the guest's monotonic time in nanoseconds when
/// saved — KVM's kvmclock (<c>KVM_GET_CLOCK</c>), the software engine's count since the machine was made. A restore
/// sets it so the guest's clock goes on from the saved value: the time the state spent saved does not pass for the
/// guest. The desktop guest's wall clock comes from a hypercall that reads the host's real time, so it is right after
/// a restore whatever this says.
/// </summary>
public static class GuestClockState
{
    public const string SectionName = "clock";
    public const ushort Version = 1;

    public static void Write(SectionWriter section, ulong nanoseconds) => section.U64("ns", nanoseconds);

    public static ulong Read(SavedSection section)
    {
        var ns = section.U64("ns", 0, long.MaxValue);
        section.EnsureAllRead();
        return ns;
    }
}
