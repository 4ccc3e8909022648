using Vdi.Vmm.Boot;
using Vdi.Vmm.Devices;
using Vdi.Vmm.Images;
using static Iced.Intel.AssemblerRegisters;

namespace Vdi.Guest.Bench;

/// <summary>
/// The A-B guest of the live-migration tests and <c>vdi-vmm bench migrate</c>, as in QEMU's migration tests: every
/// vCPU increments a byte of every page of a large range, forever — vCPU i the byte at offset i, so vCPUs never race —
/// and, when asked, has the DMA exerciser (<see cref="PortMap.DmaExerciser"/>) write a record into a window of other
/// pages after every <c>dmaEvery</c> pages, so device DMA dirties memory the CPU never writes. It runs with
/// interrupts off, on the boot identity map, and never powers off.
/// </summary>
public static class AbGuest
{
    /// <param name="rangeBase">First byte of the incremented range (page aligned, above the image).</param>
    /// <param name="rangeBytes">Its length (whole pages).</param>
    /// <param name="dmaWindowBase">First byte of the DMA window (page aligned), outside the range.</param>
    /// <param name="dmaWindowPages">Pages in the DMA window; 0 for no DMA.</param>
    /// <param name="dmaEvery">Pages incremented between two DMA records (a power of two).</param>
    public static GuestImage Build(ulong rangeBase, ulong rangeBytes, ulong dmaWindowBase = 0, uint dmaWindowPages = 0, uint dmaEvery = 64)
    {
        if (((rangeBase | rangeBytes | dmaWindowBase) & 0xFFF) != 0 || rangeBytes == 0)
            throw new ArgumentException("the range and the DMA window must be whole pages");
        if (dmaEvery == 0 || (dmaEvery & (dmaEvery - 1)) != 0)
            throw new ArgumentException("dmaEvery must be a power of two", nameof(dmaEvery));
        return GuestAssembly.Build("a-b", GuestLayout.ImageBase, g =>
        {
            var a = g.Asm;
            var outer = a.CreateLabel("outer");
            var inner = a.CreateLabel("inner");
            var noDma = a.CreateLabel("no_dma");
            a.cli();
            if (dmaWindowPages > 0)
            {
                a.mov(dx, PortMap.DmaExerciser);
                a.mov(eax, (uint)(dmaWindowBase >> 12));
                a.@out(dx, eax);
                a.mov(dx, (ushort)(PortMap.DmaExerciser + 4));
                a.mov(eax, dmaWindowPages);
                a.@out(dx, eax);
            }
            a.mov(r8, rangeBase);
            a.mov(r9, rangeBase + rangeBytes);
            a.xor(r10d, r10d); // pages done, the DMA record's value
            a.Label(ref outer);
            a.mov(rax, r8);
            a.Label(ref inner);
            a.inc(__byte_ptr[rax + rdi]); // rdi: this vCPU's index
            a.add(rax, 4096);
            a.inc(r10d);
            if (dmaWindowPages > 0)
            {
                a.test(r10d, (int)(dmaEvery - 1));
                a.jnz(noDma);
                a.mov(r11, rax);
                a.mov(eax, r10d);
                a.mov(dx, (ushort)(PortMap.DmaExerciser + 8));
                a.@out(dx, eax);
                a.mov(rax, r11);
                a.Label(ref noDma);
            }
            a.cmp(rax, r9);
            a.jb(inner);
            a.jmp(outer);
        });
    }
}
