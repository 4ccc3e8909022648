using System.Net.Sockets;
using Vdi.Guest.Desktop;
using Vdi.Vmm.Host;
using Vdi.Vmm.Machine;
using Vdi.Vmm.Migration;

namespace Vdi.Vmm.Cli;

/// <summary>
/// `vdi-vmm serve --socket PATH`: a desktop in a process of its own (docs/host-protocol.md). Builds the desktop VM,
/// creates the shared scanout, listens on PATH for exactly one broker connection, applies the sandbox when asked
/// (after the first connection is accepted), then serves until stopped or the broker goes away. With
/// --reconnect-seconds N the listening socket stays, and a broker that went away may reconnect within N seconds. With
/// --incoming the guest is not booted: the machine comes from a live migration (DesktopHostServer.Migration.cs). With
/// --fault-tolerance primary|secondary the host records or replays an execution journal (DesktopHostServer.FaultTolerance.cs).
/// </summary>
internal static class ServeCommand
{
    public const int DefaultMaxWidth = 3840, DefaultMaxHeight = 2160;
    private static readonly TimeSpan s_firstConnection = TimeSpan.FromSeconds(120);

    public static int Execute(CliOptions options, TextWriter stderr)
    {
        var socketPath = options.Text("socket") ?? throw new ArgumentException("serve needs --socket PATH");
        var vcpus = options.Int("vcpus", 1, 1, Boot.GuestLayout.MaxVcpus);
        var memory = options.Int("memory", 512, 64, MachineConfig.MaxMemoryMiB);
        var engine = options.Engine(Execution.EngineChoice.Auto);
        var maxWidth = options.Int("max-width", DefaultMaxWidth, Devices.Display.DisplayProperties.MinWidth, 16384);
        var maxHeight = options.Int("max-height", DefaultMaxHeight, Devices.Display.DisplayProperties.MinHeight, 16384);
        var display = DisplaySpec.Parse(options.Text("display") ?? "1280x720@96");
        var integrity = options.Integrity(Integrity.IntegrityLevel.Enforce);
        var testHooks = options.Flag("test-hooks");
        var reconnect = options.Int("reconnect-seconds", 0, 0, 24 * 3600);
        var arenaKiB = options.Int("arena-kib", int.MaxValue, 0, int.MaxValue);
        var incoming = options.Flag("incoming");
        var faultTolerance = options.Text("fault-tolerance") switch
        {
            null => FaultToleranceRole.None,
            "primary" => FaultToleranceRole.Primary,
            "secondary" when incoming => FaultToleranceRole.Secondary,
            "secondary" => throw new ArgumentException("--fault-tolerance secondary needs --incoming: a secondary receives its machine from the primary"),
            var other => throw new ArgumentException($"--fault-tolerance {other}: expected primary or secondary"),
        };
        var sandbox = SandboxOptions.Parse(options, options.Flag("sandbox"));
        options.EnsureConsumed();
        if (display.Width > maxWidth || display.Height > maxHeight)
            throw new ArgumentException($"--display {display.Width}x{display.Height} is larger than --max-width/--max-height");

        // A session of its own: the broker's terminal signals (Ctrl+C of `dotnet run`) are not the host's; the broker
        // ends it, or it ends itself once its broker is gone for good. Writes to a dead broker's stderr pipe fail
        // with EPIPE, which the runtime ignores (SIGPIPE is ignored in .NET processes), so a host whose broker died
        // serves on through the reconnect grace.
        _ = HostProcess.StartOwnSession();
        if (sandbox is not null)
            SandboxOptions.EnterNamespace(stderr);
        var config = new MachineConfig
        {
            Vcpus = vcpus, MemoryMiB = memory, Image = DesktopGuest.Build(), Display = display, Engine = engine,
            Gpu = new Devices.Gpu.GpuOptions { MaxWidth = maxWidth, MaxHeight = maxHeight }, Integrity = integrity,
        };
        // Made before the machine, so it is unmapped after the machine's vCPUs (which write resource images into it) are joined.
        using var scanout = ScanoutWriter.Create(maxWidth, maxHeight);
        using var machine = MachineBuilder.Build(config);
        stderr.WriteLine($"vdi-vmm: running on {machine.Engine.Subject} ({machine.Engine.Reason})");

        if (incoming)
        {
            // The reception's code compiled now, not while the source is paused: this engine's sections, then a whole
            // migration of a booted desktop between two throwaway machines (a socket: before the sandbox).
            var rehearsal = System.Diagnostics.Stopwatch.StartNew();
            MigrationWarmup.Run(config);
            MigrationWarmup.RehearseAsync(config, DesktopRun.WaitForIdleAsync).GetAwaiter().GetResult();
            stderr.WriteLine($"vdi-vmm: host: rehearsed a migration's reception in {rehearsal.ElapsedMilliseconds} ms");
        }

        var full = Path.GetFullPath(socketPath);
        using var listener = Listen(full);
        // A broker that went away before it connected must not leave the host waiting for ever.
        if (!listener.Poll((int)s_firstConnection.TotalMicroseconds, SelectMode.SelectRead))
        {
            stderr.WriteLine($"vdi-vmm: host: no broker connected within {s_firstConnection.TotalSeconds:F0} s");
            File.Delete(full);
            return 1;
        }
        var connection = listener.Accept();
        // An incoming host's migration listener: made now, because the sandbox refuses socket, bind and listen.
        using var migration = incoming ? ListenLoopback() : null;
        var connections = new List<Socket> { connection };
        if (reconnect == 0)
        {
            // One broker, ever: nobody else can connect, and the sandbox need not allow accept.
            listener.Close();
            File.Delete(full);
        }
        stderr.WriteLine("vdi-vmm: host: broker connected");
        try
        {
            Sandbox.SandboxReport? report = null;
            if (sandbox is not null)
            {
                var devices = machine.Engine.Engine == Execution.ExecutionEngine.Kvm ? new[] { Kvm.KvmSystem.ConfiguredDevicePath } : [];
                report = SandboxOptions.Apply(sandbox with { Devices = devices }, stderr);
            }
            using var server = new DesktopHostServer(machine, new FrameChannel(Descriptor(connection)), scanout, stderr, testHooks)
            {
                Sandbox = report,
                Incoming = migration,
                FaultTolerance = faultTolerance,
                ReconnectGrace = TimeSpan.FromSeconds(reconnect),
                ArenaBytes = arenaKiB * 1024L,
                AcceptReconnect = reconnect == 0 ? null : grace =>
                {
                    // Poll in slices: a guest that ends meanwhile ends the wait.
                    var deadline = DateTime.UtcNow + grace;
                    while (DateTime.UtcNow < deadline && !machine.Completion.IsCompleted)
                    {
                        if (listener.Poll(100_000, SelectMode.SelectRead))
                        {
                            var next = listener.Accept();
                            connections.Add(next);
                            return new FrameChannel(Descriptor(next));
                        }
                    }
                    return null;
                },
            };
            return server.Run();
        }
        finally
        {
            foreach (var c in connections)
                c.Dispose();
            // Inside the sandbox unlink is refused (it would kill the process): the socket stays for the broker to remove.
            if (reconnect > 0 && sandbox is null)
                File.Delete(full);
        }
    }

    private static int Descriptor(Socket socket) => (int)socket.SafeHandle.DangerousGetHandle();

    /// <summary>A TCP listener on 127.0.0.1 at a port the kernel picks, for one migration source.</summary>
    private static Socket ListenLoopback()
    {
        var listener = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        try
        {
            listener.Bind(new System.Net.IPEndPoint(System.Net.IPAddress.Loopback, 0));
            listener.Listen(1);
            _ = listener.LocalEndPoint; // read (getsockname) and kept now: the sandbox refuses getsockname
            return listener;
        }
        catch
        {
            listener.Dispose();
            throw;
        }
    }

    /// <summary>Listens on <paramref name="path"/>, replacing a stale socket left by an earlier host.</summary>
    private static Socket Listen(string path)
    {
        if (File.Exists(path))
            File.Delete(path);
        var listener = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
        try
        {
            listener.Bind(new UnixDomainSocketEndPoint(path));
            listener.Listen(1);
            return listener;
        }
        catch
        {
            listener.Dispose();
            throw;
        }
    }
}
