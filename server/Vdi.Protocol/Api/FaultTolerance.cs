namespace Vdi.Protocol;

/// <summary>
/// A fault-tolerant desktop's pair, as <c>GET /api/desktops/{id}/fault-tolerance</c> and the desktop list report it.
/// </summary>
/// <param name="Enabled">The setting: the desktop runs as a fault-tolerant pair when it starts.</param>
/// <param name="State">protected (a secondary follows), resynchronising, protecting (a secondary is being made), unprotected, failing-over, stopped; "off" when the running desktop is not a pair, or its fault tolerance was switched off.</param>
/// <param name="PrimaryProcessId">The primary host's process id.</param>
/// <param name="SecondaryProcessId">The secondary host's process id, or null while there is none.</param>
/// <param name="LagInstructions">How many guest instructions the secondary trails the primary by, or null without a secondary.</param>
/// <param name="HeldOutputs">The primary's outputs waiting for the secondary's.</param>
/// <param name="ReleasedOutputs">Outputs released since the desktop started.</param>
/// <param name="Resyncs">Secondaries replaced after a mismatch.</param>
/// <param name="Failovers">Times the secondary took over.</param>
/// <param name="SecondariesLost">Secondaries that ended while following.</param>
/// <param name="LastEvent">The last event, in words.</param>
/// <param name="LastEventAt">When it happened.</param>
/// <param name="LastCheckpointPauseMs">How long the primary paused for the last checkpoint.</param>
public sealed record FaultToleranceSummary(
    bool Enabled,
    string State,
    int? PrimaryProcessId = null,
    int? SecondaryProcessId = null,
    long? LagInstructions = null,
    int HeldOutputs = 0,
    long ReleasedOutputs = 0,
    int Resyncs = 0,
    int Failovers = 0,
    int SecondariesLost = 0,
    string? LastEvent = null,
    DateTimeOffset? LastEventAt = null,
    double? LastCheckpointPauseMs = null);

/// <summary>The body of <c>PUT /api/desktops/{id}/fault-tolerance</c>.</summary>
public sealed record SetFaultToleranceRequest(bool? Enabled);

/// <summary>The answer to a setting change: the setting, "now" or "next-start", and what that means in words.</summary>
public sealed record FaultToleranceSettingResult(bool Enabled, string Applies, string Message);
