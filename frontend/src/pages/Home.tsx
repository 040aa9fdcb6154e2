// Home: the operator's HomePageContent (Markdown/HTML or an iframed URL), else a
// summary of this deployment; the Notice pops up once per change.
import { Anchor, Badge, Card, Group, Loader, SimpleGrid, Stack, Text, Title } from "@mantine/core";
import { useEffect, useState } from "react";
import { useTranslation } from "react-i18next";

import { api } from "../api/client";
import type { Status } from "../api/types";
import { RichContent } from "../components/RichContent";
import { useStatus } from "../context/StatusContext";
import { timestampToString } from "../lib/quota";
import { NoticeModal } from "./home/NoticeModal";

function LoginMethods({ status }: { status: Status }) {
  const { t } = useTranslation("home");
  const methods: [string, boolean][] = [
    ["email", status.email_verification],
    ["github", status.github_oauth],
    ["wechat", status.wechat_login],
    ["lark", !!status.lark_client_id],
    ["oidc", status.oidc],
    ["turnstile", status.turnstile_check],
  ];
  return (
    <Stack gap={6}>
      {methods.map(([name, on]) => (
        <Group key={name} justify="space-between" wrap="nowrap">
          <Text size="sm">{t(`methods.${name}`)}</Text>
          <Badge color={on ? "green" : "gray"} variant="light">
            {on ? t("common:status.enabled") : t("common:status.disabled")}
          </Badge>
        </Group>
      ))}
    </Stack>
  );
}

function DefaultHome({ status }: { status: Status | null }) {
  const { t } = useTranslation("home");
  return (
    <Stack>
      <Title order={2}>{t("welcome", { name: status?.system_name || "One API" })}</Title>
      <Text c="dimmed">{t("intro")}</Text>
      {status ? (
        <SimpleGrid cols={{ base: 1, sm: 2 }}>
          <Card withBorder>
            <Title order={4} mb="sm">
              {t("system")}
            </Title>
            <Stack gap={6}>
              <Group justify="space-between" wrap="nowrap">
                <Text size="sm">{t("version")}</Text>
                <Text size="sm" data-testid="version">
                  {status.version}
                </Text>
              </Group>
              <Group justify="space-between" wrap="nowrap">
                <Text size="sm">{t("started")}</Text>
                <Text size="sm">{timestampToString(status.start_time)}</Text>
              </Group>
              <Group justify="space-between" wrap="nowrap">
                <Text size="sm">{t("source")}</Text>
                <Anchor size="sm" href="https://github.com/songquanpeng/one-api" target="_blank" rel="noreferrer">
                  GitHub
                </Anchor>
              </Group>
            </Stack>
          </Card>
          <Card withBorder>
            <Title order={4} mb="sm">
              {t("loginMethods")}
            </Title>
            <LoginMethods status={status} />
          </Card>
        </SimpleGrid>
      ) : null}
    </Stack>
  );
}

export default function Home() {
  const { t } = useTranslation("home");
  const { status } = useStatus();
  const [content, setContent] = useState<string | null>(null);

  useEffect(() => {
    const controller = new AbortController();
    api
      .get<string>("/api/home_page_content", undefined, controller.signal)
      .then((text) => setContent(text ?? ""))
      .catch(() => {
        if (!controller.signal.aborted) setContent("");
      });
    return () => controller.abort();
  }, []);

  return (
    <>
      <NoticeModal />
      {content === null ? (
        <Group justify="center" mt="xl">
          <Loader />
        </Group>
      ) : content.trim() ? (
        <RichContent content={content} title={t("title")} />
      ) : (
        <DefaultHome status={status} />
      )}
    </>
  );
}
