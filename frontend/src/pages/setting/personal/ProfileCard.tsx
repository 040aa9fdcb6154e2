// Username and display name (PUT /api/user/self; empty fields are left unchanged).
import { Button, Card, Group, Stack, TextInput, Title } from "@mantine/core";
import { useEffect, useState, type FormEvent } from "react";
import { useTranslation } from "react-i18next";

import { api } from "../../../api/client";
import type { User } from "../../../api/types";
import { notifyError, notifySuccess } from "../../../lib/notify";

export function ProfileCard({ user, onSaved }: { user: User; onSaved: () => Promise<unknown> }) {
  const { t } = useTranslation("personal");
  const [username, setUsername] = useState(user.username);
  const [displayName, setDisplayName] = useState(user.display_name);
  const [busy, setBusy] = useState(false);

  useEffect(() => {
    setUsername(user.username);
    setDisplayName(user.display_name);
  }, [user.username, user.display_name]);

  const save = async (event: FormEvent) => {
    event.preventDefault();
    if (!username.trim()) {
      notifyError(new Error(t("profile.usernameMissing")));
      return;
    }
    setBusy(true);
    try {
      await api.put("/api/user/self", { username: username.trim(), display_name: displayName.trim() });
      await onSaved();
      notifySuccess(t("profile.saved"));
    } catch (error) {
      notifyError(error);
    } finally {
      setBusy(false);
    }
  };

  return (
    <Card withBorder>
      <Title order={4} mb="sm">
        {t("profile.title")}
      </Title>
      <form onSubmit={(e) => void save(e)}>
        <Stack>
          <TextInput label={t("profile.username")} value={username} maxLength={12} onChange={(e) => setUsername(e.currentTarget.value)} />
          <TextInput
            label={t("profile.displayName")}
            value={displayName}
            maxLength={20}
            onChange={(e) => setDisplayName(e.currentTarget.value)}
          />
          <Group justify="flex-end">
            <Button type="submit" loading={busy}>
              {t("common:actions.save")}
            </Button>
          </Group>
        </Stack>
      </form>
    </Card>
  );
}
