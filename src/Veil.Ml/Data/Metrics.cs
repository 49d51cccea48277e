namespace Veil.Ml.Data;

/// <summary>Evaluation metrics for regression and classification.</summary>
public static class Metrics
{
    /// <summary>Fraction of predictions equal to the truth.</summary>
    /// <param name="yTrue">True labels.</param>
    /// <param name="yPred">Predicted labels, as many as <paramref name="yTrue"/>.</param>
    /// <returns>(1/n)·#{i : yTrue_i = yPred_i}.</returns>
    /// <exception cref="ArgumentException">Empty or different lengths, or a non-finite value.</exception>
    public static double Accuracy(ReadOnlySpan<double> yTrue, ReadOnlySpan<double> yPred)
    {
        Guard.Pairs(yTrue, yPred, nameof(yTrue), nameof(yPred));
        int correct = 0;
        for (int i = 0; i < yTrue.Length; i++) if (yTrue[i] == yPred[i]) correct++;
        return (double)correct / yTrue.Length;
    }

    /// <summary>Mean squared error.</summary>
    /// <param name="yTrue">True values.</param>
    /// <param name="yPred">Predictions, as many as <paramref name="yTrue"/>.</param>
    /// <returns>(1/n)·Σ (yTrue_i − yPred_i)².</returns>
    /// <exception cref="ArgumentException">Empty or different lengths, or a non-finite value.</exception>
    public static double MeanSquaredError(ReadOnlySpan<double> yTrue, ReadOnlySpan<double> yPred)
    {
        Guard.Pairs(yTrue, yPred, nameof(yTrue), nameof(yPred));
        double sum = 0;
        for (int i = 0; i < yTrue.Length; i++)
        {
            double d = yTrue[i] - yPred[i];
            sum += d * d;
        }
        return sum / yTrue.Length;
    }

    /// <summary>Coefficient of determination.</summary>
    /// <param name="yTrue">True values.</param>
    /// <param name="yPred">Predictions, as many as <paramref name="yTrue"/>.</param>
    /// <returns>
    /// R² = 1 − Σ(yTrue_i − yPred_i)² / Σ(yTrue_i − ȳ)²; when the truth is constant, 1 for a perfect prediction and 0
    /// otherwise (as scikit-learn does).
    /// </returns>
    /// <exception cref="ArgumentException">Empty or different lengths, or a non-finite value.</exception>
    public static double R2(ReadOnlySpan<double> yTrue, ReadOnlySpan<double> yPred)
    {
        Guard.Pairs(yTrue, yPred, nameof(yTrue), nameof(yPred));
        double mean = 0;
        foreach (double v in yTrue) mean += v;
        mean /= yTrue.Length;
        double residual = 0, total = 0;
        for (int i = 0; i < yTrue.Length; i++)
        {
            double r = yTrue[i] - yPred[i];
            double t = yTrue[i] - mean;
            residual += r * r;
            total += t * t;
        }
        if (total == 0) return residual == 0 ? 1 : 0;
        return 1 - residual / total;
    }

    /// <summary>Area under the ROC curve, from ranks (Mann–Whitney), tied scores sharing their average rank.</summary>
    /// <param name="yTrue">Labels, each 0 (negative) or 1 (positive), with both present.</param>
    /// <param name="scores">Scores (probabilities or margins), higher meaning more likely positive.</param>
    /// <returns>
    /// AUC = (R₊ − n₊(n₊ + 1)/2) / (n₊·n₋), where R₊ is the sum of the 1-based ranks of the positives among all scores
    /// sorted ascending, ties given the mean of the ranks they span: the probability that a random positive scores above
    /// a random negative, ties counting one half.
    /// </returns>
    /// <exception cref="ArgumentException">Empty or different lengths, a non-finite value, a label other than 0 or 1, or only one class present.</exception>
    public static double Auc(ReadOnlySpan<double> yTrue, ReadOnlySpan<double> scores)
    {
        Guard.Pairs(yTrue, scores, nameof(yTrue), nameof(scores));
        int n = yTrue.Length;
        long positives = 0;
        for (int i = 0; i < n; i++)
        {
            if (yTrue[i] == 1) positives++;
            else if (yTrue[i] != 0) Guard.Argument(nameof(yTrue), $"yTrue[{i}] = {yTrue[i]}: labels must be 0 or 1.");
        }
        long negatives = n - positives;
        if (positives == 0 || negatives == 0) Guard.Argument(nameof(yTrue), "AUC needs both a positive and a negative example.");

        var order = new int[n];
        for (int i = 0; i < n; i++) order[i] = i;
        var keys = scores.ToArray();
        Array.Sort(keys, order);
        double positiveRankSum = 0;
        for (int start = 0; start < n;)
        {
            int end = start + 1;
            while (end < n && keys[end] == keys[start]) end++;
            double averageRank = (start + 1 + end) / 2.0;
            for (int k = start; k < end; k++) if (yTrue[order[k]] == 1) positiveRankSum += averageRank;
            start = end;
        }
        return (positiveRankSum - positives * (positives + 1) / 2.0) / ((double)positives * negatives);
    }

    /// <summary>Counts of (true class, predicted class) pairs.</summary>
    /// <param name="yTrue">True class indices.</param>
    /// <param name="yPred">Predicted class indices, as many as <paramref name="yTrue"/>.</param>
    /// <param name="classCount">K, or null for 1 + the largest index present.</param>
    /// <returns>M with M[t, p] = #{i : yTrue_i = t, yPred_i = p}: rows are true classes, columns predicted ones.</returns>
    /// <exception cref="ArgumentException">Empty or different lengths, or a value that is not a class index below K.</exception>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="classCount"/> is below 1.</exception>
    public static int[,] ConfusionMatrix(ReadOnlySpan<double> yTrue, ReadOnlySpan<double> yPred, int? classCount = null)
    {
        Guard.Pairs(yTrue, yPred, nameof(yTrue), nameof(yPred));
        if (classCount is < 1) Guard.OutOfRange(nameof(classCount), "At least one class is needed.");
        double largest = 0;
        for (int i = 0; i < yTrue.Length; i++)
        {
            if (!Guard.IsClassIndex(yTrue[i])) Guard.Argument(nameof(yTrue), $"yTrue[{i}] = {yTrue[i]} is not a class index.");
            if (!Guard.IsClassIndex(yPred[i])) Guard.Argument(nameof(yPred), $"yPred[{i}] = {yPred[i]} is not a class index.");
            largest = Math.Max(largest, Math.Max(yTrue[i], yPred[i]));
        }
        int k = classCount ?? (largest < 1 << 16 ? (int)largest + 1 : int.MaxValue);
        if (largest >= k) Guard.Argument(nameof(classCount), $"Class index {largest} is not below the class count {k}.");
        if (k > 1 << 16) Guard.Argument(nameof(classCount), "At most 65,536 classes.");
        var matrix = new int[k, k];
        for (int i = 0; i < yTrue.Length; i++) matrix[(int)yTrue[i], (int)yPred[i]]++;
        return matrix;
    }
}
