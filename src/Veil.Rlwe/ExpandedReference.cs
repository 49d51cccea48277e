using Veil.Arithmetic;
using Veil.Arithmetic.Sampling;

namespace Veil.Rlwe;

/// <summary>
/// The uniform polynomials a key expands from a public seed (the one a of a public key, or the a_i of a switching key,
/// in NTT form over Q·P), expanded once ahead of the secret-dependent work: a party can prepare them before it takes
/// part, and a round's timing then counts only what the secret takes (as Lattigo's common reference polynomials).
/// </summary>
/// <remarks>Public data: the same for every holder of the seed. Read-only after expansion: only read-only spans leave it.</remarks>
public sealed class ExpandedReference
{
    private readonly ulong[][] _polynomials;
    private readonly byte[] _seed;

    private ExpandedReference(RlweParameters parameters, byte[] seed, bool switching, ulong[][] polynomials)
    {
        Parameters = parameters;
        _seed = seed;
        IsSwitchingKey = switching;
        _polynomials = polynomials;
    }

    /// <summary>The parameters the polynomials belong to.</summary>
    public RlweParameters Parameters { get; }
    /// <summary>The seed they were expanded from.</summary>
    public ReadOnlyMemory<byte> Seed => _seed;
    /// <summary>True for a switching key's a_i (one per digit), false for a public key's a.</summary>
    public bool IsSwitchingKey { get; }
    /// <summary>How many polynomials: 1 for a public key, the digit count for a switching key.</summary>
    public int Count => _polynomials.Length;

    /// <summary>The a of a public key made from <paramref name="seedOfA"/> (<see cref="KeyGenerator.CreatePublicKey(ReadOnlySpan{byte})"/>'s).</summary>
    /// <exception cref="ArgumentException">The seed is not 32 bytes.</exception>
    public static ExpandedReference ForPublicKey(RlweParameters parameters, ReadOnlySpan<byte> seedOfA)
    {
        ArgumentNullException.ThrowIfNull(parameters);
        CheckSeed(seedOfA);
        var a = GC.AllocateUninitializedArray<ulong>(parameters.Ring.LimbCount * parameters.N); // every word sampled
        KeyGenerator.ExpandPublicA(parameters, seedOfA, a);
        return new ExpandedReference(parameters, seedOfA.ToArray(), false, [a]);
    }

    /// <summary>The a_i of a switching key made from <paramref name="seedOfA"/> (relinearization and Galois keys).</summary>
    /// <exception cref="ArgumentException">The seed is not 32 bytes.</exception>
    public static ExpandedReference ForSwitchingKey(RlweParameters parameters, ReadOnlySpan<byte> seedOfA)
    {
        ArgumentNullException.ThrowIfNull(parameters);
        CheckSeed(seedOfA);
        var a = new ulong[parameters.MaxDigitCount][];
        for (int i = 0; i < a.Length; i++)
        {
            a[i] = GC.AllocateUninitializedArray<ulong>(parameters.Ring.LimbCount * parameters.N);
            KeySwitchingKey.ExpandA(parameters, seedOfA, i, a[i]);
        }
        return new ExpandedReference(parameters, seedOfA.ToArray(), true, a);
    }

    /// <summary>Polynomial <paramref name="index"/> (NTT form over Q·P).</summary>
    public ReadOnlySpan<ulong> this[int index] => _polynomials[index];

    // A view for this assembly's key generation only: handed out, its writable Data would let a caller change the a of
    // every share made from this object while the seed check still passes.
    internal RnsPolynomial Polynomial(int index) => RnsPolynomial.Wrap(Parameters.N, Parameters.Ring.LimbCount, _polynomials[index]);

    /// <summary>Throws unless these are a switching key's (or a public key's) polynomials for <paramref name="parameters"/>, expanded from <paramref name="seed"/> when it is not empty.</summary>
    /// <exception cref="ArgumentException">Another kind, ring or seed.</exception>
    public void CheckFor(RlweParameters parameters, bool switchingKey, ReadOnlySpan<byte> seed, string paramName)
    {
        if (IsSwitchingKey != switchingKey)
            ThrowHelper.Argument(paramName, switchingKey ? "A switching key needs ExpandedReference.ForSwitchingKey, not a public key's a." : "A public key needs ExpandedReference.ForPublicKey, not a switching key's a_i.");
        if (!Parameters.SameRingAs(parameters)) ThrowHelper.Argument(paramName, "The reference polynomials belong to other parameters.");
        if (!seed.IsEmpty && !seed.SequenceEqual(_seed)) ThrowHelper.Argument(paramName, "The reference polynomials were expanded from another seed than this key's.");
    }

    private static void CheckSeed(ReadOnlySpan<byte> seed)
    {
        if (seed.Length != Prng.SeedSize) ThrowHelper.Argument(nameof(seed), $"A seed is {Prng.SeedSize} bytes; got {seed.Length}.");
    }
}
