using System.Text.Json;
using System.Text.Json.Serialization;
using Vdi.Protocol;

namespace Vdi.WebClient.Transport;

/// <summary>The parts of an RFC 9457 problem document the client shows.</summary>
public sealed record ProblemBody(string? Title, string? Detail, Dictionary<string, string[]>? Errors);

/// <summary>Source-generated JSON for the client's own REST shapes (trim safe), with web defaults.</summary>
[JsonSourceGenerationOptions(JsonSerializerDefaults.Web, GenerationMode = JsonSourceGenerationMode.Metadata)]
[JsonSerializable(typeof(SignInRequest))]
[JsonSerializable(typeof(SignedInUser))]
[JsonSerializable(typeof(AuditEntry[]))]
[JsonSerializable(typeof(ProblemBody))]
internal sealed partial class ClientJsonContext : JsonSerializerContext;
