using System.Globalization;

namespace Veil.Cli;

/// <summary>Reads the breast-cancer table shipped in data/ (header "rows,features,class names…", then rows).</summary>
internal static class BreastCancer
{
    public static readonly string[] FeatureNames =
    [
        "mean radius", "mean texture", "mean perimeter", "mean area", "mean smoothness", "mean compactness",
        "mean concavity", "mean concave points", "mean symmetry", "mean fractal dimension",
        "radius error", "texture error", "perimeter error", "area error", "smoothness error", "compactness error",
        "concavity error", "concave points error", "symmetry error", "fractal dimension error",
        "worst radius", "worst texture", "worst perimeter", "worst area", "worst smoothness", "worst compactness",
        "worst concavity", "worst concave points", "worst symmetry", "worst fractal dimension",
    ];

    /// <summary>Finds data/breast_cancer.csv beside the executable or in the repository.</summary>
    public static string Locate()
    {
        foreach (var dir in new[] { AppContext.BaseDirectory, Directory.GetCurrentDirectory() })
        {
            for (var d = new DirectoryInfo(dir); d is not null; d = d.Parent)
            {
                var candidate = Path.Combine(d.FullName, "data", "breast_cancer.csv");
                if (File.Exists(candidate)) return candidate;
            }
        }
        throw new FileNotFoundException("data/breast_cancer.csv was not found beside the program or in the repository.");
    }

    /// <summary>Features as rows × 30 and labels.</summary>
    public static (double[][] Features, int[] Labels) Load(string path)
    {
        using var reader = new StreamReader(path);
        var header = reader.ReadLine() ?? throw new FormatException($"{path}: empty file.");
        var h = header.Split(',');
        if (h.Length < 2 || !int.TryParse(h[0], out int rows) || !int.TryParse(h[1], out int features) || rows < 1 || rows > 1_000_000 || features != 30)
            throw new FormatException($"{path}, line 1: expected 'rows,30,class names…'.");
        var x = new double[rows][];
        var y = new int[rows];
        for (int r = 0; r < rows; r++)
        {
            var line = reader.ReadLine() ?? throw new FormatException($"{path}: {rows} rows declared, {r} found.");
            var parts = line.Split(',');
            if (parts.Length != features + 1) throw new FormatException($"{path}, line {r + 2}: expected {features + 1} columns, found {parts.Length}.");
            x[r] = new double[features];
            for (int c = 0; c < features; c++)
                if (!double.TryParse(parts[c], NumberStyles.Float, CultureInfo.InvariantCulture, out x[r][c]) || !double.IsFinite(x[r][c]))
                    throw new FormatException($"{path}, line {r + 2}, column {c + 1}: '{parts[c]}' is not a number.");
            if (!int.TryParse(parts[features], NumberStyles.Integer, CultureInfo.InvariantCulture, out y[r]))
                throw new FormatException($"{path}, line {r + 2}, column {features + 1}: '{parts[features]}' is not a class label.");
        }
        return (x, y);
    }
}
