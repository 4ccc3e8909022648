using Microsoft.Extensions.Logging.Abstractions;
using Vdi.Server.Desktops;
using Vdi.Vmm.Devices.Display;
using Vdi.Vmm.Devices.Gpu;
using Vdi.Vmm.Devices.Input;
using Vdi.Vmm.Host;

namespace Vdi.Server.Tests.Desktops;

/// <summary>How a desktop's end, as its <see cref="IDesktopMachine"/> reports it, shows on the desktop and its sessions.</summary>
public sealed class DesktopHostTests
{
    [Theory]
    [InlineData(DesktopExitKind.ProtocolError, "the desktop host broke the protocol: a flush outside its scanout")]
    [InlineData(DesktopExitKind.ProcessDied, "the desktop host was killed by seccomp: system call 101 (ptrace)")]
    [InlineData(DesktopExitKind.Crashed, "vcpu 0 crashed: triple fault")]
    public async Task A_desktop_that_ends_badly_is_Crashed_with_the_reason_and_its_sessions_are_told_then_it_starts_again(DesktopExitKind kind, string reason)
    {
        var made = new List<FakeDesktop>();
        var told = new List<string>();
        var host = new DesktopHost(Guid.NewGuid(), "fake", 1, 256, 1920, 1080, new DesktopOptions(), NullLogger.Instance)
        {
            CreateMachine = _ =>
            {
                var fake = new FakeDesktop();
                made.Add(fake);
                return Task.FromResult<IDesktopMachine>(fake);
            },
            EndSessions = (_, why) =>
            {
                lock (told)
                    told.Add(why);
                return Task.CompletedTask;
            },
        };
        await host.StartAsync();
        Assert.Equal(DesktopState.Running, host.State);
        Assert.Same(made[0], host.Desktop);

        made[0].End(new DesktopExit(kind, -1, reason));
        for (var i = 0; i < 100 && host.State != DesktopState.Crashed; i++)
            await Task.Delay(20);
        Assert.Equal(DesktopState.Crashed, host.State);
        Assert.Equal(reason, host.StateReason);
        Assert.Null(host.Desktop);
        for (var i = 0; i < 100 && told.Count == 0; i++)
            await Task.Delay(20);
        Assert.Equal($"The desktop crashed: {reason}.", Assert.Single(told));

        await host.RestartAsync();
        Assert.Equal(DesktopState.Running, host.State);
        Assert.True(made[0].Disposed);
        Assert.Same(made[1], host.Desktop);
        await host.DisposeAsync();
        Assert.True(made[1].Disposed);
        Assert.Equal(DesktopState.Stopped, host.State);
    }

    private sealed class FakeDesktop : IDesktopMachine
    {
        private readonly TaskCompletionSource<DesktopExit> _completion = new(TaskCreationOptions.RunContinuationsAsynchronously);

        public bool Disposed { get; private set; }

        public string Engine => "fake";

        public (int Width, int Height)? Mode => (1280, 720);

        public double Dpi => 96;

        public CursorImage? Cursor => null;

        public Task<DesktopExit> Completion => _completion.Task;

        public event Action<ScanoutChange>? ScanoutChanged { add { } remove { } }

        public event Action<ScanoutFlush>? Flushed { add { } remove { } }

        public event Action<CursorImage>? CursorChanged { add { } remove { } }

        public event Action<int, int>? CursorMoved { add { } remove { } }

        public IntegrityFeed Integrity { get; } = new(Vdi.Vmm.Integrity.IntegrityLevel.Off);

        public string? SetIntegrityLevel(Vdi.Vmm.Integrity.IntegrityLevel level) => "a fake desktop has no integrity";

        public void End(DesktopExit exit) => _completion.TrySetResult(exit);

        public Task StartAsync(CancellationToken cancellationToken = default) => Task.CompletedTask;

        public Task<DesktopExit> StopAsync(TimeSpan deadline)
        {
            End(new DesktopExit(DesktopExitKind.PoweredOff, 0, "the guest powered off (code 0)"));
            return _completion.Task;
        }

        public Task<bool> PauseAsync() => Task.FromResult(false);

        public Task<byte[]?> ReadGuestAsync(ulong address, int length, CancellationToken cancellationToken = default) => Task.FromResult<byte[]?>(null);

        public Task ResumeAsync() => Task.CompletedTask;

        public Task<DisplayAcknowledgement> RequestDisplayAsync(DisplayProperties properties, TimeSpan? timeout = null, CancellationToken cancellationToken = default) =>
            Task.FromException<DisplayAcknowledgement>(new NotSupportedException());

        public bool SetMotion(bool enabled) => false;

        public bool SendKey(ushort code, bool pressed) => false;

        public bool SendPointer(int x, int y, PointerButtons buttons, int wheel = 0) => false;

        public bool Capture(GpuRect region, Span<byte> destination, int stride, out GpuFormat format)
        {
            format = default;
            return false;
        }

        public ValueTask DisposeAsync()
        {
            Disposed = true;
            return ValueTask.CompletedTask;
        }
    }
}
