// The link from the reset email (/user/reset?email&token): the server sets a random
// password and this page shows it once, with a copy button.
import { Alert, Anchor, Button, Code, CopyButton, Group, Loader, Stack, Text } from "@mantine/core";
import { useEffect, useRef, useState } from "react";
import { useTranslation } from "react-i18next";
import { Link, useSearchParams } from "react-router";

import { api } from "../../api/client";
import { errorMessage } from "../../lib/notify";
import { AuthCard } from "./AuthCard";

export default function ResetConfirm() {
  const { t } = useTranslation("auth");
  const [params] = useSearchParams();
  const email = params.get("email") ?? "";
  const token = params.get("token") ?? "";
  const [password, setPassword] = useState("");
  const [error, setError] = useState("");
  // A code works once: StrictMode's double effect must not spend it twice.
  const started = useRef(false);

  useEffect(() => {
    if (started.current) return;
    started.current = true;
    if (!email || !token) {
      setError(t("resetConfirm.invalid"));
      return;
    }
    api
      .post<string>("/api/user/reset", { email, token })
      .then(setPassword)
      .catch((e: unknown) => setError(errorMessage(e)));
  }, [email, token, t]);

  return (
    <AuthCard title={t("resetConfirm.title")}>
      <Stack>
        {error ? (
          <Alert color="red">{error}</Alert>
        ) : password ? (
          <>
            <Text size="sm">{t("resetConfirm.done", { email })}</Text>
            <Group gap="xs" wrap="nowrap">
              <Code data-testid="new-password" fz="md">
                {password}
              </Code>
              <CopyButton value={password}>
                {({ copied, copy }) => (
                  <Button size="xs" variant="light" color={copied ? "teal" : "blue"} onClick={copy}>
                    {copied ? t("common:actions.copied") : t("common:actions.copy")}
                  </Button>
                )}
              </CopyButton>
            </Group>
            <Text size="sm" c="dimmed">
              {t("resetConfirm.changeSoon")}
            </Text>
          </>
        ) : (
          <Group justify="center">
            <Loader size="sm" />
          </Group>
        )}
        <Anchor component={Link} to="/login" size="sm" ta="center">
          {t("reset.back")}
        </Anchor>
      </Stack>
    </AuthCard>
  );
}
