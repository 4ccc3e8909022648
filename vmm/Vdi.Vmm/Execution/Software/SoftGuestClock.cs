using System.Diagnostics;
using Vdi.Vmm.State;

namespace Vdi.Vmm.Execution.Software;

/// <summary>
/// The guest's monotonic clock on the software engine, for the <c>clock</c> section (<see cref="GuestClockState"/>):
/// nanoseconds since the machine was made, or since a restore from the value restored. The engine offers the guest
/// no kvmclock, so nothing in the guest reads it; it is kept so a machine moved KVM → software → KVM goes on with the
/// kvmclock it left.
/// </summary>
internal sealed class SoftGuestClock : IDeviceState
{
    private readonly Lock _gate = new();
    private ulong _origin; // the clock's value at _since
    private long _since = Stopwatch.GetTimestamp();

    public ulong Nanoseconds
    {
        get
        {
            lock (_gate)
                return _origin + (ulong)Stopwatch.GetElapsedTime(_since).Ticks * 100;
        }
    }

    public string SectionName => GuestClockState.SectionName;

    public ushort SectionVersion => GuestClockState.Version;

    public void SaveState(SectionWriter section) => GuestClockState.Write(section, Nanoseconds);

    public void RestoreState(SavedSection section)
    {
        var ns = GuestClockState.Read(section);
        lock (_gate)
            (_origin, _since) = (ns, Stopwatch.GetTimestamp());
    }
}
