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
}
