using System.Text.Json;
using Microsoft.AspNetCore.Http;

namespace Rkde.Cli.Serve;

/// <summary>The server's JSON answers; every error is <c>{"error": "what is wrong and what to do"}</c> with its status.</summary>
internal static class ServeJson
{
    public const string ContentType = "application/json; charset=utf-8";

    // Messages quote file content and names: keep quotes and apostrophes readable. Safe here, because the answers are
    // served as JSON with nosniff and the page puts every string into the document as text, never as HTML.
    private static readonly JsonWriterOptions WriterOptions = new() { Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping };

    /// <summary>Writes an object built by <paramref name="body"/> as the response; returns <paramref name="status"/>.</summary>
    public static async Task<int> Write(HttpContext context, int status, Action<Utf8JsonWriter> body)
    {
        using var buffer = new MemoryStream();
        using (var w = new Utf8JsonWriter(buffer, WriterOptions))
        {
            body(w);
        }
        context.Response.StatusCode = status;
        context.Response.ContentType = ContentType;
        context.Response.ContentLength = buffer.Length;
        await context.Response.Body.WriteAsync(buffer.GetBuffer().AsMemory(0, (int)buffer.Length), context.RequestAborted);
        return status;
    }

    /// <summary>Writes <c>{"error": message}</c> with <paramref name="status"/>; returns the status.</summary>
    public static Task<int> Error(HttpContext context, int status, string message) => Write(context, status, w =>
    {
        w.WriteStartObject();
        w.WriteString("error", message);
        w.WriteEndObject();
    });
}
