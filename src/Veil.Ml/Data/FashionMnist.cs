namespace Veil.Ml.Data;

/// <summary>
/// Fashion-MNIST (Xiao, Rasul, Vollgraf, 2017): 28 × 28 greyscale images of clothing in 10 classes, 60,000 for
/// training and 10,000 for testing, in the IDX format of MNIST (read by <see cref="IdxReader"/>).
/// </summary>
/// <remarks>
/// The data set is not shipped with Veil. It is looked for in <see cref="DefaultDirectory"/> as
/// train-images-idx3-ubyte, train-labels-idx1-ubyte, t10k-images-idx3-ubyte and t10k-labels-idx1-ubyte, each
/// gzip'd (".gz") or raw; on Debian-like systems <c>apt-get install -y dataset-fashion-mnist</c> puts them in
/// /usr/share/datasets/fashion-mnist.
/// </remarks>
public static class FashionMnist
{
    /// <summary>The environment variable that overrides <see cref="DefaultDirectory"/>.</summary>
    public const string DirectoryVariable = "VEIL_FASHION_MNIST";

    /// <summary>How to install the data set, for error messages.</summary>
    public const string InstallHint = "apt-get install -y dataset-fashion-mnist";

    /// <summary>Image height and width.</summary>
    public const int ImageSize = 28;

    private static readonly string[] Files = ["train-images-idx3-ubyte", "train-labels-idx1-ubyte", "t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"];

    /// <summary>The 10 class names, index k naming label k.</summary>
    public static IReadOnlyList<string> ClassNames { get; } =
        ["T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot"];

    /// <summary>The folder named by the environment variable VEIL_FASHION_MNIST when it is set, else /usr/share/datasets/fashion-mnist.</summary>
    public static string DefaultDirectory =>
        Environment.GetEnvironmentVariable(DirectoryVariable) is { Length: > 0 } dir ? dir : "/usr/share/datasets/fashion-mnist";

    /// <summary>Whether the four files are present (gzip'd or raw); their content is not checked.</summary>
    /// <param name="directory">The folder, or null for <see cref="DefaultDirectory"/>.</param>
    public static bool IsInstalled(string? directory = null)
    {
        string dir = directory ?? DefaultDirectory;
        return Files.All(f => TryLocate(dir, f) is not null);
    }

    /// <summary>Loads the training and test sets, pixels scaled to [0, 1] and flattened row-major (feature y·28 + x).</summary>
    /// <param name="directory">The folder, or null for <see cref="DefaultDirectory"/>.</param>
    /// <param name="maxTrain">Keep only the first this many training images; null for all 60,000.</param>
    /// <param name="maxTest">Keep only the first this many test images; null for all 10,000.</param>
    /// <returns>Two classification datasets of 784 features named "pixel_y_x", target "label", classes <see cref="ClassNames"/>.</returns>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="maxTrain"/> or <paramref name="maxTest"/> is below 1.</exception>
    /// <exception cref="FileNotFoundException">A file is missing (the message says how to install the data set).</exception>
    /// <exception cref="DataFormatException">A file is malformed, the images are not 28 × 28, or an image file and its label file hold different counts.</exception>
    public static (Dataset Train, Dataset Test) Load(string? directory = null, int? maxTrain = null, int? maxTest = null)
    {
        if (maxTrain is < 1) Guard.OutOfRange(nameof(maxTrain), $"maxTrain {maxTrain} is below 1.");
        if (maxTest is < 1) Guard.OutOfRange(nameof(maxTest), $"maxTest {maxTest} is below 1.");
        string dir = directory ?? DefaultDirectory;
        var featureNames = new string[ImageSize * ImageSize];
        for (int y = 0; y < ImageSize; y++)
            for (int x = 0; x < ImageSize; x++) featureNames[y * ImageSize + x] = $"pixel_{y}_{x}";
        string[] classNames = [.. ClassNames];
        Dataset Part(string images, string labels, int? max)
        {
            string imagePath = Locate(dir, images), labelPath = Locate(dir, labels);
            var x = IdxReader.ReadImages(imagePath, max);
            if (x.Rows != ImageSize || x.Columns != ImageSize)
                throw new DataFormatException(imagePath, 1, null, $"images are {x.Rows} × {x.Columns}; Fashion-MNIST's are {ImageSize} × {ImageSize}.");
            var y = IdxReader.ReadLabels(labelPath, classNames.Length, max);
            if (y.Length != x.Count)
                throw new DataFormatException(labelPath, 1, null, $"{y.Length} labels for {x.Count} images in {imagePath}.");
            if (x.Count == 0) throw new DataFormatException(imagePath, 1, null, "the file holds no images.");
            return Dataset.Owning(x.Pixels, y, featureNames, "label", classNames);
        }
        return (Part(Files[0], Files[1], maxTrain), Part(Files[2], Files[3], maxTest));
    }

    private static string? TryLocate(string directory, string file)
    {
        string gz = Path.Combine(directory, file + ".gz"), raw = Path.Combine(directory, file);
        return File.Exists(gz) ? gz : File.Exists(raw) ? raw : null;
    }

    private static string Locate(string directory, string file) =>
        TryLocate(directory, file) ?? throw new FileNotFoundException(
            $"Fashion-MNIST: {file}(.gz) not found in {directory}. Install it with `{InstallHint}`, or set {DirectoryVariable} to the folder that holds it.",
            Path.Combine(directory, file + ".gz"));
}
