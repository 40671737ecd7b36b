using System.Text;

namespace Backpressure.Cli;

/// <summary>The encoding a file was written in, as its bytes show, so a rewrite keeps it (and its BOM or lack of one).</summary>
public static class FileEncoding
{
    public static Encoding Detect(string path)
    {
        Span<byte> head = stackalloc byte[3];
        int read;
        using (var stream = File.OpenRead(path))
        {
            read = stream.Read(head);
        }

        return head[..read] switch
        {
            [0xEF, 0xBB, 0xBF] => new UTF8Encoding(encoderShouldEmitUTF8Identifier: true),
            [0xFF, 0xFE, ..] => new UnicodeEncoding(bigEndian: false, byteOrderMark: true),
            [0xFE, 0xFF, ..] => new UnicodeEncoding(bigEndian: true, byteOrderMark: true),
            _ => new UTF8Encoding(encoderShouldEmitUTF8Identifier: false),
        };
    }
}
