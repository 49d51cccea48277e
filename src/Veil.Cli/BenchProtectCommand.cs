using System.Diagnostics;
using System.Globalization;
using System.Security.Cryptography;
using System.Text.Json;
using Spectre.Console;
using Veil.Protection;

namespace Veil.Cli;

/// <summary>
/// veil bench protect: throughput of the protected-object format — in memory (one core, the AEAD and the framing),
/// and file to file through `veil protect` / `veil unprotect` processes beside `age` and `openssl enc` on the same file,
/// in alternating runs; medians, ratios, and the peak RSS of the Veil processes.
/// </summary>
internal static class BenchProtectCommand
{
    public static int Run(int sizeMiB, int reps, string? directory, bool json)
    {
        string dir = directory ?? Directory.CreateTempSubdirectory("veil-bench-protect-").FullName;
        Directory.CreateDirectory(dir);
        var results = new Dictionary<string, object>();
        try
        {
            results["in_memory"] = InMemory(reps);
            string input = Path.Combine(dir, "input.bin");
            WriteRandom(input, (long)sizeMiB << 20);
            results["file"] = Files(dir, input, (long)sizeMiB << 20, reps);
            results["size_mib"] = sizeMiB;
            results["reps"] = reps;
            results["cpu"] = Environment.ProcessorCount;
        }
        finally
        {
            if (directory is null) try { Directory.Delete(dir, recursive: true); } catch (IOException) { }
        }
        if (json) Console.WriteLine(JsonSerializer.Serialize(results));
        else Print(results);
        return 0;
    }

    private static Dictionary<string, double> InMemory(int reps)
    {
        const long Size = 512L << 20;
        var result = new Dictionary<string, double>();
        var kms = new KmsRecipient(new BenchKek());
        foreach (var (name, options) in new[]
        {
            ("aes256gcm_64k", new ProtectionOptions { ChunkSizeLog2 = 16 }),
            ("aes256gcm_1m", new ProtectionOptions { ChunkSizeLog2 = 20 }),
            ("chacha20poly1305_64k", new ProtectionOptions { Algorithm = AeadAlgorithm.ChaCha20Poly1305, ChunkSizeLog2 = 16 }),
        })
        {
            var sealedStream = new MemoryStream();
            ProtectedStream.Encrypt(new RepeatingStream(Size), sealedStream, [kms], options);
            var seal = new List<double>();
            var open = new List<double>();
            for (int r = 0; r < reps; r++)
            {
                var clock = Stopwatch.StartNew();
                ProtectedStream.Encrypt(new RepeatingStream(Size), Stream.Null, [kms], options);
                seal.Add(Size / clock.Elapsed.TotalSeconds / 1e6);
                sealedStream.Position = 0;
                clock.Restart();
                ProtectedStream.Decrypt(sealedStream, Stream.Null, [kms]);
                open.Add(Size / clock.Elapsed.TotalSeconds / 1e6);
            }
            result[name + "_seal_mb_s"] = Median(seal);
            result[name + "_open_mb_s"] = Median(open);
        }
        if (Tool("openssl") is { } openssl)
        {
            var (code, output) = Exec(openssl, ["speed", "-evp", "aes-256-gcm", "-seconds", "2", "-bytes", "65536"]);
            var line = output.Split('\n').FirstOrDefault(l => l.StartsWith("AES-256-GCM", StringComparison.OrdinalIgnoreCase));
            if (code == 0 && line is not null && double.TryParse(line.Split(' ', StringSplitOptions.RemoveEmptyEntries)[^1].TrimEnd('k'), NumberStyles.Float, CultureInfo.InvariantCulture, out double kbps))
                result["openssl_speed_aes256gcm_64k_mb_s"] = kbps * 1000 / 1e6;
        }
        return result;
    }

    private static Dictionary<string, object> Files(string dir, string input, long size, int reps)
    {
        string veil = Environment.ProcessPath!;
        string[] veilPrefix = Path.GetFileNameWithoutExtension(veil) == "dotnet" ? [typeof(BenchProtectCommand).Assembly.Location] : [];
        var env = new Dictionary<string, string> { ["VEIL_HOME"] = Path.Combine(dir, "home"), ["VEIL_PASSPHRASE"] = Convert.ToHexString(RandomNumberGenerator.GetBytes(16)) };
        Check(Exec(veil, [.. veilPrefix, "keys", "init", "--kdf-memory-mib", "19", "--kdf-passes", "2"], env));
        string? age = Tool("age"), ageKeygen = Tool("age-keygen"), openssl = Tool("openssl");
        string? ageRecipient = null;
        if (age is not null && ageKeygen is not null)
        {
            Check(Exec(ageKeygen, ["-o", Path.Combine(dir, "age-key.txt")]));
            ageRecipient = File.ReadAllLines(Path.Combine(dir, "age-key.txt")).First(l => l.StartsWith("# public key: ", StringComparison.Ordinal))["# public key: ".Length..];
        }
        var times = new Dictionary<string, List<double>>();
        var rss = new List<double>();
        void Time(string name, string file, string[] args, IReadOnlyDictionary<string, string>? environment = null, bool veilJson = false)
        {
            var clock = Stopwatch.StartNew();
            var (code, output) = Exec(file, args, environment);
            double seconds = clock.Elapsed.TotalSeconds;
            if (code != 0) throw new InvalidOperationException($"{name} failed: {output}");
            (times.TryGetValue(name, out var list) ? list : times[name] = []).Add(seconds);
            if (veilJson) rss.Add(JsonDocument.Parse(output.Trim().Split('\n')[^1]).RootElement.GetProperty("peak_rss_bytes").GetDouble());
        }
        string Out(string name) => Path.Combine(dir, name);
        for (int r = 0; r < reps; r++)
        {
            // One round: each tool seals and opens the same file, in rotating order.
            var round = new List<Action>
            {
                () =>
                {
                    Time("veil_protect", veil, [.. veilPrefix, "protect", input, "--out", Out("v.vp"), "--json"], env, veilJson: true);
                    Time("veil_unprotect", veil, [.. veilPrefix, "unprotect", Out("v.vp"), "--out", Out("v.out"), "--json"], env, veilJson: true);
                    File.Delete(Out("v.vp")); File.Delete(Out("v.out"));
                },
            };
            if (ageRecipient is not null)
                round.Add(() =>
                {
                    Time("age_encrypt", age!, ["-r", ageRecipient, "-o", Out("a.age"), input]);
                    Time("age_decrypt", age!, ["-d", "-i", Path.Combine(dir, "age-key.txt"), "-o", Out("a.out"), Out("a.age")]);
                    File.Delete(Out("a.age")); File.Delete(Out("a.out"));
                });
            if (openssl is not null)
                round.Add(() =>
                {
                    Time("openssl_enc_aes256ctr", openssl, ["enc", "-aes-256-ctr", "-pbkdf2", "-pass", "pass:bench", "-in", input, "-out", Out("o.enc")]);
                    Time("openssl_dec_aes256ctr", openssl, ["enc", "-d", "-aes-256-ctr", "-pbkdf2", "-pass", "pass:bench", "-in", Out("o.enc"), "-out", Out("o.out")]);
                    File.Delete(Out("o.enc")); File.Delete(Out("o.out"));
                });
            for (int i = 0; i < round.Count; i++) round[(i + r) % round.Count]();
        }
        var result = new Dictionary<string, object>();
        foreach (var (name, list) in times) result[name + "_mb_s"] = size / Median(list) / 1e6;
        if (rss.Count > 0) result["veil_peak_rss_mib"] = rss.Max() / (1 << 20);
        double Ratio(string a, string b) => times.ContainsKey(a) && times.ContainsKey(b) ? Median(times[b]) / Median(times[a]) : double.NaN;
        result["veil_vs_age_encrypt"] = Ratio("veil_protect", "age_encrypt");
        result["veil_vs_age_decrypt"] = Ratio("veil_unprotect", "age_decrypt");
        result["veil_vs_openssl_enc"] = Ratio("veil_protect", "openssl_enc_aes256ctr");
        result["veil_vs_openssl_dec"] = Ratio("veil_unprotect", "openssl_dec_aes256ctr");
        return result;
    }

    private static void Print(Dictionary<string, object> results)
    {
        var table = new Table().AddColumns("measure", "value");
        foreach (var section in new[] { "in_memory", "file" })
            if (results[section] is System.Collections.IDictionary d)
                foreach (System.Collections.DictionaryEntry e in d)
                    table.AddRow($"{section}.{e.Key}", e.Value is double v ? v.ToString("F2", CultureInfo.InvariantCulture) : e.Value?.ToString() ?? "");
        AnsiConsole.Write(table);
        AnsiConsole.WriteLine($"{results["size_mib"]} MiB file, {results["reps"]} alternating rounds, medians; ratios > 1: Veil faster. openssl enc is AES-256-CTR without authentication (it has no streaming AEAD).");
    }

    private static void WriteRandom(string path, long size)
    {
        var buffer = new byte[1 << 20];
        using var f = new FileStream(path, FileMode.Create, FileAccess.Write, FileShare.None, 1 << 20);
        for (long done = 0; done < size; done += buffer.Length)
        {
            RandomNumberGenerator.Fill(buffer);
            f.Write(buffer, 0, (int)Math.Min(buffer.Length, size - done));
        }
    }

    private static string? Tool(string name) =>
        (Environment.GetEnvironmentVariable("PATH") ?? "").Split(':').Select(p => Path.Combine(p, name)).FirstOrDefault(File.Exists);

    private static (int Code, string Output) Exec(string file, string[] args, IReadOnlyDictionary<string, string>? environment = null)
    {
        var start = new ProcessStartInfo(file) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (var a in args) start.ArgumentList.Add(a);
        foreach (var (k, v) in environment ?? new Dictionary<string, string>()) start.Environment[k] = v;
        using var p = Process.Start(start)!;
        var stdout = p.StandardOutput.ReadToEndAsync();
        var stderr = p.StandardError.ReadToEndAsync();
        p.WaitForExit();
        return (p.ExitCode, stdout.Result + stderr.Result);
    }

    private static void Check((int Code, string Output) r)
    {
        if (r.Code != 0) throw new InvalidOperationException(r.Output);
    }

    private static double Median(List<double> values)
    {
        var sorted = values.Order().ToArray();
        return sorted.Length % 2 == 1 ? sorted[sorted.Length / 2] : (sorted[sorted.Length / 2 - 1] + sorted[sorted.Length / 2]) / 2;
    }

    /// <summary>A read-only stream of <c>length</c> bytes repeating one random megabyte (no allocation while read).</summary>
    private sealed class RepeatingStream(long length) : Stream
    {
        private static readonly byte[] Block = RandomNumberGenerator.GetBytes(1 << 20);
        private long _position;
        public override bool CanRead => true;
        public override bool CanSeek => false;
        public override bool CanWrite => false;
        public override long Length => length;
        public override long Position { get => _position; set => throw new NotSupportedException(); }
        public override int Read(byte[] buffer, int offset, int count) => Read(buffer.AsSpan(offset, count));
        public override int Read(Span<byte> buffer)
        {
            int n = (int)Math.Min(buffer.Length, length - _position);
            for (int done = 0; done < n;)
            {
                int at = (int)((_position + done) % Block.Length), take = Math.Min(n - done, Block.Length - at);
                Block.AsSpan(at, take).CopyTo(buffer[done..]);
                done += take;
            }
            _position += n;
            return n;
        }
        public override void Flush() { }
        public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();
        public override void SetLength(long value) => throw new NotSupportedException();
        public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException();
    }

    /// <summary>An in-memory KEK for the benchmark (the wrap happens once per object; it is not what is measured).</summary>
    private sealed class BenchKek : IKeyEncryptionKey
    {
        private readonly byte[] _key = RandomNumberGenerator.GetBytes(32);
        public string KeyId => "bench";
        public byte[] Wrap(ReadOnlySpan<byte> dataKey, ReadOnlySpan<byte> context)
        {
            var body = new byte[12 + dataKey.Length + 16];
            RandomNumberGenerator.Fill(body.AsSpan(0, 12));
            using var gcm = new AesGcm(_key, 16);
            gcm.Encrypt(body.AsSpan(0, 12), dataKey, body.AsSpan(12, dataKey.Length), body.AsSpan(12 + dataKey.Length), context);
            return body;
        }
        public byte[] Unwrap(ReadOnlySpan<byte> wrapped, ReadOnlySpan<byte> context)
        {
            var plain = new byte[wrapped.Length - 28];
            using var gcm = new AesGcm(_key, 16);
            gcm.Decrypt(wrapped[..12], wrapped[12..^16], wrapped[^16..], plain, context);
            return plain;
        }
    }
}
