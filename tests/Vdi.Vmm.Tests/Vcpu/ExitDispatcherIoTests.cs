using Vdi.Vmm.Devices;
using Vdi.Vmm.Hypercalls;
using Vdi.Vmm.Vcpu;
using static Vdi.Vmm.Interop.KvmConstants;

namespace Vdi.Vmm.Tests.Vcpu;

public sealed class ExitDispatcherIoTests : ExitDispatcherFixture
{
    [Fact]
    public void OutReachesTheRegisteredDeviceWithTheVcpuId()
    {
        var device = AddPioDevice(0x3F8, 8);
        Run.SetIo(KVM_EXIT_IO_OUT, 0x3F9, size: 1);
        Run.IoData(1)[0] = 0x41;

        Assert.Equal(ExitResult.Continue, Dispatch(vcpuId: 3));

        var call = Assert.Single(device.Calls);
        Assert.True(call.IsWrite);
        Assert.Equal(new BusAccess(1, 0x3F9, 3), call.Access);
        Assert.Equal(new byte[] { 0x41 }, call.Data);
        Assert.Equal(0, Log.Total);
    }

    [Fact]
    public void WideOutHandsTheDeviceAllItsBytes()
    {
        var device = AddPioDevice(0x600, 4);
        Run.SetIo(KVM_EXIT_IO_OUT, 0x600, size: 4);
        new byte[] { 1, 2, 3, 4 }.CopyTo(Run.IoData(4));

        Dispatch();

        Assert.Equal(new byte[] { 1, 2, 3, 4 }, Assert.Single(device.Calls).Data);
    }

    [Fact]
    public void InPutsTheDevicesAnswerIntoThePageDataArea()
    {
        AddPioDevice(0x3F8, 8, readByte: 0x60);
        Run.SetIo(KVM_EXIT_IO_IN, 0x3FD, size: 2);

        Assert.Equal(ExitResult.Continue, Dispatch());

        Assert.Equal(new byte[] { 0x60, 0x60, 0x00 }, Run.IoData(3).ToArray());
    }

    [Fact]
    public void InFromAnUnmappedPortReadsAllOnesAndIsLogged()
    {
        Run.SetIo(KVM_EXIT_IO_IN, 0x80, size: 4);

        Assert.Equal(ExitResult.Continue, Dispatch(vcpuId: 2));

        Assert.Equal(new byte[] { 0xFF, 0xFF, 0xFF, 0xFF, 0x00 }, Run.IoData(5).ToArray());
        Assert.Equal(new GuestAccess(AccessSpace.Pio, 0x80, 4, 0, false, 2, AccessOutcome.Unmapped), Assert.Single(Log.Recent()));
    }

    [Fact]
    public void StringOutCallsTheDeviceOncePerElement()
    {
        var device = AddPioDevice(0x3F8, 8);
        Run.SetIo(KVM_EXIT_IO_OUT, 0x3F8, size: 1, count: 3);
        "abc"u8.CopyTo(Run.IoData(3));

        Assert.Equal(ExitResult.Continue, Dispatch(vcpuId: 1));

        Assert.Equal(3, device.Calls.Count);
        Assert.Equal("abc"u8.ToArray(), device.Calls.Select(c => c.Data.Single()));
        Assert.All(device.Calls, c => Assert.Equal(new BusAccess(0, 0x3F8, 1), c.Access));
    }

    [Fact]
    public void StringInFillsEveryElementFromItsOwnRead()
    {
        var device = new CountingDevice();
        Pio.Register(0x700, 2, device);
        Run.SetIo(KVM_EXIT_IO_IN, 0x700, size: 2, count: 3);

        Dispatch();

        Assert.Equal(new byte[] { 1, 1, 2, 2, 3, 3, 0 }, Run.IoData(7).ToArray());
    }

    [Fact]
    public void HypercallPortOutRunsTheHypercallAndSetsRax()
    {
        Registers.Registers = default(VcpuRegisters) with { Rax = HypercallNumbers.Echo, Rbx = 42, Rcx = 7, Rip = 0x10_0000 };
        Run.SetIo(KVM_EXIT_IO_OUT, PortMap.Hypercall, size: 4);

        Assert.Equal(ExitResult.Continue, Dispatch());

        Assert.Equal(default(VcpuRegisters) with { Rax = 42, Rbx = 42, Rcx = 7, Rip = 0x10_0000 }, Registers.Registers);
        Assert.Equal(1, Registers.Sets);
        Assert.Equal(1, Hypercalls.Calls);
        Assert.Equal(0, Log.Total);
    }

    [Fact]
    public void HypercallNumberIsEaxOnly()
    {
        Registers.Registers = default(VcpuRegisters) with { Rax = 0xDEAD_BEEF_0000_0000 | HypercallNumbers.Ping };
        Run.SetIo(KVM_EXIT_IO_OUT, PortMap.Hypercall, size: 4);

        Dispatch();

        Assert.Equal(HypercallNumbers.PingReply, Registers.Registers.Rax);
    }

    [Fact]
    public void UnknownHypercallReturnsAllOnesAndIsLogged()
    {
        Registers.Registers = default(VcpuRegisters) with { Rax = 0x999, Rbx = 5 };
        Run.SetIo(KVM_EXIT_IO_OUT, PortMap.Hypercall, size: 4);

        Assert.Equal(ExitResult.Continue, Dispatch(vcpuId: 1));

        Assert.Equal(ulong.MaxValue, Registers.Registers.Rax);
        Assert.Equal(5UL, Registers.Registers.Rbx);
        Assert.Equal(
            new GuestAccess(AccessSpace.Pio, PortMap.Hypercall, 4, 0x999, true, 1, AccessOutcome.UnknownHypercall),
            Assert.Single(Log.Recent()));
    }

    [Theory]
    [InlineData(KVM_EXIT_IO_OUT, 1, 1)] // a byte write is not a hypercall
    [InlineData(KVM_EXIT_IO_OUT, 4, 2)] // nor is a string write
    [InlineData(KVM_EXIT_IO_IN, 4, 1)] // nor a read
    public void OtherAccessesToTheHypercallPortGoToTheBus(byte direction, byte size, uint count)
    {
        var device = AddPioDevice(PortMap.Hypercall, PortMap.HypercallLength);
        Registers.Registers = default(VcpuRegisters) with { Rax = HypercallNumbers.Echo, Rbx = 42 };
        Run.SetIo(direction, PortMap.Hypercall, size, count);

        Assert.Equal(ExitResult.Continue, Dispatch());

        Assert.Equal((int)count, device.Calls.Count);
        Assert.Equal(0, Registers.Gets + Registers.Sets);
        Assert.Equal(0, Hypercalls.Calls);
    }

    [Theory]
    [InlineData(3, 1u, KvmRunPage.DataOffset)] // no such access width
    [InlineData(0, 1u, KvmRunPage.DataOffset)]
    [InlineData(8, 1u, KvmRunPage.DataOffset)]
    [InlineData(1, 0u, KvmRunPage.DataOffset)] // nothing to transfer
    [InlineData(4, 2000u, KvmRunPage.DataOffset)] // more data than a page
    [InlineData(4, 1u, 8190UL)] // runs past the end of the mapping
    [InlineData(4, 1u, 100UL)] // inside kvm_run itself
    [InlineData(4, 1u, 1UL << 40)] // far outside
    public void MalformedIoExitIsACrashNotAnException(byte size, uint count, ulong dataOffset)
    {
        var device = AddPioDevice(0x3F8, 8);
        Run.SetIo(KVM_EXIT_IO_IN, 0x3F8, size, count, dataOffset);
        var before = Run.Bytes.ToArray();

        var result = Dispatch();

        Assert.Equal(ExitAction.Crash, result.Action);
        Assert.Contains("malformed I/O exit", result.Reason, StringComparison.Ordinal);
        Assert.Empty(device.Calls);
        Assert.Equal(before, Run.Bytes.ToArray()); // nothing written anywhere in the page
    }

    [Fact]
    public void DataOffsetThatWrapsAroundIsRejected()
    {
        Run.SetIo(KVM_EXIT_IO_OUT, 0x3F8, size: 4, count: 1, dataOffset: ulong.MaxValue - 1);

        Assert.True(Run.Exit().IoData.IsEmpty); // today: a span starting 2 bytes before the page
    }

    /// <summary>Answers the n-th read with n in every byte.</summary>
    private sealed class CountingDevice : IBusDevice
    {
        private byte _reads;

        public bool Read(in BusAccess access, Span<byte> data)
        {
            data.Fill(++_reads);
            return true;
        }

        public bool Write(in BusAccess access, ReadOnlySpan<byte> data) => false;
    }
}
