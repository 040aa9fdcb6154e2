// About: the operator's About option (Markdown/HTML or an iframed URL), else a short
// text pointing at the project.
import { Anchor, Group, Loader, Stack, Text, Title } from "@mantine/core";
import { useEffect, useState } from "react";
import { useTranslation } from "react-i18next";

import { api } from "../api/client";
import { RichContent } from "../components/RichContent";
import { notifyError } from "../lib/notify";

export default function About() {
  const { t } = useTranslation("home");
  const [content, setContent] = useState<string | null>(null);

  useEffect(() => {
    const controller = new AbortController();
    api
      .get<string>("/api/about", undefined, controller.signal)
      .then((text) => setContent(text ?? ""))
      .catch((error: unknown) => {
        if (controller.signal.aborted) return;
        notifyError(error);
        setContent("");
      });
    return () => controller.abort();
  }, []);

  if (content === null) {
    return (
      <Group justify="center" mt="xl">
        <Loader />
      </Group>
    );
  }
  if (content.trim()) return <RichContent content={content} title={t("about.title")} />;
  return (
    <Stack>
      <Title order={2}>{t("about.title")}</Title>
      <Text>{t("about.default")}</Text>
      <Text>
        {t("about.project")}{" "}
        <Anchor href="https://github.com/songquanpeng/one-api" target="_blank" rel="noreferrer">
          https://github.com/songquanpeng/one-api
        </Anchor>
      </Text>
    </Stack>
  );
}
