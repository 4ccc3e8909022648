using System.Net.Sockets;
using Vdi.Vmm.Guest.Desktop;
using Vdi.Vmm.Host;
using Vdi.Vmm.Machine;

namespace Vdi.Vmm.Cli;

/// <summary>
/// `vdi-vmm serve --socket PATH`: a desktop in a process of its own (docs/host-protocol.md). Builds the desktop VM,
/// creates the shared scanout, listens on PATH for exactly one broker connection, applies the sandbox when asked
/// (after the connection is accepted: the filter allows no accept), then serves until stopped or the broker goes away.
/// </summary>
internal static class ServeCommand
{
    public const int DefaultMaxWidth = 3840, DefaultMaxHeight = 2160;

    public static int Execute(CliOptions options, TextWriter stderr)
    {
        var socketPath = options.Text("socket") ?? throw new ArgumentException("serve needs --socket PATH");
        var vcpus = options.Int("vcpus", 1, 1, Boot.GuestLayout.MaxVcpus);
        var memory = options.Int("memory", 512, 64, MachineConfig.MaxMemoryMiB);
        var engine = options.Engine(Execution.EngineChoice.Auto);
        var maxWidth = options.Int("max-width", DefaultMaxWidth, Devices.Display.DisplayProperties.MinWidth, 16384);
        var maxHeight = options.Int("max-height", DefaultMaxHeight, Devices.Display.DisplayProperties.MinHeight, 16384);
        var display = DisplaySpec.Parse(options.Text("display") ?? "1280x720@96");
        var testHooks = options.Flag("test-hooks");
        var sandbox = SandboxOptions.Parse(options, options.Flag("sandbox"));
        options.EnsureConsumed();
        if (display.Width > maxWidth || display.Height > maxHeight)
            throw new ArgumentException($"--display {display.Width}x{display.Height} is larger than --max-width/--max-height");

        if (sandbox is not null)
            SandboxOptions.EnterNamespace(stderr);
        var config = new MachineConfig
        {
            Vcpus = vcpus, MemoryMiB = memory, Image = DesktopGuest.Build(), Display = display, Engine = engine,
            Gpu = new Devices.Gpu.GpuOptions { MaxWidth = maxWidth, MaxHeight = maxHeight },
        };
        using var machine = MachineBuilder.Build(config);
        stderr.WriteLine($"vdi-vmm: running on {machine.Engine.Subject} ({machine.Engine.Reason})");
        using var scanout = ScanoutWriter.Create(maxWidth, maxHeight);

        using var connection = AcceptOne(socketPath);
        stderr.WriteLine("vdi-vmm: host: broker connected");
        Sandbox.SandboxReport? report = null;
        if (sandbox is not null)
        {
            var devices = machine.Engine.Engine == Execution.ExecutionEngine.Kvm ? new[] { Kvm.KvmSystem.ConfiguredDevicePath } : [];
            report = SandboxOptions.Apply(sandbox with { Devices = devices }, stderr);
        }
        using var channel = new FrameChannel((int)connection.SafeHandle.DangerousGetHandle());
        using var server = new DesktopHostServer(machine, channel, scanout, stderr, testHooks) { Sandbox = report };
        return server.Run();
    }

    /// <summary>Listens on <paramref name="path"/>, accepts one connection, and removes the listening socket.</summary>
    private static Socket AcceptOne(string path)
    {
        var full = Path.GetFullPath(path);
        if (File.Exists(full))
            File.Delete(full); // a stale socket from an earlier host
        using var listener = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
        listener.Bind(new UnixDomainSocketEndPoint(full));
        try
        {
            listener.Listen(1);
            return listener.Accept();
        }
        finally
        {
            File.Delete(full);
        }
    }
}
