
namespace Veil.Rlwe;

/// <summary>
/// A plaintext together with its residues modulo the special primes P, so that it can multiply rotations kept over
/// Q·P (see <see cref="RlweEvaluator.MultiplyRotationsSum"/>). Immutable; build once per plaintext and reuse.
/// </summary>
public sealed class LiftedPlaintext
{
    /// <summary>Lifts <paramref name="plaintext"/> (NTT form): its centered integer coefficients reduced modulo P.</summary>
    /// <exception cref="ArgumentException">The plaintext is not in NTT form.</exception>
    public LiftedPlaintext(Plaintext plaintext)
    {
        ArgumentNullException.ThrowIfNull(plaintext);
        if (!plaintext.IsNttForm) throw new ArgumentException("The plaintext must be in NTT form.", nameof(plaintext));
        Plaintext = plaintext.Clone();
        var parameters = plaintext.Parameters;
        PLimbs = new ulong[parameters.PCount * parameters.N];
        KeySwitcher.LiftPlaintextToP(parameters, plaintext.Level, plaintext.Data, PLimbs);
    }

    /// <summary>The plaintext over Q (a private copy).</summary>
    public Plaintext Plaintext { get; }

    /// <summary>The residues modulo each special prime, NTT form, one limb after another.</summary>
    internal ulong[] PLimbs { get; }

    /// <summary>Level of the plaintext.</summary>
    public int Level => Plaintext.Level;

    /// <summary>Scale of the plaintext.</summary>
    public double Scale => Plaintext.Scale;
}
