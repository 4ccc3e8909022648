using System.Text;
using Iced.Intel;

namespace Vdi.Vmm.Images;

/// <summary>
/// One guest image being assembled: an Iced <see cref="Assembler"/> for the code, plus a data section that
/// <see cref="Build"/> lays out after the code. Emitters write code straight to <see cref="Asm"/> and declare the
/// data they own with <see cref="Data(string, int, int)"/>, so each concept keeps its code and data together.
/// </summary>
/// <remarks>
/// Bind every label whose address is needed after assembly (exports, patches) with <see cref="Bind"/>: Iced records
/// the label's position in the variable passed by reference, and <see cref="Bind"/> keeps that bound copy.
/// The data section starts on a page of its own (<see cref="DataSectionStart"/>), so code and data never share a
/// page: code pages can be write-traced, and the software engine's decoded-instruction cache survives data writes. Where the code ends is only known once
/// Iced has chosen branch sizes, so <see cref="Build"/> runs the emitter twice (the second time with the padding that
/// aligns the data); the emitter must be deterministic.
/// </remarks>
public sealed class GuestAssembly
{
    /// <summary>Alignment of the data section's start: a page.</summary>
    public const int DataSectionStart = 4096;

    /// <summary>
    /// The largest alignment a data item may ask for: a page, so that an item can have whole pages of its own (a
    /// write-protected table, say, next to nothing the guest writes often).
    /// </summary>
    public const int MaxDataAlignment = DataSectionStart;

    /// <summary>Symbol every image with data exports: the first data byte, which is also the end of the code.</summary>
    public const string DataStartSymbol = "data_start";

    /// <summary>Padding between code and data: int3, so running off the end of the code traps.</summary>
    private const byte CodePadding = 0xCC;

    private readonly List<DataItem> _data = [];
    private readonly Dictionary<string, Label> _strings = new(StringComparer.Ordinal);
    private readonly Dictionary<ulong, Label> _boundLabels = [];
    private readonly List<(string Name, Label Label)> _exports = [];
    private readonly List<Action<GuestImagePatcher>> _patches = [];
    private readonly int _dataPadding;
    private Label _entryPoint;

    private GuestAssembly(ulong loadAddress, int dataPadding)
    {
        LoadAddress = loadAddress;
        _dataPadding = dataPadding;
    }

    /// <summary>The code stream. Data goes through <see cref="Data(string, int, int)"/> instead.</summary>
    public Assembler Asm { get; } = new(64);

    public ulong LoadAddress { get; }

    /// <summary>Assembles the image that <paramref name="emitCode"/> describes, loaded at <paramref name="loadAddress"/>.</summary>
    public static GuestImage Build(string name, ulong loadAddress, Action<GuestAssembly> emitCode)
    {
        ArgumentNullException.ThrowIfNull(emitCode);
        var image = AssembleOnce(name, loadAddress, emitCode, dataPadding: 0);
        if (!image.Symbols.TryGetValue(DataStartSymbol, out var dataStart) || dataStart % DataSectionStart == 0)
            return image;

        var padding = (int)(AlignUp(dataStart, DataSectionStart) - dataStart);
        image = AssembleOnce(name, loadAddress, emitCode, padding);
        if (image.Symbols[DataStartSymbol] % DataSectionStart != 0)
            throw new InvalidOperationException($"Guest image '{name}': the emitter produced different code on its second run.");
        return image;
    }

    /// <summary>Creates a label; names show up in Iced's error messages.</summary>
    public Label CreateLabel(string name) => Asm.CreateLabel(name);

    /// <summary>Binds <paramref name="label"/> to the next instruction and remembers it so its address can be looked up.</summary>
    public void Bind(ref Label label)
    {
        Asm.Label(ref label);
        _boundLabels[label.Id] = label;
    }

    /// <summary>Makes <paramref name="label"/> the entry point (default: the image's first byte).</summary>
    public void SetEntryPoint(Label label) => _entryPoint = label;

    /// <summary>Publishes the address of <paramref name="label"/> in <see cref="GuestImage.Symbols"/>.</summary>
    public void Export(string name, Label label) => _exports.Add((name, label));

    /// <summary>Declares <paramref name="size"/> zero bytes of data, placed after the code.</summary>
    public Label Data(string name, int size, int alignment = 8)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(size, 1);
        return Data(name, new byte[size], alignment);
    }

    /// <summary>Declares initialised data, placed after the code.</summary>
    public Label Data(string name, byte[] bytes, int alignment = 1)
    {
        ArgumentNullException.ThrowIfNull(bytes);
        ArgumentOutOfRangeException.ThrowIfLessThan(bytes.Length, 1);
        if (alignment < 1 || alignment > MaxDataAlignment || !int.IsPow2(alignment))
            throw new ArgumentOutOfRangeException(nameof(alignment), alignment, $"Must be a power of two up to {MaxDataAlignment}.");

        var item = new DataItem(CreateLabel(name), bytes, alignment);
        _data.Add(item);
        return item.Label;
    }

    /// <summary>Declares a NUL-terminated ASCII string; equal strings share one copy.</summary>
    [System.Diagnostics.CodeAnalysis.SuppressMessage("Naming", "CA1720", Justification = "Declares guest data, like Data: a string in the image.")]
    public Label String(string text)
    {
        ArgumentNullException.ThrowIfNull(text);
        if (_strings.TryGetValue(text, out var existing))
            return existing;

        var bytes = new byte[Encoding.ASCII.GetByteCount(text) + 1];
        Encoding.ASCII.GetBytes(text, bytes);
        var label = Data("str", bytes);
        _strings.Add(text, label);
        return label;
    }

    /// <summary>Runs <paramref name="patch"/> on the assembled bytes, when label addresses are known (e.g. to fill an IDT).</summary>
    public void Patch(Action<GuestImagePatcher> patch) => _patches.Add(patch);

    internal ulong AddressOf(in AssemblerResult result, Label label) =>
        _boundLabels.TryGetValue(label.Id, out var bound)
            ? result.GetLabelRIP(bound)
            : throw new InvalidOperationException($"Label {label} was not bound through GuestAssembly.Bind.");

    private static GuestImage AssembleOnce(string name, ulong loadAddress, Action<GuestAssembly> emitCode, int dataPadding)
    {
        var assembly = new GuestAssembly(loadAddress, dataPadding);
        emitCode(assembly);
        assembly.EmitDataSection();

        using var stream = new MemoryStream();
        var result = assembly.Asm.Assemble(new StreamCodeWriter(stream), loadAddress, BlockEncoderOptions.ReturnNewInstructionOffsets);
        var bytes = stream.ToArray();

        var patcher = new GuestImagePatcher(assembly, result, bytes);
        foreach (var patch in assembly._patches)
            patch(patcher);

        var symbols = new Dictionary<string, ulong>(StringComparer.Ordinal);
        foreach (var (symbol, label) in assembly._exports)
            symbols.Add(symbol, assembly.AddressOf(result, label));
        if (assembly._data.Count > 0)
            symbols.Add(DataStartSymbol, assembly.AddressOf(result, assembly._data[0].Label));

        var entry = assembly._entryPoint.IsEmpty ? loadAddress : assembly.AddressOf(result, assembly._entryPoint);
        return new GuestImage(name, loadAddress, entry, bytes, symbols);
    }

    /// <summary>Lays the declared data out after the code, each item aligned relative to the (aligned) section start.</summary>
    private void EmitDataSection()
    {
        if (_data.Count == 0)
            return;

        if (_dataPadding > 0)
            Asm.db(Enumerable.Repeat(CodePadding, _dataPadding).ToArray());

        var offset = 0;
        foreach (var item in _data)
        {
            var aligned = (int)AlignUp((ulong)offset, item.Alignment);
            if (aligned > offset)
                Asm.db(new byte[aligned - offset]);
            Bind(ref item.Label);
            Asm.db(item.Bytes);
            offset = aligned + item.Bytes.Length;
        }
    }

    private static ulong AlignUp(ulong value, int alignment) => (value + (ulong)alignment - 1) & ~((ulong)alignment - 1);

    private sealed class DataItem(Label label, byte[] bytes, int alignment)
    {
        // A field, not a property: Bind needs it by reference so Iced can record where it was bound.
        public Label Label = label;

        public byte[] Bytes { get; } = bytes;

        public int Alignment { get; } = alignment;
    }
}
