namespace Vdi.Server.Storage;

/// <summary>The database cannot be used as configured; the message says why and what to fix, in one line.</summary>
public sealed class StorageException(string message, Exception? inner = null) : Exception(message, inner);
