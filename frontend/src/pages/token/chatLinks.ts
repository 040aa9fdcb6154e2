// Links that open a token in a chat client with this gateway pre-filled, built the way
// the reference's token table builds them (same URL shapes, so the apps accept them).

export type ChatApp = "next" | "ama" | "opencat" | "lobechat";

export const CHAT_APPS: { value: ChatApp; label: string }[] = [
  { value: "next", label: "ChatGPT Next Web" },
  { value: "ama", label: "BotGem (AMA)" },
  { value: "opencat", label: "OpenCat" },
  { value: "lobechat", label: "LobeChat" },
];

const NEXT_CHAT_DEFAULT = "https://app.nextchat.dev";
// The reference has no fallback for Lobe Chat without a ChatLink; use its public app.
const LOBE_CHAT_DEFAULT = "https://chat-preview.lobehub.com";

/** The address clients should call: the configured ServerAddress, else this page's origin. */
export function serverAddress(configured: string | undefined | null, origin = window.location.origin): string {
  return (configured || origin).replace(/\/+$/, "");
}

export function chatUrl(app: ChatApp, key: string, server: string, chatLink?: string | null): string {
  const sk = `sk-${key}`;
  const encoded = encodeURIComponent(server);
  const link = (chatLink || "").replace(/\/+$/, "");
  switch (app) {
    case "ama":
      return `ama://set-api-key?server=${encoded}&key=${sk}`;
    case "opencat":
      return `opencat://team/join?domain=${encoded}&token=${sk}`;
    case "lobechat":
      return (
        `${link || LOBE_CHAT_DEFAULT}/?settings=` +
        JSON.stringify({ keyVaults: { openai: { apiKey: sk, baseURL: `${server}/v1` } } })
      );
    case "next":
      return `${link || NEXT_CHAT_DEFAULT}/#/?settings=` + JSON.stringify({ key: sk, url: server });
  }
}
