using System.Net;
using Veil.Ckks;
using Veil.Ml.Serving;
using Veil.Ckks.Serialization;

namespace Veil.Server.Tests;

/// <summary>Bytes from clients (keys, ciphertexts, batches) and manifests from a service are hostile: mutated, they get typed refusals only.</summary>
public sealed class FuzzTests
{
    private static readonly ServedModel Model = ServedModel.Load("small", ServerFixture.SmallNetwork().Save());

    private static byte[] Mutate(byte[] original, Random rng)
    {
        var bytes = (byte[])original.Clone();
        switch (rng.Next(5))
        {
            case 0: // flip bits
                for (int i = 0, n = rng.Next(1, 6); i < n; i++) bytes[rng.Next(bytes.Length)] ^= (byte)(1 << rng.Next(8));
                return bytes;
            case 1: // cut
                return bytes[..rng.Next(bytes.Length)];
            case 2: // a header byte set to an extreme
                bytes[rng.Next(Math.Min(bytes.Length, 128))] = rng.Next(2) == 0 ? (byte)0 : (byte)0xFF;
                return bytes;
            case 3: // a 32-bit field overwritten
                int at = rng.Next(Math.Max(1, Math.Min(bytes.Length - 4, 256)));
                BitConverter.GetBytes(rng.Next(2) == 0 ? int.MaxValue : rng.Next()).CopyTo(bytes, at);
                return bytes;
            default: // garbage appended
                return [.. bytes, .. Enumerable.Range(0, rng.Next(1, 64)).Select(_ => (byte)rng.Next(256))];
        }
    }

    [Fact]
    public void MutatedKeysCiphertextsAndBatches_AreRefusedWithServingRequestException()
    {
        using var client = new ModelClient(Model.Manifest);
        var publicContext = client.PublicContext();
        using var session = Model.LoadSession(publicContext);
        var x = ServerFixture.Inputs(1)[0];
        var ciphertext = client.EncryptSingle(x);
        var batch = client.EncryptBatch(ServerFixture.Inputs(2));
        var rng = new Random(11);
        int refused = 0, accepted = 0;
        void Expect(Action action)
        {
            try { action(); accepted++; }
            catch (ServingRequestException) { refused++; }
        }
        for (int i = 0; i < 60; i++) Expect(() => Model.LoadSession(Mutate(publicContext, rng)).Dispose());
        for (int i = 0; i < 150; i++) Expect(() => Model.PredictSingle(session, Mutate(ciphertext, rng)));
        for (int i = 0; i < 100; i++) Expect(() => Model.PredictBatch(session, Mutate(batch, rng)));
        Assert.True(refused > 200, $"{refused} refused, {accepted} accepted");
        // The service's model still answers correctly.
        var y = client.DecryptSingle(Model.PredictSingle(session, ciphertext));
        Assert.InRange(y[0] - ServerFixture.SmallNetwork().Forward(x)[0], -1e-3, 1e-3);
    }

    [Fact]
    public void HostileManifests_AreRefusedWithFormatExceptions()
    {
        var good = Model.Manifest;
        var rng = new Random(5);
        var otherParameters = Convert.ToBase64String(CkksSerializer.Save(CkksParameters.Create(new CkksParametersLiteral { LogN = 12, LogQ = [50, 40], LogP = [50], LogDefaultScale = 40, Security = Veil.Rlwe.SecurityLevel.InsecureNoCheck }, Veil.Rlwe.SecurityLevel.InsecureNoCheck)));
        var cases = new List<InferenceManifest>
        {
            good with { Parameters = "not base64!" },
            good with { Parameters = Convert.ToBase64String([1, 2, 3]) },
            good with { Inputs = 0 }, good with { Outputs = -1 }, good with { Inputs = int.MaxValue },
            good with { InputLayout = null }, good with { OutputLayout = null },
            good with { InputLayout = good.InputLayout! with { Kind = "spiral" } },
            good with { InputLayout = good.InputLayout! with { Length = 1 << 30 } },
            good with { InputLayout = good.InputLayout! with { Period = 3 } },
            good with { InputLayout = new LayoutSpec("im2col", 16, 0, 1, 4, 4, 9, 0) },
            good with { InputLayout = new LayoutSpec("im2col", 16, 0, -1, 4, 4, 1, 1) },
            good with { OutputLayout = good.OutputLayout! with { Length = 5 } },
            good with { Rotations = [1 << 20] },
        };
        for (int i = 0; i < 40; i++)
            cases.Add(good with { InputLayout = new LayoutSpec(rng.Next(2) == 0 ? "periodic" : "prefix", rng.Next(-5, 1 << 14), rng.Next(-5, 1 << 14)) });
        int refused = 0;
        foreach (var manifest in cases)
        {
            try { using var c = new ModelClient(manifest); }
            catch (FormatException) { refused++; }
            catch (ArgumentException e) { Assert.Fail($"ArgumentException for {manifest.InputLayout}: {e.Message}"); }
        }
        Assert.True(refused >= 14, $"{refused} of {cases.Count} refused");
        // Parameters below 128 bits are refused by the hardened loader, whatever the manifest claims.
        Assert.Throws<Veil.Serialization.VeilFormatException>(() => new ModelClient(good with { Parameters = otherParameters }));
    }

    [Fact]
    public async Task RandomBodiesToEveryEndpoint_Get4xx_Never500()
    {
        await using var fixture = await ServerFixture.StartAsync();
        using var admin = fixture.Admin();
        await admin.DeployAsync("small", ServerFixture.SmallNetwork().Save(), grantAll: true);
        var tenant = await admin.CreateTenantAsync(new CreateTenantRequest("t"));
        using var client = fixture.Client(tenant.ApiKey);
        using var session = await client.OpenSessionAsync("small");
        var job = await session.SubmitBatchAsync(ServerFixture.Inputs(1));
        using var raw = fixture.RawClient(tenant.ApiKey);
        using var rawAdmin = fixture.RawClient(fixture.AdminKey);
        var rng = new Random(3);
        var posts = new (HttpClient Http, string Path)[]
        {
            (raw, "v1/models/small/sessions"), (raw, $"v1/sessions/{session.Info.SessionId}/predict"), (raw, $"v1/sessions/{session.Info.SessionId}/predict-batch"),
            (raw, $"v1/sessions/{session.Info.SessionId}/jobs"), (rawAdmin, "v1/admin/tenants"), (rawAdmin, "v1/admin/tenants/nope/keys"),
        };
        var statuses = new List<HttpStatusCode>();
        for (int i = 0; i < 120; i++)
        {
            var (http, path) = posts[i % posts.Length];
            var body = new byte[rng.Next(0, 2048)];
            rng.NextBytes(body);
            if (i % 3 == 0) body = System.Text.Encoding.UTF8.GetBytes("{\"name\": " + new string('[', rng.Next(1, 2000)));
            using var content = new ByteArrayContent(body);
            content.Headers.ContentType = new(i % 2 == 0 ? "application/octet-stream" : "application/json");
            var response = await http.PostAsync(path, content);
            statuses.Add(response.StatusCode);
            Assert.True((int)response.StatusCode is >= 400 and < 500, $"{path} answered {(int)response.StatusCode}: {await response.Content.ReadAsStringAsync()}");
        }
        foreach (var path in new[] { "v1/sessions/../../etc/passwd", "v1/jobs/%25", "v1/models/" + new string('x', 5000), $"v1/jobs/{new string('f', 32)}/result", "v1/sessions/ZZ" })
            Assert.True((int)(await raw.GetAsync(path)).StatusCode is >= 400 and < 500, path);
        // Still serving.
        Assert.Equal(4, (await session.PredictAsync(ServerFixture.Inputs(1)[0])).Length);
        Assert.Equal("succeeded", (await session.WaitForJobAsync(job.JobId, 1) is { Length: 1 } ? "succeeded" : "no"));
    }
}
