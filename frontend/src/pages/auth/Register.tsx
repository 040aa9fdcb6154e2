// Password sign-up (spec 7.2): email + code when the operator requires it, the
// inviter's code from ?aff= (kept in localStorage so it survives a detour).
import { Anchor, Button, Group, PasswordInput, Stack, Text, TextInput } from "@mantine/core";
import { notifications } from "@mantine/notifications";
import { useEffect, useState, type FormEvent } from "react";
import { useTranslation } from "react-i18next";
import { Link, useNavigate, useSearchParams } from "react-router";

import { api } from "../../api/client";
import { useStatus } from "../../context/StatusContext";
import { notifyError } from "../../lib/notify";
import { loadJson, saveJson } from "../../lib/storage";
import { AuthCard } from "./AuthCard";
import { Turnstile } from "./Turnstile";

export const PASSWORD_MIN = 8;
export const PASSWORD_MAX = 20;
export const USERNAME_MAX = 12;

interface Form {
  username: string;
  password: string;
  password2: string;
  email: string;
  code: string;
}

/** The first problem with the form, as a translation key, or null. */
export function validateRegistration(form: Form, needEmail: boolean): string | null {
  if (!form.username.trim()) return "register.errors.username";
  if (form.username.length > USERNAME_MAX) return "register.errors.usernameLong";
  if (form.password.length < PASSWORD_MIN || form.password.length > PASSWORD_MAX) return "register.errors.passwordLength";
  if (form.password !== form.password2) return "register.errors.mismatch";
  if (needEmail && (!form.email.trim() || !form.code.trim())) return "register.errors.email";
  return null;
}

export default function Register() {
  const { t } = useTranslation("auth");
  const { status } = useStatus();
  const navigate = useNavigate();
  const [params] = useSearchParams();
  const [form, setForm] = useState<Form>({ username: "", password: "", password2: "", email: "", code: "" });
  const [turnstile, setTurnstile] = useState("");
  const [busy, setBusy] = useState(false);
  const [sending, setSending] = useState(false);

  const aff = params.get("aff");
  useEffect(() => {
    if (aff) saveJson("aff", aff);
  }, [aff]);

  const needEmail = !!status?.email_verification;
  const turnstileOn = !!status?.turnstile_check;
  const set = (key: keyof Form) => (e: { currentTarget: { value: string } }) => {
    const value = e.currentTarget.value;
    setForm((f) => ({ ...f, [key]: value }));
  };

  const sendCode = async () => {
    if (!form.email.trim()) {
      notifyError(new Error(t("register.errors.emailMissing")));
      return;
    }
    setSending(true);
    try {
      await api.get("/api/verification", { email: form.email.trim(), turnstile });
      notifications.show({ color: "green", message: t("register.codeSent") });
    } catch (error) {
      notifyError(error);
    } finally {
      setSending(false);
    }
  };

  const submit = async (event: FormEvent) => {
    event.preventDefault();
    const problem = validateRegistration(form, needEmail);
    if (problem) {
      notifyError(new Error(t(problem, { min: PASSWORD_MIN, max: PASSWORD_MAX, username: USERNAME_MAX })));
      return;
    }
    if (turnstileOn && !turnstile) {
      notifyError(new Error(t("turnstileWait")));
      return;
    }
    setBusy(true);
    try {
      await api.post(
        "/api/user/register",
        {
          username: form.username.trim(),
          password: form.password,
          email: needEmail ? form.email.trim() : "",
          verification_code: needEmail ? form.code.trim() : "",
          aff_code: aff ?? loadJson<string>("aff") ?? "",
        },
        { turnstile },
      );
      saveJson("aff", null);
      notifications.show({ color: "green", message: t("register.success") });
      void navigate("/login");
    } catch (error) {
      notifyError(error);
    } finally {
      setBusy(false);
    }
  };

  return (
    <AuthCard title={t("register.title")}>
      <form onSubmit={(e) => void submit(e)} noValidate>
        <Stack>
          <TextInput label={t("register.username")} autoComplete="username" value={form.username} onChange={set("username")} />
          <PasswordInput
            label={t("register.password")}
            description={t("register.passwordHint", { min: PASSWORD_MIN, max: PASSWORD_MAX })}
            autoComplete="new-password"
            value={form.password}
            onChange={set("password")}
          />
          <PasswordInput label={t("register.password2")} autoComplete="new-password" value={form.password2} onChange={set("password2")} />
          {needEmail ? (
            <>
              <Group align="flex-end" gap="xs" wrap="nowrap">
                <TextInput label={t("register.email")} type="email" autoComplete="email" value={form.email} onChange={set("email")} style={{ flex: 1 }} />
                <Button variant="default" loading={sending} onClick={() => void sendCode()}>
                  {t("register.sendCode")}
                </Button>
              </Group>
              <TextInput label={t("register.code")} value={form.code} onChange={set("code")} />
            </>
          ) : null}
          <Turnstile enabled={turnstileOn} siteKey={status?.turnstile_site_key ?? ""} onToken={setTurnstile} />
          <Button type="submit" loading={busy} fullWidth>
            {t("register.submit")}
          </Button>
          <Text size="sm" ta="center">
            {t("register.haveAccount")}{" "}
            <Anchor component={Link} to="/login">
              {t("register.login")}
            </Anchor>
          </Text>
        </Stack>
      </form>
    </AuthCard>
  );
}
