using Vdi.Vmm.Devices.Display;
using Vdi.Vmm.Devices.Gpu;
using Vdi.Vmm.Host;
using Vdi.Vmm.Tests.Sandbox;

namespace Vdi.Vmm.Tests.Host;

/// <summary>A desktop served by `vdi-vmm serve` in a child process: pixels, life cycle, deaths and bad frames.</summary>
public sealed class RemoteDesktopTests
{
    [Fact]
    public async Task Shared_memory_shows_the_same_pixels_as_an_in_process_desktop_in_the_same_mode()
    {
        using var work = VmmProcess.Folder("host");
        await using var remote = await HostedDesktops.LaunchAsync(work.Path);
        await using var local = HostedDesktops.Local();
        var mode = new DisplayProperties(1024, 768, 120);
        await Task.WhenAll(remote.StartAsync(), local.StartAsync());
        await Task.WhenAll(remote.RequestDisplayAsync(mode, TimeSpan.FromSeconds(30)), local.RequestDisplayAsync(mode, TimeSpan.FromSeconds(30)));

        var served = HostedDesktops.CaptureAll(remote, 1024, 768);
        var own = HostedDesktops.CaptureAll(local, 1024, 768);
        var bar = 0;
        while (bar < 768 && own.ArgbAt(0, bar) == own.ArgbAt(0, 0))
            bar++;
        Assert.InRange(bar, 4, 200);
        // Everything below the top bar, and the bar's left half (its right holds the clock, which may tick between captures).
        Assert.Equal(0, HostedDesktops.Changed(served, own, new GpuRect(0, bar, 1024, 768 - bar)));
        Assert.Equal(0, HostedDesktops.Changed(served, own, new GpuRect(0, 0, 512, bar)));
        Assert.True(remote.LastFlushSequence > 0 && remote.LastFlushSequence % 2 == 0, $"flush sequence {remote.LastFlushSequence}");
        Assert.Contains("software engine", remote.Engine, StringComparison.OrdinalIgnoreCase);
        await HostedDesktops.UntilAsync(() => remote.Counters is { Flushes: > 0, InputEvents: 0 }, "trace counters with the flushes");
    }

    [Fact]
    public async Task The_host_opens_the_KVM_device_it_is_given()
    {
        using var work = VmmProcess.Folder("host");
        const string Device = "/nonexistent/vdi-test/kvm";
        var e = await Assert.ThrowsAnyAsync<Exception>(() => RemoteDesktop.LaunchAsync(new RemoteDesktopOptions
        {
            WorkDirectory = work.Path, Engine = Vdi.Vmm.Execution.EngineChoice.Kvm, KvmDevicePath = Device, ConnectTimeout = TimeSpan.FromSeconds(30),
        }));
        Assert.Contains(Device, e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Stop_powers_the_guest_off_and_the_host_exits_0()
    {
        using var work = VmmProcess.Folder("host");
        await using var remote = await HostedDesktops.LaunchAsync(work.Path);
        await remote.StartAsync();
        var exit = await remote.StopAsync(TimeSpan.FromSeconds(10));
        Assert.Equal(DesktopExitKind.PoweredOff, exit.Kind);
        Assert.Equal(0, remote.HostExitCode);
        Assert.False(File.Exists(Path.Combine(work.Path, "host.sock")), "the listening socket is removed once the broker is connected");
    }

    [Fact]
    public async Task Kill_9_of_the_host_is_reported_as_its_death_by_signal()
    {
        using var work = VmmProcess.Folder("host");
        await using var remote = await HostedDesktops.LaunchAsync(work.Path);
        await remote.StartAsync();
        using (var child = System.Diagnostics.Process.GetProcessById(remote.ProcessId!.Value))
            child.Kill();
        var exit = await remote.Completion.WaitAsync(TimeSpan.FromSeconds(30));
        Assert.Equal(DesktopExitKind.ProcessDied, exit.Kind);
        Assert.Equal(128 + 9, remote.HostExitCode);
        Assert.Contains("killed by signal 9", exit.Reason, StringComparison.Ordinal);
        Assert.False(remote.SendKey(30, true), "input to a dead host is refused, not thrown");
    }

    [Fact]
    public async Task A_forbidden_call_inside_the_sandboxed_host_is_reported_with_its_name()
    {
        using var work = VmmProcess.Folder("host");
        await using var remote = await HostedDesktops.LaunchAsync(work.Path, sandbox: true, testHooks: true);
        await remote.StartAsync();
        await HostedDesktops.UntilAsync(() => remote.SandboxReport is not null, "sandbox report");
        Assert.Contains("seccomp:", remote.SandboxReport, StringComparison.Ordinal);
        // The CPU limit: a rate under cgroup v2, else a lower priority, and the report says which.
        Assert.Matches("cpu\\.max 150000 100000|cpu: no rate limit without cgroup v2; [0-9]+ threads at nice 10", remote.SandboxReport);
        Assert.True(remote.SendTestForbiddenCall("ptrace"));
        var exit = await remote.Completion.WaitAsync(TimeSpan.FromSeconds(30));
        Assert.Equal(DesktopExitKind.ProcessDied, exit.Kind);
        Assert.Contains("killed by seccomp: system call 101 (ptrace)", exit.Reason, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_request_the_host_cannot_carry_out_is_refused_and_a_throwing_handler_harms_nothing()
    {
        using var work = VmmProcess.Folder("host");
        await using var remote = await HostedDesktops.LaunchAsync(work.Path, testHooks: true);
        remote.Flushed += _ => throw new InvalidOperationException("a broken subscriber");
        await remote.StartAsync();
        Assert.True(remote.SendTestForbiddenCall("no_such_call"));
        await HostedDesktops.UntilAsync(() => remote.Errors.Any(e => e.Code == HostProtocol.ErrorRefused && e.Text.Contains("no_such_call", StringComparison.Ordinal)), "refusal");
        var ack = await remote.RequestDisplayAsync(new DisplayProperties(800, 600), TimeSpan.FromSeconds(30));
        Assert.Equal(800, ack.Properties.Width);
        Assert.False(remote.Completion.IsCompleted);
    }

    [Fact]
    public async Task Without_test_hooks_the_forbidden_call_request_is_refused()
    {
        using var work = VmmProcess.Folder("host");
        await using var remote = await HostedDesktops.LaunchAsync(work.Path);
        Assert.True(remote.SendTestForbiddenCall("ptrace"));
        await HostedDesktops.UntilAsync(() => remote.Errors.Any(e => e.Code == HostProtocol.ErrorRefused), "refusal");
        Assert.False(remote.Completion.IsCompleted);
    }

    [Fact]
    public async Task A_host_survives_thousands_of_random_well_formed_input_frames_then_refuses_garbage()
    {
        using var work = VmmProcess.Folder("host");
        await using var remote = await HostedDesktops.LaunchAsync(work.Path);
        await remote.StartAsync();
        await remote.RequestDisplayAsync(new DisplayProperties(800, 600), TimeSpan.FromSeconds(30));
        var random = new Random(11);
        for (var i = 0; i < 3000; i++)
        {
            HostMessage message = random.Next(10) switch
            {
                < 5 => new KeyMessage((ushort)random.Next(0x10000), random.Next(2) == 0),
                < 9 => new PointerMessage(random.Next(int.MinValue, int.MaxValue), random.Next(int.MinValue, int.MaxValue), (uint)random.Next(int.MinValue, int.MaxValue), random.Next(int.MinValue, int.MaxValue)),
                _ => new MotionMessage(random.Next(2) == 0),
            };
            Assert.True(remote.SendRaw(message.Encode()), $"the host hung up at frame {i}");
        }
        Assert.True(remote.SetMotion(false));
        // Still serving: a display request is carried out.
        var ack = await remote.RequestDisplayAsync(new DisplayProperties(1024, 768), TimeSpan.FromSeconds(30));
        Assert.Equal(1024, ack.Properties.Width);
        Assert.False(remote.Completion.IsCompleted);

        var garbage = new byte[64];
        random.NextBytes(garbage);
        garbage[0] = 1;
        garbage[1] = 0x60; // no such type
        Assert.True(remote.SendRaw(garbage));
        await remote.Completion.WaitAsync(TimeSpan.FromSeconds(30));
        Assert.Contains(remote.Errors, e => e.Code == HostProtocol.ErrorMalformed);
        Assert.Equal(3, remote.HostExitCode);
    }

    public static TheoryData<string, byte[]> BadFrames => new()
    {
        { "unknown type", [1, 0x55, 0, 0, 0, 0, 0, 0] },
        { "wrong version", [9, (byte)HostMessageType.Start, 0, 0, 0, 0, 0, 0] },
        { "flags set", [1, (byte)HostMessageType.Start, 1, 0, 0, 0, 0, 0] },
        { "oversized", [1, (byte)HostMessageType.Key, 0, 0, 0xFF, 0xFF, 0xFF, 0x7F] },
        { "wrong length for its type", [1, (byte)HostMessageType.Key, 0, 0, 2, 0, 0, 0, 30, 0] },
        { "bad field", [1, (byte)HostMessageType.Key, 0, 0, 3, 0, 0, 0, 30, 0, 7] },
        { "host-to-broker type", [1, (byte)HostMessageType.Flushed, 0, 0, 32, 0, 0, 0, .. new byte[32]] },
    };

    [Theory]
    [MemberData(nameof(BadFrames))]
    public async Task A_malformed_frame_from_the_broker_is_refused_and_the_host_ends_cleanly(string why, byte[] frame)
    {
        using var work = VmmProcess.Folder("host");
        var log = new System.Collections.Concurrent.ConcurrentQueue<string>();
        await using var remote = await HostedDesktops.LaunchAsync(work.Path, log: log.Enqueue);
        await remote.StartAsync();
        Assert.True(remote.SendRaw(frame), why);
        var exit = await remote.Completion.WaitAsync(TimeSpan.FromSeconds(30));
        Assert.Contains(remote.Errors, e => e.Code == HostProtocol.ErrorMalformed);
        Assert.Equal(3, remote.HostExitCode); // exited on its own after the error, not killed
        Assert.Equal(DesktopExitKind.ProtocolError, exit.Kind);
        Assert.StartsWith("the desktop host refused a malformed frame from the broker: ", exit.Reason, StringComparison.Ordinal);
        Assert.Contains(log, l => l.Contains("protocol error from the broker", StringComparison.Ordinal));
    }
}

/// <summary>A broker that restarts: the served desktop keeps running and the new broker reattaches to it.</summary>
public sealed class ReconnectTests
{
    [Fact]
    public async Task A_broker_that_lets_go_can_reattach_within_the_grace_and_sees_the_running_desktop()
    {
        using var work = VmmProcess.Folder("host");
        var options = new RemoteDesktopOptions
        {
            WorkDirectory = work.Path, Engine = Vmm.Execution.EngineChoice.Software, Sandbox = true, MemoryLimitMiB = 2048, ReconnectSeconds = 30,
        };
        var first = await RemoteDesktop.LaunchAsync(options);
        var pid = first.ProcessId!.Value;
        using var child = System.Diagnostics.Process.GetProcessById(pid);
        try
        {
            await first.StartAsync();
            await first.RequestDisplayAsync(new DisplayProperties(1024, 768, 120), TimeSpan.FromSeconds(30));
            first.Detach();
            Assert.Equal(DesktopExitKind.Detached, (await first.Completion.WaitAsync(TimeSpan.FromSeconds(10))).Kind);
            await first.DisposeAsync();
            Assert.False(child.HasExited, "the host ended when its broker let go");

            // The restarted broker: no child of its own, only the socket path.
            await using var second = RemoteDesktop.Connect(options.SocketPath);
            await HostedDesktops.UntilAsync(() => second.Mode == (1024, 768), "the running desktop's mode after reattaching");
            Assert.Equal(120, second.Dpi);
            Assert.Contains("seccomp:", second.SandboxReport, StringComparison.Ordinal); // the sandbox still applies, accept4 included
            var before = HostedDesktops.CaptureAll(second, 1024, 768);
            Assert.NotEqual(before.ArgbAt(0, 0), before.ArgbAt(512, 400));

            var flushes = 0;
            second.Flushed += f => { if (f.Damage.Y > 0) Interlocked.Increment(ref flushes); };
            Assert.True(Vmm.Devices.Input.UsKeyboardLayout.TryMap('x', out var code, out _));
            Assert.True(second.SendKey(code, true) && second.SendKey(code, false));
            await HostedDesktops.UntilAsync(() => Volatile.Read(ref flushes) > 0, "a flush of the key typed after reattaching");

            var exit = await second.StopAsync(TimeSpan.FromSeconds(10));
            Assert.Equal(DesktopExitKind.PoweredOff, exit.Kind);
            // Not this test's child: its exit code is not ours to read, its exit is.
            await child.WaitForExitAsync().WaitAsync(TimeSpan.FromSeconds(30));
        }
        finally
        {
            if (!child.HasExited)
                child.Kill();
        }
    }

    [Fact]
    public async Task A_host_whose_broker_never_comes_back_powers_off_when_the_grace_ends_and_exits()
    {
        using var work = VmmProcess.Folder("host");
        var log = new System.Collections.Concurrent.ConcurrentQueue<string>();
        var first = await RemoteDesktop.LaunchAsync(new RemoteDesktopOptions
        {
            WorkDirectory = work.Path, Engine = Vmm.Execution.EngineChoice.Software, ReconnectSeconds = 2, Log = log.Enqueue,
        });
        var host = HostProcess.Find(first.ProcessId!.Value)!.Value;
        try
        {
            await first.StartAsync();
            first.Detach();
            await HostedDesktops.UntilAsync(() => log.Any(l => l.Contains("waiting up to 2 s", StringComparison.Ordinal)), "the host waiting for its broker");
            await first.DisposeAsync(); // its stdout and stderr pipes close: the host's next lines meet a broken pipe
            Assert.True(await host.WaitForExitAsync(TimeSpan.FromSeconds(30)), "the host outlived its reconnect grace");
            Assert.False(File.Exists(Path.Combine(work.Path, "host.sock")));
        }
        finally
        {
            host.Kill();
        }
    }

    [Fact]
    public async Task Attaching_by_pid_and_start_time_reports_the_process_and_kills_only_it()
    {
        using var work = VmmProcess.Folder("host");
        var options = new RemoteDesktopOptions { WorkDirectory = work.Path, Engine = Vmm.Execution.EngineChoice.Software, ReconnectSeconds = 30 };
        var first = await RemoteDesktop.LaunchAsync(options);
        var host = HostProcess.Find(first.ProcessId!.Value)!.Value;
        try
        {
            Assert.True(host.Serves(options.SocketPath));
            Assert.False(HostProcess.Current.Serves(options.SocketPath));
            // A session of its own (setsid): the signals of its starter's terminal do not reach it.
            var stat = File.ReadAllText($"/proc/{host.Pid}/stat");
            Assert.Equal($"{host.Pid}", stat[(stat.LastIndexOf(')') + 2)..].Split(' ')[3]);
            await first.StartAsync();
            first.Detach();
            await first.DisposeAsync();

            // A record with another start time is not this process: nothing is signalled.
            Assert.False((host with { StartTime = host.StartTime + 1 }).Kill());
            await using var second = await RemoteDesktop.AttachAsync(options.SocketPath, host, TimeSpan.FromSeconds(10));
            Assert.Equal(host.Pid, second.ProcessId);
            await second.WhenStarted.WaitAsync(TimeSpan.FromSeconds(30));
            second.Kill("test");
            var exit = await second.Completion.WaitAsync(TimeSpan.FromSeconds(30));
            Assert.Equal(DesktopExitKind.ProcessDied, exit.Kind);
            Assert.Contains("exit status is unknown", exit.Reason, StringComparison.Ordinal);
            Assert.False(host.IsAlive);
        }
        finally
        {
            host.Kill();
        }
    }

    [Fact]
    public async Task Without_a_reconnect_grace_a_host_whose_broker_went_away_powers_off_and_exits()
    {
        using var work = VmmProcess.Folder("host");
        var first = await HostedDesktops.LaunchAsync(work.Path);
        using var child = System.Diagnostics.Process.GetProcessById(first.ProcessId!.Value);
        await first.StartAsync();
        first.Detach();
        await first.DisposeAsync();
        await child.WaitForExitAsync().WaitAsync(TimeSpan.FromSeconds(30));
        Assert.False(File.Exists(Path.Combine(work.Path, "host.sock")));
    }
}
