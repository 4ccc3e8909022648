using Vdi.Vmm.Execution;
using Vdi.Vmm.Tests.Machine;
using static Vdi.Vmm.Tests.Execution.Software.PagingGuest;

namespace Vdi.Vmm.Tests.Execution.Software;

/// <summary>
/// The paging guests on KVM and on the software engine: the same exit, the same CR2, error codes, saved RIP/RSP and
/// outputs, and the same accessed/dirty bits on the data pages' entries.
/// </summary>
[Trait("Requires", KvmMachines.Trait)]
public sealed class GuestPagingKvmTests
{
    public static TheoryData<string> Scenarios => [.. PagingScenarios.All.Select(s => s.Name)];

    [Theory]
    [MemberData(nameof(Scenarios))]
    public async Task Both_engines_see_the_same_faults_and_results(string name)
    {
        var scenario = PagingScenarios.All.Single(s => s.Name == name);
        var (softExit, soft, softMachine) = await RunAsync(scenario, EngineChoice.Software);
        var (kvmExit, kvm, kvmMachine) = await RunAsync(scenario, EngineChoice.Kvm);
        using (softMachine)
        using (kvmMachine)
        {
            Assert.True(softExit.Kind == kvmExit.Kind, $"software: {softExit}; KVM: {kvmExit}");
            Assert.True(softExit.ExitCode == kvmExit.ExitCode, $"software {softExit.ExitCode}, KVM {kvmExit.ExitCode}: {string.Join(",", kvm[0..9].Select(v => v.ToString("X")))}");
            Assert.True(soft.SequenceEqual(kvm), $"software {string.Join(",", soft[0..9].Select(v => v.ToString("X")))}; KVM {string.Join(",", kvm[0..9].Select(v => v.ToString("X")))}");
            foreach (var entry in new[] { Pte(Data), Pte(ReadOnly), Pte(Unmapped), Pte(PagingScenarios.StringPage) })
            {
                Assert.Equal(
                    softMachine.Memory.Read<ulong>(entry) & (Accessed | Dirty),
                    kvmMachine.Memory.Read<ulong>(entry) & (Accessed | Dirty));
            }
        }
    }

    [Fact]
    public async Task A_kvm_vcpu_on_its_own_tables_runs_software_slices_that_translate_through_them()
    {
        const int iterations = 3000;
        var scenario = PagingScenarios.PortLoopOnOwnTables(iterations);
        var (offExit, off, offMachine) = await RunAsync(scenario, EngineChoice.Kvm);
        var (onExit, on, onMachine) = await RunAsync(scenario, EngineChoice.Kvm, exitStormSwitching: true);
        using (offMachine)
        using (onMachine)
        {
            Assert.Equal(0, offExit.ExitCode);
            Assert.Equal(offExit, onExit);
            Assert.Equal(off, on);
            Assert.NotEqual(0UL, on[32]);
            Assert.Equal(on[32], on[33] & 0xFFFF_FFFF); // the data page's sum (the low half) is the register's
            Assert.Equal(on[33], onMachine.Memory.Read<ulong>(DataPhysical + 64)); // stored where the guest's tables say
            var stats = Assert.Single(onMachine.EngineSwitches);
            Assert.True(stats.ToSoftware > 0 && stats.SoftwareDeviceAccesses > iterations / 2, stats.ToString());
        }
    }
}
