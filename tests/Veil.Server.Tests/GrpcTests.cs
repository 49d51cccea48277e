using Google.Protobuf;
using Grpc.Core;
using Grpc.Net.Client;
using Veil.Ml.Serving;
using Veil.Server.Grpc;

namespace Veil.Server.Tests;

/// <summary>The gRPC API over real HTTP/2 + TLS on loopback: the same operations and refusals as REST.</summary>
public sealed class GrpcTests
{
    [Fact]
    public async Task RegisterPredictBatchAndJob_OverGrpc_MatchThePlaintextNetwork_AndRefusalsAreTyped()
    {
        await using var fixture = await ServerFixture.StartAsync(kestrel: true);
        using var admin = fixture.Admin();
        await admin.DeployAsync("small", ServerFixture.SmallNetwork().Save(), grantAll: true);
        var tenant = await admin.CreateTenantAsync(new CreateTenantRequest("grpc-clinic"));
        var handler = new SocketsHttpHandler { SslOptions = { RemoteCertificateValidationCallback = (_, cert, _, _) => Veil.Protection.Tls.MatchesPin(cert, [fixture.Server.CertificatePin]) } };
        using var channel = GrpcChannel.ForAddress(fixture.Server.Addresses[0], new GrpcChannelOptions { HttpHandler = handler, MaxReceiveMessageSize = 64 << 20, MaxSendMessageSize = 64 << 20 });
        var grpc = new Inference.InferenceClient(channel);
        var auth = new Metadata { { "authorization", "Bearer " + tenant.ApiKey } };

        var unauthenticated = await Assert.ThrowsAsync<RpcException>(async () => await grpc.ListModelsAsync(new ListModelsRequest()));
        Assert.Equal(StatusCode.Unauthenticated, unauthenticated.StatusCode);
        Assert.Equal("small", Assert.Single((await grpc.ListModelsAsync(new ListModelsRequest(), auth)).Models).Name);
        var manifest = System.Text.Json.JsonSerializer.Deserialize<InferenceManifest>((await grpc.DescribeModelAsync(new ModelRequest { Name = "small" }, auth)).ManifestJson,
            System.Text.Json.JsonSerializerOptions.Web)!;
        using var keys = new ModelClient(manifest);

        // Keys in 256 KiB chunks, as a client stream.
        var context = keys.PublicContext();
        using (var upload = grpc.RegisterSession(auth))
        {
            for (int offset = 0; offset < context.Length; offset += 1 << 18)
            {
                var chunk = new KeyChunk { Data = ByteString.CopyFrom(context.AsSpan(offset, Math.Min(1 << 18, context.Length - offset))) };
                if (offset == 0) { chunk.Model = "small"; chunk.TotalBytes = context.Length; }
                await upload.RequestStream.WriteAsync(chunk);
            }
            await upload.RequestStream.CompleteAsync();
            var session = await upload;
            Assert.Equal(context.Length, session.Bytes);

            var net = ServerFixture.SmallNetwork();
            var x = ServerFixture.Inputs(1)[0];
            var y = keys.DecryptSingle((await grpc.PredictAsync(new CiphertextRequest { SessionId = session.SessionId, Data = ByteString.CopyFrom(keys.EncryptSingle(x)) }, auth)).Data.Span);
            for (int i = 0; i < y.Length; i++) Assert.InRange(y[i] - net.Forward(x)[i], -1e-3, 1e-3);

            var inputs = ServerFixture.Inputs(3);
            var batch = ByteString.CopyFrom(keys.EncryptBatch(inputs));
            var outputs = keys.DecryptBatch((await grpc.PredictBatchAsync(new CiphertextRequest { SessionId = session.SessionId, Data = batch }, auth)).Data.Span, 3);
            var job = await grpc.SubmitJobAsync(new CiphertextRequest { SessionId = session.SessionId, Data = batch }, auth);
            JobReply state;
            while ((state = await grpc.GetJobAsync(new JobRequest { JobId = job.JobId }, auth)).State is "queued" or "running") await Task.Delay(20);
            Assert.Equal("succeeded", state.State);
            var viaJob = keys.DecryptBatch((await grpc.GetJobResultAsync(new JobRequest { JobId = job.JobId }, auth)).Data.Span, 3);
            for (int b = 0; b < 3; b++)
                for (int i = 0; i < 4; i++)
                {
                    Assert.InRange(outputs[b][i] - net.Forward(inputs[b])[i], -1e-3, 1e-3);
                    Assert.InRange(viaJob[b][i] - outputs[b][i], -1e-3, 1e-3);
                }

            // Refusals carry the REST API's code and field.
            var bad = await Assert.ThrowsAsync<RpcException>(async () => await grpc.PredictAsync(new CiphertextRequest { SessionId = session.SessionId, Data = ByteString.CopyFrom([1, 2, 3]) }, auth));
            Assert.Equal(StatusCode.InvalidArgument, bad.StatusCode);
            Assert.Equal("ciphertext", bad.Trailers.GetValue("veil-field"));
            var other = await admin.CreateTenantAsync(new CreateTenantRequest("grpc-other"));
            var notYours = await Assert.ThrowsAsync<RpcException>(async () => await grpc.GetJobAsync(new JobRequest { JobId = job.JobId }, new Metadata { { "authorization", "Bearer " + other.ApiKey } }));
            Assert.Equal(StatusCode.NotFound, notYours.StatusCode);
        }

        // A stream cut short (fewer bytes than declared) stores nothing.
        using (var cut = grpc.RegisterSession(auth))
        {
            await cut.RequestStream.WriteAsync(new KeyChunk { Model = "small", TotalBytes = context.Length, Data = ByteString.CopyFrom(context.AsSpan(0, 1000)) });
            await cut.RequestStream.CompleteAsync();
            var refused = await Assert.ThrowsAsync<RpcException>(async () => await cut);
            Assert.Equal(StatusCode.InvalidArgument, refused.StatusCode);
        }
        Assert.Single((await admin.OverviewAsync()).SessionList);
    }
}
