using System.Net.Sockets;
using Vdi.Vmm.Devices.Display;
using Vdi.Vmm.Devices.Gpu;
using Vdi.Vmm.FaultTolerance;
using Vdi.Vmm.Host;
using Vdi.Vmm.Integrity;
using Vdi.Vmm.Tests.Sandbox;

namespace Vdi.Vmm.Tests.Host;

/// <summary>The frame codec: every message round-trips, and malformed input of every kind is refused by name.</summary>
public sealed class HostProtocolTests
{
    public static TheoryData<HostMessage> Messages => new()
    {
        new HelloMessage(1, 1),
        new ControlMessage(HostMessageType.Start),
        new ControlMessage(HostMessageType.Pause),
        new StopMessage(5000),
        new DisplayRequestMessage(7, new DisplayProperties(1366, 768, 120.5, 75) { WidthMm = 300 }, 30000),
        new MotionMessage(true),
        new KeyMessage(30, true),
        new PointerMessage(-3, 4000, 5, -2),
        new TestForbiddenCallMessage("ptrace"),
        new WelcomeMessage(HostProtocol.Version, true, 3840, 2160, 1234, 15360, 8192, "software engine (no KVM)"),
        new ScanoutChangedMessage(true, 1280, 720, 96, 3, 4096, 15360),
        new FlushedMessage(42, 1280, 720, new GpuRect(1, 2, 3, 4)),
        new CursorChangedMessage(8, true, 32, 32, 1, 2, 1),
        new CursorMovedMessage(10, 20),
        new DisplayShownMessage(7, 1280, 720, 96, 60, 12345),
        new DisplayFailedMessage(7, DisplayFailedMessage.TimedOut, "too slow"),
        new ExitedMessage(0, 0, "the guest powered off (code 0)"),
        new SandboxReportMessage(2, "seccomp: ✓"),
        new CountersMessage(1, 2, 3, 4),
        new StartedMessage(),
        new PausedMessage(),
        new ErrorMessage(HostProtocol.ErrorMalformed, "bad"),
        new SetIntegrityLevelMessage(IntegrityLevel.Audit),
        new ReadGuestMessage(9, 0x10_4000, 4096),
        new GuestBytesMessage(9, Vdi.Vmm.Introspection.WalkFault.None, [1, 2, 3]),
        new GuestBytesMessage(10, Vdi.Vmm.Introspection.WalkFault.NotPresent, []),
        IntegrityStatusMessage.Of(IntegrityLevel.Enforce, true, [new(0x10_0000, 2, ProtectionAction.Refuse, 1), new(0x11_0000, 1, ProtectionAction.Alert, 2)]),
        IntegrityStatusMessage.Of(IntegrityLevel.Off, false, []),
        new IntegrityAlertMessage(new IntegrityAlert(7, DateTimeOffset.FromUnixTimeMilliseconds(1_765_000_000_123), IntegrityAlertKind.ProtectedPage, 1, null,
            0xFFFF_8000_0010_0000, 0x10_0000, 0xFFFF_8000_0010_0000, [0x0F, 0x0B], [0xCC, 0xCC], ProtectionAction.Refuse, false, "code page, tag 1")),
        new IntegrityAlertMessage(new IntegrityAlert(8, DateTimeOffset.FromUnixTimeMilliseconds(0), IntegrityAlertKind.PageTable, -1, "virtio-gpu",
            null, 0x20_3000, null, [], [1], ProtectionAction.Stop, true, "")),
        new IntegritySuppressedMessage(12345),
        new MigrateListenMessage([.. Enumerable.Range(1, MigrateListenMessage.TokenLength).Select(i => (byte)i)]),
        new MigrateToMessage(50, 30),
        new MigrationListeningMessage(40000),
        new MigrationProgressMessage(new Vdi.Vmm.Migration.MigrationProgress("round", 2, 100, 40, 3, 33000, 12000, 1 << 27, 1.5e9, TimeSpan.FromMilliseconds(812))),
        new MigrationResultMessage(new Vdi.Vmm.Migration.MigrationOutcome(true, null, TimeSpan.FromMilliseconds(900), TimeSpan.FromMilliseconds(12.5), 3, 131072, 90000,
            1 << 28, 20, 70000, 5)),
        MigrationResultMessage.Failed("the machines differ: RAM"),
        new JournalMessage(1234, [new JournalEntry(5, JournalKind.Key, 30, 1), new JournalEntry(9, JournalKind.WallClock, 1_765_000_000_000)],
            [new GuestOutput(7, OutputKind.Frame, GuestOutput.Rect(1, 2, 3, 4), 0xABCDEF), new GuestOutput(8, OutputKind.Serial, 0x41, 0)]),
        new JournalMessage(0, [], []),
        new JournalFeedMessage(99, [new JournalEntry(5, JournalKind.Timer), new JournalEntry(6, JournalKind.Tablet, 10, 20, 1, unchecked((ulong)-1L))]),
        new JournalFeedMessage(100, []),
        new CheckpointMessage(50, 30),
        new JournalPointMessage(HostMessageType.Checkpointed, 77),
        new JournalPointMessage(HostMessageType.Promoted, 78),
        new ControlMessage(HostMessageType.Promote),
    };

    [Theory]
    [MemberData(nameof(Messages))]
    public void Every_message_round_trips(HostMessage message)
    {
        var bytes = message.Encode();
        var (type, length) = HostProtocol.ParseHeader(bytes);
        Assert.Equal(message.Type, type);
        Assert.Equal(bytes.Length - HostProtocol.HeaderSize, length);
        Assert.Equal(message, HostMessages.Decode(type, bytes.AsSpan(HostProtocol.HeaderSize)));
    }

    [Theory]
    [MemberData(nameof(Messages))]
    public void Every_truncation_and_every_extra_byte_is_refused(HostMessage message)
    {
        var payload = message.Encode().AsSpan(HostProtocol.HeaderSize).ToArray();
        for (var n = 0; n < payload.Length; n++)
        {
            var cut = payload[..n];
            Assert.Throws<HostProtocolException>(() => HostMessages.Decode(message.Type, cut));
        }
        Assert.Throws<HostProtocolException>(() => HostMessages.Decode(message.Type, [.. payload, 0]));
    }

    [Fact]
    public void Bad_headers_and_fields_are_refused_naming_the_problem()
    {
        const byte v = HostProtocol.Version;
        Assert.Contains("version 1", Refused([1, 1, 0, 0, 4, 0, 0, 0]), StringComparison.Ordinal); // a host or broker of the copy-only protocol
        Assert.Contains("unknown frame type 0x55", Refused([v, 0x55, 0, 0, 0, 0, 0, 0]), StringComparison.Ordinal);
        Assert.Contains("flags", Refused([v, 2, 0, 1, 0, 0, 0, 0]), StringComparison.Ordinal);
        Assert.Contains("payload bytes", Refused([v, 0x10, 0, 0, 0, 0, 0, 1]), StringComparison.Ordinal); // 16 MiB
        Assert.Contains("payload bytes", Refused([v, 0x10, 0, 0, 4, 0, 0, 0])); // Key is 3 bytes
        Assert.Contains("payload bytes", Refused([v, 0x82, 0, 0, 21, 0, 0, 0])); // a version 1 ScanoutChanged, without the pixels' place
        Assert.Contains("truncated header", Refused([v, 2, 0]), StringComparison.Ordinal);
        Assert.Throws<HostProtocolException>(() => HostMessages.Decode(HostMessageType.Key, [30, 0, 2])); // boolean 2
        Assert.Throws<HostProtocolException>(() => HostMessages.Decode(HostMessageType.Error, [1, 0, 2, 0, 0xC3, 0x28])); // bad UTF-8
        var tiny = new DisplayRequestMessage(1, new DisplayProperties(1280, 720), 1000).Encode();
        tiny[HostProtocol.HeaderSize + 4] = 1; // width 1281 → 1 + (5 << 8)... any width below 320 is refused
        tiny[HostProtocol.HeaderSize + 5] = 0;
        Assert.Throws<HostProtocolException>(() => HostMessages.Decode(HostMessageType.DisplayRequest, tiny.AsSpan(HostProtocol.HeaderSize)));

        static string Refused(byte[] header) => Assert.Throws<HostProtocolException>(() => HostProtocol.ParseHeader(header)).Message;
    }

    [Fact]
    public void Random_bytes_are_decoded_or_refused_never_anything_else()
    {
        var random = new Random(11);
        var decoded = 0;
        for (var i = 0; i < 200_000; i++)
        {
            var bytes = new byte[random.Next(0, 48)];
            random.NextBytes(bytes);
            if (bytes.Length >= 2)
            {
                bytes[0] = HostProtocol.Version; // reach past the version check most of the time
                if (random.Next(2) == 0)
                    bytes[1] = (byte)Enum.GetValues<HostMessageType>()[random.Next(Enum.GetValues<HostMessageType>().Length)];
            }
            if (bytes.Length >= 8 && random.Next(2) == 0)
            {
                bytes[2] = bytes[3] = 0;
                System.Buffers.Binary.BinaryPrimitives.WriteInt32LittleEndian(bytes.AsSpan(4), bytes.Length - 8);
            }
            try
            {
                var (type, length) = HostProtocol.ParseHeader(bytes);
                if (bytes.Length - HostProtocol.HeaderSize < length)
                    continue;
                _ = HostMessages.Decode(type, bytes.AsSpan(HostProtocol.HeaderSize, length));
                decoded++;
            }
            catch (HostProtocolException)
            {
                // Refused by name: what the peer gets as an error frame.
            }
        }
        Assert.True(decoded > 100, $"only {decoded} random frames decoded: the fuzz does not reach the decoders");
    }

    [Fact]
    public async Task A_host_that_sends_garbage_after_its_welcome_is_disconnected_with_an_error_frame()
    {
        using var work = VmmProcess.Folder("host");
        using var listener = FakeHost.Listen(work.Path, out var path);
        using var scanout = ScanoutWriter.Create(640, 480);
        var host = Task.Run(() =>
        {
            using var connection = listener.Accept();
            using var channel = new FrameChannel((int)connection.SafeHandle.DangerousGetHandle());
            Assert.IsType<HelloMessage>(channel.Receive()!.Value.Message);
            Assert.True(channel.Send(new WelcomeMessage(HostProtocol.Version, true, 640, 480, scanout.Size, scanout.Stride, (int)scanout.CursorOffset, "fake"), scanout.Descriptor));
            // A flush outside the scanout the host itself announced: a bad field.
            Assert.True(channel.Send(new FlushedMessage(2, 640, 480, new GpuRect(600, 0, 100, 10))));
            return channel.Receive()?.Message;
        });
        await using var remote = RemoteDesktop.Connect(path);
        var exit = await remote.Completion.WaitAsync(TimeSpan.FromSeconds(10));
        Assert.Equal(DesktopExitKind.ProtocolError, exit.Kind);
        Assert.Contains("outside", exit.Reason, StringComparison.Ordinal);
        var answer = Assert.IsType<ErrorMessage>(await host.WaitAsync(TimeSpan.FromSeconds(10)));
        Assert.Equal(HostProtocol.ErrorMalformed, answer.Code);
    }

    [Fact]
    public async Task A_host_whose_first_frame_is_not_a_welcome_with_a_descriptor_is_refused()
    {
        using var work = VmmProcess.Folder("host");
        using var listener = FakeHost.Listen(work.Path, out var path);
        var host = Task.Run(() =>
        {
            using var connection = listener.Accept();
            using var channel = new FrameChannel((int)connection.SafeHandle.DangerousGetHandle());
            _ = channel.Receive();
            Assert.True(channel.Send(new WelcomeMessage(HostProtocol.Version, true, 640, 480, 1 << 20, 2560, 4096, "no descriptor")));
            return channel.Receive()?.Message;
        });
        var e = Assert.Throws<HostProtocolException>(() => RemoteDesktop.Connect(path));
        Assert.Contains("shared scanout", e.Message, StringComparison.Ordinal);
        Assert.IsType<ErrorMessage>(await host.WaitAsync(TimeSpan.FromSeconds(10)));
    }

    [Fact]
    public async Task A_host_that_accepts_and_says_nothing_does_not_hang_the_broker()
    {
        using var work = VmmProcess.Folder("host");
        using var listener = FakeHost.Listen(work.Path, out var path);
        var host = Task.Run(() => listener.Accept());
        var started = DateTime.UtcNow;
        Assert.Throws<IOException>(() => RemoteDesktop.Connect(path));
        Assert.InRange(DateTime.UtcNow - started, TimeSpan.FromSeconds(5), TimeSpan.FromSeconds(30));
        (await host).Dispose();
    }
}

/// <summary>A socket standing where a desktop host would listen, for tests that play a hostile host.</summary>
internal static class FakeHost
{
    public static Socket Listen(string folder, out string path)
    {
        path = Path.Combine(folder, "fake.sock");
        var listener = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
        listener.Bind(new UnixDomainSocketEndPoint(path));
        listener.Listen(1);
        return listener;
    }
}

/// <summary>The migration frames' field rules: limits and consistency are checked, not just sizes.</summary>
public sealed class MigrationFramesTests
{
    [Fact]
    public void Out_of_range_and_contradictory_migration_fields_are_refused()
    {
        static byte[] Payload(HostMessage m) => m.Encode().AsSpan(HostProtocol.HeaderSize).ToArray();
        Assert.Contains("downtime", Refused(HostMessageType.MigrateTo, Payload(new MigrateToMessage(0, 1))));
        Assert.Contains("downtime", Refused(HostMessageType.MigrateTo, Payload(new MigrateToMessage(MigrateToMessage.MaxDowntimeMs + 1, 1))));
        Assert.Contains("rounds", Refused(HostMessageType.MigrateTo, Payload(new MigrateToMessage(50, MigrateToMessage.MaxRoundsLimit + 1))));
        Assert.Contains("port 0", Refused(HostMessageType.MigrationListening, Payload(new MigrationListeningMessage(0))));
        var progress = Payload(new MigrationProgressMessage(new Vdi.Vmm.Migration.MigrationProgress("round", 1, 10, 1, 0, 5, 0, 0, double.NaN, TimeSpan.Zero)));
        Assert.Contains("non-finite", Refused(HostMessageType.MigrationProgress, progress));
        var phase = Payload(new MigrationProgressMessage(new Vdi.Vmm.Migration.MigrationProgress("copying", 0, 0, 0, 0, 0, 0, 0, 0, TimeSpan.Zero)));
        phase[0] = 6;
        Assert.Contains("phase", Refused(HostMessageType.MigrationProgress, phase));
        var failure = Payload(MigrationResultMessage.Failed("x"));
        failure[0] = 1; // a success that carries a reason
        Assert.Contains("success with an error", Refused(HostMessageType.MigrationResult, failure));
        Assert.Throws<ArgumentException>(() => new MigrateListenMessage(new byte[31]).Encode());
    }

    private static string Refused(HostMessageType type, byte[] payload) =>
        Assert.Throws<HostProtocolException>(() => HostMessages.Decode(type, payload)).Message;
}

/// <summary>The fault-tolerance frames' field rules: a journal from a host, or a feed from a broker, is hostile input too.</summary>
public sealed class JournalFramesTests
{
    private static byte[] Payload(HostMessage m) => m.Encode().AsSpan(HostProtocol.HeaderSize).ToArray();

    private static string Refused(HostMessageType type, byte[] payload) =>
        Assert.Throws<HostProtocolException>(() => HostMessages.Decode(type, payload)).Message;

    [Fact]
    public void Unknown_kinds_negative_counts_and_oversized_batches_are_refused()
    {
        var journal = Payload(new JournalMessage(10, [new JournalEntry(5, JournalKind.Key, 30, 1)], [new GuestOutput(7, OutputKind.Frame, 1, 2)]));
        var badKind = journal.ToArray();
        badKind[12 + 8] = 99; // the entry's kind
        Assert.Contains("kind 99", Refused(HostMessageType.Journal, badKind));
        var badOutput = journal.ToArray();
        badOutput[12 + JournalEntry.Bytes + 8] = 7; // the output's kind
        Assert.Contains("output of kind 7", Refused(HostMessageType.Journal, badOutput));
        var negative = journal.ToArray();
        negative[7] = 0x80; // the count's sign
        Assert.Contains("count", Refused(HostMessageType.Journal, negative));
        var entryBack = journal.ToArray();
        entryBack[12 + 7] = 0x80; // the entry's count
        Assert.Contains("count", Refused(HostMessageType.Journal, entryBack));
        var tooMany = journal.ToArray();
        tooMany[8] = 200; // 200 entries cannot fit one frame
        Assert.Contains("200 entries", Refused(HostMessageType.Journal, tooMany));

        var feed = Payload(new JournalFeedMessage(10, []));
        feed[8] = (byte)(JournalFeedMessage.MaxEntries + 1);
        Assert.Contains("entries", Refused(HostMessageType.JournalFeed, feed));
        Assert.Contains("count -1", Refused(HostMessageType.Promoted, BitConverter.GetBytes(-1L)));
        Assert.Contains("rounds", Refused(HostMessageType.Checkpoint, Payload(new MigrateToMessage(50, MigrateToMessage.MaxRoundsLimit + 1))));
        Assert.Throws<ArgumentException>(() => new JournalFeedMessage(1, new JournalEntry[JournalFeedMessage.MaxEntries + 1]).Encode());
    }
}
