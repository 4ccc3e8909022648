namespace Vdi.Vmm.Interop;

/// <summary>
/// KVM ioctl request numbers, computed with the kernel's <c>_IO/_IOR/_IOW/_IOWR</c> encoding
/// (<c>include/uapi/asm-generic/ioctl.h</c>). The only place in the code base that knows them.
/// Each line notes the capability the ioctl needs, where it needs one.
/// </summary>
internal static class KvmIoctls
{
    private const int KVMIO = 0xAE;
    private const uint IOC_NONE = 0, IOC_WRITE = 1, IOC_READ = 2;

    private static int IOC(uint dir, uint nr, uint size) => unchecked((int)((dir << 30) | (size << 16) | ((uint)KVMIO << 8) | nr));
    private static int IO(uint nr) => IOC(IOC_NONE, nr, 0);
    private static int IOR(uint nr, uint size) => IOC(IOC_READ, nr, size);
    private static int IOW(uint nr, uint size) => IOC(IOC_WRITE, nr, size);
    private static int IOWR(uint nr, uint size) => IOC(IOC_READ | IOC_WRITE, nr, size);

    // System fd.
    public static readonly int KVM_GET_API_VERSION = IO(0x00);
    public static readonly int KVM_CREATE_VM = IO(0x01);
    public static readonly int KVM_CHECK_EXTENSION = IO(0x03);
    public static readonly int KVM_GET_VCPU_MMAP_SIZE = IO(0x04);
    public static readonly int KVM_GET_SUPPORTED_CPUID = IOWR(0x05, 8);               // KVM_CAP_EXT_CPUID
    public static readonly int KVM_GET_MSR_INDEX_LIST = IOWR(0x02, 4);                // struct kvm_msr_list header

    // VM fd.
    public static readonly int KVM_CREATE_VCPU = IO(0x41);
    public static readonly int KVM_GET_DIRTY_LOG = IOW(0x42, 16);
    public static readonly int KVM_SET_USER_MEMORY_REGION = IOW(0x46, 32);            // KVM_CAP_USER_MEMORY
    public static readonly int KVM_SET_TSS_ADDR = IO(0x47);                           // KVM_CAP_SET_TSS_ADDR
    public static readonly int KVM_SET_IDENTITY_MAP_ADDR = IOW(0x48, 8);              // KVM_CAP_SET_IDENTITY_MAP_ADDR
    public static readonly int KVM_CREATE_IRQCHIP = IO(0x60);                         // KVM_CAP_IRQCHIP
    public static readonly int KVM_IRQ_LINE = IOW(0x61, 8);                           // KVM_CAP_IRQCHIP
    public static readonly int KVM_IRQFD = IOW(0x76, 32);                             // KVM_CAP_IRQFD
    public static readonly int KVM_CREATE_PIT2 = IOW(0x77, 64);                       // KVM_CAP_PIT2
    public static readonly int KVM_GET_IRQCHIP = IOWR(0x62, 520);                     // KVM_CAP_IRQCHIP
    public static readonly int KVM_SET_IRQCHIP = IOR(0x63, 520);                      // KVM_CAP_IRQCHIP (_IOR in the kernel's header)
    public static readonly int KVM_SET_CLOCK = IOW(0x7b, 48);                         // KVM_CAP_ADJUST_CLOCK
    public static readonly int KVM_GET_CLOCK = IOR(0x7c, 48);                         // KVM_CAP_ADJUST_CLOCK
    public static readonly int KVM_GET_PIT2 = IOR(0x9f, 112);                         // KVM_CAP_PIT_STATE2
    public static readonly int KVM_SET_PIT2 = IOW(0xa0, 112);                         // KVM_CAP_PIT_STATE2

    // vCPU fd.
    public static readonly int KVM_RUN = IO(0x80);
    public static readonly int KVM_GET_REGS = IOR(0x81, 144);
    public static readonly int KVM_SET_REGS = IOW(0x82, 144);
    public static readonly int KVM_GET_SREGS = IOR(0x83, 312);
    public static readonly int KVM_SET_SREGS = IOW(0x84, 312);
    public static readonly int KVM_GET_MSRS = IOWR(0x88, 8);                          // struct kvm_msrs header
    public static readonly int KVM_SET_MSRS = IOW(0x89, 8);
    public static readonly int KVM_SET_SIGNAL_MASK = IOW(0x8b, 4);
    public static readonly int KVM_SET_CPUID2 = IOW(0x90, 8);                         // KVM_CAP_EXT_CPUID
    public static readonly int KVM_GET_MP_STATE = IOR(0x98, 4);                       // KVM_CAP_MP_STATE
    public static readonly int KVM_SET_MP_STATE = IOW(0x99, 4);                       // KVM_CAP_MP_STATE
    public static readonly int KVM_GET_LAPIC = IOR(0x8e, 1024);                        // struct kvm_lapic_state: the register page
    public static readonly int KVM_SET_LAPIC = IOW(0x8f, 1024);
    public static readonly int KVM_GET_VCPU_EVENTS = IOR(0x9f, 64);                   // KVM_CAP_VCPU_EVENTS
    public static readonly int KVM_SET_VCPU_EVENTS = IOW(0xa0, 64);                   // KVM_CAP_VCPU_EVENTS
    public static readonly int KVM_GET_XSAVE = IOR(0xa4, 4096);                       // KVM_CAP_XSAVE
    public static readonly int KVM_SET_XSAVE = IOW(0xa5, 4096);                       // KVM_CAP_XSAVE
}
