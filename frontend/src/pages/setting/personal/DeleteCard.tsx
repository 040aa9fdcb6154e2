// Delete one's own account (soft delete on the server; root cannot).
import { Button, Card, Group, Text, Title } from "@mantine/core";
import { useState } from "react";
import { useTranslation } from "react-i18next";
import { useNavigate } from "react-router";

import { api } from "../../../api/client";
import { useAuth } from "../../../context/AuthContext";
import { confirmAction } from "../../../lib/confirm";
import { notifyError, notifySuccess } from "../../../lib/notify";

export function DeleteCard() {
  const { t } = useTranslation("personal");
  const { signOut } = useAuth();
  const navigate = useNavigate();
  const [busy, setBusy] = useState(false);

  const remove = async () => {
    const ok = await confirmAction({ title: t("delete.confirmTitle"), message: t("delete.confirmText") });
    if (!ok) return;
    setBusy(true);
    try {
      await api.del("/api/user/self");
      notifySuccess(t("delete.done"));
      await signOut().catch(() => undefined);
      void navigate("/login");
    } catch (error) {
      notifyError(error);
    } finally {
      setBusy(false);
    }
  };

  return (
    <Card withBorder>
      <Title order={4} mb="xs" c="red">
        {t("delete.title")}
      </Title>
      <Text size="sm" c="dimmed" mb="sm">
        {t("delete.hint")}
      </Text>
      <Group>
        <Button color="red" variant="light" loading={busy} onClick={() => void remove()}>
          {t("delete.submit")}
        </Button>
      </Group>
    </Card>
  );
}
