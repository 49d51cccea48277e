using System.Diagnostics;
using System.Security.Cryptography;
using Google.Protobuf;
using Grpc.Core;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using Veil.Federated.Privacy;
using Veil.Federated.Protocol;
using Veil.Multiparty;
using Veil.Rlwe;
using Veil.Rlwe.Serialization;
using Veil.Serialization;

namespace Veil.Federated;

/// <summary>One completed sum: a training round, or the statistics or least-squares sum before training.</summary>
/// <param name="Purpose">"statistics", "least-squares", "gradient" (SCAFFOLD) or "train".</param>
/// <param name="Round">The training round (0 before training).</param>
/// <param name="Attempts">Attempts it took (more than one when fewer than t answered).</param>
/// <param name="Contributors">Participants whose vectors are in the sum.</param>
/// <param name="Decryptors">The t participants whose shares decrypted it (empty in plaintext mode).</param>
/// <param name="Seconds">Wall time from the first request to the decrypted sum.</param>
/// <param name="Score">The model's score after the round, when the coordinator was given a way to score it.</param>
/// <param name="Epsilon">ε spent after the round (DP only).</param>
public sealed record RoundReport(string Purpose, int Round, int Attempts, IReadOnlyList<int> Contributors, IReadOnlyList<int> Decryptors, double Seconds, double? Score, double? Epsilon);

/// <summary>What a federation produced.</summary>
/// <param name="Model">The final global θ (on standardized features).</param>
/// <param name="Means">The pooled feature means.</param>
/// <param name="Scales">The pooled feature scales.</param>
/// <param name="LeastSquares">The exact pooled least-squares θ (linear regression only).</param>
/// <param name="Rounds">Every completed sum.</param>
/// <param name="Epsilon">ε spent (DP only).</param>
/// <param name="StopReason">Why training ended.</param>
/// <param name="BytesPerParticipant">Bytes each participant sent and received (payloads).</param>
public sealed record FederationOutcome(double[] Model, double[] Means, double[] Scales, double[]? LeastSquares, IReadOnlyList<RoundReport> Rounds, double? Epsilon, string StopReason, long[] BytesPerParticipant);

/// <summary>
/// Where the ciphertexts of threshold contributions are checked and added up: in the coordinator (the default), or
/// where they arrived (a cluster's front ends), the coordinator then holding a reference per contribution and
/// receiving one partial sum per place instead of every participant's ciphertexts.
/// </summary>
public interface IContributionAggregator
{
    /// <summary>The checked contribution in <paramref name="submission"/> (ciphertexts, or a reference to where they were left) for a vector of <paramref name="length"/>.</summary>
    /// <exception cref="FederationProtocolException">Malformed or mis-sized (InvalidArgument).</exception>
    /// <exception cref="Veil.Serialization.VeilFormatException">Malformed ciphertext bytes.</exception>
    object Load(int participant, Submission submission, int length);

    /// <summary>
    /// The sum of contributions <see cref="Load"/> returned, keyed by participant, and the participants whose
    /// contributions it holds: one lost with the place that held it is left out (as a participant that did not answer is).
    /// </summary>
    Task<ContributionSum> SumAsync(IReadOnlyDictionary<int, object> contributions, CancellationToken cancellation);
}

/// <summary>A sum of contributions and whose they are.</summary>
/// <param name="Sum">The summed ciphertexts (null when none was found).</param>
/// <param name="Contributors">The participants in it, in order.</param>
public sealed record ContributionSum(Ciphertext[]? Sum, IReadOnlyList<int> Contributors);

/// <summary>The default: every contribution's ciphertexts checked and summed in the coordinator.</summary>
public sealed class LocalContributionAggregator(FederationPlan plan) : IContributionAggregator
{
    /// <inheritdoc/>
    public object Load(int participant, Submission submission, int length)
    {
        ArgumentNullException.ThrowIfNull(submission);
        if (submission.ContributionShard.Length > 0) throw FederationProtocolException.Invalid("A contribution by reference is only taken from a cluster's front end.");
        return plan.LoadContribution([.. submission.Ciphertexts.Select(c => c.ToByteArray())], length);
    }

    /// <inheritdoc/>
    public Task<ContributionSum> SumAsync(IReadOnlyDictionary<int, object> contributions, CancellationToken cancellation)
    {
        ArgumentNullException.ThrowIfNull(contributions);
        return Task.FromResult(new ContributionSum(plan.Sum(contributions.Values.Cast<Ciphertext[]>()), [.. contributions.Keys.Order()]));
    }
}

/// <summary>Training could not go on: key generation missed a participant, or a round found fewer than t participants in every attempt.</summary>
public sealed class FederationFailedException(string message) : Exception(message);

/// <summary>
/// The coordinator: relays key-generation shares, sums the participants' ciphertexts and asks t of them to decrypt the
/// sum; it holds no key share and never sees a participant's vector (in threshold mode). It is transport-free: a gRPC
/// service (<see cref="FederationService"/>) feeds it each participant's polls and submissions, identified by the
/// caller's TLS certificate. Work is handed out per participant with a unique step; a submission for any other step
/// (a replay, a message of an old round) is refused, and a malformed one is refused and logged while the others go on.
/// </summary>
public sealed class FederationCoordinator : IFederationFrontEnd
{
    private static readonly TimeSpan Liveness = TimeSpan.FromSeconds(2.5);
    private readonly object _gate = new();
    private readonly Slot[] _slots;
    private readonly ILogger _log;
    private readonly Func<double[], double[], double[], double>? _score;
    private ulong _nextStep = BitConverter.ToUInt64(RandomNumberGenerator.GetBytes(8)) >> 16;
    private MultipartySession? _session;
    private byte[] _dealingRound = [];
    private Veil.Paillier.PaillierPublicKey? _paillier;
    private readonly IFederationStore? _store;
    private readonly IContributionAggregator _aggregator;
    private bool _finished;
    private Work? _finishedWork;

    /// <summary>A coordinator for a federation file's settings and id.</summary>
    /// <param name="settings">The federation's settings.</param>
    /// <param name="federationId">SHA-256 of the federation file.</param>
    /// <param name="logger">Where refusals and dropouts are logged.</param>
    /// <param name="score">Scores (θ, means, scales) after each round, for reports (a held-out set the coordinator may see).</param>
    /// <param name="store">Where rounds are checkpointed, so that a restarted coordinator resumes (null: nothing kept).</param>
    /// <param name="aggregator">Where threshold contributions are checked and summed (null: here).</param>
    public FederationCoordinator(FederationSettings settings, byte[] federationId, ILogger? logger = null, Func<double[], double[], double[], double>? score = null, IFederationStore? store = null,
        IContributionAggregator? aggregator = null)
    {
        _store = store;
        Plan = new FederationPlan(settings);
        _aggregator = aggregator ?? new LocalContributionAggregator(Plan);
        ArgumentNullException.ThrowIfNull(federationId);
        if (federationId.Length != 32) throw new ArgumentException("A federation id is a SHA-256.", nameof(federationId));
        FederationId = (byte[])federationId.Clone();
        _slots = Enumerable.Range(0, settings.Participants).Select(_ => new Slot()).ToArray();
        _log = logger ?? NullLogger.Instance;
        _score = score;
    }

    /// <summary>The plan.</summary>
    public FederationPlan Plan { get; }
    /// <summary>The federation's id.</summary>
    public byte[] FederationId { get; }
    private FederationSettings Settings => Plan.Settings;

    /// <summary>The participant whose TLS key has <paramref name="pin"/>, or null.</summary>
    public int? ParticipantOf(string? pin) => MemberOf(Settings, pin);

    /// <summary>The member of <paramref name="settings"/> whose TLS key has <paramref name="pin"/>, or null.</summary>
    public static int? MemberOf(FederationSettings settings, string? pin)
    {
        ArgumentNullException.ThrowIfNull(settings);
        if (pin is null) return null;
        for (int i = 0; i < settings.Members.Count; i++)
            if (CryptographicOperations.FixedTimeEquals(System.Text.Encoding.ASCII.GetBytes(settings.Members[i].CertificatePin), System.Text.Encoding.ASCII.GetBytes(pin))) return i;
        return null;
    }

    /// <inheritdoc/>
    public Task<Receipt> SubmitAsync(int participant, Submission submission, CancellationToken cancellation) => Task.FromResult(Submit(participant, submission));

    /// <summary>The participant's current work, waiting up to <paramref name="wait"/> for some.</summary>
    public async Task<Work> PollAsync(int participant, ReadOnlyMemory<byte> federation, TimeSpan wait, CancellationToken cancellation)
    {
        CheckCaller(participant, federation.Span);
        var slot = _slots[participant];
        var until = DateTime.UtcNow + wait;
        while (true)
        {
            Task changed;
            lock (_gate)
            {
                slot.LastSeen = DateTime.UtcNow;
                if (slot.Work is { } work)
                {
                    slot.Delivered = true;
                    slot.Bytes += slot.WorkBytes;
                    return work;
                }
                if (_finished && _finishedWork is { } done) return done;
                changed = slot.Changed.Task;
            }
            var left = until - DateTime.UtcNow;
            if (left <= TimeSpan.Zero) return new Work { Kind = WorkKind.Wait };
            await Task.WhenAny(changed, Task.Delay(left, cancellation)).ConfigureAwait(false);
            cancellation.ThrowIfCancellationRequested();
        }
    }

    /// <summary>Takes a participant's result for its current step.</summary>
    /// <exception cref="FederationProtocolException">Another federation (PermissionDenied), not the step it holds (FailedPrecondition), or a malformed payload (InvalidArgument).</exception>
    public Receipt Submit(int participant, Submission submission)
    {
        ArgumentNullException.ThrowIfNull(submission);
        CheckCaller(participant, submission.Federation.Span);
        var slot = _slots[participant];
        Func<Submission, object> validate;
        ulong step;
        lock (_gate)
        {
            slot.LastSeen = DateTime.UtcNow;
            if (slot.Work is null || slot.Work.Step != submission.Step)
                throw Refuse(participant, new FederationProtocolException(StatusCode.FailedPrecondition, $"Step {submission.Step} is not the work participant {participant} holds: a replayed, late or out-of-order message."));
            if (submission.Kind != slot.Work.Kind)
                throw Refuse(participant, FederationProtocolException.Invalid($"Step {submission.Step} asked for {slot.Work.Kind}, not {submission.Kind}."));
            if (slot.Validating) throw Refuse(participant, new FederationProtocolException(StatusCode.ResourceExhausted, $"A submission for step {submission.Step} is already being checked."));
            slot.Validating = true;
            validate = slot.Validate!;
            step = slot.Work.Step;
        }
        object result;
        try { result = validate(submission); }
        catch (Exception e) when (e is VeilFormatException or ShareMismatchException or ArgumentException or FederationProtocolException or System.Security.Cryptography.CryptographicException)
        {
            throw Refuse(participant, e as FederationProtocolException ?? FederationProtocolException.Invalid($"Step {step}: {e.Message}"));
        }
        finally { lock (_gate) slot.Validating = false; }
        lock (_gate)
        {
            if (slot.Work?.Step != step) throw Refuse(participant, new FederationProtocolException(StatusCode.FailedPrecondition, $"Step {step} was withdrawn while it was checked (its phase ended)."));
            slot.Bytes += submission.CalculateSize();
            var tcs = slot.Result!;
            slot.Work = null; slot.Validate = null; slot.Result = null;
            tcs.TrySetResult(result);
        }
        return new Receipt { Accepted = true, Message = $"step {step} taken" };
    }

    private void CheckCaller(int participant, ReadOnlySpan<byte> federation)
    {
        if (participant < 0 || participant >= _slots.Length) throw new FederationProtocolException(StatusCode.PermissionDenied, "Not a member of this federation.");
        if (!CryptographicOperations.FixedTimeEquals(federation, FederationId))
            throw Refuse(participant, new FederationProtocolException(StatusCode.PermissionDenied, "The message names another federation (its federation file differs from the coordinator's)."));
    }

    private FederationProtocolException Refuse(int participant, FederationProtocolException e)
    {
        _log.LogWarning("Refused participant {Participant} ({Name}): {Status} {Message}", participant, Settings.Members[participant].Name, e.Status, e.Message);
        return e;
    }

    /// <summary>Runs the federation to its end: key generation, pooled statistics, least squares (linear models), the rounds.</summary>
    /// <exception cref="FederationFailedException">Key generation missed a participant.</exception>
    /// <param name="progress">Each completed sum.</param>
    /// <param name="beforeRound">Awaited before each training round (a demo restarts killed participants there).</param>
    /// <param name="cancellation">Stops the run.</param>
    public async Task<FederationOutcome> RunAsync(IProgress<RoundReport>? progress = null, CancellationToken cancellation = default, Func<int, CancellationToken, Task>? beforeRound = null)
    {
        var reports = new List<RoundReport>();
        var keygenTimeout = TimeSpan.FromSeconds(Math.Max(10 * Settings.PhaseTimeoutSeconds, 120));
        var all = Enumerable.Range(0, Settings.Participants).ToArray();
        PublicKey? publicKey = null;
        double[] stats, means, scales, theta;
        double[]? leastSquares = null;
        RdpAccountant? accountant = Settings.Privacy is null ? null : new RdpAccountant();
        int firstRound = 1;
        byte[] sessionBytes = [], publicKeyBytes = [];
        var checkpoint = _store?.Load(FederationId);
        if (checkpoint is not null && checkpoint.Session.Length > 0 && Settings.Aggregation == AggregationMode.Threshold)
        {
            // The session outlives the coordinator (saved before any key-share work went out), so a restart during key
            // generation asks again under the same one and the participants re-send the shares they made.
            var (session, _) = MultipartySerializer.LoadSession(checkpoint.Session);
            if (session.Parties != Settings.Participants || session.Label != SessionLabel(Settings, FederationId))
                throw new FederationFailedException("The stored collective key belongs to another federation.");
            _session = session;
            _dealingRound = ThresholdParty.DealingRoundId(session, Settings.Threshold, FederationParticipant.DealingRound);
            sessionBytes = checkpoint.Session;
        }
        if (checkpoint is not null && checkpoint.PublicKey.Length > 0)
        {
            if (Settings.Aggregation == AggregationMode.Threshold) publicKey = RlweSerializer.LoadPublicKey(checkpoint.PublicKey, Plan.Parameters.Ring);
            if (Settings.Aggregation == AggregationMode.Paillier) _paillier = Veil.Paillier.PaillierSerializer.LoadPublicKey(checkpoint.PublicKey);
            publicKeyBytes = checkpoint.PublicKey;
        }
        if (checkpoint is not null && checkpoint.Statistics.Length > 0)
        {
            // A restart after setup: training goes on after the last completed round.
            stats = checkpoint.Statistics;
            leastSquares = checkpoint.LeastSquares;
            theta = checkpoint.Model;
            if (stats.Length != 2 * (Settings.Features + 1) || theta.Length != Plan.ParameterCount) throw new FederationFailedException("The stored checkpoint does not fit the federation's model.");
            if (accountant is not null)
            {
                accountant = RdpAccountant.Restore(accountant.Orders, checkpoint.Rdp ?? [], checkpoint.Steps);
                // The coordinator may have been lost after the next round's sum was decrypted and before its checkpoint, and
                // that round is now run again: its first release is counted, so ε stays an upper bound.
                if (checkpoint.Stop is null && checkpoint.Round < Settings.Rounds) accountant.Step(Settings.Privacy!.NoiseMultiplier, 1);
            }
            reports.AddRange(checkpoint.Reports);
            firstRound = checkpoint.Round + 1;
            if (checkpoint.Stop is null)
            {
                _log.LogInformation("Resuming after round {Round}", checkpoint.Round);
                await AwaitReconnectAsync(cancellation).ConfigureAwait(false);
            }
        }
        else
        {
            if (checkpoint is not null) _log.LogInformation("Resuming the setup ({Step})", publicKeyBytes.Length > 0 ? "key ready" : "key generation");
            if (Settings.Aggregation == AggregationMode.Threshold && publicKey is null)
            {
                publicKey = await KeyGenerationAsync(all, keygenTimeout, cancellation).ConfigureAwait(false);
                sessionBytes = MultipartySerializer.Save(_session!, Math.Log2(Plan.Parameters.DefaultScale));
                publicKeyBytes = RlweSerializer.Save(publicKey);
                _store?.Save(FederationId, new FederationCheckpoint(sessionBytes, publicKeyBytes, [], null, 0, [], null, 0, []));
            }
            else if (Settings.Aggregation != AggregationMode.Threshold)
            {
                await AwaitEveryoneAsync(keygenTimeout, cancellation).ConfigureAwait(false);
                if (Settings.Aggregation == AggregationMode.Paillier && _paillier is null)
                {
                    publicKeyBytes = await PaillierSetupAsync(all, keygenTimeout, cancellation).ConfigureAwait(false);
                    _store?.Save(FederationId, new FederationCheckpoint([], publicKeyBytes, [], null, 0, [], null, 0, []));
                }
            }
            else await AwaitReconnectAsync(cancellation).ConfigureAwait(false);

            var statistics = await SecureSumAsync("statistics", 0, Plan.StatisticsLength, null, null, publicKey, reports, progress, cancellation).ConfigureAwait(false)
                ?? throw new FederationFailedException($"Fewer than {Settings.Threshold} participants sent their statistics in {Settings.MaxAttempts} attempts.");
            (double[] Means, double[] Scales) pooled;
            try { pooled = FederationPlan.PooledStandardization(statistics, Settings.Features + 1); }
            catch (FederationProtocolException e) { throw new FederationFailedException($"The pooled statistics cannot be used: {e.Message}"); }
            stats = [.. pooled.Means, .. pooled.Scales];
            if (Settings.Model == FederatedModelKind.Linear)
            {
                var sums = await SecureSumAsync("least-squares", 0, Plan.LeastSquaresLength, null, stats, publicKey, reports, progress, cancellation).ConfigureAwait(false);
                try { if (sums is not null) leastSquares = FederationPlan.SolveLeastSquares(sums, Settings.Features); }
                catch (FederationProtocolException e) { _log.LogWarning("Least squares skipped: {Message}", e.Message); }
            }
            theta = LocalModels.Initial(Settings.Model, Settings.Features, Settings.Classes, Settings.Hidden, BitConverter.ToInt32(FederationId));
            _store?.Save(FederationId, new FederationCheckpoint(sessionBytes, publicKeyBytes, stats, leastSquares, 0, theta, accountant?.Rdp.ToArray(), 0, reports));
        }
        means = stats[..(Settings.Features + 1)];
        scales = stats[(Settings.Features + 1)..];

        // A federation that already ended (a coordinator started again after it) hands out its result and trains no further.
        string? ended = checkpoint?.Stop;
        string stop = ended ?? $"all {Settings.Rounds} rounds done";
        for (int round = firstRound; round <= Settings.Rounds && ended is null; round++)
        {
            if (beforeRound is not null) await beforeRound(round, cancellation).ConfigureAwait(false);
            if (accountant is not null && Settings.Privacy!.EpsilonBudget is { } budget)
            {
                var next = RdpAccountant.Restore(accountant.Orders, accountant.Rdp, accountant.Steps);
                next.Step(Settings.Privacy.NoiseMultiplier, 1);
                if (next.GetEpsilon(Settings.Privacy.Delta).Epsilon > budget) { stop = $"round {round} would take ε past the budget {budget}"; break; }
            }
            double[]? correction = null;
            double gradientSeconds = 0;
            if (Settings.Scaffold)
            {
                var gradient = await SecureSumAsync("gradient", round, Plan.UpdateLength, theta, stats, publicKey, reports, progress, cancellation).ConfigureAwait(false);
                if (gradient is null || !(gradient[^1] > 0.5)) { stop = $"round {round}: fewer than {Settings.Threshold} participants sent gradients in {Settings.MaxAttempts} attempts"; break; }
                correction = new double[theta.Length];
                for (int k = 0; k < theta.Length; k++) correction[k] = gradient[k] / gradient[^1];
                gradientSeconds = reports[^1].Seconds;
            }
            var sum = await SecureSumAsync("train", round, Plan.UpdateLength, theta, stats, publicKey, reports, progress, cancellation, accountant, means, scales, correction).ConfigureAwait(false);
            if (sum is null) { stop = $"round {round}: fewer than {Settings.Threshold} participants answered in {Settings.MaxAttempts} attempts"; break; }
            // A round's time includes its gradient sum.
            if (gradientSeconds > 0 && reports[^1] is { Purpose: "train" } timed) reports[^1] = timed with { Seconds = timed.Seconds + gradientSeconds };
            double weight = sum[^1];
            if (!(weight > 0.5)) { stop = $"round {round}: the summed weight is {weight}"; break; }
            for (int k = 0; k < theta.Length; k++) theta[k] += sum[k] / weight;
            if (reports[^1] is var last && last.Purpose == "train")
                reports[^1] = last with { Score = _score?.Invoke(theta, means, scales), Epsilon = accountant?.GetEpsilon(Settings.Privacy!.Delta).Epsilon };
            _store?.Save(FederationId, new FederationCheckpoint(sessionBytes, publicKeyBytes, stats, leastSquares, round, theta, accountant?.Rdp.ToArray(), accountant?.Steps ?? 0, reports));
            progress?.Report(reports[^1]);
        }

        if (ended is null)
            _store?.Save(FederationId, new FederationCheckpoint(sessionBytes, publicKeyBytes, stats, leastSquares, reports.LastOrDefault(r => r.Purpose == "train")?.Round ?? 0, theta,
                accountant?.Rdp.ToArray(), accountant?.Steps ?? 0, reports, stop));
        lock (_gate)
        {
            _finished = true;
            _finishedWork = new Work { Kind = WorkKind.Finished, Message = stop };
            _finishedWork.Model.Add(theta);
            _finishedWork.Statistics.Add(stats);
            foreach (var s in _slots) { s.Work = null; s.Signal(); }
        }
        return new FederationOutcome(theta, means, scales, leastSquares, reports,
            accountant?.GetEpsilon(Settings.Privacy!.Delta).Epsilon, stop, _slots.Select(s => s.Bytes).ToArray());
    }

    /// <summary>Whether <paramref name="participant"/> has taken work it has not answered yet (it is in the middle of a step).</summary>
    public bool HoldsWork(int participant)
    {
        lock (_gate) return _slots[participant] is { Work: not null, Delivered: true };
    }

    /// <summary>Waits until <paramref name="participant"/> has polled after <paramref name="since"/>; false on timeout.</summary>
    public async Task<bool> WaitUntilSeenAsync(int participant, DateTime since, TimeSpan timeout, CancellationToken cancellation = default)
    {
        var until = DateTime.UtcNow + timeout;
        while (DateTime.UtcNow < until)
        {
            lock (_gate) if (_slots[participant].LastSeen > since) return true;
            await Task.Delay(50, cancellation).ConfigureAwait(false);
        }
        return false;
    }

    // Before a retry: until t participants are live again, or one phase's time.
    private async Task AwaitLiveAsync(CancellationToken cancellation)
    {
        var until = DateTime.UtcNow + TimeSpan.FromSeconds(Settings.PhaseTimeoutSeconds);
        while (DateTime.UtcNow < until)
        {
            lock (_gate) if (_slots.Count(s => DateTime.UtcNow - s.LastSeen < Liveness) >= Settings.Threshold) return;
            await Task.Delay(50, cancellation).ConfigureAwait(false);
        }
    }

    // After a restart nobody has polled yet: wait for everyone, or for t and one phase's time for the rest.
    private async Task AwaitReconnectAsync(CancellationToken cancellation)
    {
        var start = DateTime.UtcNow;
        var limit = TimeSpan.FromSeconds(Math.Max(10 * Settings.PhaseTimeoutSeconds, 120));
        while (DateTime.UtcNow - start < limit)
        {
            int seen;
            lock (_gate) seen = _slots.Count(s => s.LastSeen != DateTime.MinValue);
            if (seen == _slots.Length || seen >= Settings.Threshold && DateTime.UtcNow - start > TimeSpan.FromSeconds(Settings.PhaseTimeoutSeconds)) return;
            await Task.Delay(50, cancellation).ConfigureAwait(false);
        }
    }

    // Without key generation nothing else makes the first sum wait for participants still starting.
    private async Task AwaitEveryoneAsync(TimeSpan timeout, CancellationToken cancellation)
    {
        var until = DateTime.UtcNow + timeout;
        while (DateTime.UtcNow < until)
        {
            lock (_gate) if (_slots.All(s => s.LastSeen != DateTime.MinValue)) return;
            await Task.Delay(50, cancellation).ConfigureAwait(false);
        }
    }

    private async Task<PublicKey> KeyGenerationAsync(int[] all, TimeSpan timeout, CancellationToken cancellation)
    {
        var session = _session;
        if (session is null)
        {
            session = new MultipartySession(Plan.Parameters.Ring, RandomNumberGenerator.GetBytes(32), Settings.Participants, SessionLabel(Settings, FederationId));
            _session = session;
            _dealingRound = ThresholdParty.DealingRoundId(session, Settings.Threshold, FederationParticipant.DealingRound);
            // On disk before any share is asked for: a coordinator restarted now asks again under the same session.
            _store?.Save(FederationId, new FederationCheckpoint(MultipartySerializer.Save(session, Math.Log2(Plan.Parameters.DefaultScale)), [], [], null, 0, [], null, 0, []));
        }
        var sessionBytes = ByteString.CopyFrom(MultipartySerializer.Save(session, Math.Log2(Plan.Parameters.DefaultScale)));
        int maxDealing = 64 * 1024 + 2 * Plan.Parameters.N * 8 * Plan.Parameters.Ring.Ring.Moduli.Count;
        var shares = await PhaseAsync(all, i => new Work { Kind = WorkKind.KeyShare, Session = sessionBytes }, (i, s) =>
        {
            var share = MultipartySerializer.LoadPublicKeyShare(s.KeyShare.Span, session);
            if (share.Party != i) throw FederationProtocolException.Invalid($"The public-key share is party {share.Party}'s, not {i}'s.");
            if (s.Dealings.Count != Settings.Participants || s.Dealings.Any(d => d.Length == 0 || d.Length > maxDealing))
                throw FederationProtocolException.Invalid($"Expected {Settings.Participants} sealed dealings of at most {maxDealing} bytes.");
            return (share, s.Dealings.ToArray());
        }, timeout, waitForAll: true, cancellation).ConfigureAwait(false);
        if (shares.Count < all.Length)
            throw new FederationFailedException($"Key generation is n of n, and participants {string.Join(", ", all.Where(i => !shares.ContainsKey(i)))} sent no key share within {timeout.TotalSeconds:F0} s.");
        var pk = Collective.PublicKey(session, shares.Values.Select(v => v.share).ToList());
        var pkBytes = ByteString.CopyFrom(RlweSerializer.Save(pk));
        var acks = await PhaseAsync(all, j =>
        {
            var w = new Work { Kind = WorkKind.Dealings, PublicKey = pkBytes, Session = sessionBytes };
            foreach (int i in all) w.Dealings.Add(shares[i].Item2[j]);
            return w;
        }, (i, s) => true, timeout, waitForAll: true, cancellation).ConfigureAwait(false);
        if (acks.Count < all.Length)
            throw new FederationFailedException($"Participants {string.Join(", ", all.Where(i => !acks.ContainsKey(i)))} did not take their dealings within {timeout.TotalSeconds:F0} s.");
        _log.LogInformation("Collective key ready: {Parties} parties, threshold {Threshold}", Settings.Participants, Settings.Threshold);
        return pk;
    }

    // The key authority (participant 0) makes the Paillier key; everyone is then given its public key.
    private async Task<byte[]> PaillierSetupAsync(int[] all, TimeSpan timeout, CancellationToken cancellation)
    {
        var key = await PhaseAsync([0], i => new Work { Kind = WorkKind.KeyShare, Purpose = "paillier" }, (i, s) =>
        {
            var pk = Veil.Paillier.PaillierSerializer.LoadPublicKey(s.KeyShare.Span); // below 3072 bits refused by the loader's 128-bit check
            return (pk, s.KeyShare.ToByteArray());
        }, timeout, waitForAll: true, cancellation).ConfigureAwait(false);
        if (!key.TryGetValue(0, out var k)) throw new FederationFailedException("The key authority (participant 0) sent no Paillier public key.");
        _paillier = k.pk;
        var bytes = ByteString.CopyFrom(k.Item2);
        var acks = await PhaseAsync(all, j => new Work { Kind = WorkKind.Dealings, PublicKey = bytes, Purpose = "paillier" }, (i, s) => true, timeout, waitForAll: true, cancellation).ConfigureAwait(false);
        if (acks.Count < all.Length) throw new FederationFailedException($"Participants {string.Join(", ", all.Where(i => !acks.ContainsKey(i)))} did not take the Paillier public key.");
        return k.Item2;
    }

    /// <summary>The collective key's label: the federation's name and id.</summary>
    public static string SessionLabel(FederationSettings settings, byte[] federationId) => $"{settings.Name[..Math.Min(settings.Name.Length, 150)]}/{Convert.ToHexStringLower(federationId)}";

    private async Task<double[]?> SecureSumAsync(string purpose, int round, int length, double[]? model, double[]? statistics, PublicKey? publicKey,
        List<RoundReport> reports, IProgress<RoundReport>? progress, CancellationToken cancellation, RdpAccountant? accountant = null, double[]? means = null, double[]? scales = null, double[]? correction = null)
    {
        var timeout = TimeSpan.FromSeconds(Settings.PhaseTimeoutSeconds);
        var all = Enumerable.Range(0, Settings.Participants).ToArray();
        var clock = Stopwatch.StartNew();
        for (int attempt = 1; attempt <= Settings.MaxAttempts; attempt++)
        {
            if (attempt > 1) await AwaitLiveAsync(cancellation).ConfigureAwait(false);
            var contributions = await PhaseAsync(all, i =>
            {
                var w = new Work { Kind = WorkKind.Aggregate, Round = (uint)round, Purpose = purpose };
                if (model is not null) w.Model.Add(model);
                if (statistics is not null) w.Statistics.Add(statistics);
                if (correction is not null) w.Correction.Add(correction);
                return w;
            }, (i, s) => Settings.Aggregation switch
            {
                AggregationMode.Plaintext => PlainContribution(s, length),
                AggregationMode.Paillier => PaillierAggregation.Load(_paillier!, s.Ciphertexts.Select(c => c.ToByteArray()).ToList(), length),
                _ => _aggregator.Load(i, s, length),
            }, timeout, waitForAll: false, cancellation).ConfigureAwait(false);
            var contributors = contributions.Keys.Order().ToArray();
            if (contributors.Length < Settings.Threshold)
            {
                _log.LogWarning("{Purpose} round {Round}, attempt {Attempt}: {Count} of {Participants} answered, below the threshold {Threshold}; retrying",
                    purpose, round, attempt, contributors.Length, Settings.Participants, Settings.Threshold);
                continue;
            }
            if (Settings.Aggregation == AggregationMode.Paillier)
            {
                var summed = PaillierAggregation.Sum(contributions.Values.Cast<Veil.Paillier.PaillierCiphertext[]>());
                var decrypted = await PhaseAsync([0], i =>
                {
                    var w = new Work { Kind = WorkKind.Decrypt, Round = (uint)round, Purpose = purpose };
                    w.Ciphertexts.Add(summed.Select(c => ByteString.CopyFrom(Veil.Paillier.PaillierSerializer.Save(c))));
                    w.Active.Add(contributors.Select(x => (uint)x));
                    return w;
                }, (i, s) => PlainContribution(s, length), timeout, waitForAll: false, cancellation).ConfigureAwait(false);
                if (!decrypted.TryGetValue(0, out var values))
                {
                    _log.LogWarning("{Purpose} round {Round}: the key authority did not decrypt; retrying", purpose, round);
                    continue;
                }
                Record(new RoundReport(purpose, round, attempt, contributors, [0], clock.Elapsed.TotalSeconds, null, null));
                if (accountant is not null) accountant.Step(Settings.Privacy!.NoiseMultiplier, 1);
                return values;
            }
            if (Settings.Aggregation == AggregationMode.Plaintext)
            {
                var plain = new double[length];
                foreach (var v in contributions.Values.Cast<double[]>()) for (int k = 0; k < length; k++) plain[k] += v[k];
                Record(new RoundReport(purpose, round, attempt, contributors, [], clock.Elapsed.TotalSeconds, null, null));
                if (accountant is not null) accountant.Step(Settings.Privacy!.NoiseMultiplier, 1);
                return plain;
            }
            var added = await _aggregator.SumAsync(contributions, cancellation).ConfigureAwait(false);
            if (added.Contributors.Count < contributors.Length)
            {
                _log.LogWarning("{Purpose} round {Round}, attempt {Attempt}: the contributions of {Lost} were lost where they were kept",
                    purpose, round, attempt, string.Join(", ", contributors.Except(added.Contributors)));
                contributors = [.. added.Contributors];
            }
            if (added.Sum is null || contributors.Length < Settings.Threshold)
            {
                _log.LogWarning("{Purpose} round {Round}, attempt {Attempt}: {Count} contributions left, below the threshold {Threshold}; retrying", purpose, round, attempt, contributors.Length, Settings.Threshold);
                continue;
            }
            var aggregate = added.Sum;
            var aggregateBytes = aggregate.Select(c => ByteString.CopyFrom(RlweSerializer.Save(c))).ToArray();
            var digests = aggregate.Select(ShareDigests.Ciphertext).ToArray();
            var candidates = contributors.OrderByDescending(i => _slots[i].LastSeen).ToList();
            while (candidates.Count >= Settings.Threshold)
            {
                var set = candidates.Take(Settings.Threshold).Order().ToArray();
                var shares = await PhaseAsync(set, i =>
                {
                    var w = new Work { Kind = WorkKind.Decrypt, Round = (uint)round, Purpose = purpose };
                    w.Ciphertexts.Add(aggregateBytes);
                    w.Active.Add(set.Select(x => (uint)x));
                    return w;
                }, (i, s) => LoadShares(i, s, set, digests), timeout, waitForAll: false, cancellation).ConfigureAwait(false);
                if (shares.Count == set.Length)
                {
                    var plaintexts = new List<Plaintext>();
                    try
                    {
                        for (int c = 0; c < aggregate.Length; c++)
                            plaintexts.Add(Collective.DecryptThreshold(_session!, aggregate[c], set.Select(i => shares[i][c]).ToList()));
                    }
                    catch (Exception e) when (e is ShareMismatchException or ThresholdNotMetException or ArgumentException or InvalidOperationException)
                    {
                        // Every share passed its own checks, so the set disagrees as a whole: try the round again rather than stop.
                        _log.LogWarning("{Purpose} round {Round}: the shares of [{Set}] did not combine ({Message}); retrying", purpose, round, string.Join(", ", set), e.Message);
                        break;
                    }
                    Record(new RoundReport(purpose, round, attempt, contributors, set, clock.Elapsed.TotalSeconds, null, null));
                    if (accountant is not null) accountant.Step(Settings.Privacy!.NoiseMultiplier, 1);
                    return Plan.Decode(plaintexts, length);
                }
                var missing = set.Where(i => !shares.ContainsKey(i)).ToArray();
                _log.LogWarning("{Purpose} round {Round}: participants {Missing} sent no decryption share; asking others", purpose, round, string.Join(", ", missing));
                candidates.RemoveAll(missing.Contains);
            }
            _log.LogWarning("{Purpose} round {Round}, attempt {Attempt}: fewer than {Threshold} decryptors left; retrying the round", purpose, round, attempt, Settings.Threshold);
        }
        return null;

        void Record(RoundReport report)
        {
            reports.Add(report);
            if (purpose != "train") progress?.Report(report);
        }
    }

    private double[] PlainContribution(Submission s, int length)
    {
        if (s.Values.Count != length) throw FederationProtocolException.Invalid($"Expected {length} values, got {s.Values.Count}.");
        var v = s.Values.ToArray();
        if (v.Any(x => !double.IsFinite(x) || Math.Abs(x) >= Plan.MaxValue * Settings.Participants)) throw FederationProtocolException.Invalid("A value is not finite or too large.");
        return v;
    }

    private ThresholdDecryptionShare[] LoadShares(int participant, Submission s, int[] set, byte[][] digests)
    {
        if (s.Shares.Count != digests.Length) throw FederationProtocolException.Invalid($"Expected {digests.Length} decryption shares, got {s.Shares.Count}.");
        var result = new ThresholdDecryptionShare[digests.Length];
        for (int c = 0; c < result.Length; c++)
        {
            var share = MultipartySerializer.LoadThresholdDecryptionShare(s.Shares[c].Span, _session!);
            if (share.Party != participant) throw FederationProtocolException.Invalid($"Decryption share {c} is party {share.Party}'s, not {participant}'s.");
            if (!share.Active.SequenceEqual(set)) throw FederationProtocolException.Invalid($"Decryption share {c} names another set of decryptors.");
            if (!share.CiphertextDigest.AsSpan().SequenceEqual(digests[c])) throw FederationProtocolException.Invalid($"Decryption share {c} is for another ciphertext than this round's sum.");
            if (share.Threshold != Settings.Threshold || !share.RoundId.AsSpan().SequenceEqual(_dealingRound)) throw FederationProtocolException.Invalid($"Decryption share {c} comes from another dealing (threshold {share.Threshold}).");
            if (share.Level != Plan.Parameters.MaxLevel) throw FederationProtocolException.Invalid($"Decryption share {c} is at level {share.Level}, not the sum's.");
            result[c] = share;
        }
        return result;
    }

    // Hands work to each of `who`, and gathers what comes back until all have answered, or (waitForAll false) all
    // still awaited have, or the deadline passes; unanswered work is withdrawn so that a late answer is refused.
    private async Task<Dictionary<int, T>> PhaseAsync<T>(IReadOnlyList<int> who, Func<int, Work> make, Func<int, Submission, T> validate, TimeSpan timeout, bool waitForAll, CancellationToken cancellation)
    {
        var tasks = new Dictionary<int, (ulong Step, Task<object> Result)>();
        lock (_gate)
        {
            foreach (int i in who)
            {
                var work = make(i);
                work.Step = _nextStep++;
                var slot = _slots[i];
                int participant = i;
                slot.Work = work;
                slot.WorkBytes = work.CalculateSize();
                slot.Validate = s => validate(participant, s)!;
                slot.Result = new TaskCompletionSource<object>(TaskCreationOptions.RunContinuationsAsynchronously);
                slot.Delivered = false;
                tasks[i] = (work.Step, slot.Result.Task);
                slot.Signal();
            }
        }
        var deadline = DateTime.UtcNow + timeout;
        while (true)
        {
            var pending = tasks.Where(t => !t.Value.Result.IsCompleted).Select(t => t.Key).ToArray();
            if (pending.Length == 0) break;
            if (DateTime.UtcNow >= deadline) break;
            if (!waitForAll)
            {
                bool anyAwaited;
                lock (_gate) anyAwaited = pending.Any(i => _slots[i].Delivered || DateTime.UtcNow - _slots[i].LastSeen < Liveness);
                if (!anyAwaited) break;
            }
            await Task.WhenAny(pending.Select(i => (Task)tasks[i].Result).Append(Task.Delay(200, cancellation))).ConfigureAwait(false);
            cancellation.ThrowIfCancellationRequested();
        }
        var results = new Dictionary<int, T>();
        lock (_gate)
        {
            foreach (var (i, (step, result)) in tasks)
            {
                if (result.IsCompletedSuccessfully) { results[i] = (T)result.Result; continue; }
                var slot = _slots[i];
                if (slot.Work?.Step == step) { slot.Work = null; slot.Validate = null; slot.Result = null; }
                _log.LogWarning("Participant {Participant} ({Name}) did not answer step {Step} ({Kind}) in time", i, Settings.Members[i].Name, step, "work");
            }
        }
        return results;
    }

    private sealed class Slot
    {
        public Work? Work;
        public Func<Submission, object>? Validate;
        public TaskCompletionSource<object>? Result;
        public bool Delivered;
        public bool Validating;
        public int WorkBytes;
        public DateTime LastSeen = DateTime.MinValue;
        public long Bytes;
        public TaskCompletionSource Changed = new(TaskCreationOptions.RunContinuationsAsynchronously);

        public void Signal()
        {
            var old = Changed;
            Changed = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
            old.TrySetResult();
        }
    }
}
