using Veil.Circuits;

namespace Veil.Ml.Encrypted;

/// <summary>
/// The public description of the encrypted k-nearest-neighbours vote (<see cref="EncryptedKnnVote"/>, mode (b)):
/// the monotone compression of distances, the grid of radii, and the four polynomials that turn distances into a
/// per-class tally of about the k nearest references. Everything here is known to the computing party.
/// </summary>
/// <remarks>
/// <para>Inputs. x_j = ‖r_j − q‖² / D ∈ [0, 1] for every reference j, where the owner has scaled its standardized
/// features by 1/√D and clamped the query to the training box, so that D (the largest squared distance from a point
/// of the box to a reference) bounds every distance.</para>
/// <para>1. Compression (J squarings): y = β·(1 − x), p_i = y^(2^i), e(x) = Σ_(i = I … J) c_i·p_i with
/// c_i = (1/K)/β^(2^i) and β = (1/K)^(1/2^J), K = J − I + 1; so e = (1/K)·Σ_i (1 − x)^(2^i) exactly, e(0) = 1,
/// e(1) = 0, strictly decreasing. Each term is a soft indicator exp(−2^i·x) of "x below 2^(−i)"; their average
/// resolves relative differences of x about equally well over the octaves 2^(−J) … 2^(−I), where the k-th
/// neighbour distances lie (I and J are chosen from the training data's leave-one-out k-th neighbour distances).</para>
/// <para>2. Radii: T public thresholds x_0 &lt; … &lt; x_(T−2) (geometric between half the smallest and twice the
/// largest leave-one-out k-th neighbour distance) and x_(T−1) = 1 (every reference: a fallback), θ_s = e(x_s).
/// h_(j,s) = P1(e_j − θ_s) ≈ α·[x_j &lt; x_s], with P1(z) = α·(1 + f(G1(z)))/2, G1 the degree-15 Chebyshev
/// interpolant of tanh(z/0.1), f(v) = (35v − 35v³ + 21v⁵ − 5v⁷)/16, which flattens both plateaus, and α = 1.8/n.</para>
/// <para>3. Counts and votes: n_s = Σ_j h_(j,s)/α (references within radius s), V_(c,s) = Σ_j [y_j = c]·h_(j,s).</para>
/// <para>4. Selection: u_s = P2(α·n_s − 1 + δ) ≈ [n_s ≥ k], P2(c) = (1 + f(G2(c)))/2 with G2 the degree-15
/// interpolant of tanh((n − k + ½)/3) in n = (c + 1 − δ)/α, δ = 0.01. Tally_c = Σ_s u_s·(V_(c,s) − V_(c,s+1)),
/// V_(c,T) = 0: for a sharp u this telescopes to V_(c,s*) with s* the first radius holding k references; the
/// smooth u blends the radii around it.</para>
/// <para>Depth 2 (distance, mask) + J + 7 (P1) + 7 (P2) + 1 (product) = J + 17: 24 for J = 7.</para>
/// </remarks>
public sealed class KnnVoteCircuit
{
    /// <summary>Width of the soft step G1 in compressed units.</summary>
    public const double StepWidth = 0.1;
    /// <summary>Width of the count step G2, in neighbours.</summary>
    public const double CountWidth = 3;
    /// <summary>Offset δ of the count axis from −1.</summary>
    public const double CountOffset = 0.01;
    /// <summary>Degree of the first stage of both steps.</summary>
    public const int StageDegree = 15;

    private readonly double[] _coefficients, _thresholds, _radii;

    /// <summary>Neighbours voting, k.</summary>
    public int K { get; }
    /// <summary>Number of references n.</summary>
    public int References { get; }
    /// <summary>Number of classes C (labels 0 … C − 1).</summary>
    public int Classes { get; }
    /// <summary>Number of features.</summary>
    public int Features { get; }
    /// <summary>Slots summed for a row's distance: the next power of two of the feature count.</summary>
    public int RowWidth { get; }
    /// <summary>Slots per reference, T: the number of radii (a power of two, at least <see cref="RowWidth"/>).</summary>
    public int BlockWidth { get; }
    /// <summary>The highest compression power J (the chain squares J times).</summary>
    public int HighestPower { get; }
    /// <summary>The lowest power I averaged into e.</summary>
    public int LowestPower { get; }
    /// <summary>β, the factor on 1 − x before squaring.</summary>
    public double Beta { get; }
    /// <summary>c_I … c_J, the weights of p_I … p_J (c_J = 1).</summary>
    public IReadOnlyList<double> MixtureCoefficients => _coefficients;
    /// <summary>The radii x_0 … x_(T−1) in units of D (x_(T−1) = 1).</summary>
    public IReadOnlyList<double> Radii => _radii;
    /// <summary>The thresholds θ_s = e(x_s) in compressed units.</summary>
    public IReadOnlyList<double> Thresholds => _thresholds;
    /// <summary>α = 1.8/n: the weight of one reference inside a radius.</summary>
    public double Alpha { get; }
    /// <summary>G1, the first stage of the radius step.</summary>
    public ChebyshevSeries StepStage { get; }
    /// <summary>α·(1 + f(v))/2, the flattening second stage of the radius step.</summary>
    public ChebyshevSeries StepFlatten { get; }
    /// <summary>G2, the first stage of the count step.</summary>
    public ChebyshevSeries CountStage { get; }
    /// <summary>(1 + f(v))/2, the flattening second stage of the count step.</summary>
    public ChebyshevSeries CountFlatten { get; }

    /// <summary>Multiplicative depth of the whole circuit: J + 17 with the default stages.</summary>
    public int Depth => 2 + HighestPower + StepStage.Depth + StepFlatten.Depth + CountStage.Depth + CountFlatten.Depth + 1;

    /// <summary>Slots the circuit needs: n blocks of T slots, rounded up to a power of two.</summary>
    public int RequiredSlots => (int)System.Numerics.BitOperations.RoundUpToPowerOf2((uint)(References * BlockWidth));

    private KnnVoteCircuit(int k, int references, int classes, int features, int highest, int lowest, double[] radii)
    {
        // radii.Length = T = max(requested radii, row width), a power of two.
        K = k;
        References = references;
        Classes = classes;
        Features = features;
        RowWidth = EncryptedVector.PeriodFor(features);
        BlockWidth = radii.Length;
        HighestPower = highest;
        LowestPower = lowest;
        int terms = highest - lowest + 1;
        Beta = Math.Pow(1.0 / terms, 1.0 / (1L << highest));
        _coefficients = new double[terms];
        for (int i = lowest; i <= highest; i++) _coefficients[i - lowest] = i == highest ? 1 : 1.0 / terms / Math.Pow(Beta, 1L << i);
        _radii = radii;
        _thresholds = radii.Select(Compress).ToArray();
        Alpha = 1.8 / references;
        double alpha = Alpha;
        StepStage = ChebyshevSeries.Interpolate(z => Math.Tanh(z / StepWidth), -1, 1, StageDegree);
        StepFlatten = ChebyshevSeries.Interpolate(v => alpha * (1 + Flatten(v)) / 2, -1, 1, 7);
        CountStage = ChebyshevSeries.Interpolate(c => Math.Tanh(((c + 1 - CountOffset) / alpha - (k - 0.5)) / CountWidth), -1, 1, StageDegree);
        CountFlatten = ChebyshevSeries.Interpolate(v => (1 + Flatten(v)) / 2, -1, 1, 7);
    }

    /// <summary>f(v) = (35v − 35v³ + 21v⁵ − 5v⁷)/16: maps [−1, 1] onto itself with f(±1) = ±1 and three vanishing derivatives there.</summary>
    public static double Flatten(double v)
    {
        double v2 = v * v;
        return v * (35 + v2 * (-35 + v2 * (21 - 5 * v2))) / 16;
    }

    /// <summary>
    /// Designs the circuit from the owner's references, already scaled so that squared distances are in units of D.
    /// </summary>
    /// <param name="references">Scaled references (n × features).</param>
    /// <param name="labels">Class indices 0 … C − 1.</param>
    /// <param name="k">Neighbours voting.</param>
    /// <param name="radii">Requested number of radii T (a power of two); raised to the row width if that is larger.</param>
    /// <remarks>
    /// From the leave-one-out k-th neighbour distances d_k of the references: J = ⌊log2(1/median d_k)⌋ clamped to
    /// [3, 10], I = max(1, J − 4), radii geometric from min(d_k)/2 to 2·max(d_k) (at most 1/2) over T − 1 steps.
    /// </remarks>
    /// <exception cref="ArgumentException">Fewer than k + 1 references, or labels that are not class indices.</exception>
    internal static KnnVoteCircuit Design(double[][] references, double[] labels, int k, int radii = 32)
    {
        int n = references.Length;
        if (n < k + 1) throw new ArgumentException($"The vote needs at least k + 1 = {k + 1} references; got {n}.", nameof(references));
        if (labels.Any(v => !(v >= 0 && v < 1 << 16 && v == Math.Floor(v)))) throw new ArgumentException("Labels must be class indices 0, 1, 2, ….", nameof(labels));
        int classes = (int)labels.Max() + 1;
        var kth = new double[n];
        var row = new double[n - 1];
        for (int i = 0; i < n; i++)
        {
            int m = 0;
            for (int j = 0; j < n; j++)
            {
                if (j == i) continue;
                double d = 0;
                for (int f = 0; f < references[i].Length; f++) { double t = references[i][f] - references[j][f]; d += t * t; }
                row[m++] = d;
            }
            Array.Sort(row);
            kth[i] = row[k - 1];
        }
        Array.Sort(kth);
        var positive = kth.Where(d => d > 0).ToArray();
        double lo = positive.Length > 0 ? positive[0] / 2 : 1e-6, hi = Math.Min(0.5, 2 * kth[^1]);
        lo = Math.Max(lo, 1e-6);
        if (hi <= lo) hi = Math.Min(0.5, 4 * lo);
        double median = Math.Max(kth[n / 2], 1e-6);
        int highest = Math.Clamp((int)Math.Floor(Math.Log2(1 / median)), 3, 10);
        int lowest = Math.Max(1, highest - 4);
        int width = Math.Max(radii, EncryptedVector.PeriodFor(references[0].Length));
        var grid = new double[width];
        for (int s = 0; s < width - 1; s++) grid[s] = lo * Math.Pow(hi / lo, s / (double)(width - 2));
        grid[^1] = 1;
        return new KnnVoteCircuit(k, n, classes, references[0].Length, highest, lowest, grid);
    }

    /// <summary>e(x) exactly as the circuit computes it: y = β(1 − x), J squarings, Σ c_i·y^(2^i).</summary>
    public double Compress(double x)
    {
        double p = Beta * (1 - x), e = 0;
        for (int i = 1; i <= HighestPower; i++)
        {
            p *= p;
            if (i >= LowestPower) e += _coefficients[i - LowestPower] * p;
        }
        return e;
    }

    /// <summary>P1(z) = α·(1 + f(G1(z)))/2 ≈ α·[z &gt; 0].</summary>
    public double RadiusStep(double z) => StepFlatten.Evaluate(StepStage.Evaluate(z));

    /// <summary>P2(c) = (1 + f(G2(c)))/2 ≈ [n ≥ k] for c = α·n − 1 + δ.</summary>
    public double CountStep(double c) => CountFlatten.Evaluate(CountStage.Evaluate(c));

    /// <summary>
    /// The per-class tallies for the distances x_j (in units of D) of one query, in doubles: the plaintext twin of the
    /// encrypted circuit, in units of neighbours.
    /// </summary>
    public double[] Tallies(ReadOnlySpan<double> distances, ReadOnlySpan<double> labels)
    {
        int t = BlockWidth;
        var counts = new double[t];
        var votes = new double[Classes, t];
        for (int j = 0; j < distances.Length; j++)
        {
            double e = Compress(distances[j]);
            int c = (int)labels[j];
            for (int s = 0; s < t; s++)
            {
                double h = RadiusStep(e - _thresholds[s]);
                counts[s] += h;
                votes[c, s] += h;
            }
        }
        var tallies = new double[Classes];
        for (int s = 0; s < t; s++)
        {
            double u = CountStep(counts[s] - 1 + CountOffset);
            for (int c = 0; c < Classes; c++) tallies[c] += u * (votes[c, s] - (s + 1 < t ? votes[c, s + 1] : 0));
        }
        for (int c = 0; c < Classes; c++) tallies[c] /= Alpha;
        return tallies;
    }

    /// <summary>The class with the largest tally (the lowest index among equal ones).</summary>
    public static int Winner(ReadOnlySpan<double> tallies)
    {
        int best = 0;
        for (int c = 1; c < tallies.Length; c++) if (tallies[c] > tallies[best]) best = c;
        return best;
    }
}
