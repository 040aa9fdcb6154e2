// Password sign-in plus the third-party buttons the server's /api/status enables.
import { Anchor, Button, Divider, Group, PasswordInput, Stack, TextInput } from "@mantine/core";
import { useDisclosure } from "@mantine/hooks";
import { notifications } from "@mantine/notifications";
import { IconBrandGithub, IconBrandWechat, IconLogin2, IconMessageCircle } from "@tabler/icons-react";
import { useState, type FormEvent } from "react";
import { useTranslation } from "react-i18next";
import { Link, useLocation, useNavigate } from "react-router";

import { api } from "../../api/client";
import type { User } from "../../api/types";
import { useAuth } from "../../context/AuthContext";
import { useStatus } from "../../context/StatusContext";
import { notifyError } from "../../lib/notify";
import { AuthCard } from "./AuthCard";
import { isDefaultRootLogin, rememberDefaultPassword, targetOf, warnDefaultPassword } from "./session";
import { providers, startOAuth, type Provider } from "./oauth";
import { WeChatModal } from "./WeChatModal";

const PROVIDER_ICONS: Record<Provider, typeof IconBrandGithub> = {
  github: IconBrandGithub,
  lark: IconMessageCircle,
  oidc: IconLogin2,
};

export default function Login() {
  const { t } = useTranslation("auth");
  const { signIn } = useAuth();
  const { status } = useStatus();
  const navigate = useNavigate();
  const location = useLocation();
  const [username, setUsername] = useState("");
  const [password, setPassword] = useState("");
  const [busy, setBusy] = useState(false);
  const [oauthBusy, setOauthBusy] = useState<Provider | null>(null);
  const [wechatOpen, wechat] = useDisclosure(false);

  const finish = (user: User, defaultPassword: boolean) => {
    signIn(user);
    rememberDefaultPassword(defaultPassword);
    notifications.show({ color: "green", message: t("login.success") });
    void navigate(targetOf(location.state), { replace: true });
    if (defaultPassword) warnDefaultPassword(navigate);
  };

  const submit = async (event: FormEvent) => {
    event.preventDefault();
    if (!username || !password) {
      notifyError(new Error(t("login.missing")));
      return;
    }
    setBusy(true);
    try {
      const user = await api.post<User>("/api/user/login", { username, password });
      finish(user, isDefaultRootLogin(username, password));
    } catch (error) {
      notifyError(error);
    } finally {
      setBusy(false);
    }
  };

  const oauth = async (provider: Provider) => {
    if (!status) return;
    setOauthBusy(provider);
    try {
      await startOAuth(provider, status);
    } catch (error) {
      notifyError(error);
      setOauthBusy(null);
    }
  };

  const wechatLogin = async (code: string) => {
    try {
      const user = await api.get<User>("/api/oauth/wechat", { code });
      wechat.close();
      finish(user, false);
    } catch (error) {
      notifyError(error);
    }
  };

  const others = providers(status);
  const showWeChat = !!status?.wechat_login;

  return (
    <AuthCard title={t("login.title")}>
      <form onSubmit={(e) => void submit(e)}>
        <Stack>
          <TextInput
            label={t("login.username")}
            autoComplete="username"
            value={username}
            onChange={(e) => setUsername(e.currentTarget.value)}
          />
          <PasswordInput
            label={t("login.password")}
            autoComplete="current-password"
            value={password}
            onChange={(e) => setPassword(e.currentTarget.value)}
          />
          <Button type="submit" loading={busy} fullWidth>
            {t("login.submit")}
          </Button>
          <Group justify="space-between" gap="xs">
            <Anchor component={Link} to="/reset" size="sm">
              {t("login.forgot")}
            </Anchor>
            <Anchor component={Link} to="/register" size="sm">
              {t("login.register")}
            </Anchor>
          </Group>
        </Stack>
      </form>
      {others.length > 0 || showWeChat ? (
        <>
          <Divider my="md" label={t("login.or")} labelPosition="center" />
          <Stack gap="xs">
            {others.map((provider) => {
              const Icon = PROVIDER_ICONS[provider];
              return (
                <Button
                  key={provider}
                  variant="default"
                  leftSection={<Icon size={18} />}
                  loading={oauthBusy === provider}
                  onClick={() => void oauth(provider)}
                >
                  {t(`login.with.${provider}`)}
                </Button>
              );
            })}
            {showWeChat ? (
              <Button variant="default" leftSection={<IconBrandWechat size={18} />} onClick={wechat.open}>
                {t("login.with.wechat")}
              </Button>
            ) : null}
          </Stack>
        </>
      ) : null}
      <WeChatModal
        opened={wechatOpen}
        onClose={wechat.close}
        qrCode={status?.wechat_qrcode ?? ""}
        onSubmit={wechatLogin}
      />
    </AuthCard>
  );
}
