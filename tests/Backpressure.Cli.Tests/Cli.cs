using System.Text.Json;

namespace Backpressure.Cli.Tests;

/// <summary>Runs the tool through its real entry point, capturing what it prints.</summary>
internal static class Cli
{
    public static async Task<(int Code, string Output, string Error)> RunAsync(params string[] args)
    {
        using var output = new StringWriter();
        using var error = new StringWriter();
        var code = await Program.RunAsync(args, output, error);
        return (code, output.ToString(), error.ToString());
    }

    /// <summary>Applies the replacements of SARIF results' first fix (1-based lines and columns, end exclusive) to the text they were made for.</summary>
    public static string ApplyFixes(string original, IEnumerable<JsonElement> results)
    {
        var lineStarts = new List<int> { 0 };
        for (var i = 0; i < original.Length; i++)
        {
            if (original[i] == '\n')
            {
                lineStarts.Add(i + 1);
            }
        }

        int Offset(JsonElement region, string line, string column) => lineStarts[region.GetProperty(line).GetInt32() - 1] + region.GetProperty(column).GetInt32() - 1;
        var edits = results.SelectMany(r => r.GetProperty("fixes")[0].GetProperty("artifactChanges")[0].GetProperty("replacements").EnumerateArray())
            .Select(r => (
                Start: Offset(r.GetProperty("deletedRegion"), "startLine", "startColumn"),
                End: Offset(r.GetProperty("deletedRegion"), "endLine", "endColumn"),
                Text: r.GetProperty("insertedContent").GetProperty("text").GetString()!))
            .OrderByDescending(e => e.Start)
            .ToList();
        var applied = original;
        foreach (var (start, end, text) in edits)
        {
            applied = applied[..start] + text + applied[end..];
        }

        return applied;
    }

    /// <summary>A fresh folder of loose files (no project), deleted at dispose.</summary>
    public sealed class LooseFolder : IDisposable
    {
        public string Path { get; } = System.IO.Path.Combine(System.IO.Path.GetTempPath(), "bp-loose-" + Guid.NewGuid().ToString("N")[..8]);

        public LooseFolder() => Directory.CreateDirectory(Path);

        public string Write(string name, string text)
        {
            var file = System.IO.Path.Combine(Path, name);
            File.WriteAllText(file, text);
            return file;
        }

        public void Dispose()
        {
            foreach (var file in Directory.EnumerateFiles(Path, "*", SearchOption.AllDirectories))
            {
                File.SetAttributes(file, FileAttributes.Normal);
            }

            Directory.Delete(Path, recursive: true);
        }
    }

    public const string Channel = """
        public sealed class Wire
        {
            public long BufferedAmount { get; }
            public long BufferedAmountLowThreshold { get; set; }
            public event System.Action? BufferedAmountLow;
            public void Send(byte[] data, int offset, int count) { }
        }
        """;

    public const string FixableSender = """
        using System.Threading.Tasks;

        public static class Sender
        {
            public static async Task PumpAsync(Wire wire, byte[] chunk)
            {
                while (wire.BufferedAmount > 65536)
                {
                    await Task.Delay(50);
                }

                wire.Send(chunk, 0, chunk.Length);
            }
        }
        """;
}
