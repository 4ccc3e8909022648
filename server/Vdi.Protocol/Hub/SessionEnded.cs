namespace Vdi.Protocol;

/// <summary>Server → client: the session is over; the server closes the connection after sending it.</summary>
/// <param name="Reason">One of <see cref="SessionEndReasons"/>, for the client's logic.</param>
/// <param name="Message">A sentence for the user, e.g. "This desktop was opened on another device."</param>
public sealed record SessionEnded(string Reason, string Message);
