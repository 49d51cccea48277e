using System.Security.Cryptography;
using Google.Protobuf;
using Grpc.Core;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using Veil.Federated.Protocol;
using Veil.Ml.Data;
using Veil.Multiparty;
using Veil.Protection;
using Veil.Rlwe;
using Veil.Rlwe.Serialization;

namespace Veil.Federated;

/// <summary>How a participant reaches its coordinator (gRPC in production, a direct call in tests).</summary>
public interface IFederationChannel
{
    /// <summary>The next piece of work.</summary>
    Task<Work> PollAsync(PollRequest request, CancellationToken cancellation);
    /// <summary>A result.</summary>
    Task<Receipt> SubmitAsync(Submission submission, CancellationToken cancellation);
}

/// <summary>What a participant ends with.</summary>
/// <param name="Model">The final global θ (standardized features).</param>
/// <param name="Statistics">The pooled means then scales of the features and the target.</param>
/// <param name="Message">The coordinator's reason for stopping.</param>
/// <param name="Contributions">Vectors this participant sent.</param>
/// <param name="DecryptionShares">Decryption shares it made.</param>
public sealed record ParticipantOutcome(double[] Model, double[] Statistics, string Message, int Contributions, int DecryptionShares);

/// <summary>
/// A participant: keeps its rows, its key share and its threshold share; trains locally, clips, encrypts under the
/// collective key and sends; makes decryption shares of sums it is asked for. Its key share and the dealings it
/// received stay in <c>stateDirectory</c> sealed for its keyring (AES-GCM under the keyring's key), so a participant
/// killed at any point restarts from the folder and rejoins; the spent decryption budget is saved before a share leaves.
/// </summary>
public sealed class FederationParticipant : IDisposable
{
    private const string PartyFile = "party.veil", KeyShareFile = "key-share.bin", DealingsFile = "dealings.bin", PaillierFile = "paillier.veil";
    private readonly FederationPlan _plan;
    private readonly byte[] _federationId;
    private readonly Dataset _data;
    private readonly string _stateDirectory;
    private readonly Keyring _keyring;
    private readonly ILogger _log;
    private MultipartySession? _session;
    private MultipartyParty? _party;
    private ThresholdParty? _threshold;
    private PublicKey? _publicKey;
    private Veil.Paillier.PaillierPublicKey? _paillierPublic;
    private Veil.Paillier.PaillierPrivateKey? _paillierPrivate;
    private readonly HashSet<string> _ownDigests = [];
    private int _contributions, _shares;

    /// <summary>Participant <paramref name="index"/> of the federation, with its rows and its keyring (whose P-256 key the federation file lists as its dealing key).</summary>
    /// <exception cref="FederationConfigurationException">The rows do not match the federation's features or labels, or the keyring is not the one listed.</exception>
    public FederationParticipant(FederationSettings settings, byte[] federationId, int index, Dataset data, string stateDirectory, Keyring keyring, ILogger? logger = null)
    {
        _plan = new FederationPlan(settings);
        ArgumentNullException.ThrowIfNull(federationId);
        ArgumentNullException.ThrowIfNull(data);
        ArgumentNullException.ThrowIfNull(keyring);
        ArgumentException.ThrowIfNullOrWhiteSpace(stateDirectory);
        if (index < 0 || index >= settings.Participants) throw new FederationConfigurationException("index", $"Participant {index} is not in the federation's {settings.Participants}.");
        if (data.Columns != settings.Features) throw new FederationConfigurationException("features", $"The rows have {data.Columns} features; the federation trains on {settings.Features}.");
        if (settings.Model != FederatedModelKind.Linear)
        {
            int classes = settings.Model is FederatedModelKind.OneVsRest or FederatedModelKind.Mlp ? settings.Classes : 2;
            if (data.Targets.Any(y => y < 0 || y >= classes || y != Math.Floor(y))) throw new FederationConfigurationException("classes", $"Every label must be 0 … {classes - 1}.");
        }
        if (DealingKeyOf(keyring) != Normalize(settings.Members[index].DealingKey))
            throw new FederationConfigurationException("members", $"This keyring's P-256 key is not the dealing key the federation file lists for {settings.Members[index].Name}.");
        _federationId = (byte[])federationId.Clone();
        Index = index;
        _data = data;
        _stateDirectory = stateDirectory;
        _keyring = keyring;
        _log = logger ?? NullLogger.Instance;
        Directory.CreateDirectory(stateDirectory);
    }

    /// <summary>This participant's number.</summary>
    public int Index { get; }

    /// <summary>The name of the federation's threshold dealing round.</summary>
    public const string DealingRound = "federation";

    /// <summary>The PEM of a keyring's P-256 public key, as a federation file lists it.</summary>
    public static string DealingKeyOf(Keyring keyring) => Normalize(PemEncoding.WriteString("PUBLIC KEY", keyring.P256Key.ExportSubjectPublicKeyInfo()));

    private static string Normalize(string pem) => pem.Replace("\r", "").Trim();

    /// <summary>Polls and works until the coordinator says training is over.</summary>
    public async Task<ParticipantOutcome> RunAsync(IFederationChannel channel, CancellationToken cancellation = default)
    {
        ArgumentNullException.ThrowIfNull(channel);
        Restore();
        var fed = ByteString.CopyFrom(_federationId);
        int failures = 0;
        ulong? failedStep = null;
        while (true)
        {
            cancellation.ThrowIfCancellationRequested();
            Work work;
            try
            {
                work = await channel.PollAsync(new PollRequest { Federation = fed, WaitMs = 1000 }, cancellation).ConfigureAwait(false);
                failures = 0;
            }
            catch (RpcException e) when (e.StatusCode is not (StatusCode.PermissionDenied or StatusCode.Unauthenticated) && !cancellation.IsCancellationRequested && failures < 600)
            {
                // The coordinator is not up yet or restarting: try again for up to about a minute.
                failures++;
                await Task.Delay(100, cancellation).ConfigureAwait(false);
                continue;
            }
            if (work.Kind == WorkKind.Wait) continue;
            if (work.Kind == WorkKind.Finished) return new ParticipantOutcome([.. work.Model], [.. work.Statistics], work.Message, _contributions, _shares);
            if (work.Step == failedStep) { await Task.Delay(500, cancellation).ConfigureAwait(false); continue; } // refused once: let the coordinator time it out
            Submission submission;
            try { submission = Handle(work, cancellation); }
            catch (Exception e) when (e is FederationProtocolException or Veil.Serialization.VeilFormatException or ArgumentException or InvalidOperationException or System.Security.Cryptography.CryptographicException)
            {
                // Work this participant will not do (a mismatched session, a request to decrypt its own update, a spent budget): logged, not answered.
                _log.LogWarning("Participant {Index}: step {Step} ({Kind}) refused: {Message}", Index, work.Step, work.Kind, e.Message);
                failedStep = work.Step;
                continue;
            }
            submission.Federation = fed;
            submission.Step = work.Step;
            submission.Kind = work.Kind;
            try { await channel.SubmitAsync(submission, cancellation).ConfigureAwait(false); }
            catch (RpcException e) when (!cancellation.IsCancellationRequested)
            {
                _log.LogWarning("Participant {Index}: step {Step} not taken ({Status}: {Detail})", Index, work.Step, e.StatusCode, e.Status.Detail);
            }
        }
    }

    private Submission Handle(Work work, CancellationToken cancellation) => work.Kind switch
    {
        WorkKind.KeyShare => KeyShare(work),
        WorkKind.Dealings => TakeDealings(work),
        WorkKind.Aggregate => Contribute(work, cancellation),
        WorkKind.Decrypt => Decrypt(work),
        _ => throw new FederationProtocolException(StatusCode.InvalidArgument, $"Unknown work {work.Kind}."),
    };

    private MultipartySession CheckSession(ByteString bytes)
    {
        var (session, logScale) = MultipartySerializer.LoadSession(bytes.Span);
        if (session.Parties != _plan.Settings.Participants || session.Label != FederationCoordinator.SessionLabel(_plan.Settings, _federationId)
            || !session.Parameters.Hash.Span.SequenceEqual(_plan.Parameters.Ring.Hash.Span) || logScale != Math.Log2(_plan.Parameters.DefaultScale))
            throw new FederationProtocolException(StatusCode.InvalidArgument, "The coordinator's key-generation session does not match the federation file (parties, label or parameters).");
        if (_session is not null && !_session.Id.AsSpan().SequenceEqual(session.Id))
            throw new FederationProtocolException(StatusCode.FailedPrecondition, "The coordinator started a second key generation; this participant's key share belongs to the first.");
        return session;
    }

    private Submission KeyShare(Work work)
    {
        if (_plan.Settings.Aggregation == AggregationMode.Paillier) return PaillierKey();
        var session = CheckSession(work.Session);
        string path = Path.Combine(_stateDirectory, KeyShareFile);
        string partyPath = Path.Combine(_stateDirectory, PartyFile);
        if (File.Exists(path) && File.Exists(partyPath))
        {
            // Restarted, or asked again: the same share, never a second sample under the same a.
            if (_party is null) { _session = session; _party = MultipartyParty.Load(session, File.ReadAllBytes(partyPath), _keyring.Protector()); }
            return Submission.Parser.ParseFrom(File.ReadAllBytes(path));
        }
        _session = session;
        _party = new MultipartyParty(session, Index, _plan.DecryptionBudget) { MaxDegreeOfParallelism = 1 };
        var submission = new Submission { KeyShare = ByteString.CopyFrom(MultipartySerializer.Save(_party.CreatePublicKeyShare())) };
        var dealings = _party.DealThresholdShares(_plan.Settings.Threshold, DealingRound);
        try
        {
            for (int j = 0; j < dealings.Length; j++)
            {
                var recipient = RecipientKeys.FromPem(_plan.Settings.Members[j].DealingKey)[0];
                submission.Dealings.Add(ByteString.CopyFrom(MultipartySerializer.Save(dealings[j], new SecretProtector([recipient], []))));
            }
        }
        finally { foreach (var d in dealings) d.Dispose(); }
        // The sealed state goes to disk before any share leaves.
        WriteAtomically(Path.Combine(_stateDirectory, PartyFile), _party.Save(_keyring.Protector()));
        WriteAtomically(path, submission.ToByteArray());
        return submission;
    }

    // The key authority's key pair: made once, the private key sealed for this keyring before the public key leaves.
    private Submission PaillierKey()
    {
        if (Index != 0) throw new FederationProtocolException(StatusCode.PermissionDenied, "Only participant 0 is the key authority.");
        string path = Path.Combine(_stateDirectory, PaillierFile);
        if (_paillierPrivate is null)
        {
            if (File.Exists(path)) _paillierPrivate = Veil.Paillier.PaillierSerializer.LoadPrivateKey(File.ReadAllBytes(path), _keyring.Protector());
            else
            {
                var (_, privateKey) = Veil.Paillier.PaillierScheme.GenerateKeys(3072);
                WriteAtomically(path, Veil.Paillier.PaillierSerializer.Save(privateKey, _keyring.Protector()));
                _paillierPrivate = privateKey;
            }
        }
        return new Submission { KeyShare = ByteString.CopyFrom(Veil.Paillier.PaillierSerializer.Save(_paillierPrivate.PublicKey)) };
    }

    private Submission TakeDealings(Work work)
    {
        if (_plan.Settings.Aggregation == AggregationMode.Paillier)
        {
            _paillierPublic = Veil.Paillier.PaillierSerializer.LoadPublicKey(work.PublicKey.Span);
            WriteAtomically(Path.Combine(_stateDirectory, DealingsFile), work.ToByteArray());
            return new Submission();
        }
        var session = CheckSession(work.Session);
        if (_party is null) throw new FederationProtocolException(StatusCode.FailedPrecondition, "Dealings arrived before this participant made its key share.");
        Combine(session, work);
        WriteAtomically(Path.Combine(_stateDirectory, DealingsFile), work.ToByteArray());
        return new Submission();
    }

    private void Combine(MultipartySession session, Work work)
    {
        _publicKey = RlweSerializer.LoadPublicKey(work.PublicKey.Span, _plan.Parameters.Ring);
        if (work.Dealings.Count != _plan.Settings.Participants) throw FederationProtocolException.Invalid($"Expected {_plan.Settings.Participants} dealings.");
        var protector = _keyring.Protector();
        var dealings = work.Dealings.Select(d => MultipartySerializer.LoadThresholdDealing(d.Span, session, protector)).ToList();
        try
        {
            _threshold?.Dispose();
            _threshold = ThresholdParty.Combine(_party!, dealings);
        }
        finally { foreach (var d in dealings) d.Dispose(); }
    }

    private void Restore()
    {
        if (_plan.Settings.Aggregation == AggregationMode.Paillier)
        {
            string keyPath = Path.Combine(_stateDirectory, PaillierFile), pkPath = Path.Combine(_stateDirectory, DealingsFile);
            if (File.Exists(keyPath)) _paillierPrivate = Veil.Paillier.PaillierSerializer.LoadPrivateKey(File.ReadAllBytes(keyPath), _keyring.Protector());
            if (File.Exists(pkPath)) _paillierPublic = Veil.Paillier.PaillierSerializer.LoadPublicKey(Work.Parser.ParseFrom(File.ReadAllBytes(pkPath)).PublicKey.Span);
            return;
        }
        string partyPath = Path.Combine(_stateDirectory, PartyFile), dealingsPath = Path.Combine(_stateDirectory, DealingsFile), sharePath = Path.Combine(_stateDirectory, KeyShareFile);
        if (!File.Exists(partyPath) || !File.Exists(sharePath)) return;
        // The session is in the dealings work once key generation ended; before that, the key-share work is polled again.
        if (!File.Exists(dealingsPath)) { _log.LogInformation("Participant {Index}: key share saved, dealings not yet taken", Index); return; }
        var work = Work.Parser.ParseFrom(File.ReadAllBytes(dealingsPath));
        var session = CheckSession(work.Session);
        _session = session;
        _party = MultipartyParty.Load(session, File.ReadAllBytes(partyPath), _keyring.Protector());
        Combine(session, work);
        _log.LogInformation("Participant {Index}: rejoined with its saved key share and dealings ({Left} decryptions left)", Index, _threshold!.DecryptionsRemaining);
    }

    private Submission Contribute(Work work, CancellationToken cancellation)
    {
        var s = _plan.Settings;
        int d = s.Features;
        double[] vector;
        switch (work.Purpose)
        {
            case "statistics":
                vector = FederationPlan.Statistics(WithTarget(_data.Features, _data.Targets), d + 1);
                break;
            case "least-squares":
            {
                var (x, y) = Standardized(work);
                vector = FederationPlan.LeastSquares(x, y, d);
                break;
            }
            case "gradient":
            {
                if (!s.Scaffold) throw FederationProtocolException.Invalid("This federation does not run SCAFFOLD.");
                var (x, y) = Standardized(work);
                var gradient = LocalModels.Gradient(s.Model, s.Classes, GlobalModel(work), x, y);
                vector = new double[_plan.UpdateLength];
                for (int k = 0; k < gradient.Length; k++) vector[k] = gradient[k] * x.Length;
                vector[^1] = x.Length;
                break;
            }
            case "train":
            {
                var (x, y) = Standardized(work);
                var global = GlobalModel(work);
                double[]? correction = null;
                if (s.Scaffold)
                {
                    // c − c_k: the pooled gradient at the global model minus this participant's own there.
                    correction = work.Correction.ToArray();
                    if (correction.Length != global.Length || correction.Any(v => !double.IsFinite(v))) throw FederationProtocolException.Invalid("The SCAFFOLD correction has the wrong size or a value that is not finite.");
                    var own = LocalModels.Gradient(s.Model, s.Classes, global, x, y);
                    for (int k = 0; k < own.Length; k++) correction[k] -= own[k];
                }
                var local = LocalModels.Train(s.Model, s.Classes, global, x, y, s.LocalSteps, s.LearningRate, s.ProximalMu, cancellation, seed: (int)work.Round * 1009 + Index, correction);
                vector = new double[_plan.UpdateLength];
                for (int k = 0; k < global.Length; k++) vector[k] = local[k] - global[k];
                var update = vector.AsSpan(0, global.Length);
                if (s.Privacy is { } dp)
                {
                    // Clipped, unweighted, and noised so that any t contributions together carry deviation σ·C.
                    LocalModels.Clip(update, dp.ClipNorm);
                    FederationPlan.AddGaussianNoise(update, dp.NoiseMultiplier * dp.ClipNorm / Math.Sqrt(s.Threshold));
                    vector[^1] = 1;
                }
                else
                {
                    LocalModels.Clip(update, s.ClipNorm);
                    for (int k = 0; k < update.Length; k++) update[k] *= x.Length;
                    vector[^1] = x.Length;
                }
                break;
            }
            default: throw FederationProtocolException.Invalid($"Unknown purpose '{work.Purpose}'.");
        }
        _contributions++;
        var submission = new Submission();
        if (s.Aggregation == AggregationMode.Plaintext) { _plan.CheckValues(vector); submission.Values.Add(vector); return submission; }
        if (s.Aggregation == AggregationMode.Paillier)
        {
            if (_paillierPublic is null) throw new FederationProtocolException(StatusCode.FailedPrecondition, "No Paillier key yet.");
            foreach (var c in PaillierAggregation.Encrypt(_paillierPublic, vector)) submission.Ciphertexts.Add(ByteString.CopyFrom(c));
            return submission;
        }
        if (_publicKey is null) throw new FederationProtocolException(StatusCode.FailedPrecondition, "No collective key yet.");
        foreach (var c in _plan.EncryptCiphertexts(vector, _publicKey))
        {
            lock (_ownDigests) _ownDigests.Add(Convert.ToHexString(ShareDigests.Ciphertext(c)));
            submission.Ciphertexts.Add(ByteString.CopyFrom(RlweSerializer.Save(c)));
        }
        return submission;
    }

    private double[] GlobalModel(Work work)
    {
        var global = work.Model.ToArray();
        if (global.Length != _plan.ParameterCount || global.Any(v => !double.IsFinite(v))) throw FederationProtocolException.Invalid("The global model has the wrong size or a value that is not finite.");
        return global;
    }

    private (double[][] X, double[] Y) Standardized(Work work)
    {
        int d = _plan.Settings.Features;
        var st = work.Statistics.ToArray();
        if (st.Length != 2 * (d + 1) || st.Any(v => !double.IsFinite(v)) || st.Skip(d + 1).Any(v => !(v > 0)))
            throw FederationProtocolException.Invalid("The pooled statistics have the wrong size or a scale that is not positive.");
        var means = st[..(d + 1)];
        var scales = st[(d + 1)..];
        var x = FederationPlan.Standardize(_data.Features, means[..d], scales[..d]);
        var y = _plan.Settings.Model == FederatedModelKind.Linear ? _data.Targets.Select(v => (v - means[d]) / scales[d]).ToArray() : _data.Targets;
        return (x, y);
    }

    private static double[][] WithTarget(double[][] x, double[] y) => x.Select((row, i) => (double[])[.. row, y[i]]).ToArray();

    private Submission Decrypt(Work work)
    {
        if (_plan.Settings.Aggregation == AggregationMode.Paillier)
        {
            if (_paillierPrivate is null) throw new FederationProtocolException(StatusCode.PermissionDenied, "This participant is not the key authority.");
            if (work.Active.Count < _plan.Settings.Threshold) throw new FederationProtocolException(StatusCode.PermissionDenied, $"A sum of {work.Active.Count} contributions is below the threshold {_plan.Settings.Threshold}: not decrypted.");
            var key = _paillierPrivate.PublicKey;
            var sums = work.Ciphertexts.Select(c => Veil.Paillier.PaillierScheme.Decrypt(_paillierPrivate, Veil.Paillier.PaillierSerializer.LoadCiphertext(c.Span, key))).ToList();
            int length = work.Purpose switch { "statistics" => _plan.StatisticsLength, "least-squares" => _plan.LeastSquaresLength, _ => _plan.UpdateLength };
            if (sums.Count != PaillierAggregation.Chunks(key, length)) throw FederationProtocolException.Invalid("The sum has the wrong number of ciphertexts.");
            var result = new Submission();
            result.Values.Add(PaillierAggregation.Decode(key, sums, length, work.Active.Count));
            _shares++;
            return result;
        }
        if (_threshold is null || _session is null) throw new FederationProtocolException(StatusCode.FailedPrecondition, "No threshold share yet.");
        var active = work.Active.Select(a => (int)a).ToArray();
        var submission = new Submission();
        foreach (var bytes in work.Ciphertexts)
        {
            var ct = RlweSerializer.LoadCiphertext(bytes.Span, _plan.Parameters.Ring);
            bool own;
            lock (_ownDigests) own = _ownDigests.Contains(Convert.ToHexString(ShareDigests.Ciphertext(ct)));
            if (own) throw new FederationProtocolException(StatusCode.PermissionDenied, "Asked to decrypt this participant's own contribution instead of a sum: refused.");
            submission.Shares.Add(ByteString.CopyFrom(MultipartySerializer.Save(_threshold.CreateDecryptionShare(ct, active, _plan.Flooding))));
            _shares++;
        }
        // The spent budget is on disk before the shares leave.
        WriteAtomically(Path.Combine(_stateDirectory, PartyFile), _party!.Save(_keyring.Protector()));
        return submission;
    }

    private static void WriteAtomically(string path, byte[] bytes)
    {
        string temp = path + ".tmp";
        File.WriteAllBytes(temp, bytes);
        File.Move(temp, path, overwrite: true);
    }

    /// <summary>Wipes the key shares held in memory.</summary>
    public void Dispose()
    {
        _threshold?.Dispose();
        _party?.Dispose();
    }
}
