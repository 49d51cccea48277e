using System.Text.Json;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;
using Veil.Ml.Serving;

namespace Veil.Server.Api;

/// <summary>The JSON/REST API: JSON for metadata, application/octet-stream for keys and ciphertexts (Veil objects).</summary>
internal static class RestApi
{
    private const string Binary = "application/octet-stream";

    public static void Map(IEndpointRouteBuilder app)
    {
        var v1 = app.MapGroup("/v1");

        // Tenant operations.
        v1.MapGet("/models", async (HttpContext c, VeilService s) => Results.Ok(await s.ListModelsAsync(await Caller(c, s), c.RequestAborted)))
            .WithSummary("Models this tenant may use").Produces<IReadOnlyList<ModelSummary>>();
        v1.MapGet("/models/{name}", async (string name, HttpContext c, VeilService s) => Results.Ok(await s.DescribeModelAsync(await Caller(c, s), name, c.RequestAborted)))
            .WithSummary("What a client must send: parameters, packing, the rotation keys needed").Produces<InferenceManifest>();
        v1.MapPost("/models/{name}/sessions", async (string name, HttpContext c, VeilService s) =>
                Results.Json(await s.RegisterSessionAsync(await Caller(c, s, s.Options.MaxKeyBytes), name, c.Request.Body, c.Request.ContentLength,
                    c.Request.Headers["X-Veil-Attestation"].FirstOrDefault(), c.RequestAborted), statusCode: 201))
            .WithSummary("Register a public context (public and evaluation keys) for a model; the body is the saved context")
            .Accepts<byte[]>(Binary).Produces<SessionInfo>(201);
        v1.MapPost("/training/sessions", async (HttpContext c, VeilService s) =>
                Results.Json(await s.RegisterTrainingSessionAsync(await Caller(c, s, s.Options.MaxKeyBytes), c.Request.Body, c.Request.ContentLength,
                    c.Request.Headers["X-Veil-Attestation"].FirstOrDefault(), c.RequestAborted), statusCode: 201))
            .WithSummary("Register a public context for encrypted training; then POST a TrainingJob to /v1/sessions/{id}/jobs and fetch the encrypted weights as its result")
            .Accepts<byte[]>(Binary).Produces<SessionInfo>(201);
        v1.MapGet("/sessions", async (HttpContext c, VeilService s) => Results.Ok(await s.ListSessionsAsync(await Caller(c, s), c.RequestAborted)))
            .Produces<IReadOnlyList<SessionInfo>>();
        v1.MapGet("/sessions/{id}", async (string id, HttpContext c, VeilService s) => Results.Ok(await s.GetSessionAsync(await Caller(c, s), id, c.RequestAborted)))
            .Produces<SessionInfo>();
        v1.MapDelete("/sessions/{id}", async (string id, HttpContext c, VeilService s) =>
        {
            await s.DeleteSessionAsync(await Caller(c, s), id, c.RequestAborted);
            return Results.NoContent();
        }).WithSummary("Delete a session and its stored keys");
        v1.MapPost("/sessions/{id}/predict", async (string id, HttpContext c, VeilService s) =>
                Results.Bytes(await s.PredictAsync(await Caller(c, s, s.Options.MaxRequestBytes), id, c.Request.Body, c.Request.ContentLength, c.RequestAborted), Binary))
            .WithSummary("One input in one ciphertext; the answer is one ciphertext of the outputs").Accepts<byte[]>(Binary).Produces<byte[]>(200, Binary);
        v1.MapPost("/sessions/{id}/predict-batch", async (string id, HttpContext c, VeilService s) =>
                Results.Bytes(await s.PredictBatchAsync(await Caller(c, s, s.Options.MaxRequestBytes), id, c.Request.Body, c.Request.ContentLength, c.RequestAborted), Binary))
            .WithSummary("A batch (one ciphertext per input value, input b in slot b), evaluated while the caller waits").Accepts<byte[]>(Binary).Produces<byte[]>(200, Binary);
        v1.MapPost("/sessions/{id}/jobs", async (string id, HttpContext c, VeilService s) =>
                Results.Json(await s.SubmitJobAsync(await Caller(c, s, s.Options.MaxRequestBytes), id, c.Request.Body, c.Request.ContentLength, c.RequestAborted), statusCode: 202))
            .WithSummary("A batch as a background job").Accepts<byte[]>(Binary).Produces<JobInfo>(202);
        v1.MapGet("/jobs", async (HttpContext c, VeilService s) => Results.Ok(await s.ListJobsAsync(await Caller(c, s), c.RequestAborted))).Produces<IReadOnlyList<JobInfo>>();
        v1.MapGet("/jobs/{id}", async (string id, HttpContext c, VeilService s) => Results.Ok(await s.GetJobAsync(await Caller(c, s), id, c.RequestAborted)))
            .WithSummary("State and progress").Produces<JobInfo>();
        v1.MapGet("/jobs/{id}/result", async (string id, HttpContext c, VeilService s) =>
                Results.Bytes(await s.GetJobResultAsync(await Caller(c, s), id, c.RequestAborted), Binary))
            .WithSummary("The result of a finished job (a ciphertext batch)").Produces<byte[]>(200, Binary);
        v1.MapDelete("/jobs/{id}", async (string id, HttpContext c, VeilService s) =>
        {
            await s.DeleteJobAsync(await Caller(c, s), id, c.RequestAborted);
            return Results.NoContent();
        }).WithSummary("Cancel a queued or running job, or delete an ended one");

        // Admin operations.
        var admin = v1.MapGroup("/admin");
        admin.MapPost("/tenants", async (CreateTenantRequest body, HttpContext c, VeilService s) =>
            Results.Json(await s.CreateTenantAsync(await Caller(c, s), body, c.RequestAborted), statusCode: 201)).Produces<TenantCreated>(201);
        admin.MapPost("/tenants/{id}/keys", async (string id, IssueKeyRequest? body, HttpContext c, VeilService s) =>
            Results.Json(await s.IssueKeyAsync(await Caller(c, s), id, body ?? new IssueKeyRequest(), c.RequestAborted), statusCode: 201)).Produces<KeyIssued>(201);
        admin.MapDelete("/keys/{id}", async (string id, HttpContext c, VeilService s) =>
        {
            await s.RevokeKeyAsync(await Caller(c, s), id, c.RequestAborted);
            return Results.NoContent();
        });
        admin.MapPut("/models/{name}", async (string name, bool? grantAll, HttpContext c, VeilService s) =>
        {
            var caller = await Caller(c, s);
            // Admin first, then the body: a tenant key cannot make the service read a model upload.
            s.RequireAdmin(caller);
            AllowBody(c, MaxModelBytes);
            using var buffer = new MemoryStream();
            await c.Request.Body.CopyToAsync(buffer, c.RequestAborted);
            var labels = VeilService.ParseLabels(c.Request.Headers["X-Veil-Output-Labels"].FirstOrDefault());
            return Results.Json(await s.DeployModelAsync(caller, name, buffer.ToArray(), grantAll ?? false, c.RequestAborted, labels), statusCode: 201);
        }).WithSummary("Deploy a saved network (SequentialNetwork object) under a name; X-Veil-Output-Labels labels the outputs of KNN references").Accepts<byte[]>(Binary).Produces<InferenceManifest>(201);
        admin.MapDelete("/models/{name}", async (string name, HttpContext c, VeilService s) =>
        {
            await s.RetireModelAsync(await Caller(c, s), name, c.RequestAborted);
            return Results.NoContent();
        });
        admin.MapPost("/models/{name}/grants/{tenant}", async (string name, string tenant, HttpContext c, VeilService s) =>
        {
            await s.GrantAsync(await Caller(c, s), tenant, name, c.RequestAborted);
            return Results.NoContent();
        });
        admin.MapGet("/overview", async (HttpContext c, VeilService s) => Results.Ok(await s.OverviewAsync(await Caller(c, s), c.RequestAborted)))
            .Produces<ServiceOverview>();
    }

    /// <summary>Largest model upload.</summary>
    public const long MaxModelBytes = 256L << 20;

    private static Task<Caller> Caller(HttpContext c, VeilService s) =>
        s.AuthenticateAsync(c.Request.Headers.Authorization.FirstOrDefault(), c.Connection.RemoteIpAddress?.ToString() ?? "-", c.RequestAborted);

    /// <summary>The caller, and only then a body limit above the small default for binary uploads.</summary>
    private static async Task<Caller> Caller(HttpContext c, VeilService s, long bodyCap)
    {
        var caller = await Caller(c, s);
        AllowBody(c, bodyCap);
        return caller;
    }

    private static void AllowBody(HttpContext c, long cap)
    {
        if (c.Features.Get<Microsoft.AspNetCore.Http.Features.IHttpMaxRequestBodySizeFeature>() is { IsReadOnly: false } limit) limit.MaxRequestBodySize = cap + (1 << 16);
    }

    /// <summary>Typed refusals to their status and an <see cref="ErrorBody"/>; anything else to a 500 without details.</summary>
    public static async Task HandleErrorsAsync(HttpContext context, Func<Task> next, Microsoft.Extensions.Logging.ILogger log)
    {
        try { await next(); }
        catch (OperationCanceledException) when (context.RequestAborted.IsCancellationRequested)
        {
            // The client left; nothing to answer.
        }
        catch (Exception e) when (!context.Response.HasStarted)
        {
            var (status, body) = e switch
            {
                ServiceException s => (s.Status, new ErrorBody(s.Status, s.Code, s.Field, s.Message)),
                BadHttpRequestException b when b.StatusCode == 413 => (413, new ErrorBody(413, "too_large", "body", "The request body is larger than this endpoint accepts.")),
                BadHttpRequestException b => (b.StatusCode, new ErrorBody(b.StatusCode, "bad_request", null, b.Message)),
                JsonException or InvalidDataException => (400, new ErrorBody(400, "bad_request", "body", "The JSON body could not be read: " + e.Message)),
                Veil.Serialization.VeilFormatException f => (400, new ErrorBody(400, "bad_format", f.Field, f.Message)),
                _ => (500, new ErrorBody(500, "internal", null, "The service failed on this request; it is logged.")),
            };
            if (status >= 500) Microsoft.Extensions.Logging.LoggerExtensions.LogError(log, e, "Request {Path} failed", context.Request.Path.Value);
            context.Response.StatusCode = status;
            await context.Response.WriteAsJsonAsync(body, context.RequestAborted);
        }
    }
}
