// Server-sent events as an OpenAI-compatible /v1/chat/completions stream sends them:
// `data: <json>` events separated by blank lines, `data: [DONE]` at the end. Network
// chunks split events (and lines) anywhere, so the parser keeps the unfinished tail.

/** Incremental SSE parser: feed text as it arrives, get back complete events' data. */
export class SseParser {
  private buffer = "";
  private data: string[] = [];

  /** Returns the data of every event completed by `text` (multi-line data joined by \n). */
  push(text: string): string[] {
    this.buffer += text;
    const events: string[] = [];
    let newline: number;
    while ((newline = this.buffer.search(/\r\n|\r|\n/)) >= 0) {
      const width = this.buffer.startsWith("\r\n", newline) ? 2 : 1;
      // A lone \r at the very end may be the first half of \r\n: wait for more.
      if (this.buffer[newline] === "\r" && newline === this.buffer.length - 1) break;
      const line = this.buffer.slice(0, newline);
      this.buffer = this.buffer.slice(newline + width);
      this.line(line, events);
    }
    return events;
  }

  /** The stream ended: an event not followed by a blank line still counts. */
  end(): string[] {
    const events: string[] = [];
    if (this.buffer) this.line(this.buffer, events);
    this.buffer = "";
    this.line("", events);
    return events;
  }

  private line(line: string, events: string[]): void {
    if (line === "") {
      if (this.data.length) events.push(this.data.join("\n"));
      this.data = [];
      return;
    }
    if (line.startsWith(":")) return; // comment / keep-alive
    const colon = line.indexOf(":");
    const field = colon < 0 ? line : line.slice(0, colon);
    let value = colon < 0 ? "" : line.slice(colon + 1);
    if (value.startsWith(" ")) value = value.slice(1);
    if (field === "data") this.data.push(value);
  }
}

export interface Usage {
  prompt_tokens: number;
  completion_tokens: number;
  total_tokens: number;
}

/** What one event of a chat stream means for the UI. */
export type ChatEvent =
  | { kind: "delta"; content: string; usage?: Usage; finish?: string }
  | { kind: "done" }
  | { kind: "error"; message: string };

/** The message of an OpenAI error body ({"error": {"message": ...}}), if `value` is one. */
export function openAiErrorMessage(value: unknown): string | null {
  if (!value || typeof value !== "object" || !("error" in value)) return null;
  const error = (value as { error: unknown }).error;
  if (typeof error === "string") return error;
  if (error && typeof error === "object" && "message" in error) {
    const message = (error as { message: unknown }).message;
    if (typeof message === "string" && message) return message;
  }
  return JSON.stringify(error);
}

interface ChunkShape {
  choices?: { delta?: { content?: string | null }; finish_reason?: string | null }[];
  usage?: Usage | null;
}

export function parseChatEvent(data: string): ChatEvent {
  if (data.trim() === "[DONE]") return { kind: "done" };
  let value: unknown;
  try {
    value = JSON.parse(data);
  } catch {
    return { kind: "error", message: `invalid stream data: ${data.slice(0, 200)}` };
  }
  const error = openAiErrorMessage(value);
  if (error !== null) return { kind: "error", message: error };
  const chunk = value as ChunkShape;
  const choice = chunk.choices?.[0];
  const event: ChatEvent = { kind: "delta", content: choice?.delta?.content ?? "" };
  if (chunk.usage) event.usage = chunk.usage;
  if (choice?.finish_reason) event.finish = choice.finish_reason;
  return event;
}

export class ChatStreamError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "ChatStreamError";
  }
}

/**
 * Read a streamed chat reply, calling `onEvent` for each delta as it arrives.
 * Throws ChatStreamError with the server's message for an error status, a JSON error
 * answer, or an error event inside the stream; AbortError when the signal fires.
 */
export async function readChatStream(response: Response, onEvent: (event: ChatEvent) => void): Promise<void> {
  const type = response.headers.get("Content-Type") ?? "";
  if (!response.ok || !type.includes("text/event-stream")) {
    const text = await response.text();
    let message: string | null = null;
    try {
      message = openAiErrorMessage(JSON.parse(text));
    } catch {
      message = null;
    }
    throw new ChatStreamError(message ?? (text.slice(0, 300) || `HTTP ${response.status}`));
  }
  if (!response.body) throw new ChatStreamError("empty response");
  const reader = response.body.getReader();
  const decoder = new TextDecoder();
  const parser = new SseParser();
  const handle = (events: string[]): boolean => {
    for (const data of events) {
      const event = parseChatEvent(data);
      if (event.kind === "error") throw new ChatStreamError(event.message);
      onEvent(event);
      if (event.kind === "done") return true;
    }
    return false;
  };
  try {
    for (;;) {
      const { value, done } = await reader.read();
      if (done) {
        handle([...parser.push(decoder.decode()), ...parser.end()]);
        return;
      }
      if (handle(parser.push(decoder.decode(value, { stream: true })))) return;
    }
  } finally {
    // Stop reading (and let the connection go) after [DONE] or an error event.
    reader.cancel().catch(() => undefined);
  }
}
