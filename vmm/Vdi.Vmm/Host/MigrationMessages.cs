using System.Security.Cryptography;
using Vdi.Vmm.Migration;

namespace Vdi.Vmm.Host;

/// <summary>
/// Broker → a host started with `serve --incoming`: receive a live migration. The host answers with
/// <see cref="MigrationListeningMessage"/> (the loopback port of the listener it made before its sandbox), accepts ONE
/// connection, which must first present <see cref="Token"/>, and receives into its unstarted machine.
/// </summary>
public sealed record MigrateListenMessage(byte[] Token) : HostMessage
{
    public const int TokenLength = 32;

    public override HostMessageType Type => HostMessageType.MigrateListen;

    protected override FrameBuilder Write(FrameBuilder frame)
    {
        if (Token.Length != TokenLength)
            throw new ArgumentException($"a migration token is {TokenLength} bytes");
        foreach (var b in Token)
            frame.U8(b);
        return frame;
    }

    internal static MigrateListenMessage Read(ref PayloadReader r)
    {
        var token = new byte[TokenLength];
        for (var i = 0; i < token.Length; i++)
            token[i] = r.U8();
        return new MigrateListenMessage(token);
    }

    /// <summary>A fresh random token (the broker's, given to both sides).</summary>
    public static byte[] NewToken() => RandomNumberGenerator.GetBytes(TokenLength);

    public bool Equals(MigrateListenMessage? other) => other is not null && Token.AsSpan().SequenceEqual(other.Token);

    public override int GetHashCode() => Token.Length;
}

/// <summary>
/// Broker → a running host: send this machine to the destination on the connected stream socket this frame carries
/// (SCM_RIGHTS; the broker connected it and presented the token, so the sandboxed source makes no socket calls).
/// </summary>
public sealed record MigrateToMessage(uint DowntimeMs, ushort MaxRounds) : HostMessage
{
    public const uint MaxDowntimeMs = 60_000;
    public const ushort MaxRoundsLimit = 1000;

    public override HostMessageType Type => HostMessageType.MigrateTo;

    protected override FrameBuilder Write(FrameBuilder frame) => frame.U32(DowntimeMs).U16(MaxRounds);

    internal static MigrateToMessage Read(ref PayloadReader r)
    {
        var message = new MigrateToMessage(r.U32(), r.U16());
        if (message.DowntimeMs is 0 or > MaxDowntimeMs)
            throw new HostProtocolException($"{HostMessageType.MigrateTo}: downtime target {message.DowntimeMs} ms (1 to {MaxDowntimeMs})");
        if (message.MaxRounds > MaxRoundsLimit)
            throw new HostProtocolException($"{HostMessageType.MigrateTo}: {message.MaxRounds} rounds (at most {MaxRoundsLimit})");
        return message;
    }

    public MigrationOptions Options => new() { DowntimeTarget = TimeSpan.FromMilliseconds(DowntimeMs), MaxRounds = MaxRounds };
}

/// <summary>Host → broker: the incoming host listens on 127.0.0.1:<see cref="Port"/>.</summary>
public sealed record MigrationListeningMessage(ushort Port) : HostMessage
{
    public override HostMessageType Type => HostMessageType.MigrationListening;

    protected override FrameBuilder Write(FrameBuilder frame) => frame.U16(Port);

    internal static MigrationListeningMessage Read(ref PayloadReader r)
    {
        var port = r.U16();
        if (port == 0)
            throw new HostProtocolException($"{HostMessageType.MigrationListening}: port 0");
        return new MigrationListeningMessage(port);
    }
}

/// <summary>Host → broker: a source's progress (at most every 100 ms, plus phase changes).</summary>
public sealed record MigrationProgressMessage(MigrationProgress Progress) : HostMessage
{
    /// <summary>The phases <see cref="MigrationSource"/> reports, by their wire number.</summary>
    public static readonly string[] Phases = ["copying", "round", "final", "confirming", "done", "failed"];

    public override HostMessageType Type => HostMessageType.MigrationProgress;

    protected override FrameBuilder Write(FrameBuilder frame)
    {
        var p = Progress;
        var phase = Array.IndexOf(Phases, p.Phase);
        return frame.U8((byte)(phase < 0 ? 0 : phase)).I32(p.Round).I64(p.RoundPages).I64(p.RoundPagesSent).I64(p.DmaPages).I64(p.PagesSent)
            .I64(p.ZeroPages).I64(p.BytesSent).F64(p.BytesPerSecond).I64((long)p.Elapsed.TotalMicroseconds);
    }

    internal static MigrationProgressMessage Read(ref PayloadReader r)
    {
        var phase = r.U8();
        var (round, roundPages, roundSent, dma, pages, zero, bytes, rate, elapsed) = (r.I32(), r.I64(), r.I64(), r.I64(), r.I64(), r.I64(), r.I64(), r.F64(), r.I64());
        if (phase >= Phases.Length)
            throw new HostProtocolException($"{HostMessageType.MigrationProgress}: phase {phase}");
        if (round < 0 || roundPages < 0 || roundSent < 0 || dma < 0 || pages < 0 || zero < 0 || bytes < 0 || elapsed < 0 || !double.IsFinite(rate) || rate < 0)
            throw new HostProtocolException($"{HostMessageType.MigrationProgress}: a negative or non-finite figure");
        return new MigrationProgressMessage(new MigrationProgress(Phases[phase], round, roundPages, roundSent, dma, pages, zero, bytes, rate, TimeSpan.FromMicroseconds(elapsed)));
    }
}

/// <summary>
/// Host → broker: how a migration ended, on either side. A source sends its <see cref="MigrationOutcome"/> (on success
/// its machine is left paused, to be stopped); a destination sends success once its machine runs, or why it refused.
/// </summary>
public sealed record MigrationResultMessage(MigrationOutcome Outcome) : HostMessage
{
    public override HostMessageType Type => HostMessageType.MigrationResult;

    protected override FrameBuilder Write(FrameBuilder frame)
    {
        var o = Outcome;
        return frame.U8(o.Succeeded ? (byte)1 : (byte)0).I64((long)o.Total.TotalMicroseconds).I64((long)o.Downtime.TotalMicroseconds).I32(o.Rounds)
            .I64(o.PagesSent).I64(o.ZeroPages).I64(o.BytesSent).I64(o.FinalPages).I64(o.StateBytes).I64(o.DmaPages).Text(o.Error ?? "");
    }

    internal static MigrationResultMessage Read(ref PayloadReader r)
    {
        var succeeded = r.Bool();
        var (total, downtime, rounds, pages, zero, bytes, final, state, dma) = (r.I64(), r.I64(), r.I32(), r.I64(), r.I64(), r.I64(), r.I64(), r.I64(), r.I64());
        var error = r.Text();
        if (total < 0 || downtime < 0 || rounds < 0 || pages < 0 || zero < 0 || bytes < 0 || final < 0 || state < 0 || dma < 0)
            throw new HostProtocolException($"{HostMessageType.MigrationResult}: a negative figure");
        if (succeeded == (error.Length > 0))
            throw new HostProtocolException($"{HostMessageType.MigrationResult}: {(succeeded ? "a success with an error" : "a failure without its reason")}");
        return new MigrationResultMessage(new MigrationOutcome(succeeded, succeeded ? null : error, TimeSpan.FromMicroseconds(total), TimeSpan.FromMicroseconds(downtime),
            rounds, pages, zero, bytes, final, state, dma));
    }

    /// <summary>A failure before anything was sent.</summary>
    public static MigrationResultMessage Failed(string why) => new(new MigrationOutcome(false, why, TimeSpan.Zero, TimeSpan.Zero, 0, 0, 0, 0, 0, 0, 0));
}
