using Vdi.Vmm.Execution;
using Vdi.Vmm.Host;

namespace Vdi.Vmm.FaultTolerance;

/// <summary>
/// Starts a host of a fault-tolerant desktop's configuration in <paramref name="role"/> (a secondary is an incoming
/// host). <paramref name="engine"/> is <see cref="EngineChoice.Auto"/> for the pair's first primary — the desktop's own
/// choice — and for a secondary the engine its primary runs on: a replay follows a recording of its own engine only
/// (exact on the software engine, quasi on KVM).
/// </summary>
public delegate Task<RemoteDesktop> PairHostLauncher(FaultToleranceRole role, EngineChoice engine, CancellationToken cancellationToken);
