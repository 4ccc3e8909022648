namespace Vdi.Vmm.State;

/// <summary>
/// The 8254 PIT's section (<c>pit</c>, version 1): <c>flags</c> (KVM's: HPET legacy routing, speaker data) and per
/// channel (<c>ch0_</c>, <c>ch1_</c>, <c>ch2_</c>) the fields of <see cref="Fields"/>, as KVM's in-kernel PIT has them.
/// When a count was loaded is not in it (a host time): a restore loads each count anew, so a programmed channel's
/// current period starts again. A channel whose mode is 0xFF was never programmed. The software engine has no PIT; it
/// writes <see cref="Unprogrammed"/> and takes only a PIT no channel of which was programmed.
/// </summary>
public sealed record PitState(uint Flags, uint[][] Channels)
{
    public const string SectionName = "pit";
    public const ushort Version = 1;
    public const int ChannelCount = 3;
    public const byte NoMode = 0xFF;

    /// <summary>A channel's fields, in <c>kvm_pit_channel_state</c>'s order (without the load time).</summary>
    public static IReadOnlyList<string> Fields { get; } =
    [
        "count", "latched_count", "count_latched", "status_latched", "status", "read_state", "write_state",
        "write_latch", "rw_mode", "mode", "bcd", "gate",
    ];

    public const int Count = 0, LatchedCount = 1, Mode = 9, Gate = 11;

    /// <summary>The PIT as KVM creates it: no mode, a count of 65536, gates high but channel 2's.</summary>
    public static PitState Unprogrammed() => new(0, [.. Enumerable.Range(0, ChannelCount).Select(c =>
    {
        var channel = new uint[Fields.Count];
        channel[Count] = 0x10000;
        channel[Mode] = NoMode;
        channel[Gate] = c != 2 ? 1u : 0;
        return channel;
    })]);

    public void Write(SectionWriter section)
    {
        section.U64("flags", Flags);
        for (var c = 0; c < ChannelCount; c++)
        {
            for (var f = 0; f < Fields.Count; f++)
                section.U64($"ch{c}_{Fields[f]}", Channels[c][f]);
        }
    }

    public static PitState Read(SavedSection section)
    {
        var flags = (uint)section.U64("flags", 0, 3);
        var channels = new uint[ChannelCount][];
        for (var c = 0; c < ChannelCount; c++)
        {
            channels[c] = new uint[Fields.Count];
            for (var f = 0; f < Fields.Count; f++)
                channels[c][f] = (uint)section.U64($"ch{c}_{Fields[f]}", 0, f switch { Count => 0x10000, LatchedCount => ushort.MaxValue, _ => byte.MaxValue });
        }
        section.EnsureAllRead();
        return new PitState(flags, channels);
    }

    /// <summary>The first channel that was programmed (has a mode), or -1.</summary>
    public int ProgrammedChannel() => Array.FindIndex(Channels, c => c[Mode] != NoMode);
}
