using Veil.Ckks;
using Veil.Circuits;
using Veil.Rlwe;

namespace Veil.Ml.Networks;

/// <summary>A layer's single-input evaluation, planned for one input layout and slot count.</summary>
public abstract class SingleInputStep
{
    private protected SingleInputStep(SlotLayout output, IReadOnlyList<int> rotations, (int Hoisted, int Plain) rotationCount, int plaintextProducts = 0)
    {
        Output = output;
        RequiredRotations = rotations;
        RotationCount = rotationCount;
        PlaintextProducts = plaintextProducts;
    }

    /// <summary>Products of the ciphertext by plaintext vectors per application (the diagonals of a linear step).</summary>
    public int PlaintextProducts { get; }

    /// <summary>Where the step leaves its result.</summary>
    public SlotLayout Output { get; }

    /// <summary>Rotation steps it uses: the server's Galois keys must cover them.</summary>
    public IReadOnlyList<int> RequiredRotations { get; }

    /// <summary>Rotations per application: hoisted baby steps and plain ones (giant steps and folds).</summary>
    public (int Hoisted, int Plain) RotationCount { get; }

    /// <summary>Applies the step to one ciphertext.</summary>
    /// <exception cref="InvalidOperationException">Too few levels left, or a rotation key is missing.</exception>
    public abstract Ciphertext Apply(CkksContext server, Ciphertext x);
}

/// <summary>y = M·x + b by diagonals over all slots (a fold after rectangular matrices), then the bias vector.</summary>
internal sealed class DiagonalStep(SlotLayout output, DiagonalTransform transform, int foldWidth, double[] bias, int slots)
    : SingleInputStep(output,
        [.. transform.RequiredRotations.Union(foldWidth > 0 ? DiagonalTransform.FoldRotations(foldWidth, slots) : []).Order()],
        (transform.RotationCount.Baby, transform.RotationCount.Giant + (foldWidth > 0 ? DiagonalTransform.FoldRotations(foldWidth, slots).Count : 0)), transform.DiagonalCount)
{
    public override Ciphertext Apply(CkksContext server, Ciphertext x)
    {
        var ev = server.Evaluator;
        var y = transform.Apply(ev, server.Encoder, x);
        if (foldWidth > 0) DiagonalTransform.Fold(ev, y, foldWidth);
        ev.AddValues(y, bias, server.Encoder, y);
        return y;
    }
}

/// <summary>y = M·x + b on a periodic packing (baby-step giant-step diagonal method), then the periodic bias.</summary>
internal sealed class PeriodicStep(SlotLayout output, LinearTransform transform, double[] bias)
    : SingleInputStep(output, transform.RequiredRotations, transform.RotationCount, transform.DiagonalCount)
{
    public override Ciphertext Apply(CkksContext server, Ciphertext x)
    {
        var ev = server.Evaluator;
        var y = transform.Apply(ev, server.Encoder, x);
        ev.AddValues(y, bias, server.Encoder, y);
        return y;
    }
}

/// <summary>A slot-wise function; the layout is kept.</summary>
internal sealed class SlotwiseStep(SlotLayout layout, Func<CkksContext, Ciphertext, Ciphertext> apply)
    : SingleInputStep(layout, [], (0, 0))
{
    public override Ciphertext Apply(CkksContext server, Ciphertext x) => apply(server, x);
}
