// Change one's own password (8-20 characters, typed twice).
import { Alert, Button, Card, Group, PasswordInput, Stack, Title } from "@mantine/core";
import { useState, type FormEvent } from "react";
import { useTranslation } from "react-i18next";

import { api } from "../../../api/client";
import { notifyError, notifySuccess } from "../../../lib/notify";
import { hasDefaultPassword, rememberDefaultPassword } from "../../auth/session";

export const PASSWORD_MIN = 8;
export const PASSWORD_MAX = 20;

/** The problem with a new password, as a translation key, or null. */
export function passwordProblem(password: string, again: string): string | null {
  if (password.length < PASSWORD_MIN || password.length > PASSWORD_MAX) return "password.length";
  if (password !== again) return "password.mismatch";
  return null;
}

export function PasswordCard() {
  const { t } = useTranslation("personal");
  const [password, setPassword] = useState("");
  const [again, setAgain] = useState("");
  const [busy, setBusy] = useState(false);
  const [warn, setWarn] = useState(hasDefaultPassword);

  const save = async (event: FormEvent) => {
    event.preventDefault();
    const problem = passwordProblem(password, again);
    if (problem) {
      notifyError(new Error(t(problem, { min: PASSWORD_MIN, max: PASSWORD_MAX })));
      return;
    }
    setBusy(true);
    try {
      await api.put("/api/user/self", { password });
      rememberDefaultPassword(false);
      setWarn(false);
      setPassword("");
      setAgain("");
      notifySuccess(t("password.saved"));
    } catch (error) {
      notifyError(error);
    } finally {
      setBusy(false);
    }
  };

  return (
    <Card withBorder>
      <Title order={4} mb="sm">
        {t("password.title")}
      </Title>
      {warn ? (
        <Alert color="orange" mb="sm" data-testid="default-password-alert">
          {t("password.defaultWarning")}
        </Alert>
      ) : null}
      <form onSubmit={(e) => void save(e)} noValidate>
        <Stack>
          <PasswordInput
            label={t("password.new")}
            description={t("password.hint", { min: PASSWORD_MIN, max: PASSWORD_MAX })}
            autoComplete="new-password"
            value={password}
            onChange={(e) => setPassword(e.currentTarget.value)}
          />
          <PasswordInput
            label={t("password.again")}
            autoComplete="new-password"
            value={again}
            onChange={(e) => setAgain(e.currentTarget.value)}
          />
          <Group justify="flex-end">
            <Button type="submit" loading={busy}>
              {t("password.submit")}
            </Button>
          </Group>
        </Stack>
      </form>
    </Card>
  );
}
