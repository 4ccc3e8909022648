using Vdi.Vmm.Interop;

namespace Vdi.Vmm.Sandbox;

/// <summary>Test support: makes a raw system call with every argument zero, as code that took over the process might.</summary>
public static class ProbeCall
{
    /// <summary>Calls <paramref name="name"/>; returns the kernel's result (-1 with errno on failure).</summary>
    public static long Make(string name)
    {
        var number = SyscallNames.Number(name);
        return number < 0 ? throw new ArgumentException($"no x86-64 system call named '{name}'") : SandboxCalls.Call(number);
    }
}
