// The management access token (GET /api/user/token makes a new one each time) and
// the invite link built from the caller's aff code.
import { Button, Card, Code, CopyButton, Group, Stack, Text, TextInput, Title } from "@mantine/core";
import { useEffect, useState } from "react";
import { useTranslation } from "react-i18next";

import { api } from "../../../api/client";
import { notifyError, notifySuccess } from "../../../lib/notify";

function Copy({ value }: { value: string }) {
  const { t } = useTranslation();
  return (
    <CopyButton value={value}>
      {({ copied, copy }) => (
        <Button size="xs" variant="light" color={copied ? "teal" : "blue"} onClick={copy}>
          {copied ? t("actions.copied") : t("actions.copy")}
        </Button>
      )}
    </CopyButton>
  );
}

export function AccessCard() {
  const { t } = useTranslation("personal");
  const [token, setToken] = useState("");
  const [busy, setBusy] = useState(false);
  const [aff, setAff] = useState("");

  useEffect(() => {
    const controller = new AbortController();
    api
      .get<string>("/api/user/aff", undefined, controller.signal)
      .then(setAff)
      .catch((error: unknown) => {
        if (!controller.signal.aborted) notifyError(error);
      });
    return () => controller.abort();
  }, []);

  const generate = async () => {
    setBusy(true);
    try {
      setToken(await api.get<string>("/api/user/token"));
      notifySuccess(t("access.generated"));
    } catch (error) {
      notifyError(error);
    } finally {
      setBusy(false);
    }
  };

  const inviteLink = aff ? `${window.location.origin}/register?aff=${encodeURIComponent(aff)}` : "";

  return (
    <Card withBorder>
      <Stack>
        <div>
          <Title order={4} mb="xs">
            {t("access.title")}
          </Title>
          <Text size="sm" c="dimmed" mb="sm">
            {t("access.hint")}
          </Text>
          {token ? (
            <Group gap="xs" mb="sm" wrap="nowrap">
              <Code data-testid="access-token" style={{ overflowWrap: "anywhere" }}>
                {token}
              </Code>
              <Copy value={token} />
            </Group>
          ) : null}
          <Button variant="default" loading={busy} onClick={() => void generate()}>
            {token ? t("access.regenerate") : t("access.generate")}
          </Button>
        </div>
        <div>
          <Title order={4} mb="xs">
            {t("invite.title")}
          </Title>
          <Text size="sm" c="dimmed" mb="sm">
            {t("invite.hint")}
          </Text>
          <Group gap="xs" align="flex-end" wrap="nowrap">
            <TextInput label={t("invite.link")} value={inviteLink} readOnly style={{ flex: 1 }} />
            {inviteLink ? <Copy value={inviteLink} /> : null}
          </Group>
        </div>
      </Stack>
    </Card>
  );
}
