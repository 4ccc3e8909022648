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
/// The real <see cref="DesktopStream"/> and encoder against a <see cref="BenchScanout"/> driven by a
/// <see cref="Scene"/>, closed loop: the scene paints and flushes, the stream captures, encodes and
/// sends to each of its viewers (one unless <c>--viewers N</c>), each frame is serialized as the hub
/// would (SignalR MessagePack) and acknowledged at once, and once every viewer has its frame the
/// scene paints the next one.
/// </summary>
internal sealed class PumpBenchmark
{
    private readonly int _batches;
    private readonly TimeSpan _batchTime;
    private readonly int _batchFrames;
    private readonly TimeSpan _warmupTime;
    private readonly int _warmupFrames;
    private readonly DesktopStreamOptions _options;
    private readonly TimeSpan _ackDelay;
    private readonly string[] _scenes;
    private readonly int _viewers;

    /// <param name="quick">A few frames per scene: a smoke run.</param>
    /// <param name="parallel">Encode the tiles of large frames on all cores.</param>
    /// <param name="ackDelay">How long the client takes to paint each frame before acknowledging it.</param>
    /// <param name="scenes">Scene names to run; all when empty.</param>
    /// <param name="viewers">Viewers of the one desktop stream.</param>
    public PumpBenchmark(bool quick, bool parallel, TimeSpan ackDelay, string[] scenes, int viewers = 1)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(viewers, 1);
        _options = new DesktopStreamOptions { ParallelEncoding = parallel };
        (_ackDelay, _scenes, _viewers) = (ackDelay, scenes, viewers);
        (_batches, _batchTime, _batchFrames, _warmupTime, _warmupFrames) = quick
            ? (3, TimeSpan.FromMilliseconds(60), 2, TimeSpan.Zero, 3)
            : (7, TimeSpan.FromMilliseconds(500), 5, TimeSpan.FromMilliseconds(600), 8);
    }

    public async Task RunAsync()
    {
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"pump: DesktopStream + TileEncoder on a {Scene.Width}x{Scene.Height} scanout, {_viewers} viewer{(_viewers == 1 ? "" : "s")}, each frame serialized as SignalR MessagePack and acked {(_ackDelay > TimeSpan.Zero ? $"{_ackDelay.TotalMilliseconds:F0} ms later (a slow client)" : "at once")}{(_options.ParallelEncoding ? ", tiles of large frames encoded in parallel" : "")}"));
        Console.WriteLine($"  {_batches} batches of >= {_batchTime.TotalMilliseconds:F0} ms per scenario; figures per frame, median / p95 over the batches (frame ms: over all frames)");
        Console.WriteLine("  CPU: the whole process (stream, encoder, every viewer's serialization, GC) less the scene's painting; KiB: one viewer's; copy: a memcpy of the flushed pixels");
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
        var clients = Enumerable.Range(0, _viewers).Select(_ => new AckingClient(_ackDelay)).ToArray();
        var client = new Viewers(clients);
        var stream = new DesktopStream(screen, _options);
        foreach (var c in clients)
            c.Viewer = stream.Join(c.Send);
        try
        {
            clients[0].Viewer!.RequestFullFrame(); // wakes the stream: every viewer, new, gets a keyframe
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
            var quality = stream.JpegQuality;
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"  {scene.Name,-8} {Stats.Median(fps),7:F1} {Pair(latencies, "F2"),15} {Pair(cpu, "F2"),15} {Pair(bytes, "F1"),17} {Pair(alloc, "F1"),17} {Stats.Median(tiles),6:F0} {copy * 1000,8:F1} {Stats.Median(cpu) / Math.Max(copy, 1e-4),8:F0}x {quality,5}"));
        }
        finally
        {
            await stream.DisposeAsync().ConfigureAwait(false);
            foreach (var c in clients)
                c.Dispose();
        }
    }

    /// <summary>Paints frame <paramref name="frame"/>, flushes it and waits until every viewer got it.</summary>
    private static GpuRect Step(Scene scene, BenchScanout screen, Viewers client, int frame, out TimeSpan painting, out TimeSpan latency)
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

        public StreamViewer? Viewer { get; set; }

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
            Viewer!.Acknowledge(frame.FrameId);
            _sent.Release();
            return ValueTask.CompletedTask;
        }

        private async Task AckLaterAsync(long frameId)
        {
            await Task.Delay(_ackDelay).ConfigureAwait(false);
            Viewer!.Acknowledge(frameId);
            _sent.Release();
        }

        public void Dispose() => _sent.Dispose();

        public void Wait()
        {
            if (!_sent.Wait(TimeSpan.FromSeconds(30)))
                throw new TimeoutException("the stream sent no frame for a flush within 30 s");
        }
    }

    /// <summary>Every viewer of the stream: the first one's figures stand for each.</summary>
    private sealed class Viewers(AckingClient[] clients)
    {
        public long LastBytes => clients[0].LastBytes;

        public int LastTiles => clients[0].LastTiles;

        public void Wait()
        {
            foreach (var client in clients)
                client.Wait();
        }
    }
}
