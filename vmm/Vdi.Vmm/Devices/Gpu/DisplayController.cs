using System.Diagnostics;
using Vdi.Vmm.Devices.Display;

namespace Vdi.Vmm.Devices.Gpu;

/// <summary>A display request the guest carried out: the mode and how long it took.</summary>
public sealed record DisplayAcknowledgement(DisplayProperties Properties, TimeSpan Elapsed);

/// <summary>
/// The host side of display reconfiguration: <see cref="RequestAsync"/> asks the guest for a mode
/// and completes once the guest — after reading this request — has set a scanout of exactly that size
/// and flushed a full frame of it (so a repaint for an earlier request of the same size never counts).
/// A newer request supersedes an older one still in flight (the older fails with a message
/// saying so).
/// </summary>
public sealed class DisplayController
{
    private readonly Lock _gate = new();
    private readonly VirtioGpu _gpu;
    private Pending? _pending;
    private ScanoutChange? _lastScanout;
    private ScanoutFlush? _lastFlush;

    public DisplayController(VirtioGpu gpu)
    {
        _gpu = gpu;
        gpu.ScanoutChanged += OnScanoutChanged;
        gpu.Flushed += OnFlushed;
    }

    public static TimeSpan DefaultTimeout { get; } = TimeSpan.FromSeconds(5);

    /// <summary>
    /// Under an execution journal: hands each request to the machine's vCPU thread, which records it and applies it
    /// between two instructions (<see cref="FaultTolerance.DisplayInput"/>), instead of applying it at once.
    /// </summary>
    internal Action<DisplayProperties, Action<long>>? Route { get; set; }

    /// <summary>The last request the guest completed.</summary>
    public DisplayAcknowledgement? LastAcknowledged { get; private set; }

    public event Action<DisplayAcknowledgement>? Acknowledged;

    /// <exception cref="ArgumentException">Invalid properties (the message names the field).</exception>
    /// <exception cref="TimeoutException">The guest did not show the mode in time; the message says what it showed instead.</exception>
    public async Task<DisplayAcknowledgement> RequestAsync(DisplayProperties properties, TimeSpan? timeout = null, CancellationToken cancellationToken = default)
    {
        var pending = new Pending(properties);
        Pending? superseded;
        lock (_gate)
        {
            superseded = _pending;
            _pending = pending;
        }
        superseded?.Completion.TrySetException(new OperationCanceledException($"display request {Describe(superseded.Properties)} was superseded by {Describe(properties)}"));
        try
        {
            Action<long> queued = generation =>
            {
                lock (_gate)
                    pending.Generation = generation;
            };
            if (Route is { } route)
            {
                _gpu.CheckDisplay(properties); // refused here, never on the vCPU's thread
                route(properties, queued);
            }
            else
            {
                _gpu.RequestDisplay(properties, queued);
            }
        }
        catch
        {
            lock (_gate)
            {
                if (_pending == pending)
                    _pending = null;
            }
            throw;
        }

        var limit = timeout ?? DefaultTimeout;
        try
        {
            return await pending.Completion.Task.WaitAsync(limit, cancellationToken).ConfigureAwait(false);
        }
        catch (TimeoutException)
        {
            lock (_gate)
            {
                if (_pending == pending)
                    _pending = null;
            }
            throw new TimeoutException(
                $"the guest did not show {Describe(properties)} within {limit.TotalMilliseconds:F0} ms " +
                $"(last scanout: {(_lastScanout is { Enabled: true } s ? $"{s.Width}x{s.Height}" : "none")}, " +
                $"last flush: {(_lastFlush is { } f ? $"{f.Damage} of {f.ScanoutWidth}x{f.ScanoutHeight}" : "none")})");
        }
    }

    private void OnScanoutChanged(ScanoutChange change)
    {
        lock (_gate)
        {
            _lastScanout = change;
            if (_pending is { } p)
                p.ScanoutMatches = change.Enabled && change.Width == p.Properties.Width && change.Height == p.Properties.Height && change.DisplayGeneration >= p.Generation;
        }
    }

    private void OnFlushed(ScanoutFlush flush)
    {
        DisplayAcknowledgement? done = null;
        Pending? completed = null;
        lock (_gate)
        {
            _lastFlush = flush;
            if (_pending is { ScanoutMatches: true } p && flush.IsFullFrame && flush.ScanoutWidth == p.Properties.Width && flush.ScanoutHeight == p.Properties.Height)
            {
                done = new DisplayAcknowledgement(p.Properties, Stopwatch.GetElapsedTime(p.Started));
                completed = p;
                _pending = null;
                LastAcknowledged = done;
            }
        }
        if (done is not null)
        {
            completed!.Completion.TrySetResult(done);
            Acknowledged?.Invoke(done);
        }
    }

    private static string Describe(DisplayProperties p) => $"{p.Width}x{p.Height}@{p.Dpi:0.#}dpi";

    private sealed class Pending(DisplayProperties properties)
    {
        public DisplayProperties Properties { get; } = properties;

        public long Started { get; } = Stopwatch.GetTimestamp();

        /// <summary>The GPU's generation for this request; until it is known no scanout matches.</summary>
        public long Generation { get; set; } = long.MaxValue;

        public bool ScanoutMatches { get; set; }

        public TaskCompletionSource<DisplayAcknowledgement> Completion { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);
    }
}
