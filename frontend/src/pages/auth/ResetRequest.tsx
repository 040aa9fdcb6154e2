// "Forgot password": the server mails a reset link to the account's address.
import { Anchor, Button, Stack, Text, TextInput } from "@mantine/core";
import { useState, type FormEvent } from "react";
import { useTranslation } from "react-i18next";
import { Link } from "react-router";

import { api } from "../../api/client";
import { useStatus } from "../../context/StatusContext";
import { notifyError, notifySuccess } from "../../lib/notify";
import { AuthCard } from "./AuthCard";
import { Turnstile } from "./Turnstile";

export default function ResetRequest() {
  const { t } = useTranslation("auth");
  const { status } = useStatus();
  const [email, setEmail] = useState("");
  const [turnstile, setTurnstile] = useState("");
  const [busy, setBusy] = useState(false);
  const [sent, setSent] = useState(false);
  const turnstileOn = !!status?.turnstile_check;

  const submit = async (event: FormEvent) => {
    event.preventDefault();
    if (!email.trim()) {
      notifyError(new Error(t("reset.emailMissing")));
      return;
    }
    if (turnstileOn && !turnstile) {
      notifyError(new Error(t("turnstileWait")));
      return;
    }
    setBusy(true);
    try {
      await api.get("/api/reset_password", { email: email.trim(), turnstile });
      setSent(true);
      notifySuccess(t("reset.sent"));
    } catch (error) {
      notifyError(error);
    } finally {
      setBusy(false);
    }
  };

  return (
    <AuthCard title={t("reset.title")}>
      <form onSubmit={(e) => void submit(e)} noValidate>
        <Stack>
          <TextInput label={t("reset.email")} type="email" autoComplete="email" value={email} onChange={(e) => setEmail(e.currentTarget.value)} />
          <Turnstile enabled={turnstileOn} siteKey={status?.turnstile_site_key ?? ""} onToken={setTurnstile} />
          {sent ? (
            <Text size="sm" c="green" role="status">
              {t("reset.sent")}
            </Text>
          ) : null}
          <Button type="submit" loading={busy} fullWidth>
            {t("reset.submit")}
          </Button>
          <Anchor component={Link} to="/login" size="sm" ta="center">
            {t("reset.back")}
          </Anchor>
        </Stack>
      </form>
    </AuthCard>
  );
}
