using Iced.Intel;

namespace Vdi.Vmm.Execution.Software;

/// <summary>
/// The decoded-code cache of <see cref="SoftCpu"/>: blocks of pre-decoded instructions keyed by their first RIP, each
/// linked to the blocks that followed it, so a running loop goes from block to block without a lookup. Every block is
/// thrown away when the bus's code version moves (the guest wrote a page code was fetched from).
/// </summary>
internal sealed partial class SoftCpu
{
    /// <summary>Most instructions in one block; a block also ends at a branch, an instruction with global effects, or a page end.</summary>
    private const int MaxBlockLength = 32;

    private readonly Dictionary<ulong, SoftBlock> _blocks = [];
    private readonly byte[] _fetchWindow = new byte[15];
    private readonly List<SoftOp> _building = new(MaxBlockLength);
    private long _codeVersion;

    /// <summary>
    /// Drops every decoded block, for code that changed behind the bus's back (the other engine ran the guest, or the
    /// host loaded code); the next instruction is decoded from memory again. On the vCPU's own thread.
    /// </summary>
    internal void InvalidateDecodedCode() => _blocks.Clear();

    private long CurrentCodeVersion => _ram is { } ram ? ram.CodeVersion : _bus.CodeVersion;

    /// <summary>The block starting at <paramref name="rip"/>; follows <paramref name="previous"/>'s links when they fit.</summary>
    private SoftBlock BlockAt(ulong rip, SoftBlock? previous)
    {
        var version = CurrentCodeVersion;
        if (version != _codeVersion)
        {
            _blocks.Clear();
            _codeVersion = version;
            previous = null;
        }
        if (previous is not null)
        {
            if (previous.Link0 is { } first && first.Start == rip && first.Version == version)
                return first;
            if (previous.Link1 is { } second && second.Start == rip && second.Version == version)
                return second;
        }
        if (!_blocks.TryGetValue(rip, out var block))
        {
            block = Build(rip, version);
            _blocks[rip] = block;
        }
        if (previous is not null)
        {
            if (previous.Link0 is null || previous.Link0.Version != version)
                previous.Link0 = block;
            else
                previous.Link1 = block;
        }
        return block;
    }

    private SoftBlock Build(ulong rip, long version)
    {
        _building.Clear();
        var address = rip;
        while (DecodeAt(address, out var instruction))
        {
            var op = SoftOpCompiler.Compile(instruction);
            _building.Add(op);
            address = instruction.NextIP;
            if (op.EndsBlock || _building.Count == MaxBlockLength || (address >> 12) != (rip >> 12))
                break;
        }
        return new SoftBlock(rip, version, [.. _building]);
    }

    /// <summary>Decodes at <paramref name="rip"/>; false (the block ends before it) when it is not RAM, unless it starts the block.</summary>
    private bool DecodeAt(ulong rip, out Instruction instruction)
    {
        var length = _bus.Fetch(rip, _fetchWindow);
        if (length == 0)
        {
            instruction = default;
            if (_building.Count > 0)
                return false;
            throw new SoftwareEngineException($"instruction fetch from 0x{rip:X}, outside RAM");
        }
        var decoder = Decoder.Create(64, new ByteArrayCodeReader(_fetchWindow, 0, length), rip);
        decoder.Decode(out instruction);
        _bus.NoteCodePage(rip);
        if (((rip + (ulong)instruction.Length - 1) ^ rip) >= 0x1000)
            _bus.NoteCodePage(rip + (ulong)instruction.Length - 1);
        return true;
    }
}
