namespace Vdi.Vmm.Interop;

/// <summary>Constants from <c>linux/kvm.h</c> and <c>asm/kvm.h</c>, with their C names.</summary>
internal static class KvmConstants
{
    public const int KVM_API_VERSION = 12;

    // Capabilities (KVM_CHECK_EXTENSION).
    public const int KVM_CAP_IRQCHIP = 0;
    public const int KVM_CAP_USER_MEMORY = 3;
    public const int KVM_CAP_SET_TSS_ADDR = 4;
    public const int KVM_CAP_EXT_CPUID = 7;
    public const int KVM_CAP_NR_VCPUS = 9;
    public const int KVM_CAP_NR_MEMSLOTS = 10;
    public const int KVM_CAP_MP_STATE = 14;
    public const int KVM_CAP_IRQFD = 32;
    public const int KVM_CAP_PIT2 = 33;
    public const int KVM_CAP_SET_IDENTITY_MAP_ADDR = 37;
    public const int KVM_CAP_MAX_VCPUS = 66;
    public const int KVM_CAP_READONLY_MEM = 81;
    public const int KVM_CAP_IMMEDIATE_EXIT = 136;
    public const int KVM_CAP_SYNC_REGS = 74;
    public const int KVM_CAP_ADJUST_CLOCK = 39;
    public const int KVM_CAP_PIT_STATE2 = 35;
    public const int KVM_CAP_XSAVE = 55;

    // kvm_irqchip.chip_id
    public const uint KVM_IRQCHIP_PIC_MASTER = 0;
    public const uint KVM_IRQCHIP_PIC_SLAVE = 1;
    public const uint KVM_IRQCHIP_IOAPIC = 2;
    public const int KVM_IOAPIC_NUM_PINS = 24;

    // kvm_pit_state2.flags
    public const uint KVM_PIT_FLAGS_HPET_LEGACY = 1;
    public const uint KVM_PIT_FLAGS_SPEAKER_DATA_ON = 2;

    // kvm_run.kvm_valid_regs / kvm_dirty_regs (KVM_CAP_SYNC_REGS): register sets mirrored in kvm_run.s.
    public const ulong KVM_SYNC_X86_REGS = 1UL << 0;
    public const ulong KVM_SYNC_X86_SREGS = 1UL << 1;
    public const ulong KVM_SYNC_X86_EVENTS = 1UL << 2;

    // kvm_userspace_memory_region.flags
    public const uint KVM_MEM_LOG_DIRTY_PAGES = 1u << 0;
    public const uint KVM_MEM_READONLY = 1u << 1;

    // kvm_run.exit_reason
    public const uint KVM_EXIT_UNKNOWN = 0;
    public const uint KVM_EXIT_EXCEPTION = 1;
    public const uint KVM_EXIT_IO = 2;
    public const uint KVM_EXIT_HYPERCALL = 3;
    public const uint KVM_EXIT_DEBUG = 4;
    public const uint KVM_EXIT_HLT = 5;
    public const uint KVM_EXIT_MMIO = 6;
    public const uint KVM_EXIT_IRQ_WINDOW_OPEN = 7;
    public const uint KVM_EXIT_SHUTDOWN = 8;
    public const uint KVM_EXIT_FAIL_ENTRY = 9;
    public const uint KVM_EXIT_INTR = 10;
    public const uint KVM_EXIT_INTERNAL_ERROR = 17;
    public const uint KVM_EXIT_SYSTEM_EVENT = 24;

    // kvm_run.io.direction
    public const byte KVM_EXIT_IO_IN = 0;
    public const byte KVM_EXIT_IO_OUT = 1;

    // kvm_mp_state.mp_state
    public const uint KVM_MP_STATE_RUNNABLE = 0;
    public const uint KVM_MP_STATE_UNINITIALIZED = 1;
    public const uint KVM_MP_STATE_HALTED = 3;

    // kvm_pit_config.flags
    public const uint KVM_PIT_SPEAKER_DUMMY = 1;

    /// <summary>Where the TSS used for real-mode emulation goes on Intel hosts (three pages below 4 GiB, outside RAM).</summary>
    public const ulong DefaultTssAddress = 0xFFFB_D000;
    public const ulong DefaultIdentityMapAddress = 0xFFFB_C000;

    /// <summary>The kernel's sigset is 64 bits on x86-64.</summary>
    public const int KernelSigsetSize = 8;
}

/// <summary>x86 architectural bits used to enter long mode.</summary>
internal static class X86Constants
{
    public const ulong CR0_PE = 1UL << 0;
    public const ulong CR0_MP = 1UL << 1;
    public const ulong CR0_ET = 1UL << 4;
    public const ulong CR0_NE = 1UL << 5;
    public const ulong CR0_WP = 1UL << 16;
    public const ulong CR0_AM = 1UL << 18;
    public const ulong CR0_PG = 1UL << 31;
    public const ulong CR4_PAE = 1UL << 5;
    public const ulong CR4_LA57 = 1UL << 12;
    public const ulong CR4_OSFXSR = 1UL << 9;
    public const ulong CR4_OSXMMEXCPT = 1UL << 10;
    public const ulong EFER_LME = 1UL << 8;
    public const ulong EFER_LMA = 1UL << 10;

    public const ulong PTE_PRESENT = 1UL << 0;
    public const ulong PTE_WRITABLE = 1UL << 1;
    public const ulong PTE_ACCESSED = 1UL << 5;
    public const ulong PTE_DIRTY = 1UL << 6;
    public const ulong PTE_PAGE_SIZE = 1UL << 7;

    public const int SYS_gettid = 186;
    public const int SYS_tgkill = 234;
}
