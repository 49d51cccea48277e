using Veil.Ckks;
using Veil.Rlwe;

namespace Veil.Circuits;

/// <summary>
/// What a computing party needs to bootstrap besides its evaluator's keys: the plan and the sparse-secret
/// encapsulation keys (public). Counts the bootstraps it runs, for reports.
/// </summary>
public sealed class BootstrapKit
{
    private int _count;

    /// <summary>Pairs a bootstrapper with its encapsulation keys (null when the secret is already sparse enough).</summary>
    public BootstrapKit(Bootstrapper bootstrapper, SparseSecretEncapsulation? encapsulation)
    {
        ArgumentNullException.ThrowIfNull(bootstrapper);
        Bootstrapper = bootstrapper;
        Encapsulation = encapsulation;
    }

    /// <summary>The bootstrap's plan.</summary>
    public Bootstrapper Bootstrapper { get; }

    /// <summary>The encapsulation keys.</summary>
    public SparseSecretEncapsulation? Encapsulation { get; }

    /// <summary>The level bootstrapped ciphertexts come back at.</summary>
    public int OutputLevel => Bootstrapper.OutputLevel;

    /// <summary>Bootstraps run so far.</summary>
    public int Count => Volatile.Read(ref _count);

    /// <summary>Bootstraps with the context's evaluator and encoder (a public context suffices).</summary>
    /// <exception cref="InvalidOperationException">A key is missing.</exception>
    public Ciphertext Bootstrap(CkksContext context, Ciphertext ct)
    {
        ArgumentNullException.ThrowIfNull(context);
        var result = Bootstrapper.Bootstrap(context.Evaluator, context.Encoder, ct, Encapsulation, out _);
        Interlocked.Increment(ref _count);
        return result;
    }

    /// <summary>
    /// The key owner's side: a context for <paramref name="parameters"/> with the rotations the computation needs and
    /// every key the bootstrap needs (its rotations, conjugation), and the kit with fresh encapsulation keys.
    /// </summary>
    public static (CkksContext Owner, BootstrapKit Kit) CreateOwner(CkksParameters parameters, BootstrappingParameters settings,
        IEnumerable<int> rotationSteps, ExecutionOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(parameters);
        ArgumentNullException.ThrowIfNull(settings);
        ArgumentNullException.ThrowIfNull(rotationSteps);
        var bootstrapper = new Bootstrapper(parameters, settings);
        var owner = CkksContext.Create(parameters, rotationSteps.Concat(bootstrapper.RequiredRotations), options: options, conjugation: true);
        try
        {
            return (owner, new BootstrapKit(bootstrapper, owner.CreateEncapsulation(settings.SecretHammingWeight)));
        }
        catch
        {
            owner.Dispose();
            throw;
        }
    }
}
