using Iced.Intel;
using Vdi.Vmm.Boot;
using Vdi.Vmm.Devices;
using Vdi.Vmm.Execution.Software;
using Vdi.Vmm.Memory;
using Vdi.Vmm.Vcpu;

namespace Vdi.Vmm.Execution.Switching;

/// <summary>
/// Finds a pattern of temporally local privilege-dependent instructions by decoding guest code ahead of an exiting RIP
/// (US 9,513,954): port I/O and MMIO accesses close together — an enclosing short loop that holds one (each iteration
/// exits), or a dense straight-line cluster — so the region goes to the software engine before the storm builds.
/// Control-register and MSR accesses also take exits, but the software engine does not model them: they end a region.
/// A plain function of guest memory and registers, tested without KVM.
/// </summary>
internal static class HotRegionScanner
{
    /// <summary>
    /// Decodes from <paramref name="exitRip"/> (the instruction that exited, privileged by definition). With
    /// <paramref name="relaxed"/> (the exit rate already proved a storm) loops and clusters may be four times as long
    /// and a cluster needs no density. Null when there is no pattern worth a switch.
    /// </summary>
    public static HotRegion? Scan(GuestMemory memory, ulong exitRip, in VcpuRegisters registers, ExitStormThresholds thresholds, bool relaxed)
    {
        var scale = relaxed ? 4 : 1;
        var maxInstructions = thresholds.ScanInstructions * scale;
        var maxBytes = thresholds.ScanBytes * scale;
        var forward = ReadCode(memory, exitRip, maxBytes);
        if (forward.Length == 0)
            return null;

        var starts = new List<ulong>();
        var privilegedAt = new List<int>(); // indexes into starts
        var decoder = Decoder.Create(64, new ByteArrayCodeReader(forward), exitRip);
        ulong end = exitRip;
        while (starts.Count < maxInstructions && decoder.IP < exitRip + (ulong)forward.Length)
        {
            decoder.Decode(out var i);
            if (i.IsInvalid || i.NextIP > exitRip + (ulong)forward.Length || !Runnable(i, registers))
                break;
            if (i.IP == exitRip || IsPrivileged(i, memory, registers))
                privilegedAt.Add(starts.Count);
            starts.Add(i.IP);
            end = i.NextIP;

            var flow = i.FlowControl;
            if (flow is FlowControl.ConditionalBranch or FlowControl.UnconditionalBranch && i.NearBranchTarget <= i.IP)
                return Loop(memory, exitRip, i.NearBranchTarget, end, starts, privilegedAt.Count, registers, maxInstructions, maxBytes);
            if (flow is FlowControl.UnconditionalBranch or FlowControl.Call or FlowControl.Return)
                break; // the code leaves for elsewhere: a slice would end here anyway
        }

        return Cluster(memory, exitRip, starts, privilegedAt, thresholds, relaxed);
    }

    /// <summary>
    /// True when a slice may run <paramref name="i"/>: the engine runs it (<see cref="SoftCpu.RunsInSlice"/>) and, as far
    /// as the current registers tell, it does not touch what only KVM serves — the hypercall port and the APIC windows —
    /// where a slice would end at once and every iteration would pay for two switches.
    /// </summary>
    internal static bool Runnable(in Instruction i, in VcpuRegisters registers)
    {
        if (!SoftCpu.RunsInSlice(i))
            return false;
        if (i.Mnemonic is Mnemonic.In or Mnemonic.Out)
        {
            var portOperand = i.Mnemonic == Mnemonic.In ? 1 : 0;
            var port = i.GetOpKind(portOperand) == OpKind.Register ? (ushort)registers.Rdx : (ushort)i.GetImmediate(portOperand);
            return port != PortMap.Hypercall;
        }
        for (var n = 0; n < i.OpCount; n++)
        {
            if (i.GetOpKind(n) == OpKind.Memory)
            {
                var address = EffectiveAddress(i, registers);
                return address - GuestLayout.LocalApicBase >= 0x1000 && address - GuestLayout.IoApicBase >= 0x1000;
            }
        }
        return true;
    }

    /// <summary>True for port I/O and for memory operands that, with the current registers, address no RAM (MMIO).</summary>
    internal static bool IsPrivileged(in Instruction i, GuestMemory memory, in VcpuRegisters registers)
    {
        if (i.Mnemonic is Mnemonic.In or Mnemonic.Out)
            return true;
        for (var n = 0; n < i.OpCount; n++)
        {
            if (i.GetOpKind(n) == OpKind.Memory)
                return !memory.IsRam(EffectiveAddress(i, registers), (ulong)Math.Max(1, i.MemorySize.GetSize()));
        }
        return false;
    }

    private static HotRegion? Loop(GuestMemory memory, ulong exitRip, ulong target, ulong end, List<ulong> starts, int privileged, in VcpuRegisters registers, int maxInstructions, int maxBytes)
    {
        var start = Math.Min(target, exitRip);
        if (end - start > (ulong)maxBytes)
            return null;
        var instructions = new List<ulong>(starts.Where(a => a >= start));
        if (target < exitRip)
        {
            // The loop's body begins before the exiting instruction: decode it too; it must reach exitRip exactly.
            var head = ReadCode(memory, target, (int)(exitRip - target));
            if (head.Length != (int)(exitRip - target))
                return null;
            var decoder = Decoder.Create(64, new ByteArrayCodeReader(head), target);
            while (decoder.IP < exitRip)
            {
                decoder.Decode(out var i);
                if (i.IsInvalid || i.NextIP > exitRip || !Runnable(i, registers))
                    return null;
                if (IsPrivileged(i, memory, registers))
                    privileged++;
                instructions.Add(i.IP);
            }
        }
        if (instructions.Count > maxInstructions || privileged == 0)
            return null;
        var code = ReadCode(memory, start, (int)(end - start));
        return code.Length == (int)(end - start) ? new HotRegion(HotRegionKind.Loop, start, code, instructions, instructions.Count, privileged) : null;
    }

    private static HotRegion? Cluster(GuestMemory memory, ulong exitRip, List<ulong> starts, List<int> privilegedAt, ExitStormThresholds thresholds, bool relaxed)
    {
        // The longest prefix that ends at a privileged instruction and is still dense enough.
        var minimum = relaxed ? 2 : thresholds.MinClusterSize;
        for (var k = privilegedAt.Count; k >= minimum; k--)
        {
            var last = privilegedAt[k - 1];
            if (!relaxed && (last + 1) > k * thresholds.MaxInstructionsPerPrivileged)
                continue;
            var count = last + 1;
            var endAddress = count < starts.Count ? starts[count] : NextAfter(memory, starts[last]);
            var code = ReadCode(memory, exitRip, (int)(endAddress - exitRip));
            return new HotRegion(HotRegionKind.Cluster, exitRip, code, starts.Take(count), count, k);
        }
        return null;
    }

    private static ulong NextAfter(GuestMemory memory, ulong address)
    {
        var bytes = ReadCode(memory, address, 15);
        var decoder = Decoder.Create(64, new ByteArrayCodeReader(bytes), address);
        decoder.Decode(out var i);
        return i.NextIP;
    }

    /// <summary>Up to <paramref name="length"/> bytes of guest code at <paramref name="address"/>, fewer where RAM ends.</summary>
    private static byte[] ReadCode(GuestMemory memory, ulong address, int length)
    {
        for (var n = length; n > 0; n = n > 16 ? n / 2 : n - 1)
        {
            var buffer = new byte[n];
            if (memory.TryRead(address, buffer))
                return buffer;
        }
        return [];
    }

    private static ulong EffectiveAddress(in Instruction i, in VcpuRegisters r)
    {
        if (i.IsIPRelativeMemoryOperand)
            return i.IPRelativeMemoryAddress;
        var address = i.MemoryDisplacement64;
        if (i.MemoryBase != Register.None)
            address += Value(i.MemoryBase, r);
        if (i.MemoryIndex != Register.None)
            address += Value(i.MemoryIndex, r) * (ulong)i.MemoryIndexScale;
        return address;
    }

    private static ulong Value(Register register, in VcpuRegisters r)
    {
        var full = register.GetFullRegister();
        var value = full switch
        {
            Register.RAX => r.Rax, Register.RCX => r.Rcx, Register.RDX => r.Rdx, Register.RBX => r.Rbx,
            Register.RSP => r.Rsp, Register.RBP => r.Rbp, Register.RSI => r.Rsi, Register.RDI => r.Rdi,
            Register.R8 => r.R8, Register.R9 => r.R9, Register.R10 => r.R10, Register.R11 => r.R11,
            Register.R12 => r.R12, Register.R13 => r.R13, Register.R14 => r.R14, Register.R15 => r.R15,
            _ => 0UL,
        };
        return register.GetSize() == 4 ? value & 0xFFFF_FFFF : value;
    }
}
