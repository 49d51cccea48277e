using Google.Protobuf;
using Grpc.Core;
using Veil.Federated.Privacy;
using Veil.Federated.Protocol;
using Veil.Ml.Data;
using Veil.Ml.Models;

namespace Veil.Federated.Tests;

public class FederationTests
{
    private static (Dataset Train, Dataset Test) BreastCancer() => DataSplit.TrainTest(BuiltinDatasets.BreastCancer(), 0.25, seed: 7, stratify: true);

    private static FederationSettings Logistic(int features, int rounds = 6) => new()
    {
        Name = "test", Threshold = 2, Model = FederatedModelKind.Logistic, Features = features, Rounds = rounds, LocalSteps = 5, LearningRate = 0.5, PhaseTimeoutSeconds = 20,
    };

    // The demo's own scorer and centralized twin (held-out rows standardized with the pooled statistics; the same steps on pooled rows).
    private static Func<double[], double[], double[], double> Scorer(FederationSettings s, Dataset test) => FederationDemo.Scorer(s, test);

    private static double Centralized(FederationSettings s, Dataset train, Dataset test) => FederationDemo.CentralizedScore(s, train, test);

    [Fact]
    public async Task ThresholdFedAvgOverMutualTlsMatchesCentralizedTraining()
    {
        var (train, test) = BreastCancer();
        var template = Logistic(train.Columns);
        var shares = FederationSetup.Split(train, 3, SplitKind.Iid, seed: 1);
        var refusals = new List<StatusCode>();
        await using var bed = await Testbed.StartAsync(template, shares, Scorer(template, test));
        bed.StartParticipant(0);
        // Participant 1 first sends a corrupted copy of its first update, and then replays its accepted key share: both refused, the federation goes on.
        Submission? firstKeyShare = null, firstShares = null;
        bool corrupted = false;
        bed.StartParticipant(1, inner => new InterceptingChannel(inner, async (s, ch, ct) =>
        {
            if (s.Kind == WorkKind.KeyShare) { firstKeyShare = s.Clone(); return; }
            if (s.Kind == WorkKind.Decrypt)
            {
                // Last round's decryption shares under this round's step: bound to another ciphertext, refused.
                if (firstShares is null) { firstShares = s.Clone(); return; }
                if (firstShares.Step == ulong.MaxValue) return;
                var replay = firstShares.Clone();
                replay.Step = s.Step;
                firstShares.Step = ulong.MaxValue;
                try { await ch.SubmitAsync(replay, ct); }
                catch (RpcException e) { lock (refusals) refusals.Add(e.StatusCode); }
                return;
            }
            if (s.Kind != WorkKind.Aggregate || corrupted) return;
            corrupted = true;
            var bad = s.Clone();
            var bytes = bad.Ciphertexts[0].ToByteArray();
            bytes[bytes.Length / 2] ^= 0x5a;
            bytes[40] ^= 0xff;
            bad.Ciphertexts[0] = ByteString.CopyFrom(bytes);
            foreach (var attempt in new[] { bad, firstKeyShare! })
                try { await ch.SubmitAsync(attempt, ct); }
                catch (RpcException e) { lock (refusals) refusals.Add(e.StatusCode); }
        }));
        bed.StartParticipant(2);
        var outcome = await bed.Coordinator.RunAsync().WaitAsync(TimeSpan.FromMinutes(3));
        var finals = await Task.WhenAll(bed.Tasks).WaitAsync(TimeSpan.FromSeconds(30));

        // The corrupted update, the replayed key share, and (when participant 1 decrypted twice) the replayed shares.
        Assert.InRange(refusals.Count, 2, 3);
        Assert.Equal(StatusCode.InvalidArgument, refusals[0]);
        Assert.Equal(StatusCode.FailedPrecondition, refusals[1]);
        if (refusals.Count == 3) Assert.Equal(StatusCode.InvalidArgument, refusals[2]);
        var rounds = outcome.Rounds.Where(r => r.Purpose == "train").ToList();
        Assert.Equal(template.Rounds, rounds.Count);
        Assert.All(rounds, r => { Assert.Equal(3, r.Contributors.Count); Assert.Equal(2, r.Decryptors.Count); });
        double federated = rounds[^1].Score!.Value, centralized = Centralized(template, train, test);
        Assert.True(Math.Abs(federated - centralized) <= 0.01 + 1e-9, $"federated {federated:P2} vs centralized {centralized:P2}");
        Assert.True(federated > 0.9);
        // Everyone ends with the same model.
        Assert.All(finals, f => Assert.Equal(outcome.Model, f.Model));
    }

    [Fact]
    public async Task EncryptedSumsEqualPlaintextSumsAndLeastSquaresIsExact()
    {
        var data = BuiltinDatasets.Diabetes();
        var template = new FederationSettings { Name = "ols", Threshold = 2, Model = FederatedModelKind.Linear, Features = data.Columns, Rounds = 2, LocalSteps = 10, LearningRate = 0.3, PhaseTimeoutSeconds = 20 };
        var shares = FederationSetup.Split(data, 3, SplitKind.LabelSkew, seed: 2);
        async Task<FederationOutcome> Run(AggregationMode mode)
        {
            await using var bed = await Testbed.StartAsync(template with { Aggregation = mode }, shares);
            bed.StartAll();
            var o = await bed.Coordinator.RunAsync().WaitAsync(TimeSpan.FromMinutes(3));
            await Task.WhenAll(bed.Tasks).WaitAsync(TimeSpan.FromSeconds(30));
            return o;
        }
        var encrypted = await Run(AggregationMode.Threshold);
        var plain = await Run(AggregationMode.Plaintext);

        // The decrypted sums carry flooding noise about 2^-26 below a unit: the models agree far below any accuracy margin.
        string Describe(FederationOutcome o) => string.Join("; ", o.Rounds.Select(r => $"{r.Purpose} {r.Round}: [{string.Join(",", r.Contributors)}]"));
        Assert.True(encrypted.Rounds.Count == plain.Rounds.Count && encrypted.Rounds.Zip(plain.Rounds).All(p => p.First.Contributors.SequenceEqual(p.Second.Contributors)), Describe(encrypted) + " | " + Describe(plain));
        for (int k = 0; k < plain.Model.Length; k++) Assert.Equal(plain.Model[k], encrypted.Model[k], 5);
        Assert.Equal(plain.Means, encrypted.Means, (a, b) => Math.Abs(a - b) < 1e-6 * Math.Max(1, Math.Abs(a)));

        // One-shot least squares on the pooled rows (nobody's XᵀX revealed) equals least squares on the pooled data.
        var st = new Standardizer().Fit(data);
        var ols = new OrdinaryLeastSquares().Fit(st.Transform(data.Features), data.Targets);
        var x = FederationPlan.Standardize(data.Features, encrypted.Means[..data.Columns], encrypted.Scales[..data.Columns]);
        var yHat = LocalModels.Predict(FederatedModelKind.Linear, 0, encrypted.LeastSquares!, x).Select(v => v * encrypted.Scales[^1] + encrypted.Means[^1]).ToArray();
        double r2Federated = Metrics.R2(data.Targets, yHat), r2Pooled = ols.Score(st.Transform(data.Features), data.Targets);
        Assert.Equal(r2Pooled, r2Federated, 6);
        Assert.InRange(r2Pooled, 0.45, 0.6);
    }

    [Fact]
    public async Task ASquareNetworkTrainsFederatedAndRunsAsVeilsNetwork()
    {
        var (train, test) = DataSplit.TrainTest(BuiltinDatasets.Digits(), 0.25, seed: 7, stratify: true);
        var template = new FederationSettings { Name = "mlp", Threshold = 2, Model = FederatedModelKind.Mlp, Features = train.Columns, Classes = 10, Hidden = 16, Rounds = 10, LocalSteps = 20, LearningRate = 0.03, ClipNorm = 1e4, PhaseTimeoutSeconds = 20 };
        await using var bed = await Testbed.StartAsync(template, FederationSetup.Split(train, 3, SplitKind.Iid, seed: 9), Scorer(template, test));
        bed.StartAll();
        var outcome = await bed.Coordinator.RunAsync().WaitAsync(TimeSpan.FromMinutes(3));
        Assert.Equal(16 * 65 + 10 * 17, outcome.Model.Length);
        double score = outcome.Rounds[^1].Score!.Value;
        Assert.True(score > 0.8, $"accuracy {score}");
        Assert.True(score > outcome.Rounds.First(r => r.Purpose == "train").Score!.Value + 0.1, "training must improve on the first round");
        // θ is Veil.Ml's square network (dense, x², dense), the one the encrypted inference runs.
        var net = LocalModels.ToNetwork(outcome.Model, train.Columns, 10);
        var x = FederationPlan.Standardize(test.Features, outcome.Means[..train.Columns], outcome.Scales[..train.Columns]);
        Assert.Equal(score, net.Score(x, test.Targets), 12);
    }

    [Fact]
    public async Task ScaffoldRemovesTheDriftOfLocalStepsOnALabelSkewedSplit()
    {
        // Rows dealt by target value: each participant's local optimum is far from the pooled one, so five local steps a round drift.
        var (train, test) = DataSplit.TrainTest(BuiltinDatasets.Diabetes(), 0.25, seed: 1, stratify: false);
        var template = new FederationSettings { Name = "scaffold", Threshold = 3, Model = FederatedModelKind.Linear, Features = train.Columns, Rounds = 10, LocalSteps = 5, LearningRate = 0.1, PhaseTimeoutSeconds = 20 };
        var shares = FederationSetup.Split(train, 5, SplitKind.LabelSkew, seed: 1);
        async Task<FederationOutcome> Run(FederationSettings settings)
        {
            await using var bed = await Testbed.StartAsync(settings, shares, Scorer(settings, test));
            bed.StartAll();
            var o = await bed.Coordinator.RunAsync().WaitAsync(TimeSpan.FromMinutes(3));
            await Task.WhenAll(bed.Tasks).WaitAsync(TimeSpan.FromSeconds(30));
            return o;
        }
        double centralized = Centralized(template, train, test);
        var fedAvg = await Run(template with { Aggregation = AggregationMode.Plaintext });
        var scaffold = await Run(template with { Scaffold = true });
        double drift = fedAvg.Rounds[^1].Score!.Value, corrected = scaffold.Rounds[^1].Score!.Value;
        Assert.True(centralized - drift > 0.02, $"FedAvg R² {drift:F4} vs centralized {centralized:F4}: the split should make local steps drift");
        Assert.True(Math.Abs(corrected - centralized) <= 0.01, $"SCAFFOLD R² {corrected:F4} vs centralized {centralized:F4}");
        // Every round summed the gradients (under the collective key, decrypted by t) before the updates.
        var purposes = scaffold.Rounds.Where(r => r.Round > 0).Select(r => r.Purpose).ToArray();
        Assert.Equal(Enumerable.Range(0, template.Rounds).SelectMany(_ => new[] { "gradient", "train" }), purposes);
        Assert.All(scaffold.Rounds.Where(r => r.Purpose == "gradient"), r => Assert.Equal(3, r.Decryptors.Count));
    }

    [Theory]
    [InlineData(FederatedModelKind.Linear)]
    [InlineData(FederatedModelKind.Logistic)]
    [InlineData(FederatedModelKind.OneVsRest)]
    [InlineData(FederatedModelKind.Mlp)]
    public void GradientsMatchFiniteDifferencesOfTheLoss(FederatedModelKind kind)
    {
        var rng = new Random(5);
        int d = 4, classes = kind is FederatedModelKind.OneVsRest or FederatedModelKind.Mlp ? 3 : 0, n = 20;
        var x = Enumerable.Range(0, n).Select(_ => Enumerable.Range(0, d).Select(_ => rng.NextDouble() * 2 - 1).ToArray()).ToArray();
        var y = Enumerable.Range(0, n).Select(_ => kind == FederatedModelKind.Linear ? rng.NextDouble() * 4 - 2 : rng.Next(Math.Max(classes, 2))).Select(v => (double)v).ToArray();
        var theta = LocalModels.Initial(kind, d, classes, kind == FederatedModelKind.Mlp ? 5 : 0, 3);
        for (int k = 0; k < theta.Length; k++) theta[k] += rng.NextDouble() * 0.4 - 0.2;
        // The losses written out independently of the training code: ½ squared error, log loss per head, softmax cross-entropy.
        double Loss(double[] t)
        {
            double total = 0;
            for (int i = 0; i < n; i++)
            {
                if (kind == FederatedModelKind.Mlp)
                {
                    var logits = LocalModels.ToNetwork(t, d, classes).Forward(x[i]);
                    double max = logits.Max(), log = Math.Log(logits.Sum(z => Math.Exp(z - max))) + max;
                    total += log - logits[(int)y[i]];
                    continue;
                }
                int heads = LocalModels.Heads(kind, classes);
                for (int h = 0; h < heads; h++)
                {
                    double z = t[h * (d + 1) + d];
                    for (int j = 0; j < d; j++) z += t[h * (d + 1) + j] * x[i][j];
                    double target = kind == FederatedModelKind.OneVsRest ? (y[i] == h ? 1 : 0) : y[i];
                    total += kind == FederatedModelKind.Linear ? 0.5 * (z - target) * (z - target) : Math.Log(1 + Math.Exp(z)) - target * z;
                }
            }
            return total / n;
        }
        var gradient = LocalModels.Gradient(kind, classes, theta, x, y);
        Assert.Equal(theta.Length, gradient.Length);
        for (int k = 0; k < theta.Length; k++)
        {
            var up = (double[])theta.Clone(); up[k] += 1e-6;
            var down = (double[])theta.Clone(); down[k] -= 1e-6;
            Assert.Equal((Loss(up) - Loss(down)) / 2e-6, gradient[k], 6);
        }
        // A full-batch linear step with SCAFFOLD's correction c is a step along gradient + c.
        if (kind != FederatedModelKind.Mlp)
        {
            var c = Enumerable.Range(0, theta.Length).Select(_ => rng.NextDouble() - 0.5).ToArray();
            var stepped = LocalModels.Train(kind, classes, theta, x, y, 1, 0.1, correction: c);
            for (int k = 0; k < theta.Length; k++) Assert.Equal(theta[k] - 0.1 * (gradient[k] + c[k]), stepped[k], 12);
        }
    }

    [Fact]
    public async Task PaillierKeyAuthorityAggregationEqualsPlaintext()
    {
        var (train, test) = BreastCancer();
        var template = Logistic(train.Columns, rounds: 3);
        var shares = FederationSetup.Split(train, 3, SplitKind.LabelSkew, seed: 8);
        async Task<FederationOutcome> Run(AggregationMode mode)
        {
            await using var bed = await Testbed.StartAsync(template with { Aggregation = mode }, shares, Scorer(template, test));
            bed.StartAll();
            var o = await bed.Coordinator.RunAsync().WaitAsync(TimeSpan.FromMinutes(3));
            await Task.WhenAll(bed.Tasks).WaitAsync(TimeSpan.FromSeconds(30));
            return o;
        }
        var paillier = await Run(AggregationMode.Paillier);
        var plain = await Run(AggregationMode.Plaintext);
        Assert.All(paillier.Rounds, r => Assert.Equal([0], r.Decryptors));  // one key authority decrypts everything
        // Fixed point at 2^-32 per value: the models agree to well below any accuracy margin.
        for (int k = 0; k < plain.Model.Length; k++) Assert.Equal(plain.Model[k], paillier.Model[k], 6);
    }

    [Fact]
    public async Task RoundsSurviveADropoutAndTheParticipantRejoins()
    {
        var (train, test) = BreastCancer();
        var template = Logistic(train.Columns, rounds: 6) with { PhaseTimeoutSeconds = 4 };
        var shares = FederationSetup.Split(train, 3, SplitKind.Iid, seed: 3);
        await using var bed = await Testbed.StartAsync(template, shares, Scorer(template, test));
        bed.StartParticipant(0);
        bed.StartParticipant(1);
        var stop2 = bed.StartParticipant(2);
        var progress = new InlineProgress<RoundReport>(r =>
        {
            if (r.Purpose != "train") return;
            if (r.Round == 1) stop2.Cancel();                      // participant 2 vanishes
            if (r.Round == 3) bed.StartParticipant(2);             // and comes back from its state folder
        });
        var outcome = await bed.Coordinator.RunAsync(progress).WaitAsync(TimeSpan.FromMinutes(3));
        var rounds = outcome.Rounds.Where(r => r.Purpose == "train").ToList();
        Assert.True(rounds.Count == 6, outcome.StopReason + " / " + string.Join("; ", rounds.Select(r => $"{r.Round}: [{string.Join(",", r.Contributors)}] a{r.Attempts}")));
        Assert.DoesNotContain(2, rounds[2].Contributors);            // round 3 ran with the survivors
        Assert.Equal(2, rounds[2].Contributors.Count);
        Assert.Contains(2, rounds[^1].Contributors);                 // the rejoined participant contributes again
        Assert.True(rounds[^1].Score > 0.9);
    }

    [Fact]
    public async Task ARestartedCoordinatorResumesAfterTheLastCompletedRound()
    {
        var (train, test) = BreastCancer();
        var dp = new DifferentialPrivacySettings { NoiseMultiplier = 5.0, ClipNorm = 1.0, Delta = 1e-5 };
        var template = Logistic(train.Columns, rounds: 6) with { Privacy = dp };
        string? dbPath = null;
        await using var bed = await Testbed.StartAsync(template, FederationSetup.Split(train, 3, SplitKind.Iid, seed: 6), Scorer(template, test), dir => new SqliteFederationStore(dbPath = Path.Combine(dir, "coordinator.db")));
        bed.StartAll();
        using var crash = new CancellationTokenSource();
        var first = bed.Coordinator.RunAsync(null, crash.Token, (round, _) => { if (round == 4) crash.Cancel(); return Task.CompletedTask; });
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => first.WaitAsync(TimeSpan.FromMinutes(3)));
        var stored = new SqliteFederationStore(dbPath!).Load(bed.Id)!;
        Assert.Equal(3, stored.Round);

        // A new coordinator process: same federation file, same database, same port; the participants reconnect on their own.
        var second = await bed.RestartCoordinatorAsync(new SqliteFederationStore(dbPath!), Scorer(template, test));
        var outcome = await second.RunAsync().WaitAsync(TimeSpan.FromMinutes(3));
        var rounds = outcome.Rounds.Where(r => r.Purpose == "train").Select(r => r.Round).ToArray();
        Assert.Equal([1, 2, 3, 4, 5, 6], rounds);
        Assert.Single(outcome.Rounds, r => r.Purpose == "statistics");        // no second key generation or statistics
        Assert.Equal(stored.Model.Length, outcome.Model.Length);
        // The accountant resumed too: ε is that of six rounds, not three, plus the one release the restart may have cost
        // (a sum decrypted before the coordinator was lost and never checkpointed), so that ε stays an upper bound.
        var seven = new RdpAccountant();
        seven.Step(5.0, 1, 7);
        Assert.Equal(seven.GetEpsilon(1e-5).Epsilon, outcome.Epsilon!.Value, 9);
        var finals = await Task.WhenAll(bed.Tasks).WaitAsync(TimeSpan.FromSeconds(30));
        Assert.All(finals, f => Assert.Equal(outcome.Model, f.Model));
    }

    [Fact]
    public async Task ACoordinatorRestartedDuringKeyGenerationAsksAgainUnderTheSameSession()
    {
        var (train, test) = BreastCancer();
        var template = Logistic(train.Columns, rounds: 3);
        string? dbPath = null;
        await using var bed = await Testbed.StartAsync(template, FederationSetup.Split(train, 3, SplitKind.Iid, seed: 10), Scorer(template, test), dir => new SqliteFederationStore(dbPath = Path.Combine(dir, "coordinator.db")));
        // Participants 0 and 1 make and save their key shares; participant 2 is not there yet, so key generation waits.
        bed.StartParticipant(0);
        bed.StartParticipant(1);
        using var crash = new CancellationTokenSource(TimeSpan.FromSeconds(4));
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => bed.Coordinator.RunAsync(cancellation: crash.Token));
        var stored = new SqliteFederationStore(dbPath!).Load(bed.Id)!;
        Assert.NotEmpty(stored.Session);
        Assert.Empty(stored.PublicKey);

        var second = await bed.RestartCoordinatorAsync(new SqliteFederationStore(dbPath!), Scorer(template, test));
        bed.StartParticipant(2);
        var outcome = await second.RunAsync().WaitAsync(TimeSpan.FromMinutes(3));
        // 0 and 1 re-sent the shares they had made (a second sample under the same a would be refused by their own state).
        Assert.Equal(3, outcome.Rounds.Count(r => r.Purpose == "train"));
        Assert.True(outcome.Rounds[^1].Score > 0.9);
        var finals = await Task.WhenAll(bed.Tasks).WaitAsync(TimeSpan.FromSeconds(30));
        Assert.All(finals, f => Assert.Equal(outcome.Model, f.Model));
    }

    [Fact]
    public async Task DifferentialPrivacyIsAccountedAndStopsAtTheBudget()
    {
        var (train, test) = BreastCancer();
        var dp = new DifferentialPrivacySettings { NoiseMultiplier = 2.0, ClipNorm = 1.0, Delta = 1e-5 };
        var after3 = new RdpAccountant();
        after3.Step(2.0, 1, 3);
        double budget = after3.GetEpsilon(1e-5).Epsilon + 1e-9;
        var template = Logistic(train.Columns, rounds: 10) with { Privacy = dp with { EpsilonBudget = budget } };
        await using var bed = await Testbed.StartAsync(template, FederationSetup.Split(train, 3, SplitKind.Iid, seed: 4), Scorer(template, test));
        bed.StartAll();
        var outcome = await bed.Coordinator.RunAsync().WaitAsync(TimeSpan.FromMinutes(3));
        var rounds = outcome.Rounds.Where(r => r.Purpose == "train").ToList();
        Assert.Equal(3, rounds.Count);
        Assert.Contains("budget", outcome.StopReason);
        Assert.Equal(after3.GetEpsilon(1e-5).Epsilon, outcome.Epsilon!.Value, 9);
        Assert.True(rounds[0].Epsilon < rounds[1].Epsilon && rounds[1].Epsilon < rounds[2].Epsilon);
    }

    [Fact]
    public async Task StrangersAndOtherFederationsAreRefused()
    {
        var (train, _) = BreastCancer();
        await using var bed = await Testbed.StartAsync(Logistic(train.Columns), FederationSetup.Split(train, 3, SplitKind.Iid, 5));
        // A member naming another federation.
        using (var member = new FederationGrpcChannel(bed.Address, bed.Settings.CoordinatorPin, bed.Certificate(0)))
        {
            var e = await Assert.ThrowsAsync<RpcException>(() => member.PollAsync(new PollRequest { Federation = ByteString.CopyFrom(new byte[32]), WaitMs = 10 }, default));
            Assert.Equal(StatusCode.PermissionDenied, e.StatusCode);
            // A submission for a step it never got.
            e = await Assert.ThrowsAsync<RpcException>(() => member.SubmitAsync(new Submission { Federation = ByteString.CopyFrom(bed.Id), Step = 12345, Kind = WorkKind.Aggregate }, default));
            Assert.Equal(StatusCode.FailedPrecondition, e.StatusCode);
        }
        // A certificate that is not in the federation file: the TLS handshake itself fails.
        using var stranger = Veil.Protection.Tls.CreateDevelopmentCertificate("stranger");
        using var outsider = new FederationGrpcChannel(bed.Address, bed.Settings.CoordinatorPin, stranger);
        var refused = await Assert.ThrowsAsync<RpcException>(() => outsider.PollAsync(new PollRequest { Federation = ByteString.CopyFrom(bed.Id), WaitMs = 10 }, default));
        Assert.NotEqual(StatusCode.OK, refused.StatusCode);
        // A coordinator with another key: the participant's pin check fails.
        using var wrongPin = new FederationGrpcChannel(bed.Address, Convert.ToBase64String(new byte[32]), bed.Certificate(1));
        await Assert.ThrowsAsync<RpcException>(() => wrongPin.PollAsync(new PollRequest { Federation = ByteString.CopyFrom(bed.Id), WaitMs = 10 }, default));
    }

    [Fact]
    public async Task MalformedKeySharesAreRefusedWithoutStoppingTheCoordinator()
    {
        var (train, _) = BreastCancer();
        var settings = FederationSetup.Create(Path.Combine(Path.GetTempPath(), "veil-fed-" + Guid.NewGuid().ToString("N")[..12]), Logistic(train.Columns), 3, Testbed.Passphrase, Veil.Protection.Argon2Parameters.Minimum, true);
        var coordinator = new FederationCoordinator(settings.Settings, settings.Id);
        using var cancel = new CancellationTokenSource();
        var run = coordinator.RunAsync(cancellation: cancel.Token);
        var work = await coordinator.PollAsync(0, settings.Id, TimeSpan.FromSeconds(5), default);
        Assert.Equal(WorkKind.KeyShare, work.Kind);
        var rng = new Random(9);
        for (int trial = 0; trial < 200; trial++)
        {
            var junk = new byte[rng.Next(0, 3000)];
            rng.NextBytes(junk);
            var s = new Submission { Federation = ByteString.CopyFrom(settings.Id), Step = work.Step, Kind = WorkKind.KeyShare, KeyShare = ByteString.CopyFrom(junk) };
            for (int d = 0; d < 3; d++) s.Dealings.Add(ByteString.CopyFrom(junk));
            var e = Assert.Throws<FederationProtocolException>(() => coordinator.Submit(0, s));
            Assert.Equal(StatusCode.InvalidArgument, e.Status);
        }
        // Still holding the same work: the participant may send a good share.
        Assert.Equal(work.Step, (await coordinator.PollAsync(0, settings.Id, TimeSpan.Zero, default)).Step);
        Assert.Equal(StatusCode.FailedPrecondition, Assert.Throws<FederationProtocolException>(() => coordinator.Submit(0, new Submission { Federation = ByteString.CopyFrom(settings.Id), Step = work.Step + 1, Kind = WorkKind.KeyShare })).Status);
        Assert.Equal(StatusCode.PermissionDenied, Assert.Throws<FederationProtocolException>(() => coordinator.Submit(0, new Submission { Federation = ByteString.CopyFrom(new byte[32]), Step = work.Step })).Status);
        cancel.Cancel();
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => run);
    }

    private const string Noise = "{}[],:\"0-9en";

    [Fact]
    public void MutatedFederationFilesAreRefusedWithOneTypedException()
    {
        var valid = FederationFile.Serialize(new FederationSettings
        {
            Members = [new("a", Convert.ToBase64String(new byte[32]), "-----BEGIN PUBLIC KEY-----"), new("b", Convert.ToBase64String(Enumerable.Repeat((byte)1, 32).ToArray()), "x")],
            CoordinatorPin = Convert.ToBase64String(new byte[32]), Features = 3, Threshold = 2,
            Privacy = new DifferentialPrivacySettings { NoiseMultiplier = 1.5, EpsilonBudget = 3 },
        });
        var rng = new Random(17);
        int refused = 0;
        for (int trial = 0; trial < 1000; trial++)
        {
            var bytes = valid.ToList();
            switch (trial % 4)
            {
                case 0: bytes[rng.Next(bytes.Count)] = (byte)rng.Next(256); break;
                case 1: { int at = rng.Next(bytes.Count); bytes.RemoveRange(at, Math.Min(1 + rng.Next(40), bytes.Count - at)); break; }
                case 2: bytes.InsertRange(rng.Next(bytes.Count), Enumerable.Range(0, 1 + rng.Next(8)).Select(_ => (byte)Noise[rng.Next(Noise.Length)])); break;
                default: bytes = bytes.Take(rng.Next(bytes.Count)).ToList(); break;
            }
            try { FederationFile.Parse(bytes.ToArray()); }
            catch (FederationConfigurationException) { refused++; }
        }
        Assert.True(refused > 900, $"{refused} of 1000 mutations refused");
        Assert.Throws<FederationConfigurationException>(() => FederationFile.Parse(new byte[FederationFile.MaxBytes + 1]));
    }

    [Fact]
    public void ACorruptCheckpointIsRefusedWithATypedException()
    {
        string path = Path.Combine(Path.GetTempPath(), "veil-fed-" + Guid.NewGuid().ToString("N")[..12] + ".db");
        var store = new SqliteFederationStore(path);
        var id = new byte[32];
        store.Save(id, new FederationCheckpoint([1], [2], [0.5, 1], null, 1, [0.1], null, 0, []));
        using (var c = new Microsoft.Data.Sqlite.SqliteConnection($"Data Source={path};Pooling=False"))
        {
            c.Open();
            using var cmd = c.CreateCommand();
            cmd.CommandText = "UPDATE federation SET checkpoint = '{\"Round\": \"x\"'";
            cmd.ExecuteNonQuery();
        }
        Assert.Throws<InvalidDataException>(() => store.Load(id));
        File.Delete(path);
    }

    [Fact]
    public void FederationFilesAreValidated()
    {
        var (settings, id) = FederationFile.Parse(FederationFile.Serialize(new FederationSettings
        {
            Members = [new("a", Convert.ToBase64String(new byte[32]), "-----BEGIN PUBLIC KEY-----"), new("b", Convert.ToBase64String(Enumerable.Repeat((byte)1, 32).ToArray()), "x")],
            CoordinatorPin = Convert.ToBase64String(new byte[32]), Features = 3, Threshold = 2,
        }));
        Assert.Equal(32, id.Length);
        Assert.Equal(2, settings.Participants);
        Assert.Equal("threshold", Assert.Throws<FederationConfigurationException>(() => FederationFile.Serialize(settings with { Threshold = 3 })).Field);
        Assert.Equal("members", Assert.Throws<FederationConfigurationException>(() => FederationFile.Serialize(settings with { Members = [settings.Members[0], settings.Members[0]] })).Field);
        Assert.Equal("classes", Assert.Throws<FederationConfigurationException>(() => FederationFile.Serialize(settings with { Model = FederatedModelKind.OneVsRest })).Field);
        Assert.Equal("scaffold", Assert.Throws<FederationConfigurationException>(() => FederationFile.Serialize(settings with { Scaffold = true, Privacy = new DifferentialPrivacySettings { NoiseMultiplier = 1, ClipNorm = 1, Delta = 1e-5 } })).Field);
        Assert.Throws<FederationConfigurationException>(() => FederationFile.Parse("{\"name\":\"x\",\"unknown\":1}"u8));
        Assert.Throws<FederationConfigurationException>(() => FederationFile.Parse("[[[[[[[[[[[[[[[[[[[[]]]]]]]]]]]]]]]]]]]]"u8));
        Assert.Throws<FederationConfigurationException>(() => FederationFile.Parse("{"u8));
    }
}
