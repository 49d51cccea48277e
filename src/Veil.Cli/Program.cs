using System.CommandLine;
using System.CommandLine.Parsing;
using System.CommandLine.Invocation;
using Veil.Cli;

// Logs and pipes have no terminal width; tables read better unwrapped there.
if (Console.IsOutputRedirected) Spectre.Console.AnsiConsole.Profile.Width = 200;

var root = CommandLine.Build();
var parse = root.Parse(args);
if (parse.Errors.Count > 0)
{
    foreach (var error in parse.Errors) Console.Error.WriteLine($"veil: {error.Message}");
    Console.Error.WriteLine("Run 'veil --help' (or 'veil COMMAND --help') for usage.");
    return CommandLine.UsageExit;
}
try
{
    return parse.Invoke(new InvocationConfiguration { EnableDefaultExceptionHandler = false });
}
catch (UsageException e)
{
    Console.Error.WriteLine($"veil: {e.Message}");
    return CommandLine.UsageExit;
}
catch (Exception e) when (e is IOException or UnauthorizedAccessException or FormatException or ArgumentException or InvalidOperationException or Veil.Onnx.OnnxImportException
    or Veil.Federated.FederationConfigurationException or Veil.Federated.FederationFailedException or Veil.Ml.Data.DataFormatException
    or System.Security.Cryptography.CryptographicException)
{
    Console.Error.WriteLine($"veil: {e.Message}");
    return CommandLine.FailureExit;
}

namespace Veil.Cli
{
    /// <summary>Bad command-line usage: printed as one line, exit code 2.</summary>
    internal sealed class UsageException(string message) : Exception(message);

    /// <summary>
    /// The command tree. Exit codes: 0 success; 1 the command failed (a missing or malformed file, bad data, an operation
    /// the keys do not allow); 2 bad usage (unknown command or option, a missing or out-of-range value).
    /// </summary>
    internal static class CommandLine
    {
        public const int UsageExit = 2, FailureExit = 1;

        private static Option<bool> Json() => new("--json") { Description = "Print JSON instead of tables." };

        private static Option<int> Int(string name, string description, int fallback, int min, int max)
        {
            var option = new Option<int>(name) { Description = $"{description} [{min}, {max}]", DefaultValueFactory = _ => fallback };
            option.Validators.Add(r => { int v = r.GetValueOrDefault<int>(); if (v < min || v > max) r.AddError($"{name} must be in [{min}, {max}]; got {v}."); });
            return option;
        }

        private static Option<int?> OptionalInt(string name, string description, int min, int max)
        {
            var option = new Option<int?>(name) { Description = $"{description} [{min}, {max}]" };
            option.Validators.Add(r => { if (r.GetValueOrDefault<int?>() is int v && (v < min || v > max)) r.AddError($"{name} must be in [{min}, {max}]; got {v}."); });
            return option;
        }

        private static Option<double?> OptionalDouble(string name, string description, double min, double max)
        {
            var option = new Option<double?>(name) { Description = $"{description} [{min}, {max}]" };
            option.Validators.Add(r => { if (r.GetValueOrDefault<double?>() is double v && !(v >= min && v <= max)) r.AddError($"{name} must be in [{min}, {max}]; got {v}."); });
            return option;
        }

        private static Option<string> Required(string name, string description) => new(name) { Description = description, Required = true };

        private static Option<string> Choice(string name, string description, params string[] values)
        {
            var option = new Option<string>(name) { Description = description, Required = true };
            option.AcceptOnlyFromAmong(values);
            return option;
        }

        public static RootCommand Build()
        {
            var root = new RootCommand("veil — machine learning on encrypted data (CKKS homomorphic encryption)");
            root.Subcommands.Add(Demo());
            root.Subcommands.Add(Stats());
            root.Subcommands.Add(Train());
            root.Subcommands.Add(Keys());
            root.Subcommands.Add(Encrypt());
            root.Subcommands.Add(Decrypt());
            root.Subcommands.Add(Protect());
            root.Subcommands.Add(Unprotect());
            root.Subcommands.Add(Audit());
            root.Subcommands.Add(Multiparty());
            root.Subcommands.Add(Mpc());
            root.Subcommands.Add(Federate());
            root.Subcommands.Add(Serve());
            root.Subcommands.Add(Deploy());
            root.Subcommands.Add(Predict());
            root.Subcommands.Add(Infer());
            root.Subcommands.Add(Compile());
            root.Subcommands.Add(Bench());
            return root;
        }

        private static Command Demo()
        {
            var quick = new Option<bool>("--quick") { Description = "The fast subset (under a minute): no breast-cancer KNN, encrypted vote, one-vs-rest or batched CNN." };
            var json = Json();
            var seed = Int("--seed", "Seed of the train/test split.", 42, 0, int.MaxValue);
            var command = new Command("demo", "The main job: every model trained or run on encrypted data, next to its plaintext twin.") { quick, json, seed };
            command.SetAction(r => DemoCommand.Run(r.GetValue(json), r.GetValue(quick), r.GetValue(seed)));
            return command;
        }

        private static Command Stats()
        {
            var json = Json();
            var command = new Command("stats", "Mean and variance of the breast-cancer features computed on ciphertexts, released with flooding.") { json };
            command.SetAction(r => StatsCommand.Run(r.GetValue(json)));
            return command;
        }

        private static Command Train()
        {
            var data = new Argument<string?>("data") { Description = "CSV file: a header row, then one numeric row per sample.", Arity = ArgumentArity.ZeroOrOne };
            var model = new Option<string?>("--model") { Description = "linear, logistic, knn or mlp." };
            model.AcceptOnlyFromAmong("linear", "logistic", "knn", "mlp");
            var target = new Option<string?>("--target") { Description = "The column to predict." };
            var iterations = OptionalInt("--iterations", "Gradient-descent iterations.", 1, 1000);
            var rate = OptionalDouble("--learning-rate", "Learning rate.", 1e-6, 100);
            var testFraction = new Option<double>("--test-fraction") { Description = "Share held out for testing [0.05, 0.9].", DefaultValueFactory = _ => 0.2 };
            testFraction.Validators.Add(r => { double v = r.GetValueOrDefault<double>(); if (!(v >= 0.05 && v <= 0.9)) r.AddError($"--test-fraction must be in [0.05, 0.9]; got {v}."); });
            var seed = Int("--seed", "Seed of the split.", 42, 0, int.MaxValue);
            var refresh = Int("--refresh-every", "Refresh mode: the owner re-encrypts the weights every K iterations (0: never).", 0, 0, 1000);
            var k = Int("--k", "Neighbours for KNN.", 5, 1, 1000);
            var vote = new Option<bool>("--vote") { Description = "KNN: take the class vote on ciphertexts (mode b)." };
            var encrypted = new Option<string?>("--encrypted") { Description = "Two-party mode: a training job from 'veil encrypt' (the trainer's side)." };
            var publicKeys = new Option<string?>("--public-keys") { Description = "Two-party mode: the owner's public context from 'veil keys new'." };
            var output = new Option<string?>("--out") { Description = "Two-party mode: where to write the encrypted weights." };
            var json = Json();
            var command = new Command("train", "Train on encrypted data from a CSV file (all parties in one process), or, with --encrypted, as the trainer of the two-party workflow.")
                { data, model, target, iterations, rate, testFraction, seed, refresh, k, vote, encrypted, publicKeys, output, json };
            command.SetAction(r =>
            {
                if (r.GetValue(encrypted) is { } job)
                {
                    string pk = r.GetValue(publicKeys) ?? throw new UsageException("--encrypted needs --public-keys PUBLIC (from 'veil keys new').");
                    string weights = r.GetValue(output) ?? throw new UsageException("--encrypted needs --out WEIGHTS.");
                    return TwoPartyCommands.Train(job, pk, weights, r.GetValue(json));
                }
                string path = r.GetValue(data) ?? throw new UsageException("veil train needs a CSV file: veil train DATA.csv --model linear|logistic|knn|mlp --target COLUMN");
                string m = r.GetValue(model) ?? throw new UsageException("--model is required (linear, logistic, knn or mlp).");
                string t = r.GetValue(target) ?? throw new UsageException("--target COLUMN is required.");
                return TrainCommand.Run(path, m, t, r.GetValue(iterations), r.GetValue(rate), r.GetValue(testFraction), r.GetValue(seed),
                    r.GetValue(refresh), r.GetValue(k), r.GetValue(vote), r.GetValue(json));
            });
            return command;
        }

        private static Option<string?> Home() => new("--home") { Description = "The protection folder (keyring.vkr, audit.log); default $VEIL_HOME or ~/.veil." };

        private static Option<string?> PassphraseFile() => new("--passphrase-file") { Description = "Read the keyring passphrase (or PKCS#11 PIN) from this file; default $VEIL_PASSPHRASE / $VEIL_PKCS11_PIN, else a prompt." };

        private static Command Keys()
        {
            var data = Required("--data", "The CSV file the keys are sized for (rows and features).");
            var target = Required("--target", "The column to predict.");
            var model = Choice("--model", "linear or logistic.", "linear", "logistic");
            var iterations = OptionalInt("--iterations", "Gradient-descent iterations the keys must hold.", 1, 100);
            var rate = OptionalDouble("--learning-rate", "Learning rate.", 1e-6, 100);
            var owner = Required("--out", "Where to write the owner's private context (holds the secret key; sealed for the keyring).");
            var pub = Required("--public", "Where to write the public context for the trainer.");
            var plaintext = new Option<bool>("--plaintext-secret") { Description = "Write the private context unsealed (anyone who reads the file can decrypt everything)." };
            var home = Home(); var pass = PassphraseFile();
            var json = Json();
            var create = new Command("new", "Make the owner's keys for a training job (the private context sealed for the keyring).") { data, target, model, iterations, rate, owner, pub, plaintext, home, pass, json };
            create.SetAction(r => TwoPartyCommands.KeysNew(r.GetValue(data)!, r.GetValue(target)!, r.GetValue(model)!, r.GetValue(iterations), r.GetValue(rate),
                r.GetValue(owner)!, r.GetValue(pub)!, r.GetValue(plaintext), r.GetValue(home), r.GetValue(pass), r.GetValue(json)));

            var initHome = Home(); var initPass = PassphraseFile(); var initJson = Json();
            var module = new Option<string?>("--pkcs11-module") { Description = "Keep the key-encryption keys on a PKCS#11 token: the module (SoftHSM2: /usr/lib/softhsm/libsofthsm2.so)." };
            var token = new Option<string?>("--token") { Description = "The PKCS#11 token's label." };
            var memory = Int("--kdf-memory-mib", "Argon2id memory for a passphrase keyring, MiB.", 64, 19, 4096);
            var passes = Int("--kdf-passes", "Argon2id passes.", 3, 2, 64);
            var init = new Command("init", "Create the keyring (passphrase file, or PKCS#11 token) and the audit log.") { initHome, initPass, module, token, memory, passes, initJson };
            init.SetAction(r => ProtectionCommands.Init(r.GetValue(initHome), r.GetValue(initPass), r.GetValue(module), r.GetValue(token), r.GetValue(memory), r.GetValue(passes), r.GetValue(initJson)));

            var listHome = Home(); var listPass = PassphraseFile(); var listJson = Json();
            var list = new Command("list", "The keyring's versions and receiving keys.") { listHome, listPass, listJson };
            list.SetAction(r => ProtectionCommands.List(r.GetValue(listHome), r.GetValue(listPass), r.GetValue(listJson)));

            var rotHome = Home(); var rotPass = PassphraseFile(); var rotJson = Json();
            var rewrap = new Option<string[]>("--rewrap") { Description = "Protected files to move to the new version (their data is not re-encrypted).", AllowMultipleArgumentsPerToken = true, DefaultValueFactory = _ => [] };
            var rotate = new Command("rotate", "A new primary key-encryption key; older versions keep opening until retired.") { rotHome, rotPass, rewrap, rotJson };
            rotate.SetAction(r => ProtectionCommands.Rotate(r.GetValue(rotHome), r.GetValue(rotPass), r.GetValue(rewrap)!, r.GetValue(rotJson)));

            var retHome = Home(); var retPass = PassphraseFile(); var retJson = Json();
            var version = new Argument<int>("version") { Description = "The version to destroy (not the primary)." };
            var retire = new Command("retire", "Destroy an old key version.") { version, retHome, retPass, retJson };
            retire.SetAction(r => ProtectionCommands.Retire(r.GetValue(retHome), r.GetValue(retPass), r.GetValue(version), r.GetValue(retJson)));

            var expHome = Home(); var expPass = PassphraseFile();
            var expOut = new Option<string?>("--out") { Description = "Write the PEM here instead of standard output." };
            var auditKey = new Option<bool>("--audit-key") { Description = "Export the audit-log verification key instead." };
            var export = new Command("export-public", "The public keys others protect data for you with (P-256 and RSA-3072, PEM).") { expHome, expPass, expOut, auditKey };
            export.SetAction(r => ProtectionCommands.ExportPublic(r.GetValue(expHome), r.GetValue(expPass), r.GetValue(expOut), r.GetValue(auditKey)));

            var wrapHome = Home(); var wrapPass = PassphraseFile(); var wrapJson = Json();
            var file = new Argument<string>("file") { Description = "A protected file this keyring opens." };
            var recipient = Required("--recipient", "The recipient's public key (PEM from their 'veil keys export-public').");
            var wrapFor = new Command("wrap-for", "Let exactly one more party open a protected file (its data key wrapped to their public key).") { file, recipient, wrapHome, wrapPass, wrapJson };
            wrapFor.SetAction(r => ProtectionCommands.WrapFor(r.GetValue(wrapHome), r.GetValue(wrapPass), r.GetValue(file)!, r.GetValue(recipient)!, r.GetValue(wrapJson)));

            return new Command("keys", "Keys: the keyring (init, list, rotate, retire, export-public, wrap-for) and the two-party workflow's HE keys (new).")
                { init, list, rotate, retire, export, wrapFor, create };
        }

        private static Command Protect()
        {
            var file = new Argument<string>("file") { Description = "The file to protect." };
            var to = new Option<string[]>("--to") { Description = "Also for this recipient's public key (PEM); repeatable.", DefaultValueFactory = _ => [] };
            var output = new Option<string?>("--out") { Description = "The protected file (default FILE.vp)." };
            var chacha = new Option<bool>("--chacha20") { Description = "ChaCha20-Poly1305 instead of AES-256-GCM." };
            var noKeyring = new Option<bool>("--no-keyring") { Description = "Only the --to recipients can open it, not this keyring." };
            var home = Home(); var pass = PassphraseFile(); var json = Json();
            var command = new Command("protect", "Encrypt a file of any size (chunked AES-256-GCM, key-committing) for the keyring and recipients.") { file, to, output, chacha, noKeyring, home, pass, json };
            command.SetAction(r => ProtectionCommands.Protect(r.GetValue(home), r.GetValue(pass), r.GetValue(file)!, r.GetValue(to)!, r.GetValue(output), r.GetValue(chacha), r.GetValue(noKeyring), r.GetValue(json)));
            return command;
        }

        private static Command Unprotect()
        {
            var file = new Argument<string>("file") { Description = "A protected file." };
            var output = new Option<string?>("--out") { Description = "Where to write the plaintext (default: FILE without .vp); written only when every chunk verified." };
            var home = Home(); var pass = PassphraseFile(); var json = Json();
            var command = new Command("unprotect", "Verify and decrypt a protected file.") { file, output, home, pass, json };
            command.SetAction(r => ProtectionCommands.Unprotect(r.GetValue(home), r.GetValue(pass), r.GetValue(file)!, r.GetValue(output), r.GetValue(json)));
            return command;
        }

        private static Command Audit()
        {
            var home = Home(); var key = new Option<string?>("--key") { Description = "The audit verification key (PEM); default HOME/audit-key.pem." }; var json = Json();
            var verify = new Command("verify", "Check the audit log's hash chain and checkpoint signatures (exit 1 when anything was edited, deleted or reordered).") { home, key, json };
            verify.SetAction(r => ProtectionCommands.AuditVerify(r.GetValue(home), r.GetValue(key), r.GetValue(json)));
            var reportHome = Home(); var reportJson = Json();
            var report = new Command("report", "Records of processing: per key and data set, who did what and when.") { reportHome, reportJson };
            report.SetAction(r => ProtectionCommands.AuditReport(r.GetValue(reportHome), r.GetValue(reportJson)));
            return new Command("audit", "The security audit trail.") { verify, report };
        }

        private static Command Encrypt()
        {
            var data = new Argument<string>("data") { Description = "The owner's CSV file." };
            var target = Required("--target", "The column to predict.");
            var model = Choice("--model", "linear or logistic.", "linear", "logistic");
            var iterations = OptionalInt("--iterations", "Gradient-descent iterations.", 1, 100);
            var rate = OptionalDouble("--learning-rate", "Learning rate.", 1e-6, 100);
            var keys = Required("--keys", "The owner's private context from 'veil keys new'.");
            var output = Required("--out", "Where to write the training job for the trainer.");
            var state = Required("--state", "Where to write the owner's private preprocessing state.");
            var home = Home(); var pass = PassphraseFile();
            var json = Json();
            var command = new Command("encrypt", "The owner's step: preprocess and encrypt a CSV file into a training job.") { data, target, model, iterations, rate, keys, output, state, home, pass, json };
            command.SetAction(r => TwoPartyCommands.Encrypt(r.GetValue(data)!, r.GetValue(target)!, r.GetValue(model)!, r.GetValue(iterations), r.GetValue(rate),
                r.GetValue(keys)!, r.GetValue(output)!, r.GetValue(state)!, r.GetValue(home), r.GetValue(pass), r.GetValue(json)));
            return command;
        }

        private static Command Decrypt()
        {
            var weights = new Argument<string>("weights") { Description = "Encrypted weights from 'veil train --encrypted'." };
            var keys = Required("--keys", "The owner's private context.");
            var state = Required("--state", "The owner's state from 'veil encrypt'.");
            var test = new Option<string?>("--test") { Description = "A CSV file to score the model on." };
            var target = new Option<string?>("--target") { Description = "The column to predict in --test." };
            var home = Home(); var pass = PassphraseFile();
            var json = Json();
            var command = new Command("decrypt", "The owner's last step: decrypt the trained model (for the owner's own use).") { weights, keys, state, test, target, home, pass, json };
            command.SetAction(r => TwoPartyCommands.Decrypt(r.GetValue(weights)!, r.GetValue(keys)!, r.GetValue(state)!, r.GetValue(test), r.GetValue(target), r.GetValue(home), r.GetValue(pass), r.GetValue(json)));
            return command;
        }

        private static Command Multiparty()
        {
            Option<string> Dir() => new("--dir") { Description = "The shared folder (session, shares, collective keys, ciphertexts).", Required = true };
            Option<int> Party() => new("--party") { Description = "This party's number, 0 … n − 1.", Required = true };
            Option<string> State() => new("--state") { Description = "This party's private state (its key share, sealed for its keyring).", Required = true };

            var initDir = Dir(); var initParties = Int("--parties", "Number of parties.", 3, 2, 1024);
            var initLabel = new Option<string>("--label") { Description = "A label for the consortium or study.", DefaultValueFactory = _ => "" };
            var initLogN = Int("--log-n", "Ring degree: 13 (N = 8192, scale 2^50) or 14 (N = 16384, scale 2^55).", 13, 13, 14); var initJson = Json();
            var init = new Command("init", "Create a session: parameters, a public reference seed, the number of parties.") { initDir, initParties, initLabel, initLogN, initJson };
            init.SetAction(r => MultipartyCommands.Init(r.GetValue(initDir)!, r.GetValue(initParties), r.GetValue(initLabel)!, r.GetValue(initLogN), r.GetValue(initJson)));

            var joinDir = Dir(); var joinParty = Party(); var joinState = State(); var joinHome = Home(); var joinPass = PassphraseFile(); var joinJson = Json();
            var joinBudget = Int("--budget", "Decryption shares this party will make (the flooding grows with √budget).", 16, 1, 1 << 20);
            var join = new Command("join", "A party's first round: its public-key and relinearization round-1 shares; its key share sealed in its state.") { joinDir, joinParty, joinState, joinBudget, joinHome, joinPass, joinJson };
            join.SetAction(r => MultipartyCommands.Join(r.GetValue(joinDir)!, r.GetValue(joinParty), r.GetValue(joinState)!, r.GetValue(joinBudget), r.GetValue(joinHome), r.GetValue(joinPass), r.GetValue(joinJson)));

            var r2Dir = Dir(); var r2Party = Party(); var r2State = State(); var r2Home = Home(); var r2Pass = PassphraseFile(); var r2Json = Json();
            var round2 = new Command("round2", "A party's second round: relinearization round 2 and a rotation-key share.") { r2Dir, r2Party, r2State, r2Home, r2Pass, r2Json };
            round2.SetAction(r => MultipartyCommands.Round2(r.GetValue(r2Dir)!, r.GetValue(r2Party), r.GetValue(r2State)!, r.GetValue(r2Home), r.GetValue(r2Pass), r.GetValue(r2Json)));

            var cDir = Dir(); var cStep = new Option<string>("--step") { Description = "keys (public key and round-1 sums) or relin (relinearization and rotation keys).", Required = true }; var cJson = Json();
            var combine = new Command("combine", "The aggregator (no secret): combine every party's shares.") { cDir, cStep, cJson };
            combine.SetAction(r => MultipartyCommands.Combine(r.GetValue(cDir)!, r.GetValue(cStep)!, r.GetValue(cJson)));

            var eDir = Dir(); var eValues = new Option<string>("--values") { Description = "Comma-separated values.", Required = true };
            var eOut = new Option<string>("--out") { Description = "Ciphertext file name in the folder.", Required = true }; var eJson = Json();
            var encrypt = new Command("encrypt", "Encrypt values under the collective public key.") { eDir, eValues, eOut, eJson };
            encrypt.SetAction(r => MultipartyCommands.Encrypt(r.GetValue(eDir)!, r.GetValue(eValues)!, r.GetValue(eOut)!, r.GetValue(eJson)));

            var sDir = Dir(); var sIn = new Option<string>("--in") { Description = "Ciphertext file name.", Required = true };
            var sOut = new Option<string>("--out") { Description = "Result file name.", Required = true }; var sJson = Json();
            var square = new Command("square", "x², relinearized, rescaled and rotated by one slot, with the collective keys (no secret).") { sDir, sIn, sOut, sJson };
            square.SetAction(r => MultipartyCommands.Square(r.GetValue(sDir)!, r.GetValue(sIn)!, r.GetValue(sOut)!, r.GetValue(sJson)));

            var dsDir = Dir(); var dsParty = Party(); var dsState = State(); var dsIn = new Option<string>("--in") { Description = "Ciphertext file name.", Required = true };
            var dsError = new Option<double>("--error-bits") { Description = "log2 of a bound on the ciphertext's error (sizes the flooding); the computation's owner knows it.", DefaultValueFactory = _ => Veil.Multiparty.FloodingPolicy.Default.ErrorBits };
            var dsHome = Home(); var dsPass = PassphraseFile(); var dsJson = Json();
            var share = new Command("decrypt-share", "A party's flooded decryption share of a ciphertext (counted against its budget).") { dsDir, dsParty, dsState, dsIn, dsError, dsHome, dsPass, dsJson };
            share.SetAction(r => MultipartyCommands.DecryptShare(r.GetValue(dsDir)!, r.GetValue(dsParty), r.GetValue(dsState)!, r.GetValue(dsIn)!, r.GetValue(dsError), r.GetValue(dsHome), r.GetValue(dsPass), r.GetValue(dsJson)));

            var dDir = Dir(); var dIn = new Option<string>("--in") { Description = "Ciphertext file name.", Required = true };
            var dCount = Int("--count", "Slots to print.", 8, 1, 1 << 16); var dJson = Json();
            var decrypt = new Command("decrypt", "Combine every party's decryption share and print the values.") { dDir, dIn, dCount, dJson };
            decrypt.SetAction(r => MultipartyCommands.Decrypt(r.GetValue(dDir)!, r.GetValue(dIn)!, r.GetValue(dCount), r.GetValue(dJson)));

            return new Command("multiparty", "Keys no single party holds: collective keys and decryption across separate processes.") { init, join, round2, combine, encrypt, square, share, decrypt };
        }

        private static Command Mpc()
        {
            var parties = Int("--parties", "Parties (separate processes).", 2, 2, 3);
            var dealer = new Option<bool>("--dealer") { Description = "Beaver triples and comparison masks from a dealer process (the default)." };
            var he = new Option<bool>("--he-triples") { Description = "No dealer: the two parties make their triples and comparison masks with BFV (workloads cut to size)." };
            var iterations = Int("--iterations", "Gradient steps of the logistic regression.", 30, 1, 500);
            var inProcess = new Option<bool>("--in-process") { Description = "All parties in this process over in-process channels (no sockets)." };
            var digits = Int("--digits-images", "Digits test images of the hybrid inference (two parties; 0 skips it).", 100, 0, 360);
            var fashion = Int("--fashion-images", "Fashion-MNIST test images of the hybrid inference (two parties, when installed; 0 skips it).", 40, 0, 10_000);
            var json = Json();
            var demo = new Command("demo", "Parties as separate processes over mutual TLS on loopback: logistic regression on shared rows and exact KNN, next to the plaintext twins.")
                { parties, dealer, he, iterations, inProcess, digits, fashion, json };
            var demoFault = new Option<string?>("--fault") { Description = "Fault injection for tests: the last party sends 'garbage' or 'disconnect's to party 0.", Hidden = true };
            demoFault.AcceptOnlyFromAmong("garbage", "disconnect");
            demo.Options.Add(demoFault);
            demo.SetAction(r => MpcCommands.Demo(r.GetValue(parties), r.GetValue(dealer), r.GetValue(he), r.GetValue(iterations), r.GetValue(inProcess), r.GetValue(json), r.GetValue(demoFault),
                r.GetValue(digits), r.GetValue(fashion)));

            var role = Int("--role", "Party number, or 255 for the dealer.", 0, 0, 255);
            var nParties = Int("--parties", "Parties in the group.", 2, 2, 16);
            var nDealer = new Option<bool>("--dealer") { Description = "The group has a dealer." };
            var nHe = new Option<bool>("--he-triples") { Description = "Triples and masks by BFV between the two parties." };
            var nIterations = Int("--iterations", "Gradient steps of the logistic regression.", 30, 1, 500);
            var nDigits = Int("--digits-images", "Digits images of the hybrid inference.", 100, 0, 360);
            var nFashion = Int("--fashion-images", "Fashion-MNIST images of the hybrid inference.", 40, 0, 10_000);
            var fault = new Option<string?>("--fault") { Description = "Fault injection for tests: 'garbage' or 'disconnect' on the channel to party 0, after --fault-after frames." };
            fault.AcceptOnlyFromAmong("garbage", "disconnect");
            var faultAfter = Int("--fault-after", "Frames sent faithfully before the fault.", 5, 0, 1_000_000);
            var node = new Command("node", "One node of 'veil mpc demo' (started by it): announces its key, reads the plan on stdin, runs, prints JSON.")
                { role, nParties, nDealer, nHe, nIterations, nDigits, nFashion, fault, faultAfter };
            node.Hidden = true;
            node.SetAction(r => MpcCommands.Node(r.GetValue(role), r.GetValue(nParties), r.GetValue(nDealer), r.GetValue(nHe), r.GetValue(nIterations), r.GetValue(fault), r.GetValue(faultAfter),
                r.GetValue(nDigits), r.GetValue(nFashion)));
            return new Command("mpc", "Secure multiparty computation by secret sharing.") { demo, node };
        }

        private static Command Federate()
        {
            var participants = Int("--participants", "Participant processes.", 3, 2, 20);
            var data = new Option<string>("--data") { Description = "breast_cancer, iris, diabetes, digits, or a CSV file (with --target).", DefaultValueFactory = _ => "breast_cancer" };
            var target = new Option<string?>("--target") { Description = "The CSV file's label column." };
            var model = new Option<string>("--model") { Description = "logistic (one-vs-rest beyond two classes), linear or mlp.", DefaultValueFactory = _ => "logistic" };
            model.AcceptOnlyFromAmong("logistic", "linear", "mlp");
            var rounds = Int("--rounds", "FedAvg rounds.", 10, 1, 1000);
            var epsilon = new Option<double?>("--epsilon") { Description = "DP-FedAvg with this ε budget (δ = 1e-5); the noise multiplier is chosen to spend it over the rounds." };
            var dropout = new Option<double>("--dropout") { Description = "Share of participants killed (SIGKILL) after round 1 and restarted halfway [0, 0.5].", DefaultValueFactory = _ => 0 };
            dropout.Validators.Add(r => { double v = r.GetValueOrDefault<double>(); if (!(v >= 0 && v <= 0.5)) r.AddError("--dropout must be in [0, 0.5]."); });
            var split = new Option<string>("--split") { Description = "iid or label-skew.", DefaultValueFactory = _ => "iid" };
            split.AcceptOnlyFromAmong("iid", "label-skew");
            var aggregation = new Option<string>("--aggregation") { Description = "threshold (collective CKKS key, t-of-n decryption), paillier (PPFLHE: one 3072-bit key authority) or plaintext (the baseline).", DefaultValueFactory = _ => "threshold" };
            aggregation.AcceptOnlyFromAmong("threshold", "paillier", "plaintext");
            var steps = Int("--local-steps", "Local gradient steps per round.", 5, 1, 1000);
            var rate = new Option<double?>("--learning-rate") { Description = "Local learning rate (default 0.5; 0.1 for linear regression)." };
            rate.Validators.Add(r => { if (r.GetValueOrDefault<double?>() is double v && !(v > 0 && v <= 10)) r.AddError("--learning-rate must be in (0, 10]."); });
            var plot = new Option<string?>("--plot") { Description = "Where the PNG of score and ε per round goes (default federation-DATA.png; none with --json unless given)." };
            var scaffold = new Option<bool>("--scaffold") { Description = "SCAFFOLD's drift correction for skewed splits: a secure gradient sum before each round's local steps (not with --epsilon)." };
            var json = Json();
            var demo = new Command("demo", "A federation on loopback: this process coordinates, each participant is a separate process (gRPC, mutual TLS); beside centralized training.")
                { participants, data, target, model, rounds, epsilon, dropout, split, aggregation, steps, rate, scaffold, plot, json };
            demo.SetAction(r => FederateCommands.Demo(new Veil.Federated.FederationDemoOptions(r.GetValue(data)!, r.GetValue(target), r.GetValue(model)!, r.GetValue(participants), r.GetValue(rounds),
                r.GetValue(epsilon), r.GetValue(dropout), r.GetValue(split) == "label-skew" ? Veil.Federated.SplitKind.LabelSkew : Veil.Federated.SplitKind.Iid,
                r.GetValue(aggregation) switch { "plaintext" => Veil.Federated.AggregationMode.Plaintext, "paillier" => Veil.Federated.AggregationMode.Paillier, _ => Veil.Federated.AggregationMode.Threshold },
                r.GetValue(steps), r.GetValue(rate), Scaffold: r.GetValue(scaffold)), r.GetValue(json), r.GetValue(plot)));

            var federation = new Option<string>("--federation") { Description = "The federation file.", Required = true };
            var index = Int("--index", "This participant's number in the file.", 0, 0, 63);
            var pData = new Option<string>("--data") { Description = "This participant's rows (CSV).", Required = true };
            var pTarget = new Option<string>("--target") { Description = "The label column.", Required = true };
            var directory = new Option<string>("--directory") { Description = "This participant's folder: keyring.vkr, tls.pfx, state/.", Required = true };
            var address = new Option<string>("--coordinator") { Description = "The coordinator's address (https://127.0.0.1:PORT); on a cluster, its silos' addresses separated by commas (a lost one is left for the next).", Required = true };
            var weak = new Option<bool>("--allow-weak-keyring-cost") { Description = "Open a keyring made with less than the default Argon2id cost (demos)." };
            var pJson = Json();
            var participant = new Command("participant", $"One participant (its passphrase in ${Veil.Federated.FederationDemo.PassphraseVariable}): polls the coordinator, trains, encrypts, decrypts sums with the others.")
                { federation, index, pData, pTarget, directory, address, weak, pJson };
            participant.SetAction(r => FederateCommands.Participant(r.GetValue(federation)!, r.GetValue(index), r.GetValue(pData)!, r.GetValue(pTarget)!, r.GetValue(directory)!, r.GetValue(address)!, r.GetValue(weak), r.GetValue(pJson)));

            var cFederation = new Option<string>("--federation") { Description = "The federation file.", Required = true };
            var certificate = new Option<string>("--certificate") { Description = "The coordinator's certificate (PKCS#12; passphrase in the environment).", Required = true };
            var port = Int("--port", "Loopback port (0 picks one).", 0, 0, 65535);
            var store = new Option<string?>("--store") { Description = "The SQLite checkpoint file (default: the federation file's name with .db); a restart resumes from it." };
            var cJson = Json();
            var cCluster = new Option<string?>("--cluster") { Description = "Run as an Orleans silo of the cluster whose membership is in this Redis server (HOST:PORT), or in sqlite:FILE (processes on one machine): the coordinator is a grain on one of the silos, every silo's port serves the participants, checkpoints go to --postgres (or, with sqlite:, to the --store file every silo shares)." };
            var cPostgres = new Option<string?>("--postgres") { Description = "The PostgreSQL connection string of the cluster's checkpoint store (with --cluster)." };
            var cClusterId = new Option<string>("--cluster-id") { Description = "The cluster's id.", DefaultValueFactory = _ => "veil-federation" };
            var cSiloPort = Int("--silo-port", "The silo's port (loopback).", 11111, 1, 65535);
            var cGatewayPort = Int("--gateway-port", "The silo's client gateway port (loopback).", 30000, 1, 65535);
            var coordinator = new Command("coordinator", "The coordinator: relays key shares, sums ciphertexts, asks t participants to decrypt, until the rounds are done.")
                { cFederation, certificate, port, store, cJson, cCluster, cPostgres, cClusterId, cSiloPort, cGatewayPort };
            coordinator.SetAction(r => r.GetValue(cCluster) is { } fedRedis
                ? FederateCommands.ClusterCoordinator(r.GetValue(cFederation)!, r.GetValue(certificate)!, r.GetValue(port), r.GetValue(cPostgres), r.GetValue(store),
                    new Veil.Cluster.ClusterSettings(fedRedis, r.GetValue(cClusterId)!, SiloPort: r.GetValue(cSiloPort), GatewayPort: r.GetValue(cGatewayPort)), r.GetValue(cJson))
                : FederateCommands.Coordinator(r.GetValue(cFederation)!, r.GetValue(certificate)!, r.GetValue(port), r.GetValue(store), r.GetValue(cJson)));
            var iDirectory = new Option<string>("--directory") { Description = "An empty folder to write the federation into.", Required = true };
            var iParticipants = Int("--participants", "Participants.", 3, 2, 64);
            var iData = new Option<string>("--data") { Description = "breast_cancer, iris, diabetes, digits, or a CSV file (with --target).", DefaultValueFactory = _ => "breast_cancer" };
            var iTarget = new Option<string?>("--target") { Description = "The CSV file's label column." };
            var iModel = new Option<string>("--model") { Description = "logistic, linear or mlp.", DefaultValueFactory = _ => "logistic" };
            iModel.AcceptOnlyFromAmong("logistic", "linear", "mlp");
            var iRounds = Int("--rounds", "FedAvg rounds.", 10, 1, 1000);
            var iJson = Json();
            var init = new Command("init", "Writes a federation into a folder to run its roles by hand: the file, every member's keyring and certificate, split rows (all made on this machine, for trying it out).")
                { iDirectory, iParticipants, iData, iTarget, iModel, iRounds, iJson };
            init.SetAction(r => FederateCommands.Init(new Veil.Federated.FederationDemoOptions(r.GetValue(iData)!, r.GetValue(iTarget), r.GetValue(iModel)!, r.GetValue(iParticipants), r.GetValue(iRounds)),
                r.GetValue(iDirectory)!, r.GetValue(iJson)));
            return new Command("federate", "Federated learning: encrypted aggregation under a collective key, dropouts, differential privacy.") { demo, init, participant, coordinator };
        }

        private static Command Serve()
        {
            var dir = new Option<string>("--data-dir") { Description = "Keyring, audit log, certificate and (SQLite) the database and sealed blobs.", DefaultValueFactory = _ => Path.Combine(Veil.Protection.ProtectionHome.DefaultDirectory, "server") };
            var urls = new Option<string[]>("--urls") { Description = "Addresses to listen on.", DefaultValueFactory = _ => ["https://127.0.0.1:5443"], AllowMultipleArgumentsPerToken = true };
            var postgres = new Option<string?>("--postgres") { Description = "A PostgreSQL connection string (else VEIL_SERVER_POSTGRES, else SQLite in the data folder)." };
            var workers = Int("--workers", "Background workers for jobs.", 1, 1, 64);
            var cluster = new Option<string?>("--cluster") { Description = "Also run an Orleans silo of the cluster whose membership is in this Redis server (HOST:PORT); the replicas share --postgres and the keyring." };
            var clusterId = new Option<string>("--cluster-id") { Description = "The cluster's id.", DefaultValueFactory = _ => "veil" };
            var siloPort = Int("--silo-port", "The silo's port (loopback).", 11111, 1, 65535);
            var gatewayPort = Int("--gateway-port", "The silo's client gateway port (loopback).", 30000, 1, 65535);
            var command = new Command("serve", "Run the encrypted-inference service (HTTPS; REST API, OpenAPI at /openapi/v1.json, dashboard at /dashboard).") { dir, urls, postgres, workers, cluster, clusterId, siloPort, gatewayPort };
            command.SetAction(r => ServeCommands.Serve(r.GetValue(dir)!, r.GetValue(urls)!, r.GetValue(postgres), r.GetValue(workers),
                r.GetValue(cluster) is { } redis ? new Veil.Cluster.ClusterSettings(redis, r.GetValue(clusterId)!, SiloPort: r.GetValue(siloPort), GatewayPort: r.GetValue(gatewayPort)) : null));
            return command;
        }

        private static (Option<string> Server, Option<string?> Key, Option<string?> KeyFile, Option<string?> Pin, Option<string?> PinFile) ClientOptions() =>
            (new Option<string>("--server") { Description = "The service's address.", DefaultValueFactory = _ => "https://127.0.0.1:5443" },
             new Option<string?>("--api-key") { Description = "An API key (else --api-key-file, else VEIL_API_KEY)." },
             new Option<string?>("--api-key-file") { Description = "A file holding the API key (the admin's: admin.key in the service's data folder)." },
             new Option<string?>("--pin") { Description = "The pin of the service's certificate (veil serve prints it); without it the system's CAs decide." },
             new Option<string?>("--pin-file") { Description = "A file holding the pin (server.pin in the service's data folder)." });

        private static Command Deploy()
        {
            var file = new Argument<string?>("MODEL") { Description = "A saved network (a SequentialNetwork object).", Arity = ArgumentArity.ZeroOrOne };
            var builtin = new Option<string?>("--builtin") { Description = "Train and deploy a shipped example instead of a file." };
            builtin.AcceptOnlyFromAmong("digits");
            var name = new Option<string?>("--name") { Description = "The model's name (default: the file name)." };
            var grantAll = new Option<bool>("--grant-all") { Description = "Let every tenant use it." };
            var writeTest = new Option<string?>("--write-test") { Description = "With --builtin: write the rows it was not trained on to this CSV file (for veil predict)." };
            var (server, key, keyFile, pin, pinFile) = ClientOptions();
            var json = Json();
            var command = new Command("deploy", "Deploy a model to the service (admin key).") { file, builtin, name, grantAll, writeTest, server, key, keyFile, pin, pinFile, json };
            command.SetAction(r => ServeCommands.Deploy(r.GetValue(file), r.GetValue(builtin), r.GetValue(name), r.GetValue(grantAll), r.GetValue(writeTest), r.GetValue(server)!, r.GetValue(key),
                r.GetValue(keyFile), r.GetValue(pin), r.GetValue(pinFile), r.GetValue(json)));
            return command;
        }

        private static Command Infer()
        {
            var model = new Argument<string>("MODEL.onnx") { Description = "An ONNX model (opset 13+; see src/Veil.Onnx/README.md for the operators read)." };
            var data = new Argument<string>("DATA.csv") { Description = "Rows: the graph's inputs in order, and the label column (class numbers)." };
            var target = new Option<string>("--target") { Description = "The label column.", Required = true };
            var limit = OptionalInt("--limit", "Only the first rows.", 1, 1_000_000);
            var calibration = new Option<string?>("--calibration") { Description = "Rows (same columns) whose ranges fit the activations; default: the first 256 rows of DATA (their labels unread)." };
            var degree = OptionalInt("--degree", "One polynomial degree for every fitted activation instead of the search.", 1, 63);
            var latency = new Option<bool>("--latency") { Description = "One row per ciphertext, each timed (default: batched, one row per slot)." };
            var json = Json();
            var command = new Command("infer", "Run an ONNX model on the encrypted rows of a CSV file, next to the graph in plaintext with its exact activations.") { model, data, target, limit, calibration, degree, latency, json };
            command.SetAction(r => InferCommand.Run(r.GetValue(model)!, r.GetValue(data)!, r.GetValue(target)!, r.GetValue(limit), r.GetValue(calibration), r.GetValue(degree), r.GetValue(latency), r.GetValue(json)));
            return command;
        }

        private static Command Compile()
        {
            var model = new Argument<string>("MODEL.onnx") { Description = "An ONNX model (opset 13+)." };
            var batched = new Option<bool>("--batched") { Description = "One input per slot: throughput." };
            var latency = new Option<bool>("--latency") { Description = "One input per ciphertext: latency." };
            var calibration = new Option<string?>("--calibration") { Description = "A CSV of inputs (the graph's order) whose ranges fit the activations." };
            var target = new Option<string?>("--target") { Description = "The calibration file's label column (dropped)." };
            var output = new Option<string?>("--out") { Description = "The deployable network file (default MODEL.veilnet here)." };
            var degree = OptionalInt("--degree", "One polynomial degree for every fitted activation instead of the search.", 1, 63);
            var json = Json();
            var command = new Command("compile", "Compile an ONNX model: print the plan (layers, depth, parameters, keys, predicted time and memory) and write a network file for veil deploy.")
                { model, batched, latency, calibration, target, output, degree, json };
            command.SetAction(r => CompileCommand.Run(r.GetValue(model)!, r.GetValue(batched), r.GetValue(latency), r.GetValue(calibration), r.GetValue(target), r.GetValue(output), r.GetValue(degree), r.GetValue(json)));
            return command;
        }

        private static Command Predict()
        {
            var data = new Argument<string>("DATA.csv") { Description = "Rows to classify: the model's inputs in order, and the label column." };
            var model = new Option<string>("--model") { Description = "The deployed model.", Required = true };
            var target = new Option<string>("--target") { Description = "The label column.", DefaultValueFactory = _ => "target" };
            var batched = new Option<bool>("--batched") { Description = "All rows as background jobs (one input per slot) instead of one request per row." };
            var limit = OptionalInt("--limit", "Only the first rows.", 1, 1_000_000);
            var (server, key, keyFile, pin, pinFile) = ClientOptions();
            var json = Json();
            var command = new Command("predict", "Classify the rows of a CSV file through the service: encrypted here, evaluated there, decrypted here.")
                { data, model, target, batched, limit, server, key, keyFile, pin, pinFile, json };
            command.SetAction(r => ServeCommands.Predict(r.GetValue(data)!, r.GetValue(model)!, r.GetValue(target)!, r.GetValue(batched), r.GetValue(limit), r.GetValue(server)!,
                r.GetValue(key), r.GetValue(keyFile), r.GetValue(pin), r.GetValue(pinFile), r.GetValue(json)));
            return command;
        }

        private static Command Bench()
        {
            var sets = new Option<string>("--sets") { Description = "Parameter sets: A, B or A,B.", DefaultValueFactory = _ => "A,B" };
            sets.Validators.Add(r =>
            {
                foreach (var s in (r.GetValueOrDefault<string>() ?? "").Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
                    if (s is not ("A" or "B")) r.AddError($"--sets takes A and/or B; got '{s}'.");
            });
            var reps = Int("--reps", "Repetitions per operation.", 30, 1, 100_000);
            var threads = Int("--threads", "Threads.", Environment.ProcessorCount, 1, 1024);
            var compare = new Option<string?>("--compare") { Description = "A peer's JSON (node-seal) to print ratios against." };
            var output = new Option<string?>("--out") { Description = "Also write the JSON to this file." };
            var json = Json();
            var ckks = new Command("ckks", "Per-operation CKKS timings on the anchor parameter sets (the JSON shape of the node-seal peer).") { sets, reps, threads, json, compare, output };
            ckks.SetAction(r => BenchCkksCommand.Run(r.GetValue(sets)!, r.GetValue(reps), r.GetValue(threads), r.GetValue(json), r.GetValue(compare), r.GetValue(output)));

            var withIris = new Option<bool>("--with-iris") { Description = "Also one-vs-rest on iris." };
            var seed = Int("--seed", "Seed of the split.", 42, 0, int.MaxValue);
            var mlJson = Json();
            var mlIterations = OptionalInt("--iterations", "Gradient-descent iterations (beyond one chain the trainer bootstraps, N = 2^16).", 1, 1000);
            var ml = new Command("ml", "Encrypted training on the shipped data sets, with times per iteration.") { withIris, seed, mlIterations, mlJson };
            ml.SetAction(r => BenchMlCommand.Run(r.GetValue(mlJson), r.GetValue(withIris), r.GetValue(seed), r.GetValue(mlIterations)));

            var scalingReps = Int("--reps", "Repetitions.", 10, 1, 10_000);
            var scalingThreads = Int("--threads", "Threads.", 1, 1, 1024);
            var scalingJson = Json();
            var scaling = new Command("scaling", "Multiply+relinearize+rescale and rotate for N = 4096 … 32768.") { scalingReps, scalingThreads, scalingJson };
            scaling.SetAction(r => BenchScalingCommand.Run(r.GetValue(scalingReps), r.GetValue(scalingThreads), r.GetValue(scalingJson)));

            var size = Int("--size-mib", "Size of the file sealed and opened.", 2048, 1, 1 << 20);
            var protectReps = Int("--reps", "Alternating rounds.", 3, 1, 100);
            var protectDir = new Option<string?>("--dir") { Description = "Folder for the test files (default: a temporary one, removed after)." };
            var protectJson = Json();
            var protect = new Command("protect", "Protected-file throughput: in memory, and file to file beside age and openssl on the same file.") { size, protectReps, protectDir, protectJson };
            protect.SetAction(r => BenchProtectCommand.Run(r.GetValue(size), r.GetValue(protectReps), r.GetValue(protectDir), r.GetValue(protectJson)));

            var bfvReps = Int("--reps", "Repetitions per operation.", 30, 1, 100_000);
            var bfvThreads = Int("--threads", "Threads.", 1, 1, 1024);
            var bfvCompare = new Option<string?>("--compare") { Description = "The JSON of ../shared/peers/node-seal-bfv-bench.sh to print ratios against." };
            var bfvOut = new Option<string?>("--out") { Description = "Also write the JSON to this file." };
            var bfvJson = Json();
            var bfv = new Command("bfv", "Per-operation BFV timings (N = 8192, 16384; SEAL's default moduli; 20-bit t) in node-seal's JSON shape.") { bfvReps, bfvThreads, bfvCompare, bfvOut, bfvJson };
            bfv.SetAction(r => BenchBfvCommand.Run(r.GetValue(bfvReps), r.GetValue(bfvThreads), r.GetValue(bfvJson), r.GetValue(bfvCompare), r.GetValue(bfvOut)));

            var pReps = Int("--reps", "Repetitions per operation.", 30, 1, 100_000);
            var pCompare = new Option<string?>("--compare") { Description = "The JSON of ../shared/peers/node-paillier-bench.sh to print ratios against." };
            var pOut = new Option<string?>("--out") { Description = "Also write the JSON to this file." };
            var pJson = Json();
            var paillier = new Command("paillier", "Paillier per operation (2048- and 3072-bit n) in paillier-bigint's JSON shape.") { pReps, pCompare, pOut, pJson };
            paillier.SetAction(r => BenchPaillierCommand.Run(r.GetValue(pReps), r.GetValue(pJson), r.GetValue(pCompare), r.GetValue(pOut)));

            var eReps = Int("--reps", "Repetitions per operation.", 30, 1, 100_000);
            var eBits = Int("--range-bits", "Decrypt over [0, 2^bits).", 20, 1, 40);
            var eOut = new Option<string?>("--out") { Description = "Also write the JSON to this file." };
            var eJson = Json();
            var elgamal = new Command("elgamal", "EC-ElGamal (P-256) per operation, decryption over a 2^20 range.") { eReps, eBits, eOut, eJson };
            elgamal.SetAction(r => BenchElGamalCommand.Run(r.GetValue(eReps), r.GetValue(eBits), r.GetValue(eJson), r.GetValue(eOut)));

            var mReps = Int("--reps", "Repetitions per protocol step.", 5, 1, 1000);
            var mParties = new Option<int[]>("--parties") { Description = "Party counts to measure.", DefaultValueFactory = _ => [3, 5, 10], AllowMultipleArgumentsPerToken = true };
            var mOut = new Option<string?>("--out") { Description = "Also write the JSON to this file." };
            var mJson = Json();
            var multiparty = new Command("multiparty", "Multiparty key generation and decryption per party: time and bytes at N = 2^14 and 2^15, beside Lattigo's mhe.") { mReps, mParties, mOut, mJson };
            multiparty.SetAction(r => BenchMultipartyCommand.Run(r.GetValue(mReps), r.GetValue(mParties)!, r.GetValue(mJson), r.GetValue(mOut)));

            var cReps = Int("--reps", "Repetitions per workload.", 3, 1, 1000);
            var cBits = Int("--paillier-bits", "Paillier key size of the dealer-free triples (below 3072 is an explicit opt-out of 128-bit security).", 3072, 2048, 4096);
            var cOut = new Option<string?>("--out") { Description = "Also write the JSON to this file." };
            var cJson = Json();
            var mpc = new Command("mpc", "Secret-sharing MPC: triples (dealer and Paillier), fixed-point products, comparisons and argmax per second.") { cReps, cBits, cOut, cJson };
            mpc.SetAction(r => BenchMpcCommand.Run(r.GetValue(cReps), r.GetValue(cBits), r.GetValue(cJson), r.GetValue(cOut)));

            var sClients = Int("--clients", "Concurrent clients of the load, each with its own keys and tenant.", 50, 1, 1000);
            var sRequests = Int("--requests", "Requests per client (one in four a batch of 8 images).", 20, 1, 10_000);
            var sReps = Int("--reps", "Single-image requests timed through the service and in process each.", 40, 1, 10_000);
            var sFault = new Option<bool>("--fault") { Description = "Also kill a 'veil serve' process with SIGKILL under load and check what survives its restart." };
            var sOut = new Option<string?>("--out") { Description = "Also write the JSON to this file." };
            var sJson = Json();
            var serve = new Command("serve", "The encrypted-inference service on loopback HTTPS beside the same work in process: latency, batched throughput, load, faults.") { sClients, sRequests, sReps, sFault, sOut, sJson };
            serve.SetAction(r => BenchServeCommand.Run(r.GetValue(sClients), r.GetValue(sRequests), r.GetValue(sReps), r.GetValue(sFault), r.GetValue(sJson), r.GetValue(sOut)));

            var kPostgres = new Option<string?>("--postgres") { Description = "The PostgreSQL server the silos share (else VEIL_SERVER_POSTGRES or VEIL_POSTGRES); a schema is made and dropped." };
            var kRedis = new Option<string>("--redis") { Description = "The Redis server of the membership (HOST:PORT).", DefaultValueFactory = _ => "127.0.0.1:6379" };
            var kSilos = Int("--silos", "Silo processes.", 3, 1, 16);
            var kBatches = Int("--batches", "Batches of 256 digits images in a job.", 12, 1, 1000);
            var kReps = Int("--reps", "Steady jobs timed per shard count (after the first, which activates the replicas).", 3, 1, 100);
            var kOut = new Option<string?>("--out") { Description = "Also write the JSON to this file." };
            var kJson = Json();
            var clusterBench = new Command("cluster", "Batched jobs of the digits network sharded over veil serve --cluster silos on loopback, beside the same batches in process: overhead, key activation, bytes.") { kPostgres, kRedis, kSilos, kBatches, kReps, kOut, kJson };
            clusterBench.SetAction(r => BenchClusterCommand.Run(r.GetValue(kPostgres), r.GetValue(kRedis)!, r.GetValue(kSilos), r.GetValue(kBatches), r.GetValue(kReps), r.GetValue(kJson), r.GetValue(kOut)));

            var bPreset = new Option<string>("--preset") { Description = "N16 (Lattigo's example shape), N15, or N14-insecure (quick, not secure).", DefaultValueFactory = _ => "N16" };
            var bReps = Int("--reps", "Bootstraps timed.", 3, 1, 1000);
            var bThreads = Int("--threads", "Threads.", Environment.ProcessorCount, 1, 1024);
            var bPlan = new Option<bool>("--plan") { Description = "Print the plan (levels, keys, their size) without generating keys." };
            var bOut = new Option<string?>("--out") { Description = "Also write the JSON to this file." };
            var bJson = Json();
            var bLogSlots = OptionalInt("--log-slots", "Sparse packing: bootstrap 2^k slots (up to N/4; N/2, the default, is full packing).", 1, 16);
            var bootstrap = new Command("bootstrap", "One CKKS bootstrap: plan, key generation, time per step, precision and peak memory.") { bPreset, bReps, bThreads, bPlan, bLogSlots, bOut, bJson };
            bootstrap.SetAction(r => BenchBootstrapCommand.Run(r.GetValue(bPreset)!, r.GetValue(bReps), r.GetValue(bThreads), r.GetValue(bPlan), r.GetValue(bJson), r.GetValue(bOut), r.GetValue(bLogSlots)));

            var aParticipants = Int("--participants", "Contributions in the round (a federation has at most 64 members).", 64, 2, 64);
            var aFeatures = Int("--features", "Features of the logistic model (its update is features + 2 values).", 30, 1, 4000);
            var aShards = new Option<int[]>("--shards") { Description = "Silos the contributions arrive at (1: all at the coordinator).", DefaultValueFactory = _ => [1, 2, 4, 8, 16], AllowMultipleArgumentsPerToken = true };
            var aReps = Int("--reps", "Rounds timed per shard count (the median is reported).", 21, 1, 1000);
            var aJson = Json();
            var federationBench = new Command("federation", "A federation round's threshold aggregation: the coordinator checking and adding every contribution, beside round shards per silo and the coordinator adding their partial sums.")
                { aParticipants, aFeatures, aShards, aReps, aJson };
            federationBench.SetAction(r => BenchClusterCommand.Federation(r.GetValue(aParticipants), r.GetValue(aFeatures), r.GetValue(aShards)!, r.GetValue(aReps), r.GetValue(aJson)));
            return new Command("bench", "Benchmarks.") { ckks, ml, scaling, protect, bfv, paillier, elgamal, multiparty, mpc, serve, clusterBench, federationBench, bootstrap };
        }
    }
}
