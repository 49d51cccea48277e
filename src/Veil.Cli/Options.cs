namespace Veil.Cli;

/// <summary>A small, strict parser for "--name value" and "--flag" options.</summary>
internal sealed class Options
{
    private readonly Dictionary<string, string?> _values = new(StringComparer.Ordinal);

    public Options(IEnumerable<string> args, IReadOnlySet<string> flags, IReadOnlySet<string> valued)
    {
        using var e = args.GetEnumerator();
        while (e.MoveNext())
        {
            string a = e.Current;
            if (!a.StartsWith("--", StringComparison.Ordinal)) throw new UsageException($"Unexpected argument '{a}'.");
            string name = a[2..];
            string? inline = null;
            int eq = name.IndexOf('=');
            if (eq >= 0) { inline = name[(eq + 1)..]; name = name[..eq]; }
            if (flags.Contains(name))
            {
                if (inline is not null) throw new UsageException($"--{name} takes no value.");
                _values[name] = null;
            }
            else if (valued.Contains(name))
            {
                if (inline is null)
                {
                    if (!e.MoveNext()) throw new UsageException($"--{name} needs a value.");
                    inline = e.Current;
                }
                _values[name] = inline;
            }
            else throw new UsageException($"Unknown option --{name}.");
        }
    }

    public bool Has(string name) => _values.ContainsKey(name);

    public string? Get(string name) => _values.TryGetValue(name, out var v) ? v : null;

    public int GetInt(string name, int fallback, int min, int max)
    {
        var v = Get(name);
        if (v is null) return fallback;
        if (!int.TryParse(v, System.Globalization.NumberStyles.Integer, System.Globalization.CultureInfo.InvariantCulture, out int r) || r < min || r > max)
            throw new UsageException($"--{name} must be an integer in [{min}, {max}]; got '{v}'.");
        return r;
    }
}

/// <summary>Bad command-line usage: printed as one line, exit code 2.</summary>
internal sealed class UsageException(string message) : Exception(message);
