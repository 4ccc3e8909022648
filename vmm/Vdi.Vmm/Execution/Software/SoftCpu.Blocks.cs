using Iced.Intel;

namespace Vdi.Vmm.Execution.Software;

/// <summary>
/// The decoded-code cache of <see cref="SoftCpu"/>: blocks of pre-decoded instructions keyed by their first RIP, each
/// linked to the blocks that followed it, so a running loop goes from block to block without a lookup. Every block is
/// thrown away when the bus's code version moves (the guest wrote a page code was fetched from; pages are noted by
/// their physical address) and when the translation may have changed (a CR3 write, <c>invlpg</c>, a change of CR0.WP,
/// CR4 or EFER.NXE): blocks are keyed by linear RIP and were fetched through the translation of their time, so
/// dropping them all is what keeps NX and not-present code pages honoured. Guests change mappings rarely; the desktop
/// never does.
/// </summary>
internal sealed partial class SoftCpu
{
    /// <summary>Most instructions in one block; a block also ends at a branch, an instruction with global effects, or a page end.</summary>
    private const int MaxBlockLength = 32;

    private readonly Dictionary<ulong, SoftBlock> _blocks = [];
    private readonly byte[] _fetchWindow = new byte[15];
    private readonly List<SoftOp> _building = new(MaxBlockLength);
    private long _codeVersion;
    private bool _blocksDropped; // the running block's links may lead to dropped blocks

    /// <summary>
    /// Drops every decoded block, for code that changed behind the bus's back (the other engine ran the guest, or the
    /// host loaded code); the next instruction is decoded from memory again. On the vCPU's own thread.
    /// </summary>
    internal void InvalidateDecodedCode()
    {
        _blocks.Clear();
        _blocksDropped = true;
    }

    private long CurrentCodeVersion => _ram is { } ram ? ram.CodeVersion : _bus.CodeVersion;

    /// <summary>The block starting at <paramref name="rip"/>; follows <paramref name="previous"/>'s links when they fit.</summary>
    private SoftBlock BlockAt(ulong rip, SoftBlock? previous)
    {
        var version = CurrentCodeVersion;
        if (_blocksDropped)
        {
            _blocksDropped = false;
            previous = null;
        }
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

    /// <summary>
    /// Decodes at <paramref name="rip"/>, fetching through the translation (a fault on the block's first instruction is
    /// raised; later ones end the block before them); false (the block ends before it) when it is not RAM, unless it
    /// starts the block.
    /// </summary>
    private bool DecodeAt(ulong rip, out Instruction instruction)
    {
        instruction = default;
        ulong physical;
        try
        {
            physical = Translate(rip, Access.Fetch).Physical | (rip & 0xFFF);
        }
        catch (GuestFault) when (_building.Count > 0)
        {
            return false;
        }
        var onPage = (int)Math.Min((ulong)_fetchWindow.Length, 0x1000 - (rip & 0xFFF));
        var length = _bus.Fetch(physical, _fetchWindow.AsSpan(0, onPage));
        GuestFault? nextPageFault = null;
        ulong nextPhysical = 0;
        if (length == onPage && onPage < _fetchWindow.Length)
        {
            nextPageFault = TryTranslate(rip + (ulong)onPage, Access.Fetch, out nextPhysical);
            if (nextPageFault is null)
                length += _bus.Fetch(nextPhysical, _fetchWindow.AsSpan(onPage));
        }
        if (length == 0)
        {
            if (_building.Count > 0)
                return false;
            throw new SoftwareEngineException($"instruction fetch from 0x{rip:X} (physical 0x{physical:X}), outside RAM");
        }
        var decoder = Decoder.Create(64, new ByteArrayCodeReader(_fetchWindow, 0, length), rip);
        decoder.Decode(out instruction);
        if (decoder.LastError == DecoderError.NoMoreBytes && nextPageFault is not null)
        {
            if (_building.Count > 0)
                return false;
            throw nextPageFault; // the instruction runs into a page it may not be fetched from
        }
        _bus.NoteCodePage(physical);
        if (instruction.Length > onPage)
            _bus.NoteCodePage(nextPhysical);
        return true;
    }
}
