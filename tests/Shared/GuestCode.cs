using Iced.Intel;
using Vdi.Vmm.Images;

namespace Vdi.Tests.Shared;

/// <summary>Decoding helpers for guest images.</summary>
internal static class GuestCode
{
    /// <summary>First address past the code: the data section's start, or the image's end when it has no data.</summary>
    public static ulong CodeEnd(GuestImage image) =>
        image.Symbols.TryGetValue(GuestAssembly.DataStartSymbol, out var dataStart) ? dataStart : image.EndAddress;

    /// <summary>
    /// Decodes the image's code as 64-bit instructions at its load address and asserts every one is valid and that the
    /// last ends exactly at <see cref="CodeEnd"/> (int3 padding before the data included).
    /// </summary>
    public static List<Instruction> Decode(GuestImage image) => Decode(image.Bytes, image.LoadAddress, CodeEnd(image));

    public static List<Instruction> Decode(byte[] bytes, ulong loadAddress, ulong codeEnd)
    {
        var length = (int)(codeEnd - loadAddress);
        var decoder = Decoder.Create(64, new ByteArrayCodeReader(bytes, 0, length), loadAddress);
        var instructions = new List<Instruction>();
        while (decoder.IP < codeEnd)
        {
            decoder.Decode(out var instruction);
            Assert.False(instruction.IsInvalid, $"Invalid instruction at 0x{instruction.IP:X} ({decoder.LastError}).");
            instructions.Add(instruction);
        }

        Assert.Equal(codeEnd, decoder.IP);
        return instructions;
    }

    /// <summary>The instructions without the int3 padding between code and data.</summary>
    public static List<Instruction> WithoutPadding(List<Instruction> instructions)
    {
        var end = instructions.Count;
        while (end > 0 && instructions[end - 1].Mnemonic == Mnemonic.Int3)
            end--;
        return instructions[..end];
    }

    /// <summary>True for <c>mov register, value</c> with an immediate source.</summary>
    public static bool MovesImmediate(Instruction i, Register register, ulong value) =>
        i.Mnemonic == Mnemonic.Mov && i.Op0Kind == OpKind.Register && i.Op0Register == register
        && i.Op1Kind is not (OpKind.Register or OpKind.Memory) && i.GetImmediate(1) == value;

    public static string Format(Instruction instruction)
    {
        var formatter = new NasmFormatter();
        formatter.Options.HexPrefix = "0x";
        formatter.Options.HexSuffix = null;
        formatter.Options.UppercaseHex = false;
        var output = new StringOutput();
        formatter.Format(instruction, output);
        return output.ToStringAndReset();
    }
}
