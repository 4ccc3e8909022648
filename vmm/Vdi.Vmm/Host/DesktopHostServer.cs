using System.Collections.Concurrent;
using System.Diagnostics;
using Vdi.Vmm.Devices.Gpu;
using Vdi.Vmm.Devices.Input;
using Vdi.Vmm.FaultTolerance;
using Vdi.Vmm.Introspection;
using Vdi.Vmm.Machine;
using Vdi.Vmm.Sandbox;

namespace Vdi.Vmm.Host;

/// <summary>
/// The host side of one broker connection (`vdi-vmm serve`): answers hello with the shared scanout, carries out
/// control and input frames, and streams display events in order. GPU events are queued by the vCPU thread that
/// raises them and handled on one event thread, which copies each flushed rectangle into shared memory before it
/// sends the damage with the seqlock's value. A malformed frame is answered with an error frame, logged, and ends
/// the connection; when the connection ends the guest is powered off (stopped after a deadline), unless the broker
/// may reconnect (<see cref="ReconnectGrace"/>) and does.
/// </summary>
public sealed partial class DesktopHostServer : IDisposable
{
    private static readonly TimeSpan s_peerGoneDeadline = TimeSpan.FromSeconds(5);

    private readonly Machine.Machine _machine;
    private readonly ScanoutWriter _scanout;
    private readonly TextWriter _log;
    private readonly BlockingCollection<Action> _events = new(new ConcurrentQueue<Action>(), 4096);
    private readonly bool _testHooks;
    private volatile FrameChannel _channel; // replaced when the broker reconnects
    private CursorImage? _cursor; // the last one, for a broker that reconnects
    private long _flushes, _inputEvents, _inputDropped;
    private int _stopRequested;
    private int _overflowed;

    /// <param name="testHooks">Honour <see cref="HostMessageType.TestForbiddenCall"/> (tests only).</param>
    public DesktopHostServer(Machine.Machine machine, FrameChannel channel, ScanoutWriter scanout, TextWriter log, bool testHooks = false)
    {
        _machine = machine;
        _channel = channel;
        _scanout = scanout;
        _log = log;
        _testHooks = testHooks;
    }

    /// <summary>At most this many bytes of the shared scanout's arena hold resource images (tests, comparisons; 0: every frame copied).</summary>
    public long ArenaBytes { get; init; } = long.MaxValue;

    /// <summary>The sandbox applied before the guest runs; sent after the welcome.</summary>
    public SandboxReport? Sandbox { get; init; }

    /// <summary>
    /// With a value, a broker that goes away (not one that asked to stop) may reconnect within this time: the guest runs
    /// on meanwhile, and the new connection gets the welcome, the current mode, a full frame and the cursor.
    /// </summary>
    public Func<TimeSpan, FrameChannel?>? AcceptReconnect { get; init; }

    public TimeSpan ReconnectGrace { get; init; }

    /// <summary>
    /// Serves until the machine has ended and the broker was told, or the broker went away (and did not come back
    /// within <see cref="ReconnectGrace"/>). Returns the process's exit code: the guest's on a power-off, 1 on a crash,
    /// 0 when stopped on request, 3 after a protocol error.
    /// </summary>
    public int Run()
    {
        // The guest has not run yet (it starts on the broker's Start): its resources go into the shared scanout where they fit.
        _machine.Devices.Gpu.ResourceMemory = new SharedResourceArena(_scanout, ArenaBytes);
        UseFaultTolerance();
        if (!Handshake(_channel, reattached: false))
            return 3;
        var gpu = _machine.Devices.Gpu;
        gpu.ScanoutChanged += OnScanoutChanged;
        gpu.Flushed += OnFlushed;
        gpu.CursorChanged += OnCursorChanged;
        gpu.CursorMoved += OnCursorMoved;
        WatchIntegrity();
        var eventThread = new Thread(EventLoop) { Name = "host events", IsBackground = true };
        eventThread.Start();
        using var counters = new Timer(_ => Post(() =>
        {
            SendCounters();
            SendSuppressed();
        }), null, TimeSpan.FromSeconds(1), TimeSpan.FromSeconds(1));
        _machine.Completion.ContinueWith(t => Post(() => SendExit(t.Result)), TaskScheduler.Default);

        var protocolError = false;
        while (true)
        {
            protocolError = !Serve();
            if (_machine.Completion.IsCompleted || Volatile.Read(ref _stopRequested) != 0 || AcceptReconnect is null || ReconnectGrace <= TimeSpan.Zero)
                break;
            HostLog.Write(_log, $"the broker went away: waiting up to {ReconnectGrace.TotalSeconds:F0} s for it to reconnect");
            if (AcceptReconnect(ReconnectGrace) is not { } next)
                break;
            // The new connection is not the event thread's until its welcome is out: a Counters or Flushed sent on it
            // before the Welcome would be a protocol error to the new broker.
            if (!Handshake(next, reattached: true))
            {
                protocolError = true;
                next.Dispose();
                continue;
            }
            HostLog.Write(_log, "broker reconnected");
            protocolError = false;
        }

        // The broker hung up (or was hung up on): nobody will see this desktop, so it powers off.
        if (_machine.State is MachineState.Running or MachineState.Paused or MachineState.Created)
        {
            if (!_machine.Completion.IsCompleted && Volatile.Read(ref _stopRequested) == 0)
                HostLog.Write(_log, "the broker went away: powering the guest off");
            PowerOff(s_peerGoneDeadline);
        }
        EndReception();
        // A machine never started has no vCPU thread to report its end.
        var exit = _machine.State != MachineState.Created && _machine.Completion.Wait(s_peerGoneDeadline + TimeSpan.FromSeconds(5)) ? _machine.Completion.Result : null;
        _events.CompleteAdding();
        eventThread.Join(TimeSpan.FromSeconds(5));
        _channel.Dispose();
        if (protocolError)
            return 3;
        return exit switch
        {
            { Kind: MachineExitKind.PoweredOff } e => e.ExitCode,
            { Kind: MachineExitKind.Crashed } => 1,
            _ => 0,
        };
    }

    /// <summary>Handles the current connection's frames until it ends; false when it ended with a protocol error.</summary>
    private bool Serve()
    {
        var channel = _channel;
        try
        {
            while (channel.Receive() is { } frame)
            {
                try
                {
                    if (frame.Message is MigrateToMessage migrate)
                        MigrateTo(migrate, frame.Descriptor);
                    else if (frame.Message is CheckpointMessage checkpoint)
                        Checkpoint(checkpoint, frame.Descriptor);
                    else
                        Handle(frame.Message);
                }
                catch (Exception e) when (e is not HostProtocolException)
                {
                    // A well-formed request the machine cannot carry out (an unknown call name for the test hook, a
                    // start that races an exit): refused, and the host serves on.
                    Refuse(HostProtocol.ErrorRefused, $"{frame.Message.Type}: {e.Message}");
                }
            }
            return true;
        }
        catch (HostProtocolException e)
        {
            HostLog.Write(_log, $"protocol error from the broker: {e.Message}; disconnecting");
            channel.Send(new ErrorMessage(HostProtocol.ErrorMalformed, e.Message));
            channel.Dispose(); // nothing more goes to a peer that broke the protocol
            return false;
        }
        catch (IOException e)
        {
            HostLog.Write(_log, $"connection broken: {e.Message}");
            channel.Dispose();
            return true;
        }
        finally
        {
            channel.Dispose();
        }
    }

    /// <summary>Answers <paramref name="channel"/>'s hello; once welcomed, it becomes the connection events go to.</summary>
    private bool Handshake(FrameChannel channel, bool reattached)
    {
        try
        {
            if (channel.Receive() is not { Message: var first })
                return false;
            if (first is not HelloMessage hello)
                throw new HostProtocolException($"the first frame must be Hello, not {first.Type}");
            if (hello.MinVersion > HostProtocol.Version || hello.MaxVersion < HostProtocol.Version)
            {
                var text = $"protocol versions {hello.MinVersion}–{hello.MaxVersion} asked for, this host speaks {HostProtocol.Version}";
                HostLog.Write(_log, text);
                channel.Send(new ErrorMessage(HostProtocol.ErrorVersion, text));
                return false;
            }
            var engine = _machine.Engine;
            channel.Send(new WelcomeMessage(HostProtocol.Version, engine.Engine == Execution.ExecutionEngine.Software, _scanout.MaxWidth, _scanout.MaxHeight,
                _scanout.Size, _scanout.Stride, (int)_scanout.CursorOffset, engine.ToString()), _scanout.Descriptor);
            if (Sandbox is { } report)
                channel.Send(new SandboxReportMessage((byte)report.Level, string.Join('\n', report.Lines())));
            channel.Send(IntegrityStatus());
            _channel = channel;
            if (reattached)
            {
                // What the new broker missed: the machine runs, and its picture, after anything still queued.
                Post(() =>
                {
                    if (_machine.State is MachineState.Running or MachineState.Paused)
                        _channel.Send(new StartedMessage());
                    Resynchronise();
                    if (Volatile.Read(ref _cursor) is { } cursor)
                        SendCursor(cursor);
                });
            }
            return true;
        }
        catch (HostProtocolException e)
        {
            HostLog.Write(_log, $"protocol error from the broker: {e.Message}; disconnecting");
            channel.Send(new ErrorMessage(HostProtocol.ErrorMalformed, e.Message));
            return false;
        }
    }

    private void Handle(HostMessage message)
    {
        switch (message)
        {
            case ControlMessage { Kind: HostMessageType.Start } when Incoming is not null:
                Refuse(HostProtocol.ErrorState, "start: an incoming host's machine starts from a migration");
                break;
            case MigrateListenMessage listen:
                Listen(listen);
                break;
            case ControlMessage { Kind: HostMessageType.Start }:
                if (_machine.State != MachineState.Created)
                {
                    Refuse(HostProtocol.ErrorState, $"start: the machine is {_machine.State}");
                    return;
                }
                _machine.Start();
                // Started once the guest idles with its drivers up: input sent earlier would be lost.
                _ = LocalDesktop.WhenIdleAsync(_machine, TimeSpan.FromSeconds(30)).ContinueWith(_ => Post(() => _channel.Send(new StartedMessage())), TaskScheduler.Default);
                break;
            case StopMessage stop:
                Volatile.Write(ref _stopRequested, 1);
                PowerOff(TimeSpan.FromMilliseconds(Math.Clamp(stop.DeadlineMs, 1u, 600_000u)));
                break;
            case ControlMessage { Kind: HostMessageType.Pause }:
                if (_machine.State != MachineState.Running || !_machine.PauseAll(TimeSpan.FromSeconds(2)))
                    Refuse(HostProtocol.ErrorState, $"pause: the machine is {_machine.State}");
                else
                    Post(() => _channel.Send(new PausedMessage())); // after the events raised before the vCPUs parked
                break;
            case ControlMessage { Kind: HostMessageType.Resume }:
                _machine.ResumeAll();
                break;
            case DisplayRequestMessage request:
                _ = ShowAsync(request);
                break;
            case MotionMessage motion when _journal is not null:
                SubmitInput(new HostRequestInput(motion.On ? Devices.PortMap.HostRequestMotionOn : Devices.PortMap.HostRequestMotionOff));
                break;
            case MotionMessage motion:
                if (!_machine.SetMotion(motion.On))
                    Refuse(HostProtocol.ErrorState, "motion: the guest is not reading host requests");
                break;
            case SetIntegrityLevelMessage integrity:
                SetIntegrityLevel(integrity.Level);
                break;
            case ReadGuestMessage read:
                _ = Task.Run(() => // the read pauses the machine for its CR3: off the receive thread
                {
                    var bytes = new byte[read.Length];
                    var result = _machine.ReadVirtualAs(0, read.Address, bytes);
                    Post(() => _channel.Send(new GuestBytesMessage(read.RequestId, result.Succeeded ? WalkFault.None : result.Fault!.Value.Fault, result.Succeeded ? bytes : [])));
                });
                break;
            case KeyMessage key when _journal is not null:
                Interlocked.Increment(ref _inputEvents);
                SubmitInput(new KeyInput(key.Code, key.Pressed ? KeyAction.Press : KeyAction.Release));
                break;
            case PointerMessage pointer when _journal is not null:
                Interlocked.Increment(ref _inputEvents);
                SubmitInput(new PointerInput(pointer.X, pointer.Y, (PointerButtons)(pointer.Buttons & 7), pointer.Wheel));
                break;
            case JournalFeedMessage feed:
                Feed(feed);
                break;
            case ControlMessage { Kind: HostMessageType.Promote }:
                Promote();
                break;
            case KeyMessage key:
                Interlocked.Increment(ref _inputEvents);
                Inject(() => _machine.Devices.Keyboard.InjectKey(key.Code, key.Pressed ? KeyAction.Press : KeyAction.Release));
                break;
            case PointerMessage pointer:
                Interlocked.Increment(ref _inputEvents);
                Inject(() => _machine.Devices.Tablet.InjectPointer(pointer.X, pointer.Y, (PointerButtons)(pointer.Buttons & 7), pointer.Wheel));
                break;
            case TestForbiddenCallMessage probe when _testHooks:
                HostLog.Write(_log, $"test hook: making the system call {probe.Name}");
                _ = ProbeCall.Make(probe.Name);
                break;
            case TestForbiddenCallMessage:
                Refuse(HostProtocol.ErrorRefused, "test hooks are off");
                break;
            case ErrorMessage error:
                HostLog.Write(_log, $"the broker reports error {error.Code}: {error.Text}");
                break;
            default:
                throw new HostProtocolException($"{message.Type} is not a broker-to-host frame");
        }
    }

    private void Inject(Func<bool> inject)
    {
        using var lease = _machine.Lease();
        if (!lease.IsHeld || _machine.State is not (MachineState.Running or MachineState.Paused))
            return;
        // Logged at 1, 2, 4, 8 … drops: a flood of input must not become a flood of log lines.
        if (!inject() && Interlocked.Increment(ref _inputDropped) is var dropped && (dropped & (dropped - 1)) == 0)
            HostLog.Write(_log, $"input dropped: the device's queue is full ({dropped} events dropped so far)");
    }

    private void Refuse(ushort code, string text)
    {
        HostLog.Write(_log, text);
        _channel.Send(new ErrorMessage(code, text));
    }

    private async Task ShowAsync(DisplayRequestMessage request)
    {
        try
        {
            var timeout = TimeSpan.FromMilliseconds(Math.Clamp(request.TimeoutMs, 1u, 120_000u));
            var ack = await _machine.Devices.Display.RequestAsync(request.Properties, timeout).ConfigureAwait(false);
            // After the flushes that completed it: the broker sees the pixels before the acknowledgement.
            Post(() => _channel.Send(new DisplayShownMessage(request.RequestId, ack.Properties.Width, ack.Properties.Height, ack.Properties.Dpi,
                ack.Properties.RefreshHz, (long)ack.Elapsed.TotalMicroseconds)));
        }
        catch (Exception e) when (e is ArgumentException or TimeoutException or OperationCanceledException or InvalidOperationException)
        {
            var kind = e switch
            {
                TimeoutException => DisplayFailedMessage.TimedOut,
                OperationCanceledException => DisplayFailedMessage.Superseded,
                _ => DisplayFailedMessage.Refused,
            };
            Post(() => _channel.Send(new DisplayFailedMessage(request.RequestId, kind, e.Message)));
        }
    }

    private void PowerOff(TimeSpan deadline)
    {
        // A machine that migrated away is paused for good: its guest runs elsewhere and must not see a power-off.
        if (_machine.State == MachineState.Created || Volatile.Read(ref _migratedAway) != 0)
        {
            _machine.Stop();
            return;
        }
        _machine.RequestPowerOff();
        _ = _machine.Completion.WaitAsync(deadline).ContinueWith(t =>
        {
            if (t.IsFaulted)
                _machine.Stop();
        }, TaskScheduler.Default);
    }

    private void SendExit(MachineExit exit)
    {
        var desktop = LocalDesktop.Describe(exit);
        _channel.Send(new ExitedMessage((byte)desktop.Kind, desktop.ExitCode, desktop.Reason));
        // Every event the machine raised is sent (this runs on the event thread, after them): hang up, which ends Run.
        _channel.Dispose();
    }

    private void SendCounters() => _channel.Send(new CountersMessage(_machine.Exits, Interlocked.Read(ref _flushes),
        _machine.Devices.Gpu.ErrorResponses, Interlocked.Read(ref _inputEvents)));

    public void Dispose()
    {
        _events.Dispose();
        _journal?.Dispose();
    }
}

/// <summary>The host process's log: one line each on stderr, prefixed like every `vdi-vmm` line.</summary>
internal static class HostLog
{
    public static void Write(TextWriter log, string line)
    {
        lock (log)
        {
            log.WriteLine($"vdi-vmm: host: {line}");
            log.Flush();
        }
    }
}
