using System.Threading.Channels;

namespace Vdi.Server.Display;

/// <summary>Why <see cref="WakeSignal.WaitAsync"/> returned.</summary>
internal enum WakeReason
{
    Signal,
    Timeout,
    Closed,
}

/// <summary>
/// A wake-up for one worker: any number of <see cref="Set"/> calls before the worker looks collapse
/// into one wake. <see cref="Set"/> never blocks, so it is safe from a vCPU thread under a lock.
/// </summary>
internal sealed class WakeSignal
{
    private readonly Channel<bool> _channel = Channel.CreateBounded<bool>(
        new BoundedChannelOptions(1) { FullMode = BoundedChannelFullMode.DropWrite, SingleReader = true });

    public void Set() => _channel.Writer.TryWrite(true);

    /// <summary>Wakes a pending or later <see cref="WaitAsync"/> with <see cref="WakeReason.Closed"/>.</summary>
    public void Close() => _channel.Writer.TryComplete();

    /// <summary>Waits for a <see cref="Set"/> (consuming it), at most <paramref name="timeout"/> when given.</summary>
    public async ValueTask<WakeReason> WaitAsync(TimeSpan? timeout, CancellationToken cancellationToken)
    {
        if (timeout is not { } delay)
            return Consume(await _channel.Reader.WaitToReadAsync(cancellationToken).ConfigureAwait(false));
        using var limit = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        limit.CancelAfter(delay);
        try
        {
            return Consume(await _channel.Reader.WaitToReadAsync(limit.Token).ConfigureAwait(false));
        }
        catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
        {
            return WakeReason.Timeout;
        }
    }

    private WakeReason Consume(bool open)
    {
        if (!open)
            return WakeReason.Closed;
        _channel.Reader.TryRead(out _);
        return WakeReason.Signal;
    }
}
