using System.Numerics;
using System.Runtime.InteropServices;

namespace Veil.Ml.Models;

/// <summary>The few dense kernels the plaintext models need (no external library).</summary>
internal static class LinearAlgebra
{
    /// <summary>Σ_k a_k·b_k, summed left to right.</summary>
    public static double Dot(ReadOnlySpan<double> a, ReadOnlySpan<double> b)
    {
        double sum = 0;
        for (int k = 0; k < a.Length; k++) sum += a[k] * b[k];
        return sum;
    }

    /// <summary>
    /// Σ_k a_k·b_k over the first a.Length values of b, in four interleaved <see cref="Vector{T}"/> partial sums (for the
    /// network kernels: faster than <see cref="Dot"/>, and still the same order on every call on one machine).
    /// </summary>
    public static double VectorDot(ReadOnlySpan<double> a, ReadOnlySpan<double> b)
    {
        b = b[..a.Length];
        var va = MemoryMarshal.Cast<double, Vector<double>>(a);
        var vb = MemoryMarshal.Cast<double, Vector<double>>(b);
        Vector<double> s0 = default, s1 = default, s2 = default, s3 = default;
        int v = 0;
        for (; v + 4 <= va.Length; v += 4)
        {
            s0 += va[v] * vb[v];
            s1 += va[v + 1] * vb[v + 1];
            s2 += va[v + 2] * vb[v + 2];
            s3 += va[v + 3] * vb[v + 3];
        }
        for (; v < va.Length; v++) s0 += va[v] * vb[v];
        double sum = Vector.Sum((s0 + s1) + (s2 + s3));
        for (int k = va.Length * Vector<double>.Count; k < a.Length; k++) sum += a[k] * b[k];
        return sum;
    }

    /// <summary>y_k += α·x_k for k below x.Length, vectorized.</summary>
    public static void AddScaled(double alpha, ReadOnlySpan<double> x, Span<double> y)
    {
        y = y[..x.Length];
        var vx = MemoryMarshal.Cast<double, Vector<double>>(x);
        var vy = MemoryMarshal.Cast<double, Vector<double>>(y);
        var va = new Vector<double>(alpha);
        for (int v = 0; v < vx.Length; v++) vy[v] += va * vx[v];
        for (int k = vx.Length * Vector<double>.Count; k < x.Length; k++) y[k] += alpha * x[k];
    }

    /// <summary>Solves A·x = b for a symmetric positive-definite A (only its lower triangle is read) by Cholesky, A = L·Lᵀ.</summary>
    /// <exception cref="InvalidOperationException">A is not (numerically) positive definite.</exception>
    public static double[] CholeskySolve(double[,] a, double[] b)
    {
        int n = b.Length;
        var l = new double[n, n];
        for (int j = 0; j < n; j++)
        {
            double diagonal = a[j, j];
            for (int k = 0; k < j; k++) diagonal -= l[j, k] * l[j, k];
            if (!(diagonal > 0) || !double.IsFinite(diagonal))
                throw new InvalidOperationException($"The normal-equation matrix is not positive definite (pivot {j} is {diagonal}).");
            l[j, j] = Math.Sqrt(diagonal);
            for (int i = j + 1; i < n; i++)
            {
                double s = a[i, j];
                for (int k = 0; k < j; k++) s -= l[i, k] * l[j, k];
                l[i, j] = s / l[j, j];
            }
        }
        var y = new double[n];
        for (int i = 0; i < n; i++)
        {
            double s = b[i];
            for (int k = 0; k < i; k++) s -= l[i, k] * y[k];
            y[i] = s / l[i, i];
        }
        var x = new double[n];
        for (int i = n - 1; i >= 0; i--)
        {
            double s = y[i];
            for (int k = i + 1; k < n; k++) s -= l[k, i] * x[k];
            x[i] = s / l[i, i];
        }
        return x;
    }

    /// <summary>The logistic function 1/(1 + e^(−z)), computed without overflow for large |z|.</summary>
    public static double Logistic(double z) => z >= 0 ? 1 / (1 + Math.Exp(-z)) : Math.Exp(z) / (1 + Math.Exp(z));
}
