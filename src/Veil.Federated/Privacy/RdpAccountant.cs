namespace Veil.Federated.Privacy;

/// <summary>How Rényi-DP is turned into (ε, δ).</summary>
public enum RdpConversion
{
    /// <summary>ε = RDP(α) + log(1/δ)/(α − 1) (Mironov 2017), the bound behind TensorFlow Privacy's published tables.</summary>
    Classic,
    /// <summary>ε = RDP(α) + log((α − 1)/α) − (log δ + log α)/(α − 1) (Balle et al. 2020), Opacus's and today's TF Privacy's: never larger.</summary>
    Improved,
}

/// <summary>
/// A Rényi-DP accountant for the (Poisson-)subsampled Gaussian mechanism (Mironov, Talwar, Zhang 2019), as Opacus and
/// TensorFlow Privacy keep it: the RDP of every step is added at a fixed set of orders α, and (ε, δ) is the best
/// conversion over them. In DP-FedAvg a step is a round; the sampling rate is the share of participants asked.
/// </summary>
public sealed class RdpAccountant
{
    private readonly double[] _orders;
    private readonly double[] _rdp;

    /// <summary>An accountant at <paramref name="orders"/> (default: 1.1, 1.2, …, 10.9 and 12 … 63, the libraries' set).</summary>
    public RdpAccountant(IReadOnlyList<double>? orders = null)
    {
        _orders = (orders ?? DefaultOrders).ToArray();
        if (_orders.Length == 0 || _orders.Any(a => !(a > 1) || double.IsInfinity(a)))
            throw new ArgumentException("Every RDP order must be a finite number above 1.", nameof(orders));
        _rdp = new double[_orders.Length];
    }

    /// <summary>1 + x/10 for x = 1 … 99, then 12 … 63.</summary>
    public static IReadOnlyList<double> DefaultOrders { get; } =
        [.. Enumerable.Range(1, 99).Select(x => 1 + x / 10.0), .. Enumerable.Range(12, 52).Select(x => (double)x)];

    /// <summary>Steps accounted so far.</summary>
    public long Steps { get; private set; }

    /// <summary>The RDP spent so far at each order (same order as <see cref="Orders"/>).</summary>
    public IReadOnlyList<double> Rdp => _rdp;

    /// <summary>The orders.</summary>
    public IReadOnlyList<double> Orders => _orders;

    /// <summary>Accounts <paramref name="steps"/> steps of the Gaussian mechanism with noise multiplier σ (noise deviation ÷ sensitivity) at sampling rate q.</summary>
    public void Step(double noiseMultiplier, double sampleRate, long steps = 1)
    {
        if (!(noiseMultiplier >= 0) || double.IsInfinity(noiseMultiplier)) throw new ArgumentOutOfRangeException(nameof(noiseMultiplier), "The noise multiplier must be finite and non-negative.");
        if (!(sampleRate >= 0 && sampleRate <= 1)) throw new ArgumentOutOfRangeException(nameof(sampleRate), "The sampling rate must be in [0, 1].");
        ArgumentOutOfRangeException.ThrowIfNegative(steps);
        for (int i = 0; i < _orders.Length; i++) _rdp[i] += steps * SampledGaussianRdp(sampleRate, noiseMultiplier, _orders[i]);
        Steps += steps;
    }

    /// <summary>Restores an accountant's sums (from <see cref="Rdp"/> and <see cref="Steps"/>, saved by a coordinator).</summary>
    public static RdpAccountant Restore(IReadOnlyList<double> orders, IReadOnlyList<double> rdp, long steps)
    {
        var a = new RdpAccountant(orders);
        if (rdp.Count != a._rdp.Length || rdp.Any(r => !(r >= 0))) throw new ArgumentException("The saved RDP values do not match the orders.", nameof(rdp));
        for (int i = 0; i < rdp.Count; i++) a._rdp[i] = rdp[i];
        a.Steps = steps;
        return a;
    }

    /// <summary>The smallest ε over the orders for <paramref name="delta"/>, and the order that gives it.</summary>
    public (double Epsilon, double Order) GetEpsilon(double delta, RdpConversion conversion = RdpConversion.Improved)
    {
        if (!(delta > 0 && delta < 1)) throw new ArgumentOutOfRangeException(nameof(delta), "δ must be in (0, 1).");
        if (_rdp.All(r => r == 0)) return (0, double.NaN); // nothing released yet
        double best = double.PositiveInfinity, order = double.NaN;
        for (int i = 0; i < _orders.Length; i++)
        {
            double a = _orders[i], r = _rdp[i];
            double eps = conversion == RdpConversion.Classic
                ? r - Math.Log(delta) / (a - 1)
                : r + Math.Log((a - 1) / a) - (Math.Log(delta) + Math.Log(a)) / (a - 1);
            if (eps < best) { best = eps; order = a; }
        }
        return (Math.Max(0, best), order);
    }

    /// <summary>
    /// RDP at order α of one step of the Gaussian mechanism with noise multiplier σ applied to a Poisson sample of rate
    /// q: α/(2σ²) when q = 1, else log(A_α)/(α − 1) with A_α the binomial expansion of Mironov et al. (exact sum for
    /// integer α, the erfc series for fractional α).
    /// </summary>
    public static double SampledGaussianRdp(double q, double sigma, double alpha)
    {
        if (q == 0) return 0;
        if (sigma == 0) return double.PositiveInfinity;
        if (q == 1) return alpha / (2 * sigma * sigma);
        double logA = alpha == Math.Floor(alpha) ? LogAInteger(q, sigma, (int)alpha) : LogAFractional(q, sigma, alpha);
        return logA / (alpha - 1);
    }

    private static double LogAInteger(double q, double sigma, int alpha)
    {
        double logA = double.NegativeInfinity, logBinomial = 0;
        double logQ = Math.Log(q), log1mQ = double.LogP1(-q);
        for (int k = 0; k <= alpha; k++)
        {
            if (k > 0) logBinomial += Math.Log(alpha - k + 1) - Math.Log(k);
            double term = logBinomial + k * logQ + (alpha - k) * log1mQ + (k * (double)k - k) / (2 * sigma * sigma);
            logA = LogAdd(logA, term);
        }
        return logA;
    }

    // Two series (the Gaussian's two tails around z0), each term's binomial coefficient signed for a real α.
    private static double LogAFractional(double q, double sigma, double alpha)
    {
        double logA0 = double.NegativeInfinity, logA1 = double.NegativeInfinity;
        double z0 = sigma * sigma * Math.Log(1 / q - 1) + 0.5;
        double logQ = Math.Log(q), log1mQ = double.LogP1(-q), s2 = sigma * sigma;
        double logCoef = 0; int sign = 1;
        for (int i = 0; i < 100_000; i++)
        {
            if (i > 0)
            {
                double factor = (alpha - i + 1) / i;
                if (factor == 0) break;
                if (factor < 0) sign = -sign;
                logCoef += Math.Log(Math.Abs(factor));
            }
            double j = alpha - i;
            double logT0 = logCoef + i * logQ + j * log1mQ;
            double logT1 = logCoef + j * logQ + i * log1mQ;
            double logE0 = Math.Log(0.5) + LogErfc((i - z0) / (Math.Sqrt(2) * sigma));
            double logE1 = Math.Log(0.5) + LogErfc((z0 - j) / (Math.Sqrt(2) * sigma));
            double logS0 = logT0 + (i * (double)i - i) / (2 * s2) + logE0;
            double logS1 = logT1 + (j * j - j) / (2 * s2) + logE1;
            if (sign > 0) { logA0 = LogAdd(logA0, logS0); logA1 = LogAdd(logA1, logS1); }
            else { logA0 = LogSub(logA0, logS0); logA1 = LogSub(logA1, logS1); }
            if (Math.Max(logS0, logS1) < -30) break;
        }
        return LogAdd(logA0, logA1);
    }

    private static double LogAdd(double a, double b)
    {
        if (double.IsNegativeInfinity(a)) return b;
        if (double.IsNegativeInfinity(b)) return a;
        double hi = Math.Max(a, b), lo = Math.Min(a, b);
        return hi + double.LogP1(Math.Exp(lo - hi));
    }

    // log(e^a − e^b) for a ≥ b; a smaller a means the series has not converged yet, which a real α never gives.
    private static double LogSub(double a, double b)
    {
        if (double.IsNegativeInfinity(b)) return a;
        if (b > a) throw new ArithmeticException("The RDP series lost its sign: the order or noise multiplier is out of the range the series handles.");
        if (a == b) return double.NegativeInfinity;
        return a + Math.Log(-double.ExpM1(b - a));
    }

    /// <summary>log erfc(x), valid far into the tail (no underflow): the Chebyshev-fitted form of erfc, fractional error below 1.2·10⁻⁷.</summary>
    internal static double LogErfc(double x)
    {
        double z = Math.Abs(x);
        double t = 1 / (1 + 0.5 * z);
        double logErfcZ = Math.Log(t) - z * z - 1.26551223 + t * (1.00002368 + t * (0.37409196 + t * (0.09678418 + t * (-0.18628806
            + t * (0.27886807 + t * (-1.13520398 + t * (1.48851587 + t * (-0.82215223 + t * 0.17087277))))))));
        return x >= 0 ? logErfcZ : Math.Log(2 - Math.Exp(logErfcZ));
    }
}
