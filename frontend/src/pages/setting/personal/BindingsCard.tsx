// Linked accounts: email (verification code flow), WeChat (code from the official
// account) and the OAuth providers the server enables (the provider's callback page
// binds them because the user is signed in).
import { Badge, Button, Card, Group, Modal, Stack, Text, TextInput, Title } from "@mantine/core";
import { useDisclosure } from "@mantine/hooks";
import { useState, type FormEvent, type ReactNode } from "react";
import { useTranslation } from "react-i18next";

import { api } from "../../../api/client";
import type { User } from "../../../api/types";
import { useStatus } from "../../../context/StatusContext";
import { notifyError, notifySuccess } from "../../../lib/notify";
import { providers, startOAuth, type Provider } from "../../auth/oauth";
import { Turnstile } from "../../auth/Turnstile";
import { WeChatModal } from "../../auth/WeChatModal";

function EmailModal({ opened, onClose, onBound }: { opened: boolean; onClose: () => void; onBound: () => Promise<unknown> }) {
  const { t } = useTranslation("personal");
  const { status } = useStatus();
  const [email, setEmail] = useState("");
  const [code, setCode] = useState("");
  const [turnstile, setTurnstile] = useState("");
  const [sending, setSending] = useState(false);
  const [busy, setBusy] = useState(false);

  const send = async () => {
    if (!email.trim()) {
      notifyError(new Error(t("bind.emailMissing")));
      return;
    }
    setSending(true);
    try {
      await api.get("/api/verification", { email: email.trim(), turnstile });
      notifySuccess(t("bind.codeSent"));
    } catch (error) {
      notifyError(error);
    } finally {
      setSending(false);
    }
  };

  const bind = async (event: FormEvent) => {
    event.preventDefault();
    if (!email.trim() || !code.trim()) {
      notifyError(new Error(t("bind.codeMissing")));
      return;
    }
    setBusy(true);
    try {
      await api.get("/api/oauth/email/bind", { email: email.trim(), code: code.trim() });
      await onBound();
      notifySuccess(t("bind.emailBound"));
      onClose();
    } catch (error) {
      notifyError(error);
    } finally {
      setBusy(false);
    }
  };

  return (
    <Modal opened={opened} onClose={onClose} title={t("bind.emailTitle")} centered>
      <form onSubmit={(e) => void bind(e)} noValidate>
        <Stack>
          <Group align="flex-end" gap="xs" wrap="nowrap">
            <TextInput label={t("bind.email")} type="email" value={email} onChange={(e) => setEmail(e.currentTarget.value)} style={{ flex: 1 }} />
            <Button variant="default" loading={sending} onClick={() => void send()}>
              {t("bind.sendCode")}
            </Button>
          </Group>
          <TextInput label={t("bind.code")} value={code} onChange={(e) => setCode(e.currentTarget.value)} />
          <Turnstile enabled={!!status?.turnstile_check} siteKey={status?.turnstile_site_key ?? ""} onToken={setTurnstile} />
          <Button type="submit" loading={busy}>
            {t("bind.submit")}
          </Button>
        </Stack>
      </form>
    </Modal>
  );
}

const PROVIDER_FIELD: Record<Provider, "github_id" | "lark_id" | "oidc_id"> = {
  github: "github_id",
  lark: "lark_id",
  oidc: "oidc_id",
};

function Row({ name, value, action }: { name: string; value: string; action: ReactNode }) {
  const { t } = useTranslation("personal");
  return (
    <Group justify="space-between" gap="xs">
      <Group gap="xs">
        <Text size="sm" fw={500} miw={70}>
          {name}
        </Text>
        {value ? (
          <Text size="sm" c="dimmed" style={{ overflowWrap: "anywhere" }}>
            {value}
          </Text>
        ) : (
          <Badge color="gray" variant="light">
            {t("bind.none")}
          </Badge>
        )}
      </Group>
      {action}
    </Group>
  );
}

export function BindingsCard({ user, onChanged }: { user: User; onChanged: () => Promise<unknown> }) {
  const { t } = useTranslation("personal");
  const { status } = useStatus();
  const [emailOpen, email] = useDisclosure(false);
  const [wechatOpen, wechat] = useDisclosure(false);
  const [leaving, setLeaving] = useState<Provider | null>(null);

  const oauth = async (provider: Provider) => {
    if (!status) return;
    setLeaving(provider);
    try {
      await startOAuth(provider, status);
    } catch (error) {
      notifyError(error);
      setLeaving(null);
    }
  };

  const bindWeChat = async (code: string) => {
    try {
      await api.get("/api/oauth/wechat/bind", { code });
      await onChanged();
      notifySuccess(t("bind.wechatBound"));
      wechat.close();
    } catch (error) {
      notifyError(error);
    }
  };

  return (
    <Card withBorder>
      <Title order={4} mb="sm">
        {t("bind.title")}
      </Title>
      <Stack gap="sm">
        <Row
          name={t("bind.email")}
          value={user.email}
          action={
            <Button size="xs" variant="default" onClick={email.open}>
              {user.email ? t("bind.change") : t("bind.bind")}
            </Button>
          }
        />
        {status?.wechat_login ? (
          <Row
            name={t("bind.wechat")}
            value={user.wechat_id}
            action={
              <Button size="xs" variant="default" onClick={wechat.open} disabled={!!user.wechat_id}>
                {t("bind.bind")}
              </Button>
            }
          />
        ) : null}
        {providers(status).map((provider) => {
          const bound = user[PROVIDER_FIELD[provider]] ?? "";
          return (
            <Row
              key={provider}
              name={t(`bind.${provider}`)}
              value={bound}
              action={
                <Button
                  size="xs"
                  variant="default"
                  loading={leaving === provider}
                  disabled={!!bound}
                  onClick={() => void oauth(provider)}
                >
                  {t("bind.bind")}
                </Button>
              }
            />
          );
        })}
      </Stack>
      <EmailModal opened={emailOpen} onClose={email.close} onBound={onChanged} />
      <WeChatModal opened={wechatOpen} onClose={wechat.close} qrCode={status?.wechat_qrcode ?? ""} onSubmit={bindWeChat} />
    </Card>
  );
}
