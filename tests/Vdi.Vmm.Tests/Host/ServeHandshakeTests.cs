using System.Diagnostics;
using System.Net.Sockets;
using Vdi.Vmm.Host;
using Vdi.Vmm.Tests.Sandbox;

namespace Vdi.Vmm.Tests.Host;

/// <summary>`vdi-vmm serve`'s first frame: hello with a version range it speaks, or an error and exit 3.</summary>
public sealed class ServeHandshakeTests
{
    [Fact]
    public async Task A_broker_asking_only_for_versions_the_host_does_not_speak_gets_a_version_error()
    {
        var (answer, exitCode) = await HandshakeAsync(new HelloMessage(HostProtocol.Version + 1, HostProtocol.Version + 2));
        var error = Assert.IsType<ErrorMessage>(answer);
        Assert.Equal(HostProtocol.ErrorVersion, error.Code);
        Assert.Contains($"speaks {HostProtocol.Version}", error.Text, StringComparison.Ordinal);
        Assert.Equal(3, exitCode);
    }

    [Fact]
    public async Task A_first_frame_that_is_not_hello_is_a_protocol_error()
    {
        var (answer, exitCode) = await HandshakeAsync(new KeyMessage(30, true));
        Assert.Equal(HostProtocol.ErrorMalformed, Assert.IsType<ErrorMessage>(answer).Code);
        Assert.Equal(3, exitCode);
    }

    [Fact]
    public async Task Serve_without_a_socket_is_a_usage_error()
    {
        var run = await VmmProcess.RunAsync("serve", "--engine", "software");
        Assert.Equal(64, run.ExitCode);
        Assert.Contains("serve needs --socket PATH", run.Stderr, StringComparison.Ordinal);
    }

    [Fact]
    public async Task An_unknown_integrity_level_is_a_usage_error_naming_it()
    {
        var run = await VmmProcess.RunAsync("serve", "--socket", "unused.sock", "--integrity", "paranoid");
        Assert.Equal(64, run.ExitCode);
        Assert.Contains("--integrity must be off, audit or enforce, not 'paranoid'", run.Stderr, StringComparison.Ordinal);
    }

    private static async Task<(HostMessage? Answer, int ExitCode)> HandshakeAsync(HostMessage first)
    {
        using var work = VmmProcess.Folder("host");
        var options = new RemoteDesktopOptions { WorkDirectory = work.Path, Engine = Vmm.Execution.EngineChoice.Software };
        var info = new ProcessStartInfo(options.HostProgram) { RedirectStandardError = true, RedirectStandardOutput = true };
        foreach (var a in options.ServeArguments())
            info.ArgumentList.Add(a);
        using var process = Process.Start(info)!;
        var stderr = process.StandardError.ReadToEndAsync();
        _ = process.StandardOutput.ReadToEndAsync();
        using var socket = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
        var deadline = DateTime.UtcNow.AddSeconds(60);
        while (true)
        {
            try
            {
                await socket.ConnectAsync(new UnixDomainSocketEndPoint(options.SocketPath));
                break;
            }
            catch (SocketException) when (DateTime.UtcNow < deadline && !process.HasExited)
            {
                await Task.Delay(20);
            }
        }
        using var channel = new FrameChannel((int)socket.SafeHandle.DangerousGetHandle());
        Assert.True(channel.SendRaw(first.Encode()));
        var answer = channel.Receive()?.Message;
        await process.WaitForExitAsync().WaitAsync(TimeSpan.FromSeconds(30));
        Assert.Contains("vdi-vmm: host:", await stderr, StringComparison.Ordinal);
        return (answer, process.ExitCode);
    }
}
