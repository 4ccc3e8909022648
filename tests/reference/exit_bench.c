/* exit_bench: minimal KVM reference for the VMM exit benchmark (see README.md).
 * Usage: exit_bench <guest-code-file> [load-address-hex]   (default 0x100000)
 * Build: cc -O2 -Wall -Wextra -Werror -std=c11 -o exit_bench exit_bench.c */
#define _DEFAULT_SOURCE /* MAP_ANONYMOUS, MAP_NORESERVE under -std=c11 */
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>
#include <linux/kvm.h>

#define RAM_SIZE      (64ULL << 20)
#define TSS_ADDR      0xfffbd000UL
#define GDT_ADDR      0x1000ULL
#define TSS_BASE      0x2000ULL
#define PML4_ADDR     0x9000ULL
#define PDPT_ADDR     0xA000ULL
#define PD_ADDR       0xB000ULL   /* four page directories: 0xB000..0xE000 */
#define STACK_TOP     0x80000ULL
#define DEFAULT_LOAD  0x100000ULL
#define PORT_NULL     0x520
#define PORT_POWEROFF 0x500

#define CR0_PE 0x1ULL
#define CR0_MP 0x2ULL
#define CR0_ET 0x10ULL
#define CR0_NE 0x20ULL
#define CR0_WP 0x10000ULL
#define CR0_AM 0x40000ULL
#define CR0_PG 0x80000000ULL
#define CR4_PAE        0x20ULL
#define CR4_OSFXSR     0x200ULL
#define CR4_OSXMMEXCPT 0x400ULL
#define EFER_LME 0x100ULL
#define EFER_LMA 0x400ULL
#define PTE_P  0x1ULL
#define PTE_W  0x2ULL
#define PTE_PS 0x80ULL

static const char *prog = "exit_bench";

static void die(const char *what)
{
    fprintf(stderr, "%s: %s: %s\n", prog, what, strerror(errno));
    exit(1);
}

static void fail(const char *msg)
{
    fprintf(stderr, "%s: %s\n", prog, msg);
    exit(1);
}

static int xioctl(int fd, unsigned long req, void *arg, const char *name)
{
    int r = ioctl(fd, req, arg);
    if (r < 0)
        die(name);
    return r;
}

static void set_seg(struct kvm_segment *s, uint16_t sel, uint8_t type, uint8_t code64)
{
    memset(s, 0, sizeof *s);
    s->base = 0;
    s->limit = 0xFFFFFFFF;
    s->selector = sel;
    s->type = type;
    s->present = 1;
    s->dpl = 0;
    s->s = 1;
    s->l = code64;
    s->db = code64 ? 0 : 1;
    s->g = 1;
}

static uint64_t now_ns(void)
{
    struct timespec ts;
    if (clock_gettime(CLOCK_MONOTONIC, &ts) != 0)
        die("clock_gettime");
    return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

int main(int argc, char **argv)
{
    if (argc < 2 || argc > 3) {
        fprintf(stderr, "usage: %s <guest-code-file> [load-address-hex]\n", prog);
        return 2;
    }
    uint64_t load = DEFAULT_LOAD;
    if (argc == 3) {
        char *end;
        errno = 0;
        load = strtoull(argv[2], &end, 16);
        if (errno || end == argv[2] || *end != '\0')
            fail("bad load address");
    }

    const char *dev = getenv("VDI_KVM_DEVICE");
    if (dev == NULL || *dev == '\0')
        dev = "/dev/kvm";
    int kvm = open(dev, O_RDWR | O_CLOEXEC);
    if (kvm < 0) {
        fprintf(stderr, "%s: cannot open %s: %s\n", prog, dev, strerror(errno));
        return 2;
    }
    if (xioctl(kvm, KVM_GET_API_VERSION, NULL, "KVM_GET_API_VERSION") != KVM_API_VERSION)
        fail("KVM_GET_API_VERSION: unexpected version");

    int vm = xioctl(kvm, KVM_CREATE_VM, (void *)0, "KVM_CREATE_VM");
    if (ioctl(vm, KVM_SET_TSS_ADDR, TSS_ADDR) < 0)
        die("KVM_SET_TSS_ADDR");

    uint8_t *ram = mmap(NULL, RAM_SIZE, PROT_READ | PROT_WRITE,
                        MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    if (ram == MAP_FAILED)
        die("mmap guest RAM");
    struct kvm_userspace_memory_region region = {
        .slot = 0, .flags = 0, .guest_phys_addr = 0,
        .memory_size = RAM_SIZE, .userspace_addr = (uint64_t)(uintptr_t)ram,
    };
    xioctl(vm, KVM_SET_USER_MEMORY_REGION, &region, "KVM_SET_USER_MEMORY_REGION");

    /* Load the guest code. */
    FILE *f = fopen(argv[1], "rb");
    if (f == NULL)
        die(argv[1]);
    if (load < STACK_TOP) /* GDT, TSS, page tables and stack live below 0x80000 */
        fail("load address overlaps boot data (below 0x80000)");
    if (load >= RAM_SIZE)
        fail("load address outside guest RAM");
    size_t n = fread(ram + load, 1, RAM_SIZE - load, f);
    if (ferror(f))
        die(argv[1]);
    if (fgetc(f) != EOF)
        fail("guest code does not fit in guest RAM");
    fclose(f);
    if (n == 0)
        fail("guest code file is empty");

    /* GDT: null, 64-bit code (0x08), data (0x10), 64-bit available TSS (0x18, two slots). */
    uint64_t *gdt = (uint64_t *)(ram + GDT_ADDR);
    gdt[0] = 0;
    gdt[1] = 0x00AF9A000000FFFFULL;
    gdt[2] = 0x00CF92000000FFFFULL;
    gdt[3] = 0x67ULL | ((TSS_BASE & 0xFFFFFFULL) << 16) | (0x89ULL << 40)
           | (((TSS_BASE >> 24) & 0xFFULL) << 56);
    gdt[4] = TSS_BASE >> 32;

    /* Identity map of the first 4 GiB with 2 MiB pages. */
    uint64_t *pml4 = (uint64_t *)(ram + PML4_ADDR);
    uint64_t *pdpt = (uint64_t *)(ram + PDPT_ADDR);
    uint64_t *pd = (uint64_t *)(ram + PD_ADDR);
    pml4[0] = PDPT_ADDR | PTE_P | PTE_W;
    for (uint64_t i = 0; i < 4; i++)
        pdpt[i] = (PD_ADDR + i * 0x1000) | PTE_P | PTE_W;
    for (uint64_t i = 0; i < 4 * 512; i++)
        pd[i] = (i << 21) | PTE_P | PTE_W | PTE_PS;

    int vcpu = xioctl(vm, KVM_CREATE_VCPU, (void *)0, "KVM_CREATE_VCPU");
    int run_size = xioctl(kvm, KVM_GET_VCPU_MMAP_SIZE, NULL, "KVM_GET_VCPU_MMAP_SIZE");
    struct kvm_run *run = mmap(NULL, (size_t)run_size, PROT_READ | PROT_WRITE,
                               MAP_SHARED, vcpu, 0);
    if (run == MAP_FAILED)
        die("mmap kvm_run");

    /* CPUID: whatever KVM supports, grown on E2BIG. */
    struct kvm_cpuid2 *cpuid = NULL;
    for (uint32_t nent = 64;; nent *= 2) {
        cpuid = calloc(1, sizeof *cpuid + nent * sizeof(struct kvm_cpuid_entry2));
        if (cpuid == NULL)
            die("calloc");
        cpuid->nent = nent;
        if (ioctl(kvm, KVM_GET_SUPPORTED_CPUID, cpuid) == 0)
            break;
        if (errno != E2BIG || nent >= 4096)
            die("KVM_GET_SUPPORTED_CPUID");
        free(cpuid);
    }
    xioctl(vcpu, KVM_SET_CPUID2, cpuid, "KVM_SET_CPUID2");
    free(cpuid);

    struct kvm_sregs sregs;
    xioctl(vcpu, KVM_GET_SREGS, &sregs, "KVM_GET_SREGS");
    set_seg(&sregs.cs, 0x08, 11, 1);
    set_seg(&sregs.ds, 0x10, 3, 0);
    sregs.es = sregs.fs = sregs.gs = sregs.ss = sregs.ds;
    memset(&sregs.tr, 0, sizeof sregs.tr);
    sregs.tr.base = TSS_BASE;
    sregs.tr.limit = 0x67;
    sregs.tr.selector = 0x18;
    sregs.tr.type = 11;            /* 64-bit busy TSS, as VMX requires for TR */
    sregs.tr.present = 1;
    sregs.gdt.base = GDT_ADDR;
    sregs.gdt.limit = 5 * 8 - 1;
    sregs.cr3 = PML4_ADDR;
    sregs.cr4 = CR4_PAE | CR4_OSFXSR | CR4_OSXMMEXCPT;                      /* 0x620 */
    sregs.cr0 = CR0_PE | CR0_MP | CR0_ET | CR0_NE | CR0_WP | CR0_AM | CR0_PG; /* 0x80050033 */
    sregs.efer = EFER_LME | EFER_LMA;                                       /* 0x500 */
    xioctl(vcpu, KVM_SET_SREGS, &sregs, "KVM_SET_SREGS");

    struct kvm_regs regs;
    memset(&regs, 0, sizeof regs);
    regs.rflags = 2;
    regs.rsp = STACK_TOP;
    regs.rip = load;
    xioctl(vcpu, KVM_SET_REGS, &regs, "KVM_SET_REGS");

    uint64_t exits = 0;
    uint64_t start = now_ns();
    for (;;) {
        if (ioctl(vcpu, KVM_RUN, NULL) < 0) {
            if (errno == EINTR || errno == EAGAIN)
                continue;
            die("KVM_RUN");
        }
        if (run->exit_reason == KVM_EXIT_IO && run->io.direction == KVM_EXIT_IO_OUT) {
            if (run->io.port == PORT_NULL) {
                exits++;
                continue;
            }
            if (run->io.port == PORT_POWEROFF)
                break;
        }
        switch (run->exit_reason) {
        case KVM_EXIT_IO:
            fprintf(stderr, "%s: unexpected KVM_EXIT_IO %s port 0x%x size %u\n", prog,
                    run->io.direction == KVM_EXIT_IO_OUT ? "out" : "in",
                    run->io.port, run->io.size);
            break;
        case KVM_EXIT_HLT:
            fprintf(stderr, "%s: unexpected KVM_EXIT_HLT\n", prog);
            break;
        case KVM_EXIT_SHUTDOWN:
            fprintf(stderr, "%s: unexpected KVM_EXIT_SHUTDOWN (triple fault?)\n", prog);
            break;
        case KVM_EXIT_FAIL_ENTRY:
            fprintf(stderr, "%s: KVM_EXIT_FAIL_ENTRY hardware_entry_failure_reason 0x%llx\n",
                    prog, (unsigned long long)run->fail_entry.hardware_entry_failure_reason);
            break;
        case KVM_EXIT_INTERNAL_ERROR:
            fprintf(stderr, "%s: KVM_EXIT_INTERNAL_ERROR suberror %u\n", prog,
                    run->internal.suberror);
            break;
        default:
            fprintf(stderr, "%s: unexpected exit reason %u\n", prog, run->exit_reason);
            break;
        }
        return 1;
    }
    uint64_t elapsed = now_ns() - start;

    printf("exits=%llu elapsed_ns=%llu ns_per_exit=%.1f\n", (unsigned long long)exits,
           (unsigned long long)elapsed, exits ? (double)elapsed / (double)exits : 0.0);
    return 0;
}
