using System.Diagnostics;
using System.Text;

namespace Vdi.Vmm.Devices;

/// <summary>
/// What the guest wrote to a serial port: kept (the last <see cref="Capacity"/> bytes) for
/// inspection, and readable as a stream from the start. The writer is a vCPU thread and never
/// blocks; readers wait for data or for <see cref="Complete"/>.
/// </summary>
public sealed class SerialOutput
{
    public const int Capacity = 1 << 20;

    private readonly Lock _gate = new();
    private readonly List<byte> _bytes = [];
    private long _dropped; // bytes discarded from the front once Capacity was reached
    private long _firstByteTimestamp;
    private bool _completed;
    private TaskCompletionSource _changed = new(TaskCreationOptions.RunContinuationsAsynchronously);

    /// <summary><see cref="Stopwatch.GetTimestamp"/> of the first byte, or 0 before any.</summary>
    public long FirstByteTimestamp => Interlocked.Read(ref _firstByteTimestamp);

    /// <summary>Total bytes written since the machine started.</summary>
    public long Length
    {
        get
        {
            lock (_gate)
                return _dropped + _bytes.Count;
        }
    }

    public void Append(byte value)
    {
        TaskCompletionSource changed;
        lock (_gate)
        {
            if (_firstByteTimestamp == 0)
                _firstByteTimestamp = Stopwatch.GetTimestamp();
            if (_bytes.Count == Capacity)
            {
                _bytes.RemoveRange(0, Capacity / 4);
                _dropped += Capacity / 4;
            }
            _bytes.Add(value);
            changed = _changed;
            _changed = new(TaskCreationOptions.RunContinuationsAsynchronously);
        }
        changed.TrySetResult();
    }

    /// <summary>No more output will come (the machine stopped); readers see the end of the stream.</summary>
    public void Complete()
    {
        TaskCompletionSource changed;
        lock (_gate)
        {
            _completed = true;
            changed = _changed;
        }
        changed.TrySetResult();
    }

    /// <summary>The retained output as text (Latin-1, one char per byte).</summary>
    public string Text
    {
        get
        {
            lock (_gate)
                return Encoding.Latin1.GetString(_bytes.ToArray());
        }
    }

    /// <summary>Copies bytes from absolute position <paramref name="position"/>, waiting until some exist; 0 at the end of a completed stream.</summary>
    public async ValueTask<int> ReadAtAsync(long position, Memory<byte> buffer, CancellationToken cancellationToken) =>
        (await ReadFromAsync(position, buffer, cancellationToken).ConfigureAwait(false)).Count;

    /// <summary>
    /// Like <see cref="ReadAtAsync"/>, and says where the bytes started: later than
    /// <paramref name="position"/> when that part was already dropped from the retained window.
    /// </summary>
    internal async ValueTask<(long Start, int Count)> ReadFromAsync(long position, Memory<byte> buffer, CancellationToken cancellationToken)
    {
        while (true)
        {
            Task wait;
            lock (_gate)
            {
                var start = Math.Max(position, _dropped);
                var available = _dropped + _bytes.Count - start;
                if (available > 0)
                {
                    var n = (int)Math.Min(available, buffer.Length);
                    var from = (int)(start - _dropped);
                    for (var i = 0; i < n; i++)
                        buffer.Span[i] = _bytes[from + i];
                    return (start, n);
                }
                if (_completed)
                    return (position, 0);
                wait = _changed.Task;
            }
            await wait.WaitAsync(cancellationToken).ConfigureAwait(false);
        }
    }

    /// <summary>Waits until the output contains <paramref name="text"/>; false on timeout or when the stream completed without it.</summary>
    public async Task<bool> WaitForTextAsync(string text, TimeSpan timeout)
    {
        using var cts = new CancellationTokenSource(timeout);
        while (true)
        {
            Task wait;
            lock (_gate)
            {
                if (Encoding.Latin1.GetString(_bytes.ToArray()).Contains(text, StringComparison.Ordinal))
                    return true;
                if (_completed)
                    return false;
                wait = _changed.Task;
            }
            try
            {
                await wait.WaitAsync(cts.Token).ConfigureAwait(false);
            }
            catch (OperationCanceledException)
            {
                return false;
            }
        }
    }

    /// <summary>A read-only stream of the output from its first retained byte.</summary>
    public Stream OpenStream() => new SerialStream(this);

    private sealed class SerialStream(SerialOutput output) : Stream
    {
        private long _position;

        public override bool CanRead => true;
        public override bool CanSeek => false;
        public override bool CanWrite => false;
        public override long Length => throw new NotSupportedException();
        public override long Position { get => _position; set => throw new NotSupportedException(); }

        public override int Read(byte[] buffer, int offset, int count) =>
            ReadAsync(buffer.AsMemory(offset, count)).AsTask().GetAwaiter().GetResult();

        public override async ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default)
        {
            var (start, n) = await output.ReadFromAsync(_position, buffer, cancellationToken).ConfigureAwait(false);
            _position = start + n;
            return n;
        }

        public override void Flush()
        {
        }

        public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();
        public override void SetLength(long value) => throw new NotSupportedException();
        public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException();
    }
}
