using System.Text;

namespace Backpressure.Cli;

/// <summary>One file to write: its new text and, for a source file, the text it had when it was analysed.</summary>
public sealed record FileChange(string Path, string Text, string? Analysed = null);

/// <summary>
/// Writes a set of files whole or not at all. Every target is checked first (it exists or its folder does,
/// it is writable, its bytes decode in the encoding it will be written in, and a source file still holds
/// what was analysed); each new content is staged beside its target in the target's own encoding (BOM or
/// not); then each staged file is renamed over its target, which replaces it in one step. The originals
/// stay in memory, not on disk: if a rename fails, or the run is interrupted, every file already replaced
/// gets its original bytes back the same way, and the staged files are removed, so no .tmp or backup file
/// is left on any path. A symbolic link is written through to the file it points at, so the link stays a link.
/// </summary>
public static class FileWriter
{
    /// <summary>Called before each target is replaced, with its path: lets tests interrupt or fail the swap part-way.</summary>
    internal static Action<string>? BeforeReplace { get; set; }

    public static void WriteAll(IReadOnlyList<FileChange> files, CancellationToken cancellationToken = default)
    {
        var targets = files.Select(f => (Target: Resolve(f.Path), f.Text, f.Analysed)).ToList();
        var originals = new Dictionary<string, (byte[] Bytes, UnixFileMode? Mode)>(StringComparer.Ordinal);
        foreach (var (target, _, analysed) in targets)
        {
            if (Directory.Exists(target))
            {
                throw new CliException(ExitCodes.BadInput, $"'{target}' is a directory; nothing was written.");
            }

            if (!Directory.Exists(Path.GetDirectoryName(target)))
            {
                throw new CliException(ExitCodes.BadInput, $"the folder of '{target}' does not exist; nothing was written.");
            }

            if (File.Exists(target) && File.GetAttributes(target).HasFlag(FileAttributes.ReadOnly))
            {
                throw new CliException(ExitCodes.BadInput, $"'{target}' is read-only; nothing was written.");
            }

            if (File.Exists(target))
            {
                var bytes = File.ReadAllBytes(target);
                originals[target] = (bytes, OperatingSystem.IsWindows() ? null : File.GetUnixFileMode(target));
                if (analysed is not null && Decode(target, bytes) != analysed)
                {
                    throw new CliException(ExitCodes.BadInput, $"'{target}' changed on disk since it was analysed; it was left alone and nothing was written. Run fix again.");
                }
            }
            else if (analysed is not null)
            {
                throw new CliException(ExitCodes.BadInput, $"'{target}' was deleted since it was analysed; nothing was written.");
            }
        }

        var staged = new List<(string Staged, string Target)>();
        var replaced = new List<string>();
        try
        {
            foreach (var (target, text, _) in targets)
            {
                cancellationToken.ThrowIfCancellationRequested();
                var encoding = File.Exists(target) ? FileEncoding.Detect(target) : new UTF8Encoding(encoderShouldEmitUTF8Identifier: false);
                staged.Add((Stage(target, [.. encoding.GetPreamble(), .. encoding.GetBytes(text)], originals.GetValueOrDefault(target).Mode), target));
            }

            foreach (var (temporary, target) in staged)
            {
                BeforeReplace?.Invoke(target);
                cancellationToken.ThrowIfCancellationRequested();

                // Still the bytes checked above: an edit made meanwhile is not overwritten.
                if (originals.TryGetValue(target, out var original) && !File.ReadAllBytes(target).AsSpan().SequenceEqual(original.Bytes))
                {
                    throw new CliException(ExitCodes.BadInput, $"'{target}' changed on disk while fix was writing; it was left alone and nothing was written. Run fix again.");
                }

                File.Move(temporary, target, overwrite: true);
                replaced.Add(target);
            }
        }
        catch (Exception ex)
        {
            var restored = RollBack(replaced, originals);
            foreach (var (temporary, _) in staged)
            {
                TryDelete(temporary);
            }

            if (ex is IOException or UnauthorizedAccessException or NotSupportedException)
            {
                throw new CliException(ExitCodes.BadInput, restored
                    ? $"could not write: {ex.Message}; nothing was written."
                    : $"could not write: {ex.Message}; and could not put every file back: check {string.Join(", ", replaced)}.");
            }

            throw;
        }
    }

    /// <summary>Puts each replaced file's original bytes back, by the same stage-and-rename; true when all went back.</summary>
    private static bool RollBack(List<string> replaced, Dictionary<string, (byte[] Bytes, UnixFileMode? Mode)> originals)
    {
        var all = true;
        foreach (var target in Enumerable.Reverse(replaced))
        {
            try
            {
                if (originals.TryGetValue(target, out var original))
                {
                    File.Move(Stage(target, original.Bytes, original.Mode), target, overwrite: true);
                }
                else
                {
                    File.Delete(target); // it did not exist before
                }
            }
            catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
            {
                all = false;
            }
        }

        return all;
    }

    /// <summary>Writes bytes to a new hidden file beside the target, with the target's permissions, and returns its path.</summary>
    private static string Stage(string target, byte[] bytes, UnixFileMode? mode)
    {
        var temporary = Path.Combine(Path.GetDirectoryName(target)!, $".{Path.GetFileName(target)}.{Guid.NewGuid():N}.tmp");
        try
        {
            using (var stream = new FileStream(temporary, FileMode.CreateNew, FileAccess.Write))
            {
                stream.Write(bytes);
            }

            if (mode is { } m && !OperatingSystem.IsWindows())
            {
                File.SetUnixFileMode(temporary, m); // the swap must not change who may read it
            }

            return temporary;
        }
        catch
        {
            TryDelete(temporary);
            throw;
        }
    }

    private static string Decode(string path, byte[] bytes)
    {
        var encoding = FileEncoding.Detect(path);
        var preamble = encoding.GetPreamble();
        var body = bytes.AsSpan().StartsWith(preamble) ? bytes.AsSpan(preamble.Length) : bytes.AsSpan();
        return encoding.GetString(body);
    }

    private static string Resolve(string path)
    {
        var full = Path.GetFullPath(path);
        return File.Exists(full) && File.ResolveLinkTarget(full, returnFinalTarget: true) is { } target ? target.FullName : full;
    }

    private static void TryDelete(string path)
    {
        try
        {
            File.Delete(path);
        }
        catch (IOException)
        {
        }
        catch (UnauthorizedAccessException)
        {
        }
    }
}
