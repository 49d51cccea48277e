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
