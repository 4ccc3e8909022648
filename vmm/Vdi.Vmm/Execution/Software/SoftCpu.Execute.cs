using Iced.Intel;

namespace Vdi.Vmm.Execution.Software;

/// <summary>The instruction set of <see cref="SoftCpu"/>: one case per modelled mnemonic.</summary>
internal sealed partial class SoftCpu
{
    /// <summary>Runs a decoded instruction; a <c>lock</c>ed one runs under the bus's atomic gate, so vCPU threads see it whole.</summary>
    private void Execute(in Instruction i)
    {
        if (i.HasLockPrefix)
        {
            lock (_bus.AtomicGate)
                ExecuteOne(i);
        }
        else
        {
            ExecuteOne(i);
        }
    }

    private void ExecuteOne(in Instruction i)
    {
        switch (i.Mnemonic)
        {
            case Mnemonic.Mov:
            case Mnemonic.Movzx:
                Write(i, 0, Read(i, 1));
                break;
            case Mnemonic.Lea:
                Write(i, 0, EffectiveAddress(i));
                break;
            case Mnemonic.Push:
                Push(Read(i, 0));
                break;
            case Mnemonic.Pop:
                Write(i, 0, Pop());
                break;
            case Mnemonic.Call:
                Push(Rip);
                Rip = i.NearBranchTarget;
                break;
            case Mnemonic.Ret:
                Rip = Pop();
                break;
            case Mnemonic.Jmp:
                Rip = i.NearBranchTarget;
                break;
            case Mnemonic.Add or Mnemonic.Sub or Mnemonic.Cmp or Mnemonic.And or Mnemonic.Or or Mnemonic.Xor or Mnemonic.Test:
                ExecuteArithmetic(i);
                break;
            case Mnemonic.Inc or Mnemonic.Dec:
                ExecuteIncDec(i);
                break;
            case Mnemonic.Shl or Mnemonic.Shr:
                ExecuteShift(i);
                break;
            case Mnemonic.Div:
                ExecuteDivide(i);
                break;
            case Mnemonic.Imul:
                ExecuteMultiply(i);
                break;
            case Mnemonic.Stosb or Mnemonic.Stosd or Mnemonic.Stosq:
                ExecuteStore(i);
                break;
            case Mnemonic.Movsd when i.Code == Code.Movsd_m32_m32:
                ExecuteMove(i);
                break;
            case Mnemonic.Xadd:
                var destination = Read(i, 0);
                var source = Read(i, 1);
                var sum = Add(destination, source, OperandSize(i, 0));
                Write(i, 1, destination);
                Write(i, 0, sum);
                break;
            case Mnemonic.In:
                Write(i, 0, _bus.PortIn(this, (ushort)Read(i, 1), OperandSize(i, 0)));
                break;
            case Mnemonic.Out:
                _bus.PortOut(this, (ushort)Read(i, 0), OperandSize(i, 1), Read(i, 1));
                break;
            case Mnemonic.Pause or Mnemonic.Nop:
                break;
            case Mnemonic.Hlt:
                Halted = true;
                break;
            case Mnemonic.Sti:
                InterruptsEnabled = true;
                _interruptShadow = true;
                break;
            case Mnemonic.Cli:
                InterruptsEnabled = false;
                break;
            case Mnemonic.Lidt:
                var descriptor = EffectiveAddress(i);
                IdtLimit = (ushort)_bus.ReadMemory(this, descriptor, 2);
                IdtBase = _bus.ReadMemory(this, descriptor + 2, 8);
                break;
            case Mnemonic.Iretq:
                Rip = Pop();
                Pop(); // cs
                Rflags = Pop();
                var rsp = Pop();
                Pop(); // ss
                Registers[(int)Gpr.Rsp] = rsp;
                break;
            case Mnemonic.Ud2:
                RaiseException(6);
                break;
            case Mnemonic.Int3:
                RaiseException(3);
                break;
            default:
                if (i.ConditionCode != ConditionCode.None && i.FlowControl == FlowControl.ConditionalBranch)
                {
                    if (ConditionHolds(i.ConditionCode))
                        Rip = i.NearBranchTarget;
                    break;
                }

                if (i.Mnemonic is >= Mnemonic.Cmova and <= Mnemonic.Cmovs && i.ConditionCode != ConditionCode.None)
                {
                    // cmov always writes its 32-bit destination (zero-extending) even when the condition fails.
                    Write(i, 0, ConditionHolds(i.ConditionCode) ? Read(i, 1) : Read(i, 0));
                    break;
                }

                throw new SoftwareEngineException($"the software engine does not model '{i}' at 0x{i.IP:X}");
        }
    }
}
