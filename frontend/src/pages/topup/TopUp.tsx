// Top-up: redeem a code, see the balance, or go to the operator's shop (TopUpLink)
// with the user's name, id and a fresh transaction id so the shop can credit them.
import { Button, Card, Group, SimpleGrid, Stack, Text, TextInput, Title } from "@mantine/core";
import { IconExternalLink } from "@tabler/icons-react";
import { useEffect, useState, type FormEvent } from "react";
import { useTranslation } from "react-i18next";

import { api } from "../../api/client";
import type { User } from "../../api/types";
import { PageHeader } from "../../components/PageHeader";
import { useAuth } from "../../context/AuthContext";
import { useStatus } from "../../context/StatusContext";
import { notifyError, notifySuccess } from "../../lib/notify";
import { renderQuota } from "../../lib/quota";

export function topUpUrl(link: string, user: Pick<User, "id" | "username">, transactionId: string): string {
  const url = new URL(link, window.location.origin);
  url.searchParams.set("username", user.username);
  url.searchParams.set("user_id", String(user.id));
  url.searchParams.set("transaction_id", transactionId);
  return url.toString();
}

function newTransactionId(): string {
  return typeof crypto.randomUUID === "function"
    ? crypto.randomUUID()
    : `${Date.now().toString(16)}${Math.random().toString(16).slice(2)}`;
}

export default function TopUp() {
  const { t } = useTranslation("topup");
  const { user, refresh } = useAuth();
  const { status, quotaDisplay } = useStatus();
  const [key, setKey] = useState("");
  const [busy, setBusy] = useState(false);
  const [self, setSelf] = useState<User | null>(null);

  useEffect(() => {
    void refresh().then(setSelf);
  }, [refresh]);

  const redeem = async (event: FormEvent) => {
    event.preventDefault();
    if (!key.trim()) {
      notifyError(new Error(t("missing")));
      return;
    }
    setBusy(true);
    try {
      const added = await api.post<number>("/api/user/topup", { key: key.trim() });
      notifySuccess(t("done", { amount: renderQuota(added, quotaDisplay) }));
      setKey("");
      setSelf(await refresh());
    } catch (error) {
      notifyError(error);
    } finally {
      setBusy(false);
    }
  };

  const link = status?.top_up_link ?? "";
  const me = self ?? user;

  return (
    <Stack maw={720}>
      <PageHeader title={t("title")} />
      <SimpleGrid cols={{ base: 1, sm: 2 }}>
        <Card withBorder>
          <Text size="sm" c="dimmed">
            {t("balance")}
          </Text>
          <Title order={3} data-testid="balance">
            {me ? renderQuota(me.quota, quotaDisplay) : "-"}
          </Title>
        </Card>
        <Card withBorder>
          <Text size="sm" c="dimmed">
            {t("used")}
          </Text>
          <Title order={3} data-testid="used">
            {me ? renderQuota(me.used_quota, quotaDisplay) : "-"}
          </Title>
        </Card>
      </SimpleGrid>
      <Card withBorder>
        <form onSubmit={(e) => void redeem(e)}>
          <Stack>
            <TextInput
              label={t("code")}
              placeholder={t("codePlaceholder")}
              value={key}
              onChange={(e) => setKey(e.currentTarget.value)}
              autoComplete="off"
            />
            <Group justify="space-between" gap="xs">
              {link && me ? (
                <Button
                  variant="default"
                  rightSection={<IconExternalLink size={16} />}
                  onClick={() => window.open(topUpUrl(link, me, newTransactionId()), "_blank", "noopener")}
                >
                  {t("buy")}
                </Button>
              ) : (
                <Text size="sm" c="dimmed">
                  {t("noShop")}
                </Text>
              )}
              <Button type="submit" loading={busy}>
                {t("redeem")}
              </Button>
            </Group>
          </Stack>
        </form>
      </Card>
    </Stack>
  );
}
