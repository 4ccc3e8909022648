using Vdi.Vmm.Interop;
using static Vdi.Vmm.Interop.HostCalls;

namespace Vdi.Vmm.Host;

/// <summary>A frame received: its message, and the descriptor that came with it (SCM_RIGHTS), or -1.</summary>
public readonly record struct ReceivedFrame(HostMessage Message, int Descriptor);

/// <summary>
/// Frames over a connected Unix stream socket, through <c>sendmsg</c>/<c>recvmsg</c> only (what the sandbox allows).
/// Sends are serialised; one thread receives, blocking. <see cref="Dispose"/> shuts the socket down, which wakes a
/// blocked receive. The channel does not own the descriptor's life beyond that: the creator closes it.
/// </summary>
public sealed unsafe class FrameChannel : IDisposable
{
    private readonly Lock _sendGate = new();
    private readonly int _fd;
    private readonly byte[] _header = new byte[HostProtocol.HeaderSize];
    private readonly byte[] _payload = new byte[HostProtocol.MaxPayload];
    private int _disposed;

    /// <param name="fd">A connected AF_UNIX stream socket in blocking mode (O_NONBLOCK is cleared here).</param>
    public FrameChannel(int fd)
    {
        _fd = fd;
        var flags = Fcntl(fd, F_GETFL, 0);
        if (flags >= 0 && (flags & O_NONBLOCK) != 0)
            _ = Fcntl(fd, F_SETFL, flags & ~O_NONBLOCK);
    }

    public long FramesSent { get; private set; }

    /// <summary>Sends one frame (and a descriptor with it when <paramref name="descriptor"/> is not -1); false once the peer is gone.</summary>
    public bool Send(HostMessage message, int descriptor = -1) => SendRaw(message.Encode(), descriptor);

    /// <summary>Sends bytes as they are (tests use this to send malformed frames).</summary>
    public bool SendRaw(ReadOnlySpan<byte> bytes, int descriptor = -1)
    {
        lock (_sendGate)
        {
            if (Volatile.Read(ref _disposed) != 0)
                return false;
            var sent = 0;
            while (sent < bytes.Length)
            {
                var control = default(cmsg_fd);
                fixed (byte* p = bytes)
                {
                    // SAFETY: iov and control live on this stack frame and the pinned span outlives the call.
                    var iov = new iovec { iov_base = p + sent, iov_len = (nuint)(bytes.Length - sent) };
                    var message = new msghdr { msg_iov = &iov, msg_iovlen = 1 };
                    if (descriptor >= 0 && sent == 0)
                    {
                        control = new cmsg_fd { cmsg_len = CMSG_LEN_FD, cmsg_level = SOL_SOCKET, cmsg_type = SCM_RIGHTS, fd = descriptor };
                        message.msg_control = &control;
                        message.msg_controllen = (nuint)sizeof(cmsg_fd);
                    }
                    var n = SendMsg(_fd, &message, MSG_NOSIGNAL);
                    if (n < 0)
                    {
                        if (LastErrno == EINTR)
                            continue;
                        return false;
                    }
                    sent += (int)n;
                }
            }
            FramesSent++;
            return true;
        }
    }

    /// <summary>
    /// Receives one frame; null when the peer closed the connection at a frame boundary.
    /// Throws <see cref="HostProtocolException"/> for a malformed frame (the caller answers with an error and hangs up)
    /// and <see cref="IOException"/> when the connection broke mid-frame.
    /// </summary>
    public ReceivedFrame? Receive()
    {
        var descriptor = -1;
        try
        {
            if (!ReadExactly(_header, ref descriptor, atBoundary: true))
                return null;
            var (type, length) = HostProtocol.ParseHeader(_header);
            ReadExactly(_payload.AsSpan(0, length), ref descriptor, atBoundary: false);
            var message = HostMessages.Decode(type, _payload.AsSpan(0, length));
            if (descriptor >= 0 && type is not (HostMessageType.Welcome or HostMessageType.MigrateTo or HostMessageType.Checkpoint))
                throw new HostProtocolException($"{type} frame carried a descriptor");
            var result = new ReceivedFrame(message, descriptor);
            descriptor = -1;
            return result;
        }
        finally
        {
            if (descriptor >= 0)
                _ = Close(descriptor);
        }
    }

    private bool ReadExactly(Span<byte> buffer, ref int descriptor, bool atBoundary)
    {
        var read = 0;
        while (read < buffer.Length)
        {
            var control = default(cmsg_fd);
            nint n;
            fixed (byte* p = buffer)
            {
                // SAFETY: iov and control live on this stack frame; the pinned buffer outlives the call.
                var iov = new iovec { iov_base = p + read, iov_len = (nuint)(buffer.Length - read) };
                var message = new msghdr { msg_iov = &iov, msg_iovlen = 1, msg_control = &control, msg_controllen = (nuint)sizeof(cmsg_fd) };
                n = RecvMsg(_fd, &message, MSG_CMSG_CLOEXEC);
                if (n > 0 && message.msg_controllen >= CMSG_LEN_FD && control.cmsg_level == SOL_SOCKET && control.cmsg_type == SCM_RIGHTS)
                {
                    if (descriptor >= 0)
                    {
                        _ = Close(control.fd);
                        throw new HostProtocolException("more than one descriptor in a frame");
                    }
                    descriptor = control.fd;
                }
                if (n > 0 && (message.msg_flags & MSG_CTRUNC) != 0)
                    throw new HostProtocolException("ancillary data truncated (more than one descriptor sent)");
            }
            if (n < 0)
            {
                if (LastErrno == EINTR)
                    continue;
                if (Volatile.Read(ref _disposed) != 0 && atBoundary && read == 0)
                    return false;
                throw new IOException($"recvmsg: {LibcCalls.Describe(LastErrno)}");
            }
            if (n == 0)
            {
                if (atBoundary && read == 0)
                    return false;
                throw new IOException($"connection closed mid-frame ({read} of {buffer.Length} bytes)");
            }
            read += (int)n;
        }
        return true;
    }

    /// <summary>Shuts the socket down both ways: the peer sees end of stream and a blocked receive here returns.</summary>
    public void Dispose()
    {
        if (Interlocked.Exchange(ref _disposed, 1) == 0)
            _ = Shutdown(_fd, SHUT_RDWR);
    }
}
