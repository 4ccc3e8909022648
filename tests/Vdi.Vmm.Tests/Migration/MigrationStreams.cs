using Vdi.Vmm.Migration;

namespace Vdi.Vmm.Tests.Migration;

/// <summary>A stream over <c>inner</c> that a test changes the writes of; reads pass through.</summary>
internal abstract class PassThroughStream(Stream inner) : Stream
{
    protected Stream Inner => inner;

    public override bool CanRead => true;

    public override bool CanSeek => false;

    public override bool CanWrite => true;

    public override long Length => throw new NotSupportedException();

    public override long Position { get => throw new NotSupportedException(); set => throw new NotSupportedException(); }

    public override void Flush() => inner.Flush();

    public override Task FlushAsync(CancellationToken cancellationToken) => inner.FlushAsync(cancellationToken);

    public override int Read(byte[] buffer, int offset, int count) => inner.Read(buffer, offset, count);

    public override ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default) => inner.ReadAsync(buffer, cancellationToken);

    public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();

    public override void SetLength(long value) => throw new NotSupportedException();

    public override void Write(byte[] buffer, int offset, int count) => WriteAsync(buffer.AsMemory(offset, count)).AsTask().GetAwaiter().GetResult();

    public abstract override ValueTask WriteAsync(ReadOnlyMemory<byte> buffer, CancellationToken cancellationToken = default);
}

/// <summary>Passes writes to <c>inner</c> until <c>failAfter</c> bytes went through, then throws as a dropped connection does.</summary>
internal sealed class DroppingStream(Stream inner, long failAfter) : PassThroughStream(inner)
{
    private long _written;

    public override async ValueTask WriteAsync(ReadOnlyMemory<byte> buffer, CancellationToken cancellationToken = default)
    {
        if (_written + buffer.Length > failAfter)
        {
            Inner.Dispose();
            throw new IOException("connection reset (dropped on purpose)");
        }
        _written += buffer.Length;
        await Inner.WriteAsync(buffer, cancellationToken);
    }
}

/// <summary>Passes everything through, but damages the machine state's first bytes (its format's magic) on the way.</summary>
internal sealed class StateDamagingStream(Stream inner) : PassThroughStream(inner)
{
    private bool _nextIsState;

    public override ValueTask WriteAsync(ReadOnlyMemory<byte> buffer, CancellationToken cancellationToken = default)
    {
        if (_nextIsState)
        {
            _nextIsState = false;
            var damaged = buffer.ToArray();
            damaged[0] ^= 0xFF;
            return Inner.WriteAsync(damaged, cancellationToken);
        }
        _nextIsState = buffer.Length == MigrationWire.HeaderBytes && buffer.Span[0] == (byte)MigrationMessage.State;
        return Inner.WriteAsync(buffer, cancellationToken);
    }
}
