using Veil.Ckks;
using Veil.Ml.Encrypted;
using Veil.Rlwe;
using Veil.Serialization;

namespace Veil.Ml.Serving;

/// <summary>
/// Encrypted training as a service: the computing side of <see cref="TwoPartyTraining"/> on bytes from a client — its
/// public context (checked: public, 128-bit, with a relinearization key) and its <see cref="TrainingJob"/> — answering
/// the encrypted weights (<see cref="EncryptedModelWeights"/>) that only the client can decrypt.
/// </summary>
public static class TrainingService
{
    /// <summary>Most gradient steps a job may ask for (each costs levels; the parameters bound them further).</summary>
    public const int MaxIterations = 64;

    /// <summary>A client's public context for training.</summary>
    /// <exception cref="ServingRequestException">Malformed keys, a secret key, parameters below 128 bits or no relinearization key.</exception>
    public static CkksContext LoadSession(ReadOnlySpan<byte> publicContext, SerializationLimits? limits = null, ExecutionOptions? options = null)
    {
        var context = ServedModel.LoadPublicContext(publicContext, limits, options);
        if (context.RelinearizationKey is null) throw new ServingRequestException("keys.relinearization", "Training multiplies ciphertexts: the keys need a relinearization key.");
        return context;
    }

    /// <summary>Every check <see cref="Train"/> makes before it computes.</summary>
    /// <exception cref="ServingRequestException">What is wrong with the job.</exception>
    public static void CheckJob(CkksContext session, ReadOnlySpan<byte> job, SerializationLimits? limits = null) => _ = Load(session, job, limits);

    /// <summary>The trainer's step on a client's job: the encrypted weights, saved.</summary>
    /// <exception cref="ServingRequestException">A malformed job, one of too many iterations, or parameters without the levels it needs.</exception>
    /// <exception cref="OperationCanceledException">The session's cancellation token was signalled.</exception>
    public static byte[] Train(CkksContext session, ReadOnlySpan<byte> job, SerializationLimits? limits = null)
    {
        var loaded = Load(session, job, limits);
        try { return TwoPartyTraining.Train(session, loaded).Save(); }
        catch (InvalidOperationException e) { throw new ServingRequestException("training.levels", e.Message); }
    }

    private static TrainingJob Load(CkksContext session, ReadOnlySpan<byte> job, SerializationLimits? limits)
    {
        ArgumentNullException.ThrowIfNull(session);
        TrainingJob loaded;
        try { loaded = TrainingJob.Load(session, job, limits); }
        catch (VeilFormatException e) { throw new ServingRequestException("training.job", $"The training job could not be loaded: {e.Message}"); }
        catch (ArgumentException e) { throw new ServingRequestException("training.job", $"The training job does not fit these keys: {e.Message}"); }
        if (loaded.Options.Iterations is < 1 or > MaxIterations)
            throw new ServingRequestException("training.iterations", $"A job runs 1 … {MaxIterations} iterations; this one asks for {loaded.Options.Iterations}.");
        int needed = loaded.Options.Iterations * EncryptedGradientDescent.DepthPerIteration(loaded.Kind == GradientModelKind.Logistic, loaded.Options);
        foreach (var c in loaded.Data.Features.Concat(loaded.Data.Targets))
        {
            if (c.KeyId != session.PublicKey.Id) throw new ServingRequestException("training.key", "A ciphertext of the job is not encrypted under this session's key.");
            if (!c.IsNttForm || c.Size != 2) throw new ServingRequestException("training.form", "The job's ciphertexts must be fresh (two polynomials, NTT form).");
            if (c.Level < needed) throw new ServingRequestException("training.levels", $"{loaded.Options.Iterations} iterations need {needed} levels; a ciphertext of the job has {c.Level}.");
        }
        var missing = TwoPartyTraining.RequiredRotations(loaded.Data.FeatureCount, session.Parameters.Slots)
            .Where(r => session.GaloisKeys is null || !session.GaloisKeys.Contains(GaloisElements.ForRotation(r, session.Parameters.Ring.N))).ToArray();
        if (missing.Length > 0) throw new ServingRequestException("keys.rotations", $"The session's keys lack the rotations {string.Join(", ", missing.Take(8))} that training on {loaded.Data.FeatureCount} features needs.");
        return loaded;
    }
}
