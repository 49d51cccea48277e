using Veil.Arithmetic;

namespace Veil.Rlwe;

/// <summary>
/// A plaintext polynomial over the primes q_0 … q_level, with the scale its values were encoded at.
/// Stored in NTT form when <see cref="IsNttForm"/> (the CKKS default).
/// </summary>
public sealed class Plaintext
{
    /// <summary>The parameters the plaintext belongs to.</summary>
    public RlweParameters Parameters { get; }
    /// <summary>Level: primes q_0 … q_Level are present.</summary>
    public int Level { get; internal set; }
    /// <summary>Scale Δ the values were multiplied by.</summary>
    public double Scale { get; set; }
    /// <summary>Whether the limbs hold NTT evaluations rather than coefficients.</summary>
    public bool IsNttForm { get; internal set; }
    /// <summary>(Level + 1)·N words, limb-major.</summary>
    public ulong[] Data { get; private set; }

    /// <summary>A zero plaintext at the given level.</summary>
    /// <exception cref="ArgumentOutOfRangeException">The level is outside [0, L].</exception>
    public Plaintext(RlweParameters parameters, int level, double scale = 1.0, bool isNttForm = true)
    {
        ArgumentNullException.ThrowIfNull(parameters);
        if (level < 0 || level > parameters.MaxLevel) ThrowHelper.OutOfRange(nameof(level), $"Level must be in [0, {parameters.MaxLevel}]; got {level}.");
        Parameters = parameters;
        Level = level;
        Scale = scale;
        IsNttForm = isNttForm;
        Data = new ulong[(level + 1) * parameters.N];
    }

    /// <summary>Number of limbs (Level + 1).</summary>
    public int LimbCount => Level + 1;

    /// <summary>Limb i.</summary>
    public Span<ulong> Limb(int i) => Data.AsSpan(i * Parameters.N, Parameters.N);

    /// <summary>Changes the level, keeping the lower limbs (dropping primes never needs arithmetic in RNS).</summary>
    internal void Resize(int level)
    {
        if (level == Level) return;
        var data = new ulong[(level + 1) * Parameters.N];
        Data.AsSpan(0, Math.Min(data.Length, Data.Length)).CopyTo(data);
        Data = data;
        Level = level;
    }

    /// <summary>
    /// Sets level, scale and form before an encoder writes every limb: limbs above the level are dropped, none is
    /// transformed (the contents are to be overwritten).
    /// </summary>
    /// <exception cref="ArgumentOutOfRangeException">The level is outside [0, L].</exception>
    public void Reshape(int level, double scale, bool isNttForm)
    {
        if (level < 0 || level > Parameters.MaxLevel) ThrowHelper.OutOfRange(nameof(level), $"Level must be in [0, {Parameters.MaxLevel}]; got {level}.");
        Resize(level);
        Scale = scale;
        IsNttForm = isNttForm;
    }

    /// <summary>A deep copy.</summary>
    public Plaintext Clone()
    {
        var p = new Plaintext(Parameters, Level, Scale, IsNttForm);
        Data.AsSpan().CopyTo(p.Data);
        return p;
    }
}
