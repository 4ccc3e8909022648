using System.Net;

namespace Vdi.WebClient.Transport;

/// <summary>A REST call the broker refused; <see cref="Exception.Message"/> is the broker's explanation.</summary>
public sealed class ApiException : Exception
{
    public ApiException()
    {
    }

    public ApiException(string message)
        : base(message)
    {
    }

    public ApiException(string message, Exception innerException)
        : base(message, innerException)
    {
    }

    public ApiException(HttpStatusCode status, string message)
        : base(message)
    {
        Status = status;
    }

    public HttpStatusCode Status { get; }

    /// <summary>Not signed in (or the cookie expired): pages send the user to sign-in.</summary>
    public bool IsUnauthorized => Status == HttpStatusCode.Unauthorized;
}
