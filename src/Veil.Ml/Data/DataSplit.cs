namespace Veil.Ml.Data;

/// <summary>Deterministic train/test splits.</summary>
public static class DataSplit
{
    /// <summary>
    /// Splits the rows into a training and a test set, reproducibly for a given seed.
    /// </summary>
    /// <param name="data">The data to split (at least two rows).</param>
    /// <param name="testFraction">Fraction of rows for the test set, in (0, 1).</param>
    /// <param name="seed">Seed of the <see cref="Random"/> used to shuffle (the split is not secret).</param>
    /// <param name="stratify">Keep each class's share in both parts (targets must be whole numbers, i.e. class indices).</param>
    /// <returns>The training and test sets; rows keep their original relative order within each.</returns>
    /// <remarks>
    /// The test set has t = round(n·f) rows, clamped to [1, n − 1]. Without stratification a Fisher–Yates shuffle of
    /// 0 … n − 1 by <c>new Random(seed)</c> puts its first t indices in the test set. With stratification class k
    /// (n_k rows) gives t_k rows, where the t_k are n_k·t/n rounded down and the rows left over go to the classes with
    /// the largest fractional parts (ties to the smaller class index), so Σ t_k = t; each class's rows are shuffled by
    /// the same generator, class by class in increasing order, and the first t_k go to the test set.
    /// </remarks>
    /// <exception cref="ArgumentNullException"><paramref name="data"/> is null.</exception>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="testFraction"/> is not in (0, 1).</exception>
    /// <exception cref="ArgumentException">Fewer than two rows, or <paramref name="stratify"/> with targets that are not class indices.</exception>
    public static (Dataset Train, Dataset Test) TrainTest(Dataset data, double testFraction, int seed, bool stratify = false)
    {
        ArgumentNullException.ThrowIfNull(data);
        if (!(testFraction > 0 && testFraction < 1)) Guard.OutOfRange(nameof(testFraction), $"The test fraction {testFraction} is not in (0, 1).");
        int n = data.Rows;
        if (n < 2) Guard.Argument(nameof(data), "At least two rows are needed to split.");
        int testCount = Math.Clamp((int)Math.Round(n * testFraction, MidpointRounding.AwayFromZero), 1, n - 1);
        var random = new Random(seed);
        var inTest = new bool[n];
        if (!stratify)
        {
            var order = Permutation(n, random);
            for (int k = 0; k < testCount; k++) inTest[order[k]] = true;
        }
        else
        {
            var byClass = new SortedDictionary<double, List<int>>();
            for (int i = 0; i < n; i++)
            {
                double y = data.Targets[i];
                if (!Guard.IsClassIndex(y)) Guard.Argument(nameof(data), $"Stratification needs class indices; target {i} is {y}.");
                if (!byClass.TryGetValue(y, out var rows)) byClass.Add(y, rows = []);
                rows.Add(i);
            }
            var classes = byClass.Values.ToArray();
            var quota = new int[classes.Length];
            var remainder = new double[classes.Length];
            int assigned = 0;
            for (int k = 0; k < classes.Length; k++)
            {
                double exact = (double)classes[k].Count * testCount / n;
                quota[k] = (int)Math.Floor(exact);
                remainder[k] = exact - quota[k];
                assigned += quota[k];
            }
            foreach (int k in Enumerable.Range(0, classes.Length).OrderByDescending(k => remainder[k]).ThenBy(k => k).Take(testCount - assigned))
                quota[k]++;
            for (int k = 0; k < classes.Length; k++)
            {
                var order = Permutation(classes[k].Count, random);
                for (int m = 0; m < quota[k]; m++) inTest[classes[k][order[m]]] = true;
            }
        }
        var train = new List<int>(n - testCount);
        var test = new List<int>(testCount);
        for (int i = 0; i < n; i++) (inTest[i] ? test : train).Add(i);
        return (data.Subset(train.ToArray()), data.Subset(test.ToArray()));
    }

    private static int[] Permutation(int n, Random random)
    {
        var p = new int[n];
        for (int i = 0; i < n; i++) p[i] = i;
        for (int i = n - 1; i > 0; i--)
        {
            int j = random.Next(i + 1);
            (p[i], p[j]) = (p[j], p[i]);
        }
        return p;
    }
}
