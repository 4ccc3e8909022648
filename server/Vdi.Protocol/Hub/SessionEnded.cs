using System.Text.Json.Serialization;

namespace Vdi.Protocol;

/// <summary>Server → client: the session is over; the server closes the connection after sending it.</summary>
/// <param name="Reason">One of <see cref="SessionEndReasons"/>, for the client's logic.</param>
/// <param name="Message">A sentence for the user, e.g. "This desktop was opened on another device."</param>
/// <param name="ResumeToken">
/// With reason <c>moved</c>: a new single-use connect token for the same session, to connect with again through the same
/// address (the desktop's new host serves it); the session goes on. Null otherwise.
/// </param>
public sealed record SessionEnded(string Reason, string Message, [property: JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] string? ResumeToken = null);
