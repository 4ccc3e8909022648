using System.Runtime.CompilerServices;

namespace Vdi.Vmm.Execution.Software;

/// <summary>
/// The arithmetic flags (CF, ZF, SF, OF) of <see cref="SoftCpu"/>, computed lazily: an ALU instruction records its kind,
/// operands, masked result and size, and a flag is worked out only when something reads it (a condition, pushf-like
/// state reads through <see cref="Rflags"/>, interrupt delivery). <see cref="FlagKind.Materialized"/> keeps explicit bits.
/// </summary>
internal sealed partial class SoftCpu
{
    private const ulong CarryBit = 1;
    private const ulong ZeroBit = 1UL << 6;
    private const ulong SignFlagBit = 1UL << 7;
    private const ulong OverflowBit = 1UL << 11;

    private FlagKind _flagKind;
    private ulong _flagLeft;
    private ulong _flagRight;
    private ulong _flagResult;
    private int _flagSize = 8;
    private ulong _flagBits; // Materialized: CF/ZF/SF/OF; Inc/Dec: the CF they keep

    private enum FlagKind : byte { Materialized, Add, Sub, Logic, Inc, Dec }

    /// <summary>RFLAGS with the lazy flags worked out; setting it (iretq, state import) replaces them and IF.</summary>
    internal ulong Rflags
    {
        get => 0x2
            | (Carry ? CarryBit : 0)
            | (Zero ? ZeroBit : 0)
            | (Sign ? SignFlagBit : 0)
            | (InterruptsEnabled ? InterruptFlag : 0)
            | (Overflow ? OverflowBit : 0);
        set
        {
            _flagKind = FlagKind.Materialized;
            _flagBits = value & (CarryBit | ZeroBit | SignFlagBit | OverflowBit);
            InterruptsEnabled = (value & InterruptFlag) != 0;
        }
    }

    private bool Zero
    {
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        get => _flagKind == FlagKind.Materialized ? (_flagBits & ZeroBit) != 0 : _flagResult == 0;
    }

    private bool Sign => _flagKind == FlagKind.Materialized ? (_flagBits & SignFlagBit) != 0 : (_flagResult & SignBit(_flagSize)) != 0;

    private bool Carry
    {
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        get => _flagKind switch
        {
            FlagKind.Add => _flagResult < _flagLeft,
            FlagKind.Sub => _flagLeft < _flagRight,
            FlagKind.Logic => false,
            _ => (_flagBits & CarryBit) != 0, // Materialized, Inc, Dec
        };
    }

    private bool Overflow => _flagKind switch
    {
        FlagKind.Add or FlagKind.Inc => (~(_flagLeft ^ _flagRight) & (_flagLeft ^ _flagResult) & SignBit(_flagSize)) != 0,
        FlagKind.Sub or FlagKind.Dec => ((_flagLeft ^ _flagRight) & (_flagLeft ^ _flagResult) & SignBit(_flagSize)) != 0,
        FlagKind.Logic => false,
        _ => (_flagBits & OverflowBit) != 0,
    };

    /// <summary>Records the flags of <paramref name="op"/> on masked operands and result.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private void SetAluFlags(AluOp op, ulong left, ulong right, ulong result, int size)
    {
        switch (op)
        {
            case AluOp.Add:
                _flagKind = FlagKind.Add;
                break;
            case AluOp.Sub or AluOp.Cmp:
                _flagKind = FlagKind.Sub;
                break;
            case AluOp.Inc or AluOp.Dec:
                // inc and dec leave CF alone: after Materialized, Inc or Dec it already is in _flagBits' CF bit
                if (_flagKind is FlagKind.Add or FlagKind.Sub or FlagKind.Logic)
                    _flagBits = Carry ? CarryBit : 0;
                _flagKind = op == AluOp.Inc ? FlagKind.Inc : FlagKind.Dec;
                break;
            default:
                _flagKind = FlagKind.Logic;
                break;
        }
        _flagLeft = left;
        _flagRight = right;
        _flagResult = result;
        _flagSize = size;
    }

    /// <summary>The masked result of <paramref name="op"/>; flags untouched (they are committed after the write).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static ulong AluResult(AluOp op, ulong left, ulong right, ulong mask) => op switch
    {
        AluOp.Add or AluOp.Inc => (left + right) & mask,
        AluOp.Sub or AluOp.Cmp or AluOp.Dec => (left - right) & mask,
        AluOp.And or AluOp.Test => left & right,
        AluOp.Or => left | right,
        _ => left ^ right,
    };

    /// <summary>Explicit flag values (shifts, multiplies).</summary>
    private void SetFlags(bool carry, bool zero, bool sign, bool overflow)
    {
        _flagKind = FlagKind.Materialized;
        _flagBits = (carry ? CarryBit : 0) | (zero ? ZeroBit : 0) | (sign ? SignFlagBit : 0) | (overflow ? OverflowBit : 0);
    }

    private static ulong SignBit(int size) => 1UL << ((size * 8) - 1);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private bool ConditionHolds(Iced.Intel.ConditionCode condition) => condition switch
    {
        Iced.Intel.ConditionCode.e => Zero,
        Iced.Intel.ConditionCode.ne => !Zero,
        Iced.Intel.ConditionCode.b => Carry,
        Iced.Intel.ConditionCode.ae => !Carry,
        Iced.Intel.ConditionCode.a => !Carry && !Zero,
        Iced.Intel.ConditionCode.be => Carry || Zero,
        Iced.Intel.ConditionCode.s => Sign,
        Iced.Intel.ConditionCode.ns => !Sign,
        Iced.Intel.ConditionCode.o => Overflow,
        Iced.Intel.ConditionCode.no => !Overflow,
        Iced.Intel.ConditionCode.l => Sign != Overflow,
        Iced.Intel.ConditionCode.ge => Sign == Overflow,
        Iced.Intel.ConditionCode.le => Zero || Sign != Overflow,
        Iced.Intel.ConditionCode.g => !Zero && Sign == Overflow,
        _ => throw new SoftwareEngineException($"Condition {condition} is not modelled."),
    };
}
