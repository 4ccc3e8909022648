using System.Collections.Concurrent;
using System.Diagnostics;
using System.Net.Sockets;
using System.Text;
using Vdi.Vmm.Devices.Display;
using Vdi.Vmm.Devices.Gpu;
using Vdi.Vmm.Devices.Input;
using Vdi.Vmm.Sandbox;

namespace Vdi.Vmm.Host;

/// <summary>
/// A desktop in a host process of its own (`vdi-vmm serve`), seen through <see cref="IDesktopMachine"/>: control and
/// input go out as frames, events come back on a receive thread, and pixels are read from the shared scanout the
/// host passed at the handshake. The host is not trusted: a malformed frame is answered with an error frame, logged,
/// and ends the connection (the desktop then ends as <see cref="DesktopExitKind.ProtocolError"/>); the child's death
/// is reported with its signal, or the system call seccomp refused.
/// </summary>
public sealed partial class RemoteDesktop : IDesktopMachine
{
    private const int StderrKept = 64 * 1024;
    private static readonly TimeSpan s_handshakeTimeout = TimeSpan.FromSeconds(10);

    private readonly Socket _socket;
    private readonly FrameChannel _channel;
    private readonly ScanoutReader _scanout;
    private readonly Process? _process;
    private readonly HostProcess? _attached; // a host this broker did not start (it restarted), known by pid and start time
    private readonly StringBuilder _stderr;
    private readonly Action<string>? _log;
    private readonly ConcurrentDictionary<uint, TaskCompletionSource<DisplayAcknowledgement>> _displays = new();
    private readonly TaskCompletionSource _started = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly TaskCompletionSource<DesktopExit> _completion = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly Thread _receiver;
    private uint _nextDisplay;
    private long _mode;
    private double _dpi;
    private CursorImage? _cursor;
    private ExitedMessage? _exited;
    private string? _protocolError;
    private string? _refusedByHost; // the host's words when it refused a malformed frame of ours
    private int _disposed;
    private int _detached;
    private TaskCompletionSource<bool>? _pause;

    private RemoteDesktop(Socket socket, FrameChannel channel, WelcomeMessage welcome, ScanoutReader scanout, Process? process, HostProcess? attached, StringBuilder stderr, Action<string>? log)
    {
        _attached = attached;
        ProcessId = process?.Id ?? attached?.Pid; // kept: a disposed Process no longer says its id
        _socket = socket;
        _channel = channel;
        _scanout = scanout;
        _process = process;
        _stderr = stderr;
        _log = log;
        Engine = welcome.EngineReason;
        IsSoftware = welcome.Software;
        _receiver = new Thread(ReceiveLoop) { Name = "remote desktop", IsBackground = true };
    }

    public string Engine { get; }

    public bool IsSoftware { get; }

    /// <summary>The host process's id (a child, or the process reattached to), or null when connected to a socket alone.</summary>
    public int? ProcessId { get; }

    /// <summary>Completes once the host said the guest runs (after <see cref="StartAsync"/>, or at once when reattached to a running one).</summary>
    public Task WhenStarted => _started.Task;

    /// <summary>The sandbox the host reported (level and its lines), or null before or without one.</summary>
    public string? SandboxReport { get; private set; }

    /// <summary>The host's last trace counters.</summary>
    public CountersMessage? Counters { get; private set; }

    /// <summary>The host process's exit code (128 + signal for a death by signal) once it ended; null before or without one.</summary>
    public int? HostExitCode { get; private set; }

    /// <summary>The seqlock value of the last flushed rectangle the host announced.</summary>
    public long LastFlushSequence { get; private set; }

    /// <summary>
    /// Where the last <see cref="ScanoutChangedMessage"/> said the scanout's pixels are in the shared scanout: offset of
    /// the first pixel and stride — the copy area, or the resource's own image in the arena (at or past
    /// <see cref="ScanoutMapping.ArenaOffset"/>).
    /// </summary>
    public (long Offset, int Stride) PixelLocation { get; private set; }

    /// <summary>Error frames the host sent (state refusals and the like), newest last.</summary>
    public ConcurrentQueue<ErrorMessage> Errors { get; } = new();

    public ScanoutReader Scanout => _scanout;

    public (int Width, int Height)? Mode => Volatile.Read(ref _mode) is var m and not 0 ? ((int)(m >> 32), (int)m) : null;

    public double Dpi => Volatile.Read(ref _dpi);

    public CursorImage? Cursor => Volatile.Read(ref _cursor);

    public Task<DesktopExit> Completion => _completion.Task;

    public event Action<ScanoutChange>? ScanoutChanged;

    public event Action<ScanoutFlush>? Flushed;

    public event Action<CursorImage>? CursorChanged;

    public event Action<int, int>? CursorMoved;

    public async Task StartAsync(CancellationToken cancellationToken = default)
    {
        if (!_channel.Send(new ControlMessage(HostMessageType.Start)))
            throw new InvalidOperationException("the desktop host is gone");
        await Task.WhenAny(_started.Task, _completion.Task).WaitAsync(cancellationToken).ConfigureAwait(false);
        if (!_started.Task.IsCompleted)
            throw new InvalidOperationException($"the desktop ended before it started: {(await _completion.Task.ConfigureAwait(false)).Reason}");
    }

    public async Task<DesktopExit> StopAsync(TimeSpan deadline)
    {
        _ = _channel.Send(new StopMessage((uint)Math.Clamp(deadline.TotalMilliseconds, 1, uint.MaxValue)));
        var done = await Task.WhenAny(_completion.Task, Task.Delay(deadline + TimeSpan.FromSeconds(10))).ConfigureAwait(false);
        if (done != _completion.Task)
            Kill("the desktop host did not end after stop");
        return await _completion.Task.ConfigureAwait(false);
    }

    /// <summary>Pauses every vCPU; true once the host answered Paused, false on its refusal or when it is gone.</summary>
    public async Task<bool> PauseAsync()
    {
        var pause = new TaskCompletionSource<bool>(TaskCreationOptions.RunContinuationsAsynchronously);
        if (Interlocked.CompareExchange(ref _pause, pause, null) is not null)
            throw new InvalidOperationException("a pause is already under way");
        try
        {
            if (!_channel.Send(new ControlMessage(HostMessageType.Pause)))
                return false;
            var done = await Task.WhenAny(pause.Task, _completion.Task, Task.Delay(TimeSpan.FromSeconds(10))).ConfigureAwait(false);
            return done == pause.Task && await pause.Task.ConfigureAwait(false);
        }
        finally
        {
            Volatile.Write(ref _pause, null);
        }
    }

    public Task ResumeAsync() => Task.FromResult(_channel.Send(new ControlMessage(HostMessageType.Resume)));

    public async Task<DisplayAcknowledgement> RequestDisplayAsync(DisplayProperties properties, TimeSpan? timeout = null, CancellationToken cancellationToken = default)
    {
        if (DisplayProperties.Validate(properties, _scanout.MaxWidth, _scanout.MaxHeight) is { } error)
            throw new ArgumentException(error, nameof(properties));
        var limit = timeout ?? DisplayController.DefaultTimeout;
        var id = Interlocked.Increment(ref _nextDisplay);
        var pending = new TaskCompletionSource<DisplayAcknowledgement>(TaskCreationOptions.RunContinuationsAsynchronously);
        _displays[id] = pending;
        try
        {
            if (!_channel.Send(new DisplayRequestMessage(id, properties, (uint)Math.Clamp(limit.TotalMilliseconds, 1, 120_000))))
                throw new InvalidOperationException("the desktop host is gone");
            // The host enforces the timeout and answers; the margin covers a host that never does.
            return await pending.Task.WaitAsync(limit + TimeSpan.FromSeconds(5), cancellationToken).ConfigureAwait(false);
        }
        finally
        {
            _displays.TryRemove(id, out _);
        }
    }

    public bool SetMotion(bool enabled) => _channel.Send(new MotionMessage(enabled));

    public bool SendKey(ushort code, bool pressed) => _channel.Send(new KeyMessage(code, pressed));

    public bool SendPointer(int x, int y, PointerButtons buttons, int wheel = 0) => _channel.Send(new PointerMessage(x, y, (uint)buttons, wheel));

    public bool Capture(GpuRect region, Span<byte> destination, int stride, out GpuFormat format) =>
        _scanout.Capture(region, destination, stride, out format);

    /// <summary>Test support: asks a host started with test hooks to make a forbidden system call.</summary>
    public bool SendTestForbiddenCall(string name) => _channel.Send(new TestForbiddenCallMessage(name));

    /// <summary>Test support: sends bytes as they are.</summary>
    public bool SendRaw(ReadOnlySpan<byte> bytes) => _channel.SendRaw(bytes);

    /// <summary>
    /// Lets go of the host without stopping it, as a broker that shuts down does: a host started with
    /// <see cref="RemoteDesktopOptions.ReconnectSeconds"/> keeps its guest running and waits for
    /// <see cref="Connect"/>. <see cref="Completion"/> ends with <see cref="DesktopExitKind.Detached"/>.
    /// </summary>
    public void Detach()
    {
        Volatile.Write(ref _detached, 1);
        _channel.Dispose();
    }

    /// <summary>Kills the host process (SIGKILL); the exit is reported through <see cref="Completion"/>.</summary>
    public void Kill(string why)
    {
        _log?.Invoke($"vdi-vmm client: {why}; killing the host");
        try
        {
            _process?.Kill();
        }
        catch (InvalidOperationException)
        {
            // Already gone.
        }
        _ = _attached?.Kill(); // by pidfd, never a process that merely reuses the pid
        _channel.Dispose();
    }

    public async ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0)
            return;
        if (!_completion.Task.IsCompleted)
        {
            _ = _channel.Send(new StopMessage(2000));
            if (await Task.WhenAny(_completion.Task, Task.Delay(TimeSpan.FromSeconds(10))).ConfigureAwait(false) != _completion.Task)
                Kill("the desktop host did not end on dispose");
            await _completion.Task.ConfigureAwait(false);
        }
        _channel.Dispose();
        _receiver.Join(TimeSpan.FromSeconds(5));
        _scanout.Dispose();
        _socket.Dispose();
        _process?.Dispose();
    }

    private void ReceiveLoop()
    {
        try
        {
            while (_channel.Receive() is { } frame)
            {
                try
                {
                    Handle(frame.Message);
                }
                catch (Exception e) when (e is not HostProtocolException)
                {
                    // A subscriber's handler threw: the broker's problem, not the host's; this thread serves on.
                    _log?.Invoke($"vdi-vmm client: a {frame.Message.Type} handler threw: {e.Message}");
                }
            }
        }
        catch (HostProtocolException e)
        {
            _protocolError = e.Message;
            _log?.Invoke($"vdi-vmm client: protocol error from the desktop host: {e.Message}; disconnecting");
            _ = _channel.Send(new ErrorMessage(HostProtocol.ErrorMalformed, e.Message));
        }
        catch (IOException e)
        {
            _log?.Invoke($"vdi-vmm client: connection to the desktop host broken: {e.Message}");
        }
        _channel.Dispose();
        _ = FinishAsync();
    }

    private void Handle(HostMessage message)
    {
        switch (message)
        {
            case StartedMessage:
                _started.TrySetResult();
                break;
            case PausedMessage:
                Volatile.Read(ref _pause)?.TrySetResult(true);
                break;
            case ScanoutChangedMessage m:
                if (m.Enabled && (m.Width <= 0 || m.Height <= 0 || m.Width > _scanout.MaxWidth || m.Height > _scanout.MaxHeight))
                    throw new HostProtocolException($"ScanoutChanged to {m.Width}x{m.Height}, beyond {_scanout.MaxWidth}x{_scanout.MaxHeight}");
                if (m.Enabled && ScanoutLayout.CheckLocation(_scanout.MaxWidth, _scanout.MaxHeight, m.Width, m.Height, m.PixelOffset, m.PixelStride) is { } misplaced)
                    throw new HostProtocolException($"ScanoutChanged places its pixels outside the shared scanout: {misplaced}");
                PixelLocation = (m.PixelOffset, m.PixelStride);
                Volatile.Write(ref _mode, m.Enabled ? ((long)m.Width << 32) | (uint)m.Height : 0);
                Volatile.Write(ref _dpi, m.Dpi);
                ScanoutChanged?.Invoke(new ScanoutChange(m.Enabled, m.Width, m.Height, m.ResourceId));
                break;
            case FlushedMessage m:
                if (m.Damage.IsEmpty || !new GpuRect(0, 0, m.ScanoutWidth, m.ScanoutHeight).Contains(m.Damage) || m.ScanoutWidth > _scanout.MaxWidth || m.ScanoutHeight > _scanout.MaxHeight)
                    throw new HostProtocolException($"Flushed {m.Damage} outside a {m.ScanoutWidth}x{m.ScanoutHeight} scanout");
                LastFlushSequence = m.Sequence;
                Flushed?.Invoke(new ScanoutFlush(m.ScanoutWidth, m.ScanoutHeight, m.Damage));
                break;
            case CursorChangedMessage:
                if (_scanout.ReadCursor() is { } cursor)
                {
                    Volatile.Write(ref _cursor, cursor);
                    CursorChanged?.Invoke(cursor);
                }
                break;
            case CursorMovedMessage m:
                CursorMoved?.Invoke(m.X, m.Y);
                break;
            case DisplayShownMessage m:
                if (_displays.TryGetValue(m.RequestId, out var shown))
                    shown.TrySetResult(new DisplayAcknowledgement(new DisplayProperties(m.Width, m.Height, m.Dpi, m.RefreshHz), TimeSpan.FromMicroseconds(m.ElapsedMicroseconds)));
                break;
            case DisplayFailedMessage m:
                if (_displays.TryGetValue(m.RequestId, out var failed))
                {
                    failed.TrySetException(m.Kind switch
                    {
                        DisplayFailedMessage.TimedOut => new TimeoutException(m.Reason),
                        DisplayFailedMessage.Superseded => new OperationCanceledException(m.Reason),
                        _ => new ArgumentException(m.Reason),
                    });
                }
                break;
            case ExitedMessage m:
                _exited = m;
                break;
            case SandboxReportMessage m:
                SandboxReport = $"{(SandboxLevel)m.Level}\n{m.Report}";
                break;
            case CountersMessage m:
                Counters = m;
                break;
            case ErrorMessage m:
                if (m.Code == HostProtocol.ErrorState && m.Text.StartsWith("pause:", StringComparison.Ordinal))
                    Volatile.Read(ref _pause)?.TrySetResult(false);
                if (m.Code == HostProtocol.ErrorMalformed)
                    _refusedByHost = m.Text; // the host ends the connection after this
                Errors.Enqueue(m);
                _log?.Invoke($"vdi-vmm client: the desktop host reports error {m.Code}: {m.Text}");
                break;
            default:
                if (!HandleIntegrity(message) && !HandleGuestBytes(message) && !HandleMigration(message) && !HandleJournal(message))
                    throw new HostProtocolException($"{message.Type} is not a host-to-broker frame");
                break;
        }
    }

    private async Task FinishAsync()
    {
        if (Volatile.Read(ref _detached) != 0)
        {
            _completion.TrySetResult(new DesktopExit(DesktopExitKind.Detached, 0, "the broker let go; the host waits for it to reconnect"));
            foreach (var pending in _displays.Values)
                pending.TrySetException(new InvalidOperationException("the broker let go of the desktop"));
            return;
        }
        var exitCode = 0;
        string stderr;
        if (_process is { } process)
        {
            // After a protocol error or a lost connection the host powers its guest off and exits; give it time.
            if (!await WaitForExitAsync(process, TimeSpan.FromSeconds(15)).ConfigureAwait(false))
            {
                Kill("the desktop host did not exit after its connection ended");
                await WaitForExitAsync(process, TimeSpan.FromSeconds(5)).ConfigureAwait(false);
            }
            exitCode = process.HasExited ? process.ExitCode : -1;
            HostExitCode = exitCode;
        }
        else if (_attached is { } attached && !await attached.WaitForExitAsync(TimeSpan.FromSeconds(15)).ConfigureAwait(false))
        {
            Kill("the desktop host did not exit after its connection ended");
            await attached.WaitForExitAsync(TimeSpan.FromSeconds(5)).ConfigureAwait(false);
        }
        lock (_stderr)
            stderr = _stderr.ToString();
        var exit = (_protocolError, _exited) switch
        {
            ({ } error, _) => new DesktopExit(DesktopExitKind.ProtocolError, exitCode, $"protocol error from the desktop host: {error}"),
            _ when _refusedByHost is { } refused => new DesktopExit(DesktopExitKind.ProtocolError, exitCode, $"the desktop host refused a malformed frame from the broker: {refused}"),
            _ when exitCode > 128 || exitCode < 0 => new DesktopExit(DesktopExitKind.ProcessDied, exitCode, $"the desktop host was {SandboxExit.Describe(exitCode, stderr)}"),
            (_, { } m) when Enum.IsDefined((DesktopExitKind)m.Kind) && m.Kind <= (byte)DesktopExitKind.Crashed => new DesktopExit((DesktopExitKind)m.Kind, m.ExitCode, m.Reason),
            _ when _attached is not null => new DesktopExit(DesktopExitKind.ProcessDied, -1,
                "the desktop host ended without reporting why (its exit status is unknown: it was reattached after a broker restart, so it is not this broker's child)"),
            _ when _process is null => new DesktopExit(DesktopExitKind.ProcessDied, 0, "the desktop host closed the connection"),
            _ => new DesktopExit(DesktopExitKind.ProcessDied, exitCode, $"the desktop host {SandboxExit.Describe(exitCode, stderr)} without reporting why"),
        };
        foreach (var pending in _displays.Values)
            pending.TrySetException(new InvalidOperationException($"the desktop ended: {exit.Reason}"));
        _completion.TrySetResult(exit);
    }

    private static async Task<bool> WaitForExitAsync(Process process, TimeSpan timeout)
    {
        try
        {
            await process.WaitForExitAsync().WaitAsync(timeout).ConfigureAwait(false);
            return true;
        }
        catch (TimeoutException)
        {
            return false;
        }
    }
}
