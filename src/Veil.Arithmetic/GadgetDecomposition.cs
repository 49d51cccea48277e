using System.Buffers;
using System.Collections.Concurrent;

namespace Veil.Arithmetic;

/// <summary>
/// The RNS gadget decomposition of hybrid key switching: a polynomial over Q_ℓ = q_0 … q_ℓ is split into digits of
/// <see cref="DigitSize"/> consecutive primes, and each digit is lifted exactly (basis extension) to the other primes of
/// Q_ℓ and to the special primes P, in NTT form. Schemes and protocols that switch keys share it.
/// </summary>
/// <remarks>
/// The ring holds Q then P: limbs [0, qCount) are Q, [qCount, qCount + pCount) are P. The output for level ℓ has
/// digits(ℓ) = ⌈(ℓ + 1)/DigitSize⌉ blocks of (ℓ + 1 + |P|)·N words, each laid out as its Q limbs then its P limbs;
/// digit d's own primes are copied, the others converted (Halevi–Polyakov–Shoup basis extension, exact), then every
/// converted limb goes back to NTT form. Converters are built once per (level, digit) and cached.
/// </remarks>
public sealed class GadgetDecomposition
{
    private readonly RnsRing _ring;
    private readonly ConcurrentDictionary<(int Level, int Digit), (BasisConverter Converter, int[] Targets)> _lifts = new();

    /// <summary>The ring over Q·P.</summary>
    public RnsRing Ring => _ring;
    /// <summary>Number of ciphertext primes |Q|.</summary>
    public int QCount { get; }
    /// <summary>Number of special primes |P|.</summary>
    public int PCount { get; }
    /// <summary>Primes per digit (|P|: a digit's product is at most P, which keeps key-switching noise small).</summary>
    public int DigitSize => PCount;

    /// <summary>A decomposition over a ring whose first <paramref name="qCount"/> limbs are Q and the rest P.</summary>
    /// <exception cref="ArgumentException">The counts do not fit the ring.</exception>
    public GadgetDecomposition(RnsRing ring, int qCount)
    {
        ArgumentNullException.ThrowIfNull(ring);
        if (qCount < 1 || qCount >= ring.LimbCount) ThrowHelper.Argument(nameof(qCount), $"Q needs at least one prime and P at least one: the ring has {ring.LimbCount} limbs, Q {qCount}.");
        _ring = ring;
        QCount = qCount;
        PCount = ring.LimbCount - qCount;
    }

    /// <summary>Number of digits at a level.</summary>
    public int DigitCount(int level) => (level + 1 + DigitSize - 1) / DigitSize;

    /// <summary>
    /// The converter lifting digit <paramref name="digit"/> at <paramref name="level"/> to the other primes of Q_level
    /// and to P, and the ring limb index of each of its targets.
    /// </summary>
    public (BasisConverter Converter, int[] Targets) Lift(int level, int digit) =>
        // Looked up first: the factory closes over this, so GetOrAdd alone would allocate a delegate on every call.
        _lifts.TryGetValue((level, digit), out var cached) ? cached : _lifts.GetOrAdd((level, digit), key =>
        {
            int start = key.Digit * DigitSize, end = Math.Min(start + DigitSize, key.Level + 1);
            var targets = Enumerable.Range(0, key.Level + 1).Where(j => j < start || j >= end)
                .Concat(Enumerable.Range(QCount, PCount)).ToArray();
            var from = Enumerable.Range(start, end - start).Select(j => _ring.Moduli[j]).ToArray();
            var to = targets.Select(j => _ring.Moduli[j]).ToArray();
            return (new BasisConverter(from, to), targets);
        });

    /// <summary>
    /// Decomposes <paramref name="input"/> (NTT form over Q_level) into a buffer rented from the shared pool, which the
    /// caller returns: digits(level) blocks of (level + 1 + |P|)·N words.
    /// </summary>
    /// <exception cref="ArgumentOutOfRangeException">The level is outside [0, |Q| − 1].</exception>
    /// <exception cref="ArgumentException">The input is shorter than the level requires.</exception>
    public ulong[] DecomposeRented(int level, ReadOnlySpan<ulong> input, int maxDegreeOfParallelism)
    {
        if (level < 0 || level >= QCount) ThrowHelper.OutOfRange(nameof(level), $"Level must be in [0, {QCount - 1}].");
        int n = _ring.N, qLimbs = level + 1;
        if (input.Length < qLimbs * n) ThrowHelper.Argument(nameof(input), "The input is shorter than the level requires.");
        int extLimbs = qLimbs + PCount, digits = DigitCount(level);
        var pool = ArrayPool<ulong>.Shared;
        ulong[] source = pool.Rent(qLimbs * n), coeff = pool.Rent(qLimbs * n), ext = pool.Rent(digits * extLimbs * n);
        try
        {
            input[..(qLimbs * n)].CopyTo(source);
            // 1. Coefficient form of every limb (needed by the basis conversion).
            Parallelism.For(qLimbs, maxDegreeOfParallelism, new InverseLimbs(_ring, source, coeff, n));
            // 2. Per digit: its own limbs copied, each other limb converted straight into place and, when there are at
            // least as many digits as threads, transformed while it is still in cache.
            bool fused = digits >= maxDegreeOfParallelism;
            Parallelism.For(digits, maxDegreeOfParallelism, new LiftDigit(this, level, source, coeff, ext, transform: fused));
            // 3. Otherwise the forward NTTs split by (digit, target) pair, so that more threads than digits share them;
            // task k is digit k / extLimbs, target k % extLimbs (if any).
            if (!fused) Parallelism.For(digits * extLimbs, maxDegreeOfParallelism, new ForwardTargets(this, level, ext));
            return ext;
        }
        catch
        {
            pool.Return(ext);
            throw;
        }
        finally
        {
            pool.Return(source); pool.Return(coeff);
        }
    }

    private readonly struct InverseLimbs(RnsRing ring, ulong[] source, ulong[] coeff, int n) : IParallelBody
    {
        public void Invoke(int j)
        {
            var limb = coeff.AsSpan(j * n, n);
            source.AsSpan(j * n, n).CopyTo(limb);
            ring.Ntt[j].Inverse(limb);
        }
    }

    /// <summary>
    /// Digit d: its own limbs copied, each other limb converted straight into place from the digit's coefficients, and,
    /// with <paramref name="transform"/>, brought to NTT form while it is still in cache (else a later pass does it).
    /// </summary>
    private readonly struct LiftDigit(GadgetDecomposition gadget, int level, ulong[] source, ulong[] coeff, ulong[] ext, bool transform) : IParallelBody
    {
        public void Invoke(int d)
        {
            int n = gadget._ring.N, qLimbs = level + 1, pStart = gadget.QCount, extLimbs = qLimbs + gadget.PCount;
            int start = d * gadget.DigitSize, end = Math.Min(start + gadget.DigitSize, qLimbs);
            var (converter, targets) = gadget.Lift(level, d);
            var extD = ext.AsSpan(d * extLimbs * n, extLimbs * n);
            source.AsSpan(start * n, (end - start) * n).CopyTo(extD.Slice(start * n));
            var digitCoefficients = coeff.AsSpan(start * n, (end - start) * n);
            var scratch = ArrayPool<ulong>.Shared.Rent((end - start + 1) * n);
            try
            {
                converter.Prepare(digitCoefficients, scratch, n);
                for (int t = 0; t < targets.Length; t++)
                {
                    int ringIndex = targets[t];
                    int extIndex = ringIndex >= pStart ? qLimbs + (ringIndex - pStart) : ringIndex;
                    var limb = extD.Slice(extIndex * n, n);
                    converter.ConvertTarget(t, digitCoefficients, scratch, limb, n);
                    if (transform) gadget._ring.Ntt[ringIndex].Forward(limb);
                }
            }
            finally
            {
                ArrayPool<ulong>.Shared.Return(scratch);
            }
        }
    }

    private readonly struct ForwardTargets(GadgetDecomposition gadget, int level, ulong[] ext) : IParallelBody
    {
        public void Invoke(int k)
        {
            int n = gadget._ring.N, qLimbs = level + 1, pStart = gadget.QCount, extLimbs = qLimbs + gadget.PCount;
            int d = k / extLimbs, t = k % extLimbs;
            var targets = gadget.Lift(level, d).Targets;
            if (t >= targets.Length) return;
            int ringIndex = targets[t];
            int extIndex = ringIndex >= pStart ? qLimbs + (ringIndex - pStart) : ringIndex;
            gadget._ring.Ntt[ringIndex].Forward(ext.AsSpan((d * extLimbs + extIndex) * n, n));
        }
    }
}
