namespace Vdi.Server.Hubs;

/// <summary>Input the hub dropped (out of range, unknown key, not the controlling session), counted for the dashboard and tests.</summary>
public sealed class InputStats
{
    private long _dropped;
    private long _delivered;

    public long Dropped => Interlocked.Read(ref _dropped);

    public long Delivered => Interlocked.Read(ref _delivered);

    public void Drop() => Interlocked.Increment(ref _dropped);

    public void Deliver() => Interlocked.Increment(ref _delivered);
}
