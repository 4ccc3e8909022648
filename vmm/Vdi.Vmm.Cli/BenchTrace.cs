using System.Globalization;
using Vdi.Vmm.Boot;
using Vdi.Vmm.Devices;
using Vdi.Vmm.Execution;
using Vdi.Vmm.Images;
using Vdi.Vmm.Kvm;
using Vdi.Vmm.Machine;
using Vdi.Vmm.Tracing;
using static Iced.Intel.AssemblerRegisters;

namespace Vdi.Vmm.Cli;

/// <summary>
/// `vdi-vmm bench trace`: what write tracing costs. (1) One traced write (decided Apply) on each engine: a loop of
/// stores to a traced page, timed with N and 2N iterations, less the same loops untraced. (2) The software engine's
/// store loop (8-byte stores over 64 KiB, as the calibration memory loop) with nothing traced, next to the same loop
/// while an unrelated page is traced — the store fast path must not notice — and the calibration's memory loop for
/// reference, all in one run, interleaved.
/// </summary>
internal static class BenchTrace
{
    private const ulong TracedPage = 0x30_0000;
    private const ulong StoreArea = 0x40_0000; // 64 KiB the store loop writes, far from the traced page
    private const int InstructionsPerIteration = 5;

    public static async Task<int> ExecuteAsync(CliOptions options, TextWriter stdout)
    {
        var runs = options.Int("runs", 5, 1, 100);
        var softwareWrites = options.Int("software-writes", 200_000, 1_000, 100_000_000);
        var kvmWrites = options.Int("kvm-writes", 2_000, 100, 10_000_000);
        var storeIterations = options.Int("store-iterations", 20_000_000, 100_000, 1_000_000_000);
        options.EnsureConsumed();

        await stdout.WriteLineAsync($"one traced write (decided Apply, applied through the host mapping), median of {runs} runs of (t(2N) - t(N)) / N, less the same loop untraced").ConfigureAwait(false);
        await stdout.WriteLineAsync($"  software  {Nanoseconds(TracedWriteCost(EngineChoice.Software, softwareWrites, runs))}   (N = {softwareWrites})").ConfigureAwait(false);
        string kvm;
        try
        {
            KvmSystem.Open().Dispose();
            kvm = $"{Nanoseconds(TracedWriteCost(EngineChoice.Kvm, kvmWrites, runs))}   (N = {kvmWrites}; a read-only-slot MMIO exit, a KVM_GET_REGS and the decision; this host's KVM is nested and emulating: not hardware figures)";
        }
        catch (KvmException e)
        {
            kvm = $"not measured: {e.Message}";
        }
        await stdout.WriteLineAsync($"  KVM       {kvm}").ConfigureAwait(false);

        var untraced = new List<double>();
        var elsewhere = new List<double>();
        var calibration = new List<double>();
        for (var run = 0; run < runs; run++)
        {
            untraced.Add(StoreLoopRate(storeIterations, traceElsewhere: false));
            elsewhere.Add(StoreLoopRate(storeIterations, traceElsewhere: true));
            calibration.Add(EngineCalibration.Measure(EngineChoice.Software, budget: TimeSpan.FromMilliseconds(200)).MemoryInstructionsPerSecond);
        }
        await stdout.WriteLineAsync($"software store loop (8-byte stores over 64 KiB, {InstructionsPerIteration} instructions an iteration, {storeIterations} iterations), median of {runs} interleaved runs").ConfigureAwait(false);
        await stdout.WriteLineAsync($"  nothing traced          {EngineFigures.Rate(Statistics.Median(untraced)),-14} (runs: {Rates(untraced)})").ConfigureAwait(false);
        await stdout.WriteLineAsync($"  another page traced     {EngineFigures.Rate(Statistics.Median(elsewhere)),-14} (runs: {Rates(elsewhere)})").ConfigureAwait(false);
        await stdout.WriteLineAsync($"  calibration memory loop {EngineFigures.Rate(Statistics.Median(calibration)),-14} (runs: {Rates(calibration)})").ConfigureAwait(false);
        return 0;
    }

    /// <summary>Nanoseconds one traced write adds: ((t(2N) − t(N)) traced − (t(2N) − t(N)) untraced) / N, median of runs.</summary>
    private static double TracedWriteCost(EngineChoice engine, int writes, int runs)
    {
        var samples = new List<double>();
        for (var run = 0; run < runs; run++)
        {
            var traced = Seconds(engine, writes * 2, TracedPage, 0, trace: true) - Seconds(engine, writes, TracedPage, 0, trace: true);
            var plain = Seconds(engine, writes * 2, TracedPage, 0, trace: false) - Seconds(engine, writes, TracedPage, 0, trace: false);
            samples.Add((traced - plain) * 1e9 / writes);
        }
        return Statistics.Median(samples);
    }

    /// <summary>Guest instructions per second of the store loop on the software engine.</summary>
    private static double StoreLoopRate(int iterations, bool traceElsewhere) =>
        (double)iterations * InstructionsPerIteration / Seconds(EngineChoice.Software, iterations, StoreArea, 0xFFF8, trace: traceElsewhere);

    /// <summary>Wall time from start to power-off of a loop of <paramref name="iterations"/> 8-byte stores.</summary>
    private static double Seconds(EngineChoice engine, int iterations, ulong area, uint mask, bool trace) =>
        PowerOffTimer.Seconds(
            new MachineConfig { Vcpus = 1, MemoryMiB = 8, Image = StoreLoop(iterations, area, mask), Engine = engine, ExitStormSwitching = false },
            machine =>
            {
                if (trace)
                    machine.Tracer.Trace(TracedPage, 0x1000, static _ => TraceDecision.Apply);
            },
            machine =>
            {
                if (trace && area == TracedPage && machine.Tracer.Hits != iterations)
                    throw new InvalidOperationException($"{iterations} stores to the traced page, {machine.Tracer.Hits} decided");
            });

    /// <summary><c>mov [rbx+rdx], rax; add edx, 8; and edx, mask; dec ecx; jnz</c>, then power off.</summary>
    private static GuestImage StoreLoop(int iterations, ulong area, uint mask)
    {
        var a = new Iced.Intel.Assembler(64);
        var loop = a.CreateLabel();
        a.mov(ebx, (uint)area);
        a.xor(edx, edx);
        a.mov(ecx, iterations);
        a.Label(ref loop);
        a.mov(__qword_ptr[rbx + rdx], rax);
        a.add(edx, 8);
        a.and(edx, mask);
        a.dec(ecx);
        a.jnz(loop);
        a.mov(dx, PortMap.PowerBase); // power off, exit code 0
        a.xor(eax, eax);
        a.@out(dx, eax);
        a.hlt();
        using var code = new MemoryStream();
        a.Assemble(new Iced.Intel.StreamCodeWriter(code), GuestLayout.ImageBase);
        return new GuestImage("store-loop", GuestLayout.ImageBase, GuestLayout.ImageBase, code.ToArray(), new Dictionary<string, ulong>());
    }

    private static string Nanoseconds(double ns) => string.Create(CultureInfo.InvariantCulture, $"{ns,10:F0} ns per traced write");

    private static string Rates(List<double> rates) => string.Join(", ", rates.Select(EngineFigures.Rate));
}
