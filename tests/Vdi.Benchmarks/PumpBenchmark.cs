using System.Buffers;
using System.Diagnostics;
using System.Globalization;
using Microsoft.AspNetCore.SignalR;
using Microsoft.AspNetCore.SignalR.Protocol;
using Microsoft.Extensions.Options;
using Vdi.Protocol;
using Vdi.Server.Display;
using Vdi.Vmm.Devices.Gpu;

namespace Vdi.Benchmarks;

/// <summary>
/// The real <see cref="FramePump"/> and encoder against a <see cref="BenchScanout"/> driven by a
/// <see cref="Scene"/>, closed loop: the scene paints and flushes, the pump captures, encodes and
/// sends, the frame is serialized as the hub would (SignalR MessagePack) and acknowledged at once,
/// then the scene paints the next frame.
/// </summary>
internal sealed class PumpBenchmark
{
    private readonly int _batches;
    private readonly TimeSpan _batchTime;
    private readonly int _batchFrames;
    private readonly TimeSpan _warmupTime;
    private readonly int _warmupFrames;
    private readonly FramePumpOptions _options;
    private readonly TimeSpan _ackDelay;
    private readonly string[] _scenes;

    /// <param name="quick">A few frames per scene: a smoke run.</param>
    /// <param name="parallel">Encode the tiles of large frames on all cores.</param>
    /// <param name="ackDelay">How long the client takes to paint each frame before acknowledging it.</param>
    /// <param name="scenes">Scene names to run; all when empty.</param>
    public PumpBenchmark(bool quick, bool parallel, TimeSpan ackDelay, string[] scenes)
    {
        _options = new FramePumpOptions { ParallelEncoding = parallel };
        (_ackDelay, _scenes) = (ackDelay, scenes);
        (_batches, _batchTime, _batchFrames, _warmupTime, _warmupFrames) = quick
            ? (3, TimeSpan.FromMilliseconds(60), 2, TimeSpan.Zero, 3)
            : (7, TimeSpan.FromMilliseconds(500), 5, TimeSpan.FromMilliseconds(600), 8);
    }

    public async Task RunAsync()
    {
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"pump: FramePump + TileEncoder on a {Scene.Width}x{Scene.Height} scanout, each frame serialized as SignalR MessagePack and acked {(_ackDelay > TimeSpan.Zero ? $"{_ackDelay.TotalMilliseconds:F0} ms later (a slow client)" : "at once")}{(_options.ParallelEncoding ? ", tiles of large frames encoded in parallel" : "")}"));
        Console.WriteLine($"  {_batches} batches of >= {_batchTime.TotalMilliseconds:F0} ms per scenario; figures per frame, median / p95 over the batches (frame ms: over all frames)");
        Console.WriteLine("  CPU: the whole process (pump, encoder, serialization, GC) less the scene's painting; copy: a memcpy of the flushed pixels");
        Console.WriteLine($"  {"scenario",-8} {"fps",7} {"frame ms",15} {"CPU ms/frame",15} {"KiB/frame",17} {"alloc KiB/frame",17} {"tiles",6} {"copy µs",8} {"CPU/copy",9} {"jpeg q",6}");
        var scenes = Scene.All().Where(s => _scenes.Length == 0 || _scenes.Contains(s.Name)).ToArray();
        foreach (var scene in scenes)
            await RunSceneAsync(scene).ConfigureAwait(false);
        foreach (var scene in scenes)
            Console.WriteLine($"  {scene.Name,-8} {scene.Description}");
    }

    private async Task RunSceneAsync(Scene scene)
    {
        var screen = new BenchScanout(Scene.Width, Scene.Height);
        scene.Setup(screen.Pixels);
        using var client = new AckingClient(_ackDelay);
        var pump = new FramePump(screen, client.Send, _options);
        client.Pump = pump;
        try
        {
            pump.RequestFullFrame();
            client.Wait();

            var frame = 0;
            var warmup = Stopwatch.StartNew();
            while (frame < _warmupFrames || warmup.Elapsed < _warmupTime)
                Step(scene, screen, client, frame++, out _, out _);

            var fps = new List<double>();
            var cpu = new List<double>();
            var bytes = new List<double>();
            var alloc = new List<double>();
            var tiles = new List<double>();
            var latencies = new List<double>();
            long damagePixels = 0;
            for (var b = 0; b < _batches; b++)
            {
                var (frames, paint, wireBytes, tileCount) = (0, TimeSpan.Zero, 0L, 0L);
                var cpu0 = Stats.ProcessCpu();
                var alloc0 = GC.GetTotalAllocatedBytes(precise: true);
                var wall = Stopwatch.StartNew();
                while (frames < _batchFrames || wall.Elapsed < _batchTime)
                {
                    var damage = Step(scene, screen, client, frame++, out var painting, out var latency);
                    paint += painting;
                    latencies.Add(latency.TotalMilliseconds);
                    wireBytes += client.LastBytes;
                    tileCount += client.LastTiles;
                    damagePixels = damage.Area;
                    frames++;
                }
                wall.Stop();
                var cpuUsed = Stats.ProcessCpu() - cpu0 - paint;
                alloc.Add((GC.GetTotalAllocatedBytes(precise: true) - alloc0) / 1024.0 / frames);
                fps.Add(frames / (wall.Elapsed - paint).TotalSeconds);
                cpu.Add(cpuUsed.TotalMilliseconds / frames);
                bytes.Add(wireBytes / 1024.0 / frames);
                tiles.Add(tileCount / (double)frames);
            }
            var copy = MemcpyMs(damagePixels * 4);
            var quality = pump.JpegQuality;
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"  {scene.Name,-8} {Stats.Median(fps),7:F1} {Pair(latencies, "F2"),15} {Pair(cpu, "F2"),15} {Pair(bytes, "F1"),17} {Pair(alloc, "F1"),17} {Stats.Median(tiles),6:F0} {copy * 1000,8:F1} {Stats.Median(cpu) / Math.Max(copy, 1e-4),8:F0}x {quality,5}"));
        }
        finally
        {
            await pump.DisposeAsync().ConfigureAwait(false);
        }
    }

    /// <summary>Paints frame <paramref name="frame"/>, flushes it and waits until the pump sent it.</summary>
    private static GpuRect Step(Scene scene, BenchScanout screen, AckingClient client, int frame, out TimeSpan painting, out TimeSpan latency)
    {
        var start = Stopwatch.GetTimestamp();
        var damage = scene.Step(screen.Pixels, frame);
        painting = Stopwatch.GetElapsedTime(start);
        start = Stopwatch.GetTimestamp();
        screen.Flush(damage);
        client.Wait();
        latency = Stopwatch.GetElapsedTime(start);
        return damage;
    }

    private static string Pair(List<double> samples, string format) =>
        string.Create(CultureInfo.InvariantCulture, $"{Stats.Median(samples).ToString(format, CultureInfo.InvariantCulture)} / {Stats.Percentile(samples, 0.95).ToString(format, CultureInfo.InvariantCulture)}");

    private static double MemcpyMs(long bytes)
    {
        var from = new byte[bytes];
        var to = new byte[bytes];
        Random.Shared.NextBytes(from);
        return Stats.MedianMs(51, () => from.AsSpan().CopyTo(to));
    }

    /// <summary>The viewer: serializes each frame as the hub sends it, acknowledges it at once and wakes the scene.</summary>
    private sealed class AckingClient : IDisposable
    {
        private readonly MessagePackHubProtocol _protocol = new(Options.Create(new MessagePackHubProtocolOptions()));
        private readonly ArrayBufferWriter<byte> _wire = new(1 << 20);
        private readonly SemaphoreSlim _sent = new(0);
        private readonly TimeSpan _ackDelay;

        public AckingClient(TimeSpan ackDelay) => _ackDelay = ackDelay;

        public FramePump? Pump { get; set; }

        public long LastBytes { get; private set; }

        public int LastTiles { get; private set; }

        public ValueTask Send(FrameUpdate frame)
        {
            _wire.ResetWrittenCount();
            _protocol.WriteMessage(new InvocationMessage(nameof(IDesktopHubClient.FrameUpdate), [frame]), _wire);
            (LastBytes, LastTiles) = (_wire.WrittenCount, frame.Tiles.Length);
            if (_ackDelay > TimeSpan.Zero)
            {
                _ = AckLaterAsync(frame.FrameId);
                return ValueTask.CompletedTask;
            }
            Pump!.Acknowledge(frame.FrameId);
            _sent.Release();
            return ValueTask.CompletedTask;
        }

        private async Task AckLaterAsync(long frameId)
        {
            await Task.Delay(_ackDelay).ConfigureAwait(false);
            Pump!.Acknowledge(frameId);
            _sent.Release();
        }

        public void Dispose() => _sent.Dispose();

        public void Wait()
        {
            if (!_sent.Wait(TimeSpan.FromSeconds(30)))
                throw new TimeoutException("the pump sent no frame for a flush within 30 s");
        }
    }
}
