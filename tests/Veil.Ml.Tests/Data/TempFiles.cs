using System.IO.Compression;
using System.Text;

namespace Veil.Ml.Tests.Data;

/// <summary>A private temporary folder, deleted when the test class is done with it.</summary>
public sealed class TempFiles : IDisposable
{
    private readonly string _root = Path.Combine(Path.GetTempPath(), "veil-ml-tests-" + Guid.NewGuid().ToString("N"));

    public TempFiles() => Directory.CreateDirectory(_root);

    public string Write(string name, string content)
    {
        string path = Path.Combine(_root, name);
        File.WriteAllText(path, content, new UTF8Encoding(false));
        return path;
    }

    public string WriteBytes(string name, byte[] content)
    {
        string path = Path.Combine(_root, name);
        File.WriteAllBytes(path, content);
        return path;
    }

    public string WriteGzip(string name, string content)
    {
        using var buffer = new MemoryStream();
        using (var gzip = new GZipStream(buffer, CompressionLevel.Fastest, leaveOpen: true))
            gzip.Write(Encoding.UTF8.GetBytes(content));
        return WriteBytes(name, buffer.ToArray());
    }

    public string Folder => _root;

    public void Dispose()
    {
        try { Directory.Delete(_root, recursive: true); } catch (IOException) { } catch (UnauthorizedAccessException) { }
    }
}
