using System.Text;
using Vdi.Guest;
using Vdi.Vmm.Devices;
using Vdi.Vmm.Hypercalls;
using Vdi.Vmm.Execution;
using Vdi.Vmm.Images;
using Vdi.Vmm.Machine;
using Vdi.Vmm.Tests.Guests;

namespace Vdi.Vmm.Tests.Machine;

[Trait("Requires", KvmMachines.Trait)]
public sealed class BootTests() : BootTestsBase(EngineChoice.Kvm);

/// <summary>The built-in guest boots, counts on every vCPU, makes hypercalls and powers off. On the software engine.</summary>
public sealed class SoftwareBootTests() : BootTestsBase(EngineChoice.Software);

public abstract class BootTestsBase(EngineChoice engine)
{
    private protected EngineChoice Engine => engine;

    private protected Vmm.Machine.Machine Build(Vmm.Images.GuestImage image, int vcpus = 1, int memoryMiB = 64) =>
        KvmMachines.Build(image, vcpus, memoryMiB, engine);

    private const int Iterations = 100_000;

    [Theory]
    [InlineData(1)]
    [InlineData(2)]
    [InlineData(4)]
    public async Task Built_in_guest_prints_every_vcpu_and_the_exact_counter_then_powers_off_when_asked(int vcpus)
    {
        using var machine = Build(BuiltInGuest.Build(Iterations), vcpus);
        machine.Start();
        Assert.True(await machine.Serial.WaitForTextAsync("counter ", TimeSpan.FromSeconds(30)), machine.Serial.Text);
        await KvmMachines.WaitForMarkerAsync(machine, BootMarkers.Idle);

        machine.RequestPowerOff();
        var exit = await machine.WaitForExitAsync(TimeSpan.FromSeconds(30));

        var expected = new StringBuilder($"Vdi built-in guest: {vcpus} vCPUs\n");
        for (var i = 0; i < vcpus; i++)
            expected.Append($"cpu {i} online\n");
        expected.Append($"counter {vcpus * Iterations}\npower off\n");
        Assert.Equal(expected.ToString(), machine.Serial.Text);
        Assert.Equal(new MachineExit(MachineExitKind.PoweredOff, 0, null), exit);
        Assert.Equal(
            [BootMarkers.Entered, BootMarkers.AllVcpusOnline, BootMarkers.CounterDone, BootMarkers.Idle],
            machine.Devices.Power.Markers.Select(m => m.Value));
        Assert.Equal((ulong)(vcpus * Iterations), machine.Memory.Read<ulong>(machine.Config.Image.Symbol("counter")));
    }

    [Fact]
    public async Task Hypercall_echo_returns_its_argument_through_the_dispatch_point()
    {
        using var machine = Build(TestGuests.HypercallEcho(HypercallNumbers.Echo, 42));
        var exit = await KvmMachines.RunToExitAsync(machine);
        Assert.Equal(MachineExitKind.PoweredOff, exit.Kind);
        Assert.Equal(42, exit.ExitCode);
        Assert.Equal(1, machine.Hypercalls.Calls);
    }

    [Fact]
    public async Task Hypercall_handler_sees_the_callers_rip_inside_the_image()
    {
        var image = TestGuests.HypercallEcho(77, 5);
        using var machine = Build(image);
        ulong rip = 0;
        machine.Hypercalls.Register(77, (in HypercallContext c) => { rip = c.Registers.Rip; return c.Registers.Rbx + 1; });
        var exit = await KvmMachines.RunToExitAsync(machine);
        Assert.Equal(6, exit.ExitCode);
        Assert.InRange(rip, image.LoadAddress, image.EndAddress);
    }
}
