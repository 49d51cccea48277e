using Veil.Cli;

const string Usage = """
veil — machine learning on encrypted data (CKKS homomorphic encryption)

usage:
  veil demo [--quick] [--json]             the main job: every model on encrypted data, next to its plaintext twin
  veil stats [--json]                      mean and variance of the breast-cancer features computed on ciphertexts
  veil bench ckks [--sets A,B] [--reps R] [--threads T] [--json] [--compare PEER.json] [--out FILE.json]
                                           per-operation CKKS timings on the anchor parameter sets
  veil train DATA.csv --model linear|logistic|knn|mlp --target COLUMN [--iterations K] [--learning-rate ETA] [--k K]
             [--test-fraction F] [--seed S] [--refresh-every K] [--json]
                                           train on encrypted data from a CSV file; metrics next to the plaintext twin
  veil bench ml [--with-iris] [--json]     encrypted training on the shipped data sets, with times per iteration
  veil bench scaling [--reps R] [--threads T] [--json]
                                           multiply+relinearize+rescale and rotate for N = 4096 … 32768
  veil --help
""";

// Logs and pipes have no terminal width; tables read better unwrapped there.
if (Console.IsOutputRedirected) Spectre.Console.AnsiConsole.Profile.Width = 200;

try
{
    if (args.Length == 0 || args[0] is "--help" or "-h" or "help")
    {
        Console.WriteLine(Usage);
        return args.Length == 0 ? 2 : 0;
    }
    return args[0] switch
    {
        "demo" => DemoCommand.Run(args[1..]),
        "stats" => StatsCommand.Run(args[1..]),
        "train" => TrainCommand.Run(args[1..]),
        "bench" when args.Length > 1 && args[1] == "ckks" => BenchCkksCommand.Run(args[2..]),
        "bench" when args.Length > 1 && args[1] == "scaling" => BenchScalingCommand.Run(args[2..]),
        "bench" when args.Length > 1 && args[1] == "ml" => BenchMlCommand.Run(args[2..]),
        "bench" => throw new UsageException("veil bench needs a suite: 'ckks', 'ml' or 'scaling'."),
        _ => throw new UsageException($"Unknown command '{args[0]}'. Run 'veil --help'."),
    };
}
catch (UsageException e)
{
    Console.Error.WriteLine($"veil: {e.Message}");
    return 2;
}
catch (Exception e) when (e is IOException or UnauthorizedAccessException or FormatException or ArgumentException)
{
    Console.Error.WriteLine($"veil: {e.Message}");
    return 1;
}
