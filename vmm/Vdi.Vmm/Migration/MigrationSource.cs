using System.Diagnostics;

namespace Vdi.Vmm.Migration;

/// <summary>
/// The sending side of a live migration (<c>docs/vmm.md</c>, "Live migration"): pre-copy over a stream. All memory
/// first (zero pages as markers), then rounds of the pages dirtied meanwhile — the guest's writes, the VMM's, and
/// device DMA through the IOMMU — until what is left fits the downtime target or the round limit is reached; then
/// the vCPUs pause, the last pages and the machine state go, and the destination restores, is told to run, and
/// says it runs. On success the source machine is left paused: the caller ends it. A failure or cancel at any step
/// resumes it as it was and returns why.
/// </summary>
public static class MigrationSource
{
    public static async Task<MigrationOutcome> SendAsync(
        Machine.Machine machine, Stream stream, MigrationOptions options, IProgress<MigrationProgress>? progress = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(machine);
        ArgumentNullException.ThrowIfNull(stream);
        ArgumentNullException.ThrowIfNull(options);
        options.Validate();
        using var run = new SourceRun(machine, stream, options, progress);
        return await run.RunAsync(cancellationToken).ConfigureAwait(false);
    }

    private sealed class SourceRun(Machine.Machine machine, Stream stream, MigrationOptions options, IProgress<MigrationProgress>? progress) : IDisposable
    {
        private readonly Stopwatch _total = new();
        private readonly Stopwatch _downtime = new();
        private readonly PageSender _sender = new(machine.Memory, stream);
        private readonly DirtyTracker _tracker = new(machine);
        private TimeSpan _lastReport = TimeSpan.MinValue;
        private double _bytesPerSecond;
        private long _dmaPages, _finalPages, _stateBytes;
        private int _round;

        public async Task<MigrationOutcome> RunAsync(CancellationToken cancellationToken)
        {
            _total.Start();
            var paused = false;
            var tracker = _tracker;
            // The destination's refusal stops the sending at once: it no longer reads, so a write could wait forever.
            using var answered = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
            Task<(MigrationMessage Kind, byte[] Payload)?>? peer = null;
            var outerToken = cancellationToken;
            try
            {
                if (machine.State != Machine.MachineState.Running)
                    throw new MigrationException($"the machine is {machine.State}, not running");
                tracker.Start();
                await MigrationWire.WriteAsync(stream, MigrationMessage.Hello, MachineIdentity.Of(machine).ToBytes(), cancellationToken).ConfigureAwait(false);
                peer = PeerMessage.ReadAsync(stream, cancellationToken);
                _ = peer.ContinueWith(
                    t =>
                    {
                        if (!(t.IsCompletedSuccessfully && t.Result is (MigrationMessage.Restored, _)))
                            answered.Cancel();
                    },
                    CancellationToken.None, TaskContinuationOptions.ExecuteSynchronously, TaskScheduler.Default);
                var outer = cancellationToken;
                cancellationToken = answered.Token;

                await SendRoundAsync("copying", DirtyTracker.All(tracker.PageCount), 0, cancellationToken).ConfigureAwait(false);
                ulong[] left;
                var stalled = 0;
                var previous = double.MaxValue;
                while (true)
                {
                    PeerMessage.ThrowIfAnswered(peer, "while memory was copied");
                    left = tracker.Harvest(out var dma);
                    var count = DirtyTracker.Count(left);
                    var bytes = (count * (8.0 + MigrationWire.PageSize)) + tracker.DirtyPixelBytes;
                    var estimate = TimeSpan.FromSeconds(bytes / Math.Max(_bytesPerSecond, 1));
                    // Rounds that no longer shrink what is left (a guest dirtying memory as fast as it goes) only cost time.
                    stalled = bytes * 10 > previous * 9 ? stalled + 1 : 0;
                    previous = bytes;
                    if (bytes == 0 || estimate * 2 <= options.DowntimeTarget || _round >= options.MaxRounds || stalled >= options.StalledRounds)
                        break;
                    _round++;
                    await SendRoundAsync("round", left, dma, cancellationToken).ConfigureAwait(false);
                }

                paused = true; // from here a failure resumes the vCPUs, whatever PauseAll managed
                _downtime.Start();
                if (!machine.PauseAll(options.PauseTimeout))
                    throw new MigrationException($"the vCPUs did not park within {options.PauseTimeout.TotalSeconds:F0} s");
                machine.QuiesceDevices(true); // input arriving now waits in its device and goes with the state
                var last = tracker.Harvest(out var lastDma);
                for (var i = 0; i < last.Length; i++)
                    last[i] |= left[i];
                _round++;
                _finalPages = DirtyTracker.Count(last);
                await SendRoundAsync("final", last, lastDma, cancellationToken).ConfigureAwait(false);
                var state = machine.SaveState();
                _stateBytes = state.Length;
                await MigrationWire.WriteStateAsync(stream, state, cancellationToken).ConfigureAwait(false);
                await stream.FlushAsync(cancellationToken).ConfigureAwait(false);
                Report("confirming", force: true);

                await PeerMessage.ExpectAsync(peer, MigrationMessage.Restored, "while restoring", options.ConfirmTimeout, cancellationToken).ConfigureAwait(false);
                cancellationToken = outer;
                var running = PeerMessage.ReadAsync(stream, cancellationToken);
                await MigrationWire.WriteAsync(stream, MigrationMessage.Commit, ReadOnlyMemory<byte>.Empty, cancellationToken).ConfigureAwait(false);
                await PeerMessage.ExpectAsync(running, MigrationMessage.Running, "while starting", options.ConfirmTimeout, cancellationToken).ConfigureAwait(false);
                _downtime.Stop();
                _total.Stop();
                Report("done", force: true);
                return Outcome(null);
            }
            catch (Exception e) when (e is MigrationException or IOException or OperationCanceledException or ObjectDisposedException
                or InvalidOperationException or TimeoutException or State.StateFormatException)
            {
                var reason = e is OperationCanceledException ? "cancelled" : e.Message;
                if (e is IOException && peer is { IsCompleted: false })
                    await Task.WhenAny(peer, Task.Delay(TimeSpan.FromSeconds(1), CancellationToken.None)).ConfigureAwait(false); // a refusal may be on its way
                var refused = peer is { IsCompletedSuccessfully: true, Result: (MigrationMessage.Abort, _) };
                var endedByPeer = e is OperationCanceledException && !outerToken.IsCancellationRequested && peer is { IsCompleted: true };
                if (refused || endedByPeer)
                    reason = PeerMessage.Describe(peer!, "while memory was copied"); // the destination's word says why
                await MigrationWire.TryWriteAbortAsync(stream, reason).ConfigureAwait(false);
                if (paused)
                {
                    machine.QuiesceDevices(false);
                    machine.ResumeAll();
                }
                _downtime.Reset();
                _total.Stop();
                Report("failed", force: true);
                return Outcome(reason);
            }
        }

        private async Task SendRoundAsync(string phase, ulong[] pages, long dma, CancellationToken cancellationToken)
        {
            var count = DirtyTracker.Count(pages);
            _dmaPages += dma;
            var started = Stopwatch.GetTimestamp();
            var bytesBefore = _sender.Bytes;
            Report(phase, count, 0, dma, force: true);
            await _sender.SendAsync(pages, done => Report(phase, count, done, dma), cancellationToken).ConfigureAwait(false);
            await _sender.SendPixelsAsync(machine.Devices.Gpu, _tracker.HarvestPixels(), cancellationToken).ConfigureAwait(false);
            await stream.FlushAsync(cancellationToken).ConfigureAwait(false);
            var seconds = Stopwatch.GetElapsedTime(started).TotalSeconds;
            if (count >= 64 && seconds > 0)
                _bytesPerSecond = (_sender.Bytes - bytesBefore) / seconds;
            else if (_bytesPerSecond == 0)
                _bytesPerSecond = 1e9; // a round too small to time: assume a loopback's rate until one is measured
            Report(phase, count, count, dma, force: true);
        }

        private void Report(string phase, bool force) => Report(phase, 0, 0, 0, force);

        private void Report(string phase, long roundPages, long roundSent, long dma, bool force = false)
        {
            if (progress is null || (!force && _total.Elapsed - _lastReport < options.ProgressInterval))
                return;
            _lastReport = _total.Elapsed;
            progress.Report(new MigrationProgress(phase, _round, roundPages, roundSent, dma, _sender.Pages, _sender.ZeroPages, _sender.Bytes, _bytesPerSecond, _total.Elapsed));
        }

        public void Dispose() => _tracker.Dispose(); // every source's logging and tracking off

        private MigrationOutcome Outcome(string? error) => new(
            error is null, error, _total.Elapsed, error is null ? _downtime.Elapsed : TimeSpan.Zero, _round, _sender.Pages, _sender.ZeroPages, _sender.Bytes,
            _finalPages, _stateBytes, _dmaPages);
    }

}
