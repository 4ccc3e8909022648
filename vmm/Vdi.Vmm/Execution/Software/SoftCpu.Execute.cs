using Iced.Intel;

namespace Vdi.Vmm.Execution.Software;

/// <summary>
/// The generic path of <see cref="SoftCpu"/>: one case per modelled mnemonic, over Iced's instruction, for whatever the
/// specialised handlers (<see cref="SoftCpu.Execute(ref SoftOp)"/>) do not cover.
/// </summary>
internal sealed partial class SoftCpu
{
    /// <summary>Runs an instruction the specialised handlers leave alone; a <c>lock</c>ed one runs guarded (no host atomic fits it).</summary>
    private void ExecuteGeneric(in Instruction i)
    {
        if (i.HasLockPrefix)
            RunGuarded(i);
        else
            ExecuteOne(i);
    }

    private void ExecuteOne(in Instruction i)
    {
        switch (i.Mnemonic)
        {
            case Mnemonic.Mov when i.Op0Register.IsCR() || i.Op1Register.IsCR():
                MoveControlRegister(i);
                break;
            case Mnemonic.Invlpg:
                InvalidatePage(EffectiveAddress(i));
                break;
            case Mnemonic.Rdmsr:
                ReadModelSpecific();
                break;
            case Mnemonic.Wrmsr:
                WriteModelSpecific();
                break;
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
                PopTo(i);
                break;
            case Mnemonic.Call:
                var callee = i.Op0Kind == OpKind.NearBranch64 ? i.NearBranchTarget : Read(i, 0); // call rax / call [m]
                Push(Rip);
                Rip = callee;
                break;
            case Mnemonic.Ret:
                Rip = Pop();
                break;
            case Mnemonic.Jmp:
                Rip = i.Op0Kind == OpKind.NearBranch64 ? i.NearBranchTarget : Read(i, 0); // jmp rax / jmp [m]
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
                ExecuteXaddGeneric(i);
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
                var limit = (ushort)ReadMem(descriptor, 2);
                IdtBase = ReadMem(descriptor + 2, 8);
                IdtLimit = limit;
                break;
            case Mnemonic.Iretq:
                var frame = Registers[(int)Gpr.Rsp];
                var rip = ReadMem(frame, 8);
                var rflags = ReadMem(frame + 16, 8); // cs at +8 and ss at +32 are flat: not checked
                var rsp = ReadMem(frame + 24, 8);
                Rip = rip;
                Rflags = rflags;
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
