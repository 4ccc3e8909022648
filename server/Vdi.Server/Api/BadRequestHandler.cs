using System.Text.Json;
using Microsoft.AspNetCore.Diagnostics;
using Vdi.Protocol;

namespace Vdi.Server.Api;

/// <summary>
/// Turns a request body the API could not read into a 400 problem that says why: missing, not JSON,
/// or which field was wrong (a fractional pixel count, a string where a number belongs). These are the
/// client's errors: logged as one warning line, without a stack trace. Anything else that escapes an
/// endpoint becomes a plain 500 problem, without internals, and is logged as an error.
/// </summary>
public static partial class BadRequestHandler
{
    public static IApplicationBuilder UseApiErrors(this IApplicationBuilder app) =>
        app.UseExceptionHandler(new ExceptionHandlerOptions
        {
            // The middleware's own error log (with the stack) is for server faults only.
            SuppressDiagnosticsCallback = c => c.Exception is BadHttpRequestException,
            ExceptionHandler = async context =>
            {
                var error = context.Features.Get<IExceptionHandlerFeature>()?.Error;
                var result = error is BadHttpRequestException bad ? ClientError(context, bad) : ServerError;
                await result.ExecuteAsync(context);
            },
        });

    private static IResult ServerError =>
        TypedResults.Problem("the server could not complete the request", statusCode: StatusCodes.Status500InternalServerError);

    private static IResult ClientError(HttpContext context, BadHttpRequestException bad)
    {
        var log = context.RequestServices.GetRequiredService<ILoggerFactory>().CreateLogger(typeof(BadRequestHandler));
        RequestLog.ClientError(log, context.Request.Method, context.Request.Path, bad.StatusCode, bad.Message);
        if (bad.InnerException is JsonException json)
        {
            var field = ProtocolJson.ToValidationError(json);
            return field.Field == ProtocolJson.RootField
                ? Body("the request body is not JSON", $"the request body is not JSON: {json.Message}")
                : Problems.Validation([field]);
        }
        if (bad.StatusCode == StatusCodes.Status415UnsupportedMediaType)
            return TypedResults.Problem("the request body is not JSON: send it with Content-Type: application/json", statusCode: bad.StatusCode, title: "Unsupported media type");
        if (context.Request.ContentLength is null or 0 && context.Request.Headers.TransferEncoding.Count == 0)
            return Body("the request body is missing", "the request body is missing: send a JSON object");
        return TypedResults.Problem(bad.Message, statusCode: bad.StatusCode, title: "Bad request");
    }

    private static Microsoft.AspNetCore.Http.HttpResults.ValidationProblem Body(string title, string detail) =>
        TypedResults.ValidationProblem(new Dictionary<string, string[]> { [ProtocolJson.RootField] = [detail] }, detail: detail, title: title);
}

internal static partial class RequestLog
{
    [LoggerMessage(EventId = 2001, Level = LogLevel.Warning, Message = "Client error: {Method} {Path} answered {Status}: {Reason}")]
    public static partial void ClientError(ILogger logger, string method, string path, int status, string reason);
}
