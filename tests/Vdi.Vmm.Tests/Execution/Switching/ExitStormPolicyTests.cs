using System.Diagnostics;
using Iced.Intel;
using Vdi.Vmm.Boot;
using Vdi.Vmm.Devices;
using Vdi.Vmm.Execution.Switching;
using Vdi.Vmm.Images;
using Vdi.Vmm.Memory;
using Vdi.Vmm.Vcpu;
using static Iced.Intel.AssemblerRegisters;

namespace Vdi.Vmm.Tests.Execution.Switching;

/// <summary>The exit-storm policy without KVM: pattern detection by decoding ahead, and the exit-rate rule.</summary>
public sealed class ExitStormPolicyTests
{
    private static readonly VcpuRegisters s_registers = default(VcpuRegisters) with { Rsp = GuestLayout.StackTop };

    [Fact]
    public void A_loop_around_a_port_read_is_a_region_at_its_first_exit()
    {
        using var memory = Load(ExitStormLoop.Build(100), out var image);
        var inRip = Find(image, Mnemonic.In);
        var policy = new ExitStormPolicy(memory, ExitStormThresholds.Default);

        var verdict = policy.OnExit(inRip, s_registers, Stopwatch.GetTimestamp());

        var (region, byRate) = Assert.NotNull(verdict);
        Assert.False(byRate);
        Assert.Equal(HotRegionKind.Loop, region.Kind);
        Assert.Equal(inRip, region.Start); // the loop starts with the read
        Assert.True(region.Contains(inRip));
        Assert.Equal(1, region.Privileged);
        Assert.Equal(9, region.Instructions); // in, 6 mixing instructions, dec, jnz
        Assert.False(region.Contains(inRip + 2)); // inside the 2-byte xor after the 1-byte in
    }

    [Fact]
    public void A_dense_cluster_of_port_writes_is_a_region_up_to_its_last_write()
    {
        using var memory = Assemble(a =>
        {
            a.mov(dx, PortMap.NullDevice);
            a.@out(dx, al);
            a.inc(eax);
            a.@out(dx, al);
            a.inc(eax);
            a.@out(dx, al);
            a.hlt();
        }, out var image);
        var first = Find(image, Mnemonic.Out);

        var region = HotRegionScanner.Scan(memory, first, s_registers, ExitStormThresholds.Default, relaxed: false);

        Assert.NotNull(region);
        Assert.Equal(HotRegionKind.Cluster, region.Kind);
        Assert.Equal(3, region.Privileged);
        Assert.Equal(5, region.Instructions);
    }

    [Fact]
    public void Sparse_privileged_instructions_are_no_pattern()
    {
        using var memory = Assemble(a =>
        {
            a.mov(dx, PortMap.NullDevice);
            for (var n = 0; n < 3; n++)
            {
                a.@out(dx, al);
                for (var k = 0; k < 40; k++)
                    a.inc(eax);
            }
            a.hlt();
        }, out var image);

        Assert.Null(HotRegionScanner.Scan(memory, Find(image, Mnemonic.Out), s_registers, ExitStormThresholds.Default, relaxed: false));
    }

    [Fact]
    public void Mmio_accesses_count_as_privileged_by_their_address_and_apic_or_sti_end_a_region()
    {
        using var memory = Assemble(a =>
        {
            var loop = a.CreateLabel("poll");
            a.mov(ebx, 0xD000_0000u); // a device window: no RAM there
            a.Label(ref loop);
            a.mov(eax, __dword_ptr[rbx + 0x70]);
            a.mov(ecx, __dword_ptr[rbx + 0x74]);
            a.mov(esi, __dword_ptr[rbx + 0x78]);
            a.test(eax, eax);
            a.jz(loop);
            a.sti();
        }, out var image);
        var first = Find(image, Mnemonic.Mov, skip: 1);
        var registers = s_registers with { Rbx = 0xD000_0000 };

        var region = HotRegionScanner.Scan(memory, first, registers, ExitStormThresholds.Default, relaxed: false);

        Assert.NotNull(region);
        Assert.Equal(HotRegionKind.Loop, region.Kind);
        Assert.Equal(3, region.Privileged);
        var sti = Find(image, Mnemonic.Sti);
        Assert.False(region.Contains(sti));
    }

    [Fact]
    public void Code_the_engine_cannot_run_in_a_slice_is_no_region()
    {
        using var memory = Assemble(a =>
        {
            var loop = a.CreateLabel("wait");
            a.mov(dx, PortMap.NullDevice);
            a.Label(ref loop);
            a.@in(al, dx);
            a.hlt(); // KVM's: never in a slice
            a.jmp(loop);
        }, out var image);

        Assert.Null(HotRegionScanner.Scan(memory, Find(image, Mnemonic.In), s_registers, ExitStormThresholds.Default, relaxed: false));
    }

    [Fact]
    public void The_exit_rate_finds_a_storm_in_a_loop_too_long_for_the_strict_scan()
    {
        using var memory = Assemble(a =>
        {
            var loop = a.CreateLabel("long_loop");
            a.mov(dx, PortMap.Sequence);
            a.Label(ref loop);
            a.@in(eax, dx);
            for (var k = 0; k < 100; k++)
                a.add(ebx, eax);
            a.dec(ecx);
            a.jnz(loop);
            a.hlt();
        }, out var image);
        var inRip = Find(image, Mnemonic.In);
        var thresholds = ExitStormThresholds.Default;
        var policy = new ExitStormPolicy(memory, thresholds);
        var now = Stopwatch.GetTimestamp();
        var step = Stopwatch.Frequency / 100_000; // an exit every 10 µs

        for (var n = 1; n < thresholds.RateExits; n++)
            Assert.Null(policy.OnExit(inRip, s_registers, now + (n * step)));
        var verdict = policy.OnExit(inRip, s_registers, now + (thresholds.RateExits * step));

        var (region, byRate) = Assert.NotNull(verdict);
        Assert.True(byRate);
        Assert.Equal(HotRegionKind.Loop, region.Kind);
        Assert.Equal(103, region.Instructions);
    }

    [Fact]
    public void Exits_slower_than_the_rate_window_or_from_too_many_addresses_do_not_trip_it()
    {
        var ticksPerMs = Stopwatch.Frequency / 1000;
        var slow = new ExitRateWindow(addresses: 4, threshold: 32, windowTicks: ticksPerMs);
        for (var n = 0; n < 200; n++)
            Assert.False(slow.Record(0x1000, n * ticksPerMs / 20)); // 20 per ms: 32 never fit in a window

        var scattered = new ExitRateWindow(addresses: 4, threshold: 32, windowTicks: ticksPerMs);
        for (var n = 0; n < 200; n++)
            Assert.False(scattered.Record(0x1000 + (ulong)(n % 5 * 16), n)); // five addresses round robin

        var storm = new ExitRateWindow(addresses: 4, threshold: 32, windowTicks: ticksPerMs);
        var tripped = Enumerable.Range(0, 32).Select(n => storm.Record(0x1000 + (ulong)(n % 4 * 16), n)).ToArray();
        Assert.All(tripped[..31], Assert.False);
        Assert.True(tripped[31]);
    }

    [Fact]
    public void A_cached_region_is_dropped_when_the_guest_rewrites_its_code()
    {
        using var memory = Load(ExitStormLoop.Build(100), out var image);
        var inRip = Find(image, Mnemonic.In);
        var policy = new ExitStormPolicy(memory, ExitStormThresholds.Default);
        Assert.NotNull(policy.OnExit(inRip, s_registers, 0));

        memory.Write(inRip + 1, (byte)0xF4); // hlt right after the read
        Assert.Null(policy.OnExit(inRip, s_registers, 1));
    }

    [Fact]
    public void A_refused_switch_or_a_useless_slice_leaves_the_rip_to_kvm_for_the_backoff()
    {
        using var memory = Load(ExitStormLoop.Build(100), out var image);
        var inRip = Find(image, Mnemonic.In);
        var thresholds = ExitStormThresholds.Default;
        var policy = new ExitStormPolicy(memory, thresholds);
        var backoff = (long)(thresholds.Backoff.TotalSeconds * Stopwatch.Frequency);

        policy.Refused(inRip, 1000);
        Assert.Null(policy.OnExit(inRip, s_registers, 1000 + backoff - 1));
        Assert.NotNull(policy.OnExit(inRip, s_registers, 1000 + backoff + 1));

        policy.SliceEnded(inRip, deviceAccesses: 5, now: 5000);
        Assert.NotNull(policy.OnExit(inRip, s_registers, 5001));
        policy.SliceEnded(inRip, deviceAccesses: 1, now: 5002);
        Assert.Null(policy.OnExit(inRip, s_registers, 5003));
    }

    [Fact]
    public void Hypercalls_and_apic_accesses_stay_out_of_regions()
    {
        using var memory = Assemble(a =>
        {
            var loop = a.CreateLabel("hypercalls");
            a.Label(ref loop);
            a.@out(dx, eax);
            a.mov(__dword_ptr[rbx + 0xB0], 0); // rbx: the local APIC
            a.jmp(loop);
        }, out var image);
        var outRip = Find(image, Mnemonic.Out);
        var atHypercall = s_registers with { Rdx = PortMap.Hypercall, Rbx = GuestLayout.LocalApicBase };
        var atDevice = s_registers with { Rdx = PortMap.NullDevice, Rbx = GuestLayout.LocalApicBase };
        var plain = s_registers with { Rdx = PortMap.NullDevice, Rbx = 0x30_0000 };

        Assert.Null(HotRegionScanner.Scan(memory, outRip, atHypercall, ExitStormThresholds.Default, relaxed: false));
        Assert.Null(HotRegionScanner.Scan(memory, outRip, atDevice, ExitStormThresholds.Default, relaxed: false));
        Assert.NotNull(HotRegionScanner.Scan(memory, outRip, plain, ExitStormThresholds.Default, relaxed: false));
    }

    private static GuestMemory Assemble(Action<Assembler> emit, out GuestImage image) =>
        Load(GuestAssembly.Build("policy-test", GuestLayout.ImageBase, g => emit(g.Asm)), out image);

    private static GuestMemory Load(GuestImage image, out GuestImage loaded)
    {
        var memory = new GuestMemory();
        memory.AddRam(0, 4 << 20);
        memory.Write(image.LoadAddress, image.Bytes);
        loaded = image;
        return memory;
    }

    private static ulong Find(GuestImage image, Mnemonic mnemonic, int skip = 0)
    {
        var decoder = Decoder.Create(64, new ByteArrayCodeReader(image.Bytes), image.LoadAddress);
        while (decoder.IP < image.EndAddress)
        {
            decoder.Decode(out var i);
            if (i.Mnemonic == mnemonic && skip-- == 0)
                return i.IP;
        }
        throw new InvalidOperationException($"no {mnemonic} in the image");
    }
}
