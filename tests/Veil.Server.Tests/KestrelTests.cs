using System.Net;
using System.Net.Security;
using System.Net.Sockets;
using System.Text;
using Veil.Client;
using Veil.Ml.Serving;

namespace Veil.Server.Tests;

/// <summary>The real server: Kestrel on loopback, HTTPS with the service's own certificate pinned by the client.</summary>
public sealed class KestrelTests
{
    [Fact]
    public async Task OverHttps_WithThePinnedCertificate_PredictionsMatch_AndAWrongPinIsRefused()
    {
        await using var fixture = await ServerFixture.StartAsync(kestrel: true);
        Assert.StartsWith("https://127.0.0.1:", fixture.Server.Addresses[0]);
        using var admin = fixture.Admin();
        await admin.DeployAsync("small", ServerFixture.SmallNetwork().Save(), grantAll: true);
        var tenant = await admin.CreateTenantAsync(new CreateTenantRequest("clinic"));
        using var client = fixture.Client(tenant.ApiKey);
        using var session = await client.OpenSessionAsync("small");
        var x = ServerFixture.Inputs(1)[0];
        var y = await session.PredictAsync(x);
        var expected = ServerFixture.SmallNetwork().Forward(x);
        for (int i = 0; i < y.Length; i++) Assert.InRange(y[i] - expected[i], -1e-3, 1e-3);

        using var impostor = Veil.Protection.Tls.CreateDevelopmentCertificate("impostor");
        using var wrongPin = new VeilServiceClient(new Uri(fixture.Server.Addresses[0]), tenant.ApiKey, Veil.Protection.Tls.Pin(impostor));
        await Assert.ThrowsAsync<HttpRequestException>(() => wrongPin.ListModelsAsync());
    }

    [Fact]
    public async Task AClientThatDisconnectsMidUpload_LeavesNoHalfStoredKey_AndOthersAreServed()
    {
        await using var fixture = await ServerFixture.StartAsync(kestrel: true);
        using var admin = fixture.Admin();
        await admin.DeployAsync("small", ServerFixture.SmallNetwork().Save(), grantAll: true);
        var tenant = await admin.CreateTenantAsync(new CreateTenantRequest("clinic"));
        using var client = fixture.Client(tenant.ApiKey);
        using var keys = new ModelClient(await client.DescribeModelAsync("small"));
        var body = keys.PublicContext();

        var address = new Uri(fixture.Server.Addresses[0]);
        using (var tcp = new TcpClient())
        {
            await tcp.ConnectAsync(IPAddress.Loopback, address.Port);
            await using var tls = new SslStream(tcp.GetStream(), false, (_, cert, _, _) => Veil.Protection.Tls.MatchesPin(cert, [fixture.Server.CertificatePin]));
            await tls.AuthenticateAsClientAsync("localhost");
            var head = $"POST /v1/models/small/sessions HTTP/1.1\r\nHost: localhost\r\nAuthorization: Bearer {tenant.ApiKey}\r\n" +
                       $"Content-Type: application/octet-stream\r\nContent-Length: {body.Length}\r\n\r\n";
            await tls.WriteAsync(Encoding.ASCII.GetBytes(head));
            await tls.WriteAsync(body.AsMemory(0, body.Length / 2));
            await tls.FlushAsync();
            await Task.Delay(200);
        } // the connection drops with half the keys sent

        await Task.Delay(500);
        Assert.Empty((await admin.OverviewAsync()).SessionList);
        Assert.DoesNotContain(await fixture.Server.Service.Store.ListBlobsAsync(), k => k.StartsWith("sessions/", StringComparison.Ordinal));

        // The service goes on: the same keys, sent whole, register and answer.
        var info = await client.RegisterAsync("small", body);
        Assert.Single((await admin.OverviewAsync()).SessionList);
        Assert.Equal(info.Bytes, body.Length);
    }
}

/// <summary>Encrypted training as a job: the client's rows encrypted, gradient descent in the service, weights decrypted by the client.</summary>
public sealed class TrainingTests
{
    [Fact]
    public async Task LogisticRegressionTrainedByTheService_EqualsTheSameStepsInProcess()
    {
        await using var fixture = await ServerFixture.StartAsync();
        using var admin = fixture.Admin();
        var tenant = await admin.CreateTenantAsync(new CreateTenantRequest("trainer-client"));
        using var client = fixture.Client(tenant.ApiKey);
        var data = Veil.Ml.Data.BuiltinDatasets.BreastCancer();
        var x = data.Features.Take(120).ToArray();
        var y = data.Targets.Take(120).ToArray();
        var options = Veil.Ml.Encrypted.EncryptedLogisticRegression.DefaultGradientDescent with { Iterations = 2 };
        var model = await client.TrainAsync(x, y, Veil.Ml.Encrypted.GradientModelKind.Logistic, options);

        // The plaintext twin runs the same two steps on the same preprocessing: the weights agree to within the CKKS noise (~1e-3).
        var twin = new Veil.Ml.Encrypted.EncryptedLogisticRegression(new Veil.Ml.Encrypted.EncryptedModelOptions { GradientDescent = options, Encrypted = false });
        twin.Fit(x, y);
        Assert.Equal(twin.Weights.Length, model.Weights.Length);
        for (int i = 0; i < twin.Weights.Length; i++) Assert.InRange(model.Weights[i] - twin.Weights[i], -1e-2, 1e-2);
        Assert.InRange(model.Intercept - twin.Intercept, -1e-2, 1e-2);
        var logistic = Assert.IsType<Veil.Ml.Encrypted.EncryptedLogisticRegression>(model);
        Assert.True(logistic.Score(x, y) >= 0.85, $"accuracy {logistic.Score(x, y)}");
        // The training session was deleted; its job and result stay until they expire or are deleted.
        Assert.Empty(await client.ListSessionsAsync());

        // A training job against a model's session, or garbage as a job, is refused.
        await admin.DeployAsync("small", ServerFixture.SmallNetwork().Save(), grantAll: true);
        using var session = await client.OpenSessionAsync("small", batchedOnly: true);
        var raw = fixture.RawClient(tenant.ApiKey);
        using var garbage = new ByteArrayContent([1, 2, 3, 4, 5]);
        Assert.Equal(System.Net.HttpStatusCode.BadRequest, (await raw.PostAsync($"v1/sessions/{session.Info.SessionId}/jobs", garbage)).StatusCode);
    }
}

/// <summary>Linear and logistic models trained by Veil deploy as one-layer networks on raw features.</summary>
public sealed class RegressionModelTests
{
    [Fact]
    public async Task ATrainedLogisticRegression_Deploys_AndTheServiceClassifiesLikeIt()
    {
        var data = Veil.Ml.Data.BuiltinDatasets.BreastCancer();
        var model = new Veil.Ml.Encrypted.EncryptedLogisticRegression(new Veil.Ml.Encrypted.EncryptedModelOptions { Encrypted = false });
        model.Fit(data.Features, data.Targets);
        var network = model.ToNetwork();
        var rows = data.Features.Take(12).ToArray();
        var expected = model.Predict(rows);

        await using var fixture = await ServerFixture.StartAsync();
        using var admin = fixture.Admin();
        var manifest = await admin.DeployAsync("cancer-logistic", network.Save(), grantAll: true);
        Assert.Equal(1, manifest.Outputs);
        var tenant = await admin.CreateTenantAsync(new CreateTenantRequest("oncology"));
        using var client = fixture.Client(tenant.ApiKey);
        using var session = await client.OpenSessionAsync("cancer-logistic");
        for (int i = 0; i < 4; i++)
        {
            double logit = (await session.PredictAsync(rows[i]))[0];
            Assert.InRange(logit - network.Forward(rows[i])[0], -1e-3, 1e-3);
            Assert.Equal(expected[i], logit >= 0 ? 1.0 : 0.0);
        }
        var batch = await session.PredictBatchAsync(rows);
        Assert.Equal(expected, batch.Select(o => o[0] >= 0 ? 1.0 : 0.0).ToArray());
    }

    [Fact]
    public void ALinearRegressionAsANetwork_PredictsWhatTheModelPredicts()
    {
        var data = Veil.Ml.Data.BuiltinDatasets.Diabetes();
        var model = new Veil.Ml.Encrypted.EncryptedLinearRegression(new Veil.Ml.Encrypted.EncryptedModelOptions { Encrypted = false });
        model.Fit(data.Features, data.Targets);
        var network = model.ToNetwork();
        var predicted = model.Predict(data.Features.Take(20).ToArray());
        for (int i = 0; i < 20; i++) Assert.InRange(network.Forward(data.Features[i])[0] - predicted[i], -1e-6 * Math.Abs(predicted[i]) - 1e-9, 1e-6 * Math.Abs(predicted[i]) + 1e-9);
    }
}

/// <summary>KNN references deployed as one layer of distances; the client votes with the published labels.</summary>
public sealed class KnnModelTests
{
    [Fact]
    public async Task KnnReferencesThroughTheService_VoteLikePlaintextKnn()
    {
        var (train, test) = Veil.Ml.Data.DataSplit.TrainTest(Veil.Ml.Data.BuiltinDatasets.Iris(), 0.2, 1, stratify: true);
        var standardizer = new Veil.Ml.Data.Standardizer().Fit(train.Features);
        var scale = standardizer.Scales.Select(s => 1 / s).ToArray();
        var shift = standardizer.Means.Select((m, c) => -m * scale[c]).ToArray();
        // References in the standardized space; the layer reads raw features.
        var network = KnnReferences.ToNetwork(standardizer.Transform(train.Features), scale, shift);

        await using var fixture = await ServerFixture.StartAsync();
        using var admin = fixture.Admin();
        var manifest = await admin.DeployAsync("iris-knn", network.Save(), grantAll: true, outputLabels: train.Targets);
        Assert.Equal(train.Targets, manifest.OutputLabels);
        var tenant = await admin.CreateTenantAsync(new CreateTenantRequest("botany"));
        using var client = fixture.Client(tenant.ApiKey);
        using var session = await client.OpenSessionAsync("iris-knn");
        Assert.Equal(train.Targets, session.Keys.Manifest.OutputLabels);

        int equal = 0, right = 0;
        var z = standardizer.Transform(test.Features);
        var refs = standardizer.Transform(train.Features);
        for (int i = 0; i < test.Rows; i++)
        {
            double encrypted = await session.PredictNearestAsync(test.Features[i], 5);
            // Plaintext KNN: squared distances in the same space, the same vote.
            var distances = refs.Select(r => r.Zip(z[i], (a, b) => (a - b) * (a - b)).Sum()).ToArray();
            double plain = KnnReferences.Vote(distances, train.Targets, 5);
            if (encrypted == plain) equal++;
            if (encrypted == test.Targets[i]) right++;
        }
        Assert.True(equal >= test.Rows - 1, $"{equal} of {test.Rows} equal to plaintext KNN");
        Assert.True(right >= 0.85 * test.Rows, $"accuracy {right} of {test.Rows}");

        // Labels that do not match the outputs are refused.
        var bad = await Assert.ThrowsAsync<Veil.Client.VeilServiceException>(() => admin.DeployAsync("iris-knn-2", network.Save(), outputLabels: [1, 2]));
        Assert.Equal(System.Net.HttpStatusCode.BadRequest, bad.Status);
    }
}
