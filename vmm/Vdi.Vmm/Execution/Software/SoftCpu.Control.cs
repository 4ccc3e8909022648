using Iced.Intel;
using Vdi.Vmm.Boot;

namespace Vdi.Vmm.Execution.Software;

/// <summary>The control registers and EFER of a software vCPU, as they move between engines.</summary>
internal readonly record struct SoftControlRegisters(ulong Cr0, ulong Cr2, ulong Cr3, ulong Cr4, ulong Efer)
{
    /// <summary>What the VMM's long-mode setup loads (<see cref="LongModeSetup"/>): its identity tables, paging on.</summary>
    public static SoftControlRegisters Boot => new(LongModeSetup.Cr0, 0, GuestLayout.Pml4Address, LongModeSetup.Cr4, LongModeSetup.Efer);
}

/// <summary>
/// CR0, CR2, CR3, CR4 and EFER of <see cref="SoftCpu"/>, and the instructions that use them: <c>mov</c> to and from
/// CR0/CR2/CR3/CR4, <c>invlpg</c>, and <c>rdmsr</c>/<c>wrmsr</c> of EFER (and of the stored MSRs, <c>SoftCpu.Msrs.cs</c>). The engine stays in 64-bit long mode with
/// paging on: clearing CR0.PG or PE, or CR4.PAE, and setting reserved bits raise #GP as on hardware; CR4 features the
/// engine does not model (PCIDE, LA57, SMEP, SMAP, PKE, OSXSAVE, ...) stop the machine with
/// <see cref="SoftwareEngineException"/>. A CR3 write empties the TLB but for global pages (CR4.PGE) and drops decoded
/// code; a change of CR0.WP, CR4 or EFER.NXE empties it all.
/// </summary>
internal sealed partial class SoftCpu : Hypercalls.IVcpuControlRegisters
{
    public ulong ReadCr3() => Cr3;

    public const ulong Cr0ProtectionEnable = 1UL << 0;
    public const ulong Cr0WriteProtect = 1UL << 16;
    public const ulong Cr0NotWriteThrough = 1UL << 29;
    public const ulong Cr0CacheDisable = 1UL << 30;
    public const ulong Cr0Paging = 1UL << 31;
    public const ulong Cr4PhysicalAddressExtension = 1UL << 5;
    public const ulong Cr4GlobalPages = 1UL << 7;

    /// <summary>CR4 bits the engine models: DE, PSE, PAE, MCE, PGE, PCE, OSFXSR, OSXMMEXCPT (none of the others).</summary>
    public const ulong ModelledCr4 = (1UL << 3) | (1UL << 4) | Cr4PhysicalAddressExtension | (1UL << 6) | Cr4GlobalPages
        | (1UL << 8) | (1UL << 9) | (1UL << 10);

    /// <summary>CR4 bits the architecture defines (bits 0–14, 16–18 and 20–24); the rest are reserved.</summary>
    private const ulong DefinedCr4 = 0x7FFFUL | (0x7UL << 16) | (0x1FUL << 20);

    public const ulong EferMsr = 0xC000_0080;
    public const ulong EferSystemCall = 1UL << 0;
    public const ulong EferLongModeEnable = 1UL << 8;
    public const ulong EferLongModeActive = 1UL << 10;
    public const ulong EferNoExecute = 1UL << 11;

    public ulong Cr0 { get; private set; } = LongModeSetup.Cr0;

    public ulong Cr2 { get; private set; }

    public ulong Cr3 { get; private set; } = GuestLayout.Pml4Address;

    public ulong Cr4 { get; private set; } = LongModeSetup.Cr4;

    public ulong Efer { get; private set; } = LongModeSetup.Efer;

    public SoftControlRegisters ControlRegisters => new(Cr0, Cr2, Cr3, Cr4, Efer);

    /// <summary>True when the engine can run with <paramref name="c"/>: long mode, paging on, only modelled CR4 bits.</summary>
    public static bool Models(in SoftControlRegisters c) =>
        (c.Cr0 & (Cr0ProtectionEnable | Cr0Paging)) == (Cr0ProtectionEnable | Cr0Paging) && (c.Cr0 >> 32) == 0
        && (c.Efer & EferLongModeActive) != 0 && (c.Cr4 & Cr4PhysicalAddressExtension) != 0 && (c.Cr4 & ~ModelledCr4) == 0
        && (c.Cr3 & ~WidestFrameMask & ~0xFFFUL) == 0;

    /// <summary>Takes control registers from another engine; the TLB and decoded code start afresh.</summary>
    private void SetControlRegisters(in SoftControlRegisters c)
    {
        if (!Models(c))
            throw new ArgumentException($"control registers {c} are outside what the software engine models", nameof(c));
        (Cr0, Cr2, Cr3, Cr4, Efer) = (c.Cr0, c.Cr2, c.Cr3, c.Cr4, c.Efer);
        _tlb.FlushAll();
    }

    /// <summary><c>mov</c> between a general register and CR0, CR2, CR3 or CR4.</summary>
    private void MoveControlRegister(in Instruction i)
    {
        if (i.Op1Kind == OpKind.Register && i.Op1Register.IsCR())
        {
            SetRegister(i.Op0Register, i.Op1Register switch
            {
                Register.CR0 => Cr0,
                Register.CR2 => Cr2,
                Register.CR3 => Cr3,
                Register.CR4 => Cr4,
                _ => throw new SoftwareEngineException($"the software engine does not model '{i}' at 0x{i.IP:X}"),
            });
            return;
        }
        var value = GetRegister(i.Op1Register);
        switch (i.Op0Register)
        {
            case Register.CR0:
                WriteCr0(value);
                break;
            case Register.CR2:
                Cr2 = value;
                break;
            case Register.CR3:
                if ((value & ~_frameMask & ~0xFFFUL) != 0)
                    throw new GuestFault(GuestFault.GeneralProtection, 0);
                Cr3 = value;
                _tlb.FlushNonGlobal();
                InvalidateDecodedCode();
                break;
            case Register.CR4:
                WriteCr4(value, i);
                break;
            default:
                throw new SoftwareEngineException($"the software engine does not model '{i}' at 0x{i.IP:X}");
        }
    }

    private void WriteCr0(ulong value)
    {
        const ulong stays = Cr0ProtectionEnable | Cr0Paging; // 64-bit mode cannot leave protected mode or paging
        if ((value >> 32) != 0 || (value & stays) != stays || (value & (Cr0NotWriteThrough | Cr0CacheDisable)) == Cr0NotWriteThrough)
            throw new GuestFault(GuestFault.GeneralProtection, 0);
        var changed = Cr0 ^ value;
        Cr0 = value | (1UL << 4); // ET is fixed at 1
        if ((changed & Cr0WriteProtect) != 0)
        {
            _tlb.FlushAll();
            InvalidateDecodedCode();
        }
    }

    private void WriteCr4(ulong value, in Instruction i)
    {
        if ((value & ~DefinedCr4) != 0 || (value & Cr4PhysicalAddressExtension) == 0 || ((value ^ Cr4) & (1UL << 12)) != 0)
            throw new GuestFault(GuestFault.GeneralProtection, 0); // reserved bits; PAE and LA57 cannot change in long mode
        if ((value & ~ModelledCr4) != 0)
            throw new SoftwareEngineException($"the software engine does not model CR4 0x{value:X} ('{i}' at 0x{i.IP:X})");
        if (value == Cr4)
            return;
        Cr4 = value;
        _tlb.FlushAll();
        InvalidateDecodedCode();
    }

    /// <summary><c>invlpg</c>: the TLB forgets the page (and decoded code is dropped: it may have come from it).</summary>
    private void InvalidatePage(ulong linear)
    {
        _tlb.FlushPage(linear);
        InvalidateDecodedCode();
    }

    private void ReadModelSpecific()
    {
        var index = (uint)Registers[(int)Gpr.Rcx];
        var value = Efer;
        if (index != EferMsr && !TryReadStoredMsr(index, out value))
            throw new SoftwareEngineException($"the software engine does not model MSR 0x{index:X} (rdmsr at 0x{Rip:X})");
        Registers[(int)Gpr.Rax] = (uint)value;
        Registers[(int)Gpr.Rdx] = value >> 32;
    }

    /// <summary><c>wrmsr</c>: of EFER, SCE and NXE may change, LME and LMA stay, other bits raise #GP; the stored MSRs (<c>SoftCpu.Msrs.cs</c>).</summary>
    private void WriteModelSpecific()
    {
        var index = (uint)Registers[(int)Gpr.Rcx];
        var value = ((Registers[(int)Gpr.Rdx] & 0xFFFF_FFFF) << 32) | (uint)Registers[(int)Gpr.Rax];
        if (index != EferMsr)
        {
            if (!TryWriteStoredMsr(index, value))
                throw new SoftwareEngineException($"the software engine does not model MSR 0x{index:X} (wrmsr at 0x{Rip:X})");
            return;
        }
        const ulong fixedBits = EferLongModeEnable | EferLongModeActive;
        if ((value & ~(fixedBits | EferSystemCall | EferNoExecute)) != 0 || (value & fixedBits) != fixedBits)
            throw new GuestFault(GuestFault.GeneralProtection, 0);
        if (((value ^ Efer) & EferNoExecute) != 0)
        {
            _tlb.FlushAll();
            InvalidateDecodedCode();
        }
        Efer = value;
    }
}
