using System.Text.Json;
using Microsoft.AspNetCore.Diagnostics;
using Vdi.Protocol;

namespace Vdi.Server.Api;

/// <summary>
/// Turns a request body the API could not read (malformed JSON, a fractional pixel count, a string
/// where a number belongs) into a 400 whose message names the field and says why. Anything else
/// that escapes an endpoint becomes a plain 500 problem, without internals.
/// </summary>
public static class BadRequestHandler
{
    public static IApplicationBuilder UseApiErrors(this IApplicationBuilder app) =>
        app.UseExceptionHandler(handler => handler.Run(async context =>
        {
            var error = context.Features.Get<IExceptionHandlerFeature>()?.Error;
            IResult result = error switch
            {
                BadHttpRequestException { InnerException: JsonException json } => Problems.Validation([ProtocolJson.ToValidationError(json)]),
                BadHttpRequestException bad => TypedResults.Problem(bad.Message, statusCode: bad.StatusCode, title: "Bad request"),
                _ => TypedResults.Problem("the server could not complete the request", statusCode: StatusCodes.Status500InternalServerError),
            };
            await result.ExecuteAsync(context);
        }));
}
