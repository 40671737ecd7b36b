using System.Text;

namespace Backpressure.Cli;

/// <summary>
/// Writes rewritten files whole or not at all: every new content goes to a temporary file beside its
/// target first, in the target's own encoding (BOM or not); only when all are written are they renamed
/// over the originals. Line endings are the document's own: the rewrite keeps them.
/// </summary>
public static class FileWriter
{
    public static void WriteAll(IReadOnlyList<(string Path, string Text)> files)
    {
        foreach (var (path, _) in files)
        {
            if (File.GetAttributes(path).HasFlag(FileAttributes.ReadOnly))
            {
                throw new CliException(ExitCodes.BadInput, $"'{path}' is read-only; nothing was written.");
            }
        }

        var staged = new List<(string Temporary, string Target)>();
        try
        {
            foreach (var (path, text) in files)
            {
                var encoding = FileEncoding.Detect(path);
                var temporary = Path.Combine(Path.GetDirectoryName(path)!, $".{Path.GetFileName(path)}.{Guid.NewGuid():N}.tmp");
                using (var stream = new FileStream(temporary, FileMode.CreateNew, FileAccess.Write))
                {
                    stream.Write(encoding.GetPreamble());
                    stream.Write(encoding.GetBytes(text));
                }

                if (!OperatingSystem.IsWindows())
                {
                    File.SetUnixFileMode(temporary, File.GetUnixFileMode(path)); // the rename must not change who may read it
                }

                staged.Add((temporary, path));
            }
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            foreach (var (temporary, _) in staged)
            {
                File.Delete(temporary);
            }

            throw new CliException(ExitCodes.BadInput, $"could not write: {ex.Message}; nothing was written.");
        }

        foreach (var (temporary, target) in staged)
        {
            File.Move(temporary, target, overwrite: true);
        }
    }

    public static Encoding EncodingOf(string path) => FileEncoding.Detect(path);
}
