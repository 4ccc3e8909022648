using System.Diagnostics;
using System.Net.Sockets;
using System.Text;
using Vdi.Vmm.Sandbox;

namespace Vdi.Vmm.Host;

/// <summary>Reaching a host: starting `vdi-vmm serve` as a child, or connecting to one already listening, and the handshake.</summary>
public sealed partial class RemoteDesktop
{
    /// <summary>Starts `vdi-vmm serve` as a child (through the sandbox's namespace launcher when asked), connects, shakes hands.</summary>
    public static async Task<RemoteDesktop> LaunchAsync(RemoteDesktopOptions options, CancellationToken cancellationToken = default)
    {
        Directory.CreateDirectory(options.WorkDirectory);
        var info = new ProcessStartInfo(options.HostProgram) { RedirectStandardError = true, RedirectStandardOutput = true, UseShellExecute = false };
        foreach (var a in options.ServeArguments())
            info.ArgumentList.Add(a);
        if (options.KvmDevicePath is { Length: > 0 } kvm)
            info.Environment[Kvm.KvmSystem.DevicePathVariable] = kvm; // the host finds, and its sandbox keeps, this device
        var stderr = new StringBuilder();
        var process = Process.Start(info) ?? throw new InvalidOperationException($"could not start {options.HostProgram}");
        process.ErrorDataReceived += (_, e) =>
        {
            if (e.Data is null)
                return;
            lock (stderr)
            {
                stderr.AppendLine(e.Data);
                if (stderr.Length > StderrKept)
                    stderr.Remove(0, stderr.Length - StderrKept);
            }
            options.Log?.Invoke(e.Data);
        };
        process.OutputDataReceived += (_, e) =>
        {
            if (e.Data is not null)
                options.Log?.Invoke(e.Data);
        };
        process.BeginErrorReadLine();
        process.BeginOutputReadLine();
        try
        {
            if (options.ProcessStarted is { } started && HostProcess.Find(process.Id) is { } host)
                started(host);
            var deadline = Stopwatch.StartNew();
            while (true)
            {
                cancellationToken.ThrowIfCancellationRequested();
                if (process.HasExited)
                {
                    await process.WaitForExitAsync(cancellationToken).ConfigureAwait(false);
                    string text;
                    lock (stderr)
                        text = stderr.ToString();
                    throw new InvalidOperationException($"the desktop host {SandboxExit.Describe(process.ExitCode, text)} before it listened: {text.Trim()}");
                }
                if (File.Exists(options.SocketPath) && TryConnect(options.SocketPath) is { } socket)
                    return Handshake(socket, process, null, stderr, options.Log, s_handshakeTimeout);
                if (deadline.Elapsed > options.ConnectTimeout)
                    throw new TimeoutException($"the desktop host did not listen on {options.SocketPath} within {options.ConnectTimeout.TotalSeconds:F0} s");
                await Task.Delay(20, cancellationToken).ConfigureAwait(false);
            }
        }
        catch
        {
            if (!process.HasExited)
                process.Kill();
            process.Dispose();
            throw;
        }
    }

    /// <summary>Connects to a host already listening on <paramref name="socketPath"/> (no child to supervise).</summary>
    public static RemoteDesktop Connect(string socketPath, Action<string>? log = null) =>
        Handshake(TryConnect(socketPath) ?? throw new IOException($"nothing listens on {socketPath}"), null, null, new StringBuilder(), log, s_handshakeTimeout);

    /// <summary>
    /// Reattaches to a host a previous broker started (`serve --reconnect-seconds`), known by its pid and start time:
    /// <see cref="ProcessId"/>, <see cref="Kill"/> and the end of the process work as for a child, except that its exit
    /// status cannot be read (it is not this process's child). Both the connection and the handshake are bounded by
    /// <paramref name="timeout"/>: a host that is stopped, or not listening, fails rather than hanging the broker.
    /// </summary>
    public static async Task<RemoteDesktop> AttachAsync(string socketPath, HostProcess host, TimeSpan timeout, Action<string>? log = null, CancellationToken cancellationToken = default)
    {
        if (!host.IsAlive)
            throw new IOException($"the desktop host {host.Pid} is gone");
        var socket = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
        try
        {
            using var bounded = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
            bounded.CancelAfter(timeout);
            await socket.ConnectAsync(new UnixDomainSocketEndPoint(socketPath), bounded.Token).ConfigureAwait(false);
        }
        catch (Exception e) when (e is SocketException or OperationCanceledException && !cancellationToken.IsCancellationRequested)
        {
            socket.Dispose();
            throw new IOException($"the desktop host {host.Pid} does not answer on {socketPath}: {e.Message}", e);
        }
        // The handshake blocks on the socket (bounded by its receive timeout): off the caller's thread.
        try
        {
            return await Task.Run(() => Handshake(socket, null, host, new StringBuilder(), log, timeout), cancellationToken).ConfigureAwait(false);
        }
        catch (IOException e)
        {
            throw new IOException($"the desktop host {host.Pid} did not answer the handshake within {timeout.TotalSeconds:0.#} s ({e.Message})", e);
        }
    }

    private static Socket? TryConnect(string path)
    {
        var socket = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
        try
        {
            socket.Connect(new UnixDomainSocketEndPoint(path));
            return socket;
        }
        catch (SocketException)
        {
            socket.Dispose();
            return null;
        }
    }

    private static RemoteDesktop Handshake(Socket socket, Process? process, HostProcess? attached, StringBuilder stderr, Action<string>? log, TimeSpan timeout)
    {
        var channel = new FrameChannel((int)socket.SafeHandle.DangerousGetHandle());
        try
        {
            // A host that accepts and then says nothing must not hang the broker: SO_RCVTIMEO bounds the handshake.
            socket.ReceiveTimeout = (int)timeout.TotalMilliseconds;
            socket.SendTimeout = (int)timeout.TotalMilliseconds;
            if (!channel.Send(new HelloMessage(HostProtocol.Version, HostProtocol.Version)))
                throw new IOException("the desktop host hung up before hello");
            var frame = channel.Receive() ?? throw new IOException("the desktop host hung up before its welcome");
            if (frame.Message is ErrorMessage error)
                throw new HostProtocolException($"the desktop host refused the connection: {error.Text}");
            if (frame.Message is not WelcomeMessage welcome || frame.Descriptor < 0)
            {
                if (frame.Descriptor >= 0)
                    _ = Interop.HostCalls.Close(frame.Descriptor);
                throw new HostProtocolException($"expected a welcome carrying the shared scanout, got {frame.Message.Type}");
            }
            if (welcome.Version != HostProtocol.Version)
                throw new HostProtocolException($"the host answered with protocol version {welcome.Version}");
            var scanout = ScanoutReader.Open(frame.Descriptor, welcome.MaxWidth, welcome.MaxHeight, welcome.MemorySize);
            if (welcome.Stride != scanout.Stride || welcome.CursorOffset != scanout.CursorOffset)
            {
                scanout.Dispose();
                throw new HostProtocolException("the welcome's scanout layout does not match its size");
            }
            socket.ReceiveTimeout = 0;
            socket.SendTimeout = 0;
            var desktop = new RemoteDesktop(socket, channel, welcome, scanout, process, attached, stderr, log);
            desktop._receiver.Start();
            return desktop;
        }
        catch (HostProtocolException e)
        {
            _ = channel.Send(new ErrorMessage(HostProtocol.ErrorMalformed, e.Message));
            channel.Dispose();
            socket.Dispose();
            throw;
        }
        catch
        {
            channel.Dispose();
            socket.Dispose();
            throw;
        }
    }
}
