import { describe, expect, it } from "vitest";

import { ChatStreamError, parseChatEvent, readChatStream, SseParser, type ChatEvent } from "./sse";

const chunk = (content: string) => JSON.stringify({ choices: [{ delta: { content }, finish_reason: null }] });

function streamOf(parts: string[], headers: Record<string, string> = { "Content-Type": "text/event-stream" }) {
  const encoder = new TextEncoder();
  const body = new ReadableStream<Uint8Array>({
    start(controller) {
      for (const part of parts) controller.enqueue(encoder.encode(part));
      controller.close();
    },
  });
  return new Response(body, { status: 200, headers });
}

describe("SseParser", () => {
  it("joins events split across network chunks at any point", () => {
    const text = `data: ${chunk("Hel")}\n\ndata: ${chunk("lo")}\r\n\r\n: keep-alive\n\ndata: [DONE]\n\n`;
    for (let cut = 1; cut < text.length; cut += 7) {
      const parser = new SseParser();
      const events = [...parser.push(text.slice(0, cut)), ...parser.push(text.slice(cut)), ...parser.end()];
      expect(events).toEqual([chunk("Hel"), chunk("lo"), "[DONE]"]);
    }
  });

  it("keeps multi-line data and a last event without a blank line", () => {
    const parser = new SseParser();
    expect(parser.push("event: x\ndata: a\ndata:b\n\ndata: tail")).toEqual(["a\nb"]);
    expect(parser.end()).toEqual(["tail"]);
  });
});

describe("parseChatEvent", () => {
  it("reads deltas, usage, [DONE] and OpenAI errors", () => {
    expect(parseChatEvent(chunk("hi"))).toEqual({ kind: "delta", content: "hi" });
    const usage = { prompt_tokens: 1, completion_tokens: 2, total_tokens: 3 };
    expect(parseChatEvent(JSON.stringify({ choices: [], usage }))).toEqual({ kind: "delta", content: "", usage });
    expect(parseChatEvent("[DONE]")).toEqual({ kind: "done" });
    expect(parseChatEvent('{"error":{"message":"quota exhausted","type":"x"}}')).toEqual({
      kind: "error",
      message: "quota exhausted",
    });
    expect(parseChatEvent("not json").kind).toBe("error");
  });
});

describe("readChatStream", () => {
  it("delivers each delta and stops at [DONE]", async () => {
    const seen: ChatEvent[] = [];
    await readChatStream(
      streamOf([`data: ${chunk("A")}\n\nda`, `ta: ${chunk("B")}\n\n`, "data: [DONE]\n\n", "data: ignored\n\n"]),
      (e) => seen.push(e),
    );
    expect(seen.map((e) => (e.kind === "delta" ? e.content : e.kind))).toEqual(["A", "B", "done"]);
  });

  it("throws the server's message for a JSON error answer", async () => {
    const response = new Response('{"error":{"message":"invalid token","type":"one_api_error"}}', {
      status: 401,
      headers: { "Content-Type": "application/json" },
    });
    await expect(readChatStream(response, () => undefined)).rejects.toEqual(new ChatStreamError("invalid token"));
  });

  it("throws on an error event inside the stream", async () => {
    const response = streamOf([`data: ${chunk("A")}\n\n`, 'data: {"error":{"message":"upstream broke"}}\n\n']);
    const seen: ChatEvent[] = [];
    await expect(readChatStream(response, (e) => seen.push(e))).rejects.toThrow("upstream broke");
    expect(seen).toHaveLength(1);
  });
});
