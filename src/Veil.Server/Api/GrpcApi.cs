using Google.Protobuf;
using Grpc.Core;
using Veil.Server.Grpc;

namespace Veil.Server.Api;

/// <summary>The gRPC API: each call authenticates from the metadata and calls the same <see cref="VeilService"/> operation as REST.</summary>
internal sealed class GrpcApi(VeilService service) : Inference.InferenceBase
{
    private const string CallerItem = "veil.caller";
    private const int MaxChunkBytes = 4 << 20;
    private static readonly TimeSpan IdleTimeout = TimeSpan.FromSeconds(30);

    /// <summary>
    /// gRPC reads a whole message before a handler runs, so the key is checked here, from the headers, before any body
    /// byte is read: an unauthenticated call gets a trailers-only Unauthenticated answer.
    /// </summary>
    public static async Task AuthenticateFirstAsync(Microsoft.AspNetCore.Http.HttpContext context, Func<Task> next, VeilService service)
    {
        if (context.Request.ContentType?.StartsWith("application/grpc", StringComparison.Ordinal) != true
            || !context.Request.Path.StartsWithSegments("/veil.inference.v1.Inference", StringComparison.Ordinal)) { await next().ConfigureAwait(false); return; }
        try
        {
            context.Items[CallerItem] = await service.AuthenticateAsync(context.Request.Headers.Authorization.FirstOrDefault(),
                context.Connection.RemoteIpAddress?.ToString() ?? "-", context.RequestAborted).ConfigureAwait(false);
            // Only now, for a known caller, the body may pass the small default: a key upload or a request's size.
            long cap = context.Request.Path.Value?.EndsWith("/RegisterSession", StringComparison.Ordinal) == true ? service.Options.MaxKeyBytes : service.Options.MaxRequestBytes;
            if (context.Features.Get<Microsoft.AspNetCore.Http.Features.IHttpMaxRequestBodySizeFeature>() is { IsReadOnly: false } limit) limit.MaxRequestBodySize = cap + (1 << 20);
        }
        catch (ServiceException e)
        {
            context.Response.ContentType = "application/grpc";
            context.Response.Headers["grpc-status"] = ((int)(e.Status == 429 ? StatusCode.ResourceExhausted : StatusCode.Unauthenticated)).ToString(System.Globalization.CultureInfo.InvariantCulture);
            context.Response.Headers["grpc-message"] = Uri.EscapeDataString(e.Message);
            return;
        }
        await next().ConfigureAwait(false);
    }

    private static Task<Caller> CallerAsync(ServerCallContext context) =>
        context.GetHttpContext().Items[CallerItem] is Caller caller ? Task.FromResult(caller)
            : throw new RpcException(new Status(StatusCode.Unauthenticated, "No API key."));

    public override async Task<ListModelsReply> ListModels(ListModelsRequest request, ServerCallContext context)
    {
        var caller = await CallerAsync(context).ConfigureAwait(false);
        var models = await Map(() => service.ListModelsAsync(caller, context.CancellationToken)).ConfigureAwait(false);
        var reply = new ListModelsReply();
        reply.Models.AddRange(models.Where(m => !m.Retired).Select(m => new ModelSummary
            { Name = m.Name, Digest = m.Digest, Inputs = m.Inputs, Outputs = m.Outputs, Depth = m.Depth, SingleInput = m.SingleInput, LogN = m.LogN }));
        return reply;
    }

    public override async Task<ManifestReply> DescribeModel(ModelRequest request, ServerCallContext context)
    {
        var caller = await CallerAsync(context).ConfigureAwait(false);
        var manifest = await Map(() => service.DescribeModelAsync(caller, request.Name, context.CancellationToken)).ConfigureAwait(false);
        return new ManifestReply { ManifestJson = System.Text.Json.JsonSerializer.Serialize(manifest, System.Text.Json.JsonSerializerOptions.Web) };
    }

    public override async Task<SessionReply> RegisterSession(IAsyncStreamReader<KeyChunk> requestStream, ServerCallContext context)
    {
        var caller = await CallerAsync(context).ConfigureAwait(false);
        if (!await requestStream.MoveNext(context.CancellationToken).ConfigureAwait(false))
            throw new RpcException(new Status(StatusCode.InvalidArgument, "No chunks: the first names the model and the size of the context."));
        var first = requestStream.Current;
        if (first.TotalBytes <= 0 || first.TotalBytes > service.Options.MaxKeyBytes)
            throw new RpcException(new Status(StatusCode.InvalidArgument, $"total_bytes must be 1 … {service.Options.MaxKeyBytes}; got {first.TotalBytes}."));
        // The chunks feed the same bounded reader as a REST upload, through a pipe: nothing is stored unless every byte
        // arrives. The pump stops when the call ends however it ends, and when no chunk comes for 30 s (gRPC streams
        // have no minimum data rate).
        var pipe = new System.IO.Pipelines.Pipe();
        using var stop = CancellationTokenSource.CreateLinkedTokenSource(context.CancellationToken);
        var pump = Task.Run(async () =>
        {
            try
            {
                long sent = 0;
                var chunk = first;
                while (true)
                {
                    if (chunk.Data.Length > MaxChunkBytes) throw new RpcException(new Status(StatusCode.InvalidArgument, $"A chunk holds at most {MaxChunkBytes} bytes."));
                    sent += chunk.Data.Length;
                    if (sent > first.TotalBytes) throw new RpcException(new Status(StatusCode.InvalidArgument, $"The chunks pass the declared {first.TotalBytes} bytes."));
                    if ((await pipe.Writer.WriteAsync(chunk.Data.Memory, stop.Token).ConfigureAwait(false)).IsCompleted) break;
                    stop.CancelAfter(IdleTimeout);
                    if (!await requestStream.MoveNext(stop.Token).ConfigureAwait(false)) break;
                    chunk = requestStream.Current;
                }
                await pipe.Writer.CompleteAsync().ConfigureAwait(false);
            }
            catch (Exception e) { await pipe.Writer.CompleteAsync(e).ConfigureAwait(false); }
        });
        string? attestation = string.IsNullOrEmpty(first.Attestation) ? null : first.Attestation;
        try
        {
            // The model "@training" registers keys for encrypted training, as POST /v1/training/sessions does.
            var info = await Map(() => first.Model == VeilService.TrainingModel
                ? service.RegisterTrainingSessionAsync(caller, pipe.Reader.AsStream(), first.TotalBytes, attestation, context.CancellationToken)
                : service.RegisterSessionAsync(caller, first.Model, pipe.Reader.AsStream(), first.TotalBytes, attestation, context.CancellationToken)).ConfigureAwait(false);
            return new SessionReply { SessionId = info.SessionId, Model = info.Model, Bytes = info.Bytes };
        }
        finally
        {
            // Refused before or during the read: the reader goes away, the pump sees it (or the cancel) and ends.
            await pipe.Reader.CompleteAsync().ConfigureAwait(false);
            stop.Cancel();
            await pump.ConfigureAwait(false);
        }
    }

    public override async Task<Empty> DeleteSession(SessionRequest request, ServerCallContext context)
    {
        var caller = await CallerAsync(context).ConfigureAwait(false);
        await Map(async () => { await service.DeleteSessionAsync(caller, request.SessionId, context.CancellationToken).ConfigureAwait(false); return 0; }).ConfigureAwait(false);
        return new Empty();
    }

    public override async Task<CiphertextReply> Predict(CiphertextRequest request, ServerCallContext context)
    {
        var caller = await CallerAsync(context).ConfigureAwait(false);
        using var body = new MemoryStream(request.Data.ToByteArray(), writable: false);
        return new CiphertextReply { Data = ByteString.CopyFrom(await Map(() => service.PredictAsync(caller, request.SessionId, body, body.Length, context.CancellationToken)).ConfigureAwait(false)) };
    }

    public override async Task<CiphertextReply> PredictBatch(CiphertextRequest request, ServerCallContext context)
    {
        var caller = await CallerAsync(context).ConfigureAwait(false);
        using var body = new MemoryStream(request.Data.ToByteArray(), writable: false);
        return new CiphertextReply { Data = ByteString.CopyFrom(await Map(() => service.PredictBatchAsync(caller, request.SessionId, body, body.Length, context.CancellationToken)).ConfigureAwait(false)) };
    }

    public override async Task<JobReply> SubmitJob(CiphertextRequest request, ServerCallContext context)
    {
        var caller = await CallerAsync(context).ConfigureAwait(false);
        using var body = new MemoryStream(request.Data.ToByteArray(), writable: false);
        return Reply(await Map(() => service.SubmitJobAsync(caller, request.SessionId, body, body.Length, context.CancellationToken)).ConfigureAwait(false));
    }

    public override async Task<JobReply> GetJob(JobRequest request, ServerCallContext context)
    {
        var caller = await CallerAsync(context).ConfigureAwait(false);
        return Reply(await Map(() => service.GetJobAsync(caller, request.JobId, context.CancellationToken)).ConfigureAwait(false));
    }

    public override async Task<CiphertextReply> GetJobResult(JobRequest request, ServerCallContext context)
    {
        var caller = await CallerAsync(context).ConfigureAwait(false);
        return new CiphertextReply { Data = ByteString.CopyFrom(await Map(() => service.GetJobResultAsync(caller, request.JobId, context.CancellationToken)).ConfigureAwait(false)) };
    }

    public override async Task<Empty> DeleteJob(JobRequest request, ServerCallContext context)
    {
        var caller = await CallerAsync(context).ConfigureAwait(false);
        await Map(async () => { await service.DeleteJobAsync(caller, request.JobId, context.CancellationToken).ConfigureAwait(false); return 0; }).ConfigureAwait(false);
        return new Empty();
    }

    private static JobReply Reply(Veil.Ml.Serving.JobInfo job) =>
        new() { JobId = job.JobId, State = job.State, Progress = job.Progress, Error = job.Error ?? "", Attempts = job.Attempts };

    /// <summary>The service's typed refusals as gRPC statuses (400 → InvalidArgument, 401 → Unauthenticated, 403, 404, 409, 413/429, 503).</summary>
    private static async Task<T> Map<T>(Func<Task<T>> call)
    {
        try { return await call().ConfigureAwait(false); }
        catch (ServiceException e)
        {
            var code = e.Status switch
            {
                400 => StatusCode.InvalidArgument,
                401 => StatusCode.Unauthenticated,
                403 => StatusCode.PermissionDenied,
                404 => StatusCode.NotFound,
                409 => StatusCode.FailedPrecondition,
                413 or 429 => StatusCode.ResourceExhausted,
                503 => StatusCode.Unavailable,
                _ => StatusCode.Internal,
            };
            var trailers = new Metadata { { "veil-code", e.Code } };
            if (e.Field is not null) trailers.Add("veil-field", e.Field);
            throw new RpcException(new Status(code, e.Message), trailers);
        }
    }
}
