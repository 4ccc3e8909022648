using Vdi.Vmm.Devices.Gpu;
using Vdi.Vmm.Host;

namespace Vdi.Vmm.FaultTolerance;

/// <summary>
/// What the viewers see: the display host's screen — the secondary while the desktop is protected, the primary while
/// it is not. A replaying secondary announces none of its flushes; each is announced here once the comparator
/// released it (the primary produced the same). Switching hosts tells the viewers the new host's mode, so they read
/// its whole screen and send only what differs.
/// </summary>
public sealed partial class FaultTolerantDesktop
{
    public event Action<ScanoutChange>? ScanoutChanged;

    public event Action<ScanoutFlush>? Flushed;

    public event Action<CursorImage>? CursorChanged;

    public event Action<int, int>? CursorMoved;

    /// <summary>Whether the display host is a secondary that replays (its frames are announced as they are released).</summary>
    private volatile bool _displayReplays;

    private void Attach(RemoteDesktop host)
    {
        host.ScanoutChanged += c =>
        {
            if (host == _display)
                ScanoutChanged?.Invoke(c);
        };
        host.Flushed += f =>
        {
            if (host == _display)
                Flushed?.Invoke(f); // a recorder's flushes; a replaying host's own full frames (after it received its machine)
        };
        host.CursorChanged += c =>
        {
            if (host == _display)
                CursorChanged?.Invoke(c);
        };
        host.CursorMoved += (x, y) =>
        {
            if (host == _display)
                CursorMoved?.Invoke(x, y);
        };
        host.Integrity.AlertRaised += alert =>
        {
            if (host == _primary)
                Integrity.Offer(alert);
        };
        host.Integrity.Changed += () =>
        {
            if (host == _primary)
                MirrorIntegrity(host);
        };
        host.JournalReceived += OnJournal;
        host.Checkpointed += OnCheckpointed;
        host.Promoted += OnPromoted;
    }

    /// <summary>The pair's integrity status becomes <paramref name="primary"/>'s (at its changes, and when it becomes the primary).</summary>
    private void MirrorIntegrity(RemoteDesktop primary)
    {
        var status = primary.Integrity.Snapshot;
        Integrity.SetStatus(status.Level, status.DriverRegistered, status.Protected, status.ProtectedTotal);
    }

    /// <summary>A released frame of a replaying display host: announced now, within the host's current mode.</summary>
    private void OnReleased(GuestOutput output)
    {
        if (output.Kind != OutputKind.Frame || !_displayReplays || _display.Mode is not var (width, height))
            return;
        var rect = new GpuRect((ushort)output.A, (ushort)(output.A >> 16), (ushort)(output.A >> 32), (ushort)(output.A >> 48));
        if (!rect.IsEmpty && new GpuRect(0, 0, width, height).Contains(rect))
            Flushed?.Invoke(new ScanoutFlush(width, height, rect));
    }

    /// <summary>The viewers see <paramref name="next"/> from now on: its mode (the whole screen is read again) and its cursor.</summary>
    private void ShowFrom(RemoteDesktop next, bool replays)
    {
        _display = next;
        _displayReplays = replays;
        var mode = next.Mode;
        ScanoutChanged?.Invoke(new ScanoutChange(mode is not null, mode?.Width ?? 0, mode?.Height ?? 0, 0));
        if (next.Cursor is { } cursor)
            CursorChanged?.Invoke(cursor);
    }
}
