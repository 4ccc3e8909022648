using System.Collections.Concurrent;
using Vdi.Vmm.Introspection;

namespace Vdi.Vmm.Host;

/// <summary>A served desktop's guest reads by guest-virtual address: a request frame, answered by the host's bytes or its fault.</summary>
public sealed partial class RemoteDesktop
{
    private static readonly TimeSpan s_readTimeout = TimeSpan.FromSeconds(5);
    private readonly ConcurrentDictionary<uint, (TaskCompletionSource<byte[]?> Pending, int Length)> _guestReads = new();
    private uint _nextRead;

    public async Task<byte[]?> ReadGuestAsync(ulong address, int length, CancellationToken cancellationToken = default)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(length, 1);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(length, ReadGuestMessage.MaxLength);
        var id = Interlocked.Increment(ref _nextRead);
        var pending = new TaskCompletionSource<byte[]?>(TaskCreationOptions.RunContinuationsAsynchronously);
        _guestReads[id] = (pending, length);
        try
        {
            if (!_channel.Send(new ReadGuestMessage(id, address, (ushort)length)))
                return null;
            var done = await Task.WhenAny(pending.Task, _completion.Task, Task.Delay(s_readTimeout, cancellationToken)).ConfigureAwait(false);
            return done == pending.Task ? await pending.Task.ConfigureAwait(false) : null;
        }
        finally
        {
            _guestReads.TryRemove(id, out _);
        }
    }

    /// <summary>The receive thread's answers to reads; false for any other frame. An answer nobody asked for (or of another length) breaks the protocol.</summary>
    private bool HandleGuestBytes(HostMessage message)
    {
        if (message is not GuestBytesMessage m)
            return false;
        if (!_guestReads.TryGetValue(m.RequestId, out var read))
            return true; // asked for, then given up on (timed out): late, not wrong
        if (m.Fault == WalkFault.None && m.Bytes.Length != read.Length)
            throw new HostProtocolException($"GuestBytes: {m.Bytes.Length} bytes for a read of {read.Length}");
        read.Pending.TrySetResult(m.Fault == WalkFault.None ? m.Bytes : null);
        return true;
    }
}
