// Try a token from the browser: pick one of your tokens and a model, chat, and watch
// the answer stream in (POST /v1/chat/completions with stream: true, read chunk by chunk).
import {
  Alert,
  Badge,
  Button,
  Grid,
  Group,
  NumberInput,
  Paper,
  ScrollArea,
  Select,
  Stack,
  Text,
  Textarea,
} from "@mantine/core";
import { IconPlayerStop, IconSend, IconTrash } from "@tabler/icons-react";
import { useEffect, useMemo, useRef, useState } from "react";
import { useTranslation } from "react-i18next";

import { api } from "../../api/client";
import { PageHeader } from "../../components/PageHeader";
import { notifyError } from "../../lib/notify";
import { readChatStream, type Usage } from "./sse";

interface TokenRow {
  id: number;
  name: string;
  key: string;
  status: number;
  models: string | null;
}

interface Message {
  role: "user" | "assistant";
  content: string;
}

interface Stats {
  firstTokenMs: number | null;
  totalMs: number | null;
  usage: Usage | null;
}

const TOKEN_ENABLED = 1;

export default function Playground() {
  const { t } = useTranslation("playground");
  const [tokens, setTokens] = useState<TokenRow[]>([]);
  const [available, setAvailable] = useState<string[]>([]);
  const [tokenId, setTokenId] = useState<string | null>(null);
  const [model, setModel] = useState<string | null>(null);
  const [system, setSystem] = useState("");
  const [temperature, setTemperature] = useState<number | string>(0.7);
  const [input, setInput] = useState("");
  const [messages, setMessages] = useState<Message[]>([]);
  const [streaming, setStreaming] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const [stats, setStats] = useState<Stats | null>(null);
  const controller = useRef<AbortController | null>(null);
  const viewport = useRef<HTMLDivElement>(null);

  useEffect(() => {
    const abort = new AbortController();
    void Promise.all([
      api.get<TokenRow[]>("/api/token/", { p: 0, size: 100 }, abort.signal),
      api.get<string[]>("/api/user/available_models", undefined, abort.signal),
    ])
      .then(([rows, models]) => {
        const usable = (rows ?? []).filter((row) => row.status === TOKEN_ENABLED);
        setTokens(usable);
        setAvailable(models ?? []);
        if (usable.length) setTokenId(String(usable[0].id));
      })
      .catch(notifyError);
    return () => abort.abort();
  }, []);
  useEffect(() => () => controller.current?.abort(), []);

  const token = tokens.find((row) => String(row.id) === tokenId) ?? null;
  const models = useMemo(() => {
    const limited = (token?.models ?? "")
      .split(",")
      .map((m) => m.trim())
      .filter(Boolean);
    return limited.length ? limited : available;
  }, [token, available]);
  useEffect(() => {
    if (!model || !models.includes(model)) setModel(models[0] ?? null);
  }, [models, model]);

  useEffect(() => {
    viewport.current?.scrollTo({ top: viewport.current.scrollHeight });
  }, [messages]);

  const send = async () => {
    const text = input.trim();
    if (!token || !model || !text || streaming) return;
    const history: Message[] = [...messages, { role: "user", content: text }];
    setMessages([...history, { role: "assistant", content: "" }]);
    setInput("");
    setError(null);
    setStreaming(true);
    const started = performance.now();
    const current: Stats = { firstTokenMs: null, totalMs: null, usage: null };
    setStats({ ...current });
    const abort = new AbortController();
    controller.current = abort;
    const appendToReply = (content: string) =>
      setMessages((list) => {
        const last = list[list.length - 1];
        return [...list.slice(0, -1), { ...last, content: last.content + content }];
      });
    try {
      const response = await fetch("/v1/chat/completions", {
        method: "POST",
        headers: { "Content-Type": "application/json", Authorization: `Bearer sk-${token.key}` },
        body: JSON.stringify({
          model,
          stream: true,
          stream_options: { include_usage: true },
          temperature: Number(temperature),
          messages: [...(system.trim() ? [{ role: "system", content: system }] : []), ...history],
        }),
        signal: abort.signal,
      });
      await readChatStream(response, (event) => {
        if (event.kind !== "delta") return;
        if (event.content) {
          current.firstTokenMs ??= Math.round(performance.now() - started);
          appendToReply(event.content);
        }
        if (event.usage) current.usage = event.usage;
        setStats({ ...current });
      });
    } catch (err) {
      if (!(err instanceof DOMException && err.name === "AbortError")) {
        setError(err instanceof Error ? err.message : String(err));
      }
    } finally {
      current.totalMs = Math.round(performance.now() - started);
      setStats({ ...current });
      setStreaming(false);
      controller.current = null;
    }
  };

  const stop = () => controller.current?.abort();

  return (
    <>
      <PageHeader title={t("title")} />
      <Grid>
        <Grid.Col span={{ base: 12, md: 4 }}>
          <Paper withBorder p="md">
            <Stack gap="sm">
              <Select
                label={t("token")}
                placeholder={t("tokenPlaceholder")}
                data={tokens.map((row) => ({ value: String(row.id), label: row.name || `#${row.id}` }))}
                value={tokenId}
                onChange={setTokenId}
                nothingFoundMessage={t("noTokens")}
                allowDeselect={false}
              />
              {tokens.length === 0 ? (
                <Text size="sm" c="dimmed">
                  {t("noTokens")}
                </Text>
              ) : null}
              <Select
                label={t("model")}
                data={models}
                value={model}
                onChange={setModel}
                searchable
                allowDeselect={false}
                nothingFoundMessage={t("noModels")}
              />
              <Textarea
                label={t("system")}
                placeholder={t("systemPlaceholder")}
                value={system}
                onChange={(e) => setSystem(e.currentTarget.value)}
                autosize
                minRows={2}
                maxRows={8}
              />
              <NumberInput
                label={t("temperature")}
                value={temperature}
                onChange={setTemperature}
                min={0}
                max={2}
                step={0.1}
                decimalScale={2}
              />
              <Button
                variant="default"
                leftSection={<IconTrash size={16} />}
                onClick={() => {
                  setMessages([]);
                  setStats(null);
                  setError(null);
                }}
                disabled={streaming || messages.length === 0}
              >
                {t("clear")}
              </Button>
            </Stack>
          </Paper>
        </Grid.Col>
        <Grid.Col span={{ base: 12, md: 8 }}>
          <Paper withBorder p="md">
            <ScrollArea h={{ base: 320, md: 440 }} viewportRef={viewport} type="auto">
              <Stack gap="sm" aria-live="polite" data-testid="conversation">
                {messages.length === 0 ? (
                  <Text c="dimmed" size="sm">
                    {t("empty")}
                  </Text>
                ) : null}
                {messages.map((message, index) => (
                  <Paper
                    key={index}
                    p="sm"
                    radius="md"
                    bg={message.role === "user" ? "var(--mantine-color-default-hover)" : undefined}
                    withBorder={message.role === "assistant"}
                    data-testid={`message-${message.role}`}
                  >
                    <Text size="xs" fw={700} c="dimmed" mb={4}>
                      {t(`role.${message.role}`)}
                    </Text>
                    <Text size="sm" style={{ whiteSpace: "pre-wrap", wordBreak: "break-word" }} data-testid="message-content">
                      {message.content || (streaming && index === messages.length - 1 ? "…" : "")}
                    </Text>
                  </Paper>
                ))}
              </Stack>
            </ScrollArea>
            {error ? (
              <Alert color="red" mt="sm" title={t("error")} data-testid="chat-error">
                {error}
              </Alert>
            ) : null}
            {stats ? (
              <Group gap="xs" mt="sm" data-testid="chat-stats">
                {streaming ? <Badge color="blue">{t("streaming")}</Badge> : <Badge color="green">{t("done")}</Badge>}
                {stats.firstTokenMs !== null ? (
                  <Badge variant="light">{t("firstToken", { ms: stats.firstTokenMs })}</Badge>
                ) : null}
                {stats.totalMs !== null ? <Badge variant="light">{t("total", { ms: stats.totalMs })}</Badge> : null}
                {stats.usage ? (
                  <Badge variant="light">
                    {t("usage", { prompt: stats.usage.prompt_tokens, completion: stats.usage.completion_tokens })}
                  </Badge>
                ) : null}
              </Group>
            ) : null}
            <Textarea
              mt="sm"
              label={t("message")}
              placeholder={t("messagePlaceholder")}
              value={input}
              onChange={(e) => setInput(e.currentTarget.value)}
              onKeyDown={(e) => {
                if (e.key === "Enter" && !e.shiftKey && !e.nativeEvent.isComposing) {
                  e.preventDefault();
                  void send();
                }
              }}
              autosize
              minRows={2}
              maxRows={6}
            />
            <Group justify="flex-end" mt="sm">
              {streaming ? (
                <Button color="red" leftSection={<IconPlayerStop size={16} />} onClick={stop}>
                  {t("stop")}
                </Button>
              ) : null}
              <Button
                leftSection={<IconSend size={16} />}
                onClick={() => void send()}
                loading={streaming}
                disabled={!token || !model || !input.trim()}
              >
                {t("send")}
              </Button>
            </Group>
          </Paper>
        </Grid.Col>
      </Grid>
    </>
  );
}
