using System.Text.Json;
using System.Text.Json.Serialization;

namespace Vdi.Protocol;

/// <summary>
/// Source-generated JSON metadata for every protocol type, with the web defaults. The trimmed
/// WebAssembly client uses it instead of reflection; the server may add it to its resolver chain.
/// </summary>
/// <remarks>
/// Metadata only: the generated fast-path writer emits <c>""</c> for a null <c>byte[]</c>
/// (dotnet/runtime#129833), which would turn <see cref="CursorUpdate.Png"/> = null ("hide the
/// cursor") into an empty image. Revisit when the SDK carries the fix (dotnet/runtime#129834).
/// </remarks>
[JsonSourceGenerationOptions(JsonSerializerDefaults.Web, GenerationMode = JsonSourceGenerationMode.Metadata)]
[JsonSerializable(typeof(ClientDisplay))]
[JsonSerializable(typeof(ValidationError))]
[JsonSerializable(typeof(CreateSessionRequest))]
[JsonSerializable(typeof(CreateSessionResponse))]
[JsonSerializable(typeof(CreateDesktopRequest))]
[JsonSerializable(typeof(DesktopSummary))]
[JsonSerializable(typeof(DesktopSummary[]))]
[JsonSerializable(typeof(HostSummary[]))]
[JsonSerializable(typeof(DrainReport))]
[JsonSerializable(typeof(SessionSummary))]
[JsonSerializable(typeof(SessionSummary[]))]
[JsonSerializable(typeof(DesktopActivitySummary[]))]
[JsonSerializable(typeof(MigrateRequest))]
[JsonSerializable(typeof(MigrationStatus))]
[JsonSerializable(typeof(IntegrityReport))]
[JsonSerializable(typeof(SetIntegrityRequest))]
[JsonSerializable(typeof(IntegritySettingResult))]
[JsonSerializable(typeof(FaultToleranceSummary))]
[JsonSerializable(typeof(SetFaultToleranceRequest))]
[JsonSerializable(typeof(FaultToleranceSettingResult))]
[JsonSerializable(typeof(KeyEvent))]
[JsonSerializable(typeof(PointerEvent))]
[JsonSerializable(typeof(DisplayChanged))]
[JsonSerializable(typeof(FrameAck))]
[JsonSerializable(typeof(FrameUpdate))]
[JsonSerializable(typeof(CursorUpdate))]
[JsonSerializable(typeof(CursorMove))]
[JsonSerializable(typeof(ModeChanged))]
[JsonSerializable(typeof(SessionEnded))]
public sealed partial class ProtocolJsonContext : JsonSerializerContext;
