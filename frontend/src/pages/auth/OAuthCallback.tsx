// /oauth/:provider: the provider sent the browser back with code and state; the
// server signs in (or binds, when a user is already signed in) and we move on.
import { Alert, Anchor, Center, Loader, Stack, Text } from "@mantine/core";
import { useEffect, useRef, useState } from "react";
import { useTranslation } from "react-i18next";
import { Link, useNavigate, useParams, useSearchParams } from "react-router";

import { request } from "../../api/client";
import type { User } from "../../api/types";
import { useAuth } from "../../context/AuthContext";
import { errorMessage, notifySuccess } from "../../lib/notify";

const PROVIDERS = new Set(["github", "lark", "oidc"]);

export default function OAuthCallback() {
  const { t } = useTranslation("auth");
  const { provider = "" } = useParams();
  const [params] = useSearchParams();
  const navigate = useNavigate();
  const { signIn, refresh } = useAuth();
  const [error, setError] = useState("");
  const started = useRef(false);

  useEffect(() => {
    if (started.current) return;
    started.current = true;
    if (!PROVIDERS.has(provider)) {
      setError(t("oauth.unknown"));
      return;
    }
    const code = params.get("code") ?? "";
    const state = params.get("state") ?? "";
    request<User | null>("GET", `/api/oauth/${provider}`, { query: { code, state } })
      .then(async (reply) => {
        if (reply.message === "bind" || !reply.data) {
          await refresh();
          notifySuccess(t("oauth.bound"));
          void navigate("/setting", { replace: true });
        } else {
          signIn(reply.data);
          notifySuccess(t("login.success"));
          void navigate("/", { replace: true });
        }
      })
      .catch((e: unknown) => setError(errorMessage(e)));
  }, [provider, params, navigate, signIn, refresh, t]);

  return (
    <Center mt="xl">
      {error ? (
        <Stack maw={420}>
          <Alert color="red" title={t("oauth.failed")}>
            {error}
          </Alert>
          <Anchor component={Link} to="/login" ta="center">
            {t("reset.back")}
          </Anchor>
        </Stack>
      ) : (
        <Stack align="center">
          <Loader />
          <Text c="dimmed">{t("oauth.working")}</Text>
        </Stack>
      )}
    </Center>
  );
}
