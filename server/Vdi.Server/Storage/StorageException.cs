namespace Vdi.Server.Storage;

/// <summary>
/// The broker cannot start as configured (its database, or its cluster or proxy settings); the message says why and what
/// to fix, in one line.
/// </summary>
public sealed class StorageException(string message, Exception? inner = null) : Exception(message, inner);
