// System tab (root): server address, login and registration, email, SMTP, OAuth
// providers, WeChat, message pusher and Turnstile.
import { Code, Text } from "@mantine/core";
import { useTranslation } from "react-i18next";

import { OptionForm, OptionSwitch, OptionSwitches, Section } from "./OptionFields";
import type { OptionsApi } from "./useOptions";

export default function SystemSettings({ ctx }: { ctx: OptionsApi }) {
  const { t } = useTranslation("setting");
  const address = (ctx.options?.ServerAddress || window.location.origin).replace(/\/+$/, "");
  const callback = (provider: string) => (
    <Text size="sm" c="dimmed">
      {t("callback")} <Code>{`${address}/oauth/${provider}`}</Code>
    </Text>
  );
  return (
    <>
      <Section title={t("sections.server")}>
        <OptionForm ctx={ctx} cols={1} fields={[{ name: "ServerAddress" }]} />
      </Section>
      <Section title={t("sections.login")}>
        <OptionSwitches
          ctx={ctx}
          names={[
            "PasswordLoginEnabled",
            "PasswordRegisterEnabled",
            "RegisterEnabled",
            "EmailVerificationEnabled",
            "GitHubOAuthEnabled",
            "OidcEnabled",
            "WeChatAuthEnabled",
            "TurnstileCheckEnabled",
          ]}
        />
      </Section>
      <Section title={t("sections.emailDomains")}>
        <OptionSwitch ctx={ctx} name="EmailDomainRestrictionEnabled" />
        <OptionForm ctx={ctx} cols={1} fields={[{ name: "EmailDomainWhitelist", kind: "textarea" }]} />
      </Section>
      <Section title={t("sections.smtp")}>
        <OptionForm
          ctx={ctx}
          fields={[
            { name: "SMTPServer" },
            { name: "SMTPPort", kind: "number" },
            { name: "SMTPAccount" },
            { name: "SMTPFrom" },
            { name: "SMTPToken", kind: "secret" },
          ]}
        />
      </Section>
      <Section title={t("sections.github")}>
        {callback("github")}
        <OptionForm ctx={ctx} fields={[{ name: "GitHubClientId" }, { name: "GitHubClientSecret", kind: "secret" }]} />
      </Section>
      <Section title={t("sections.lark")}>
        {callback("lark")}
        <OptionForm ctx={ctx} fields={[{ name: "LarkClientId" }, { name: "LarkClientSecret", kind: "secret" }]} />
      </Section>
      <Section title={t("sections.oidc")}>
        {callback("oidc")}
        <OptionForm
          ctx={ctx}
          fields={[
            { name: "OidcClientId" },
            { name: "OidcClientSecret", kind: "secret" },
            { name: "OidcWellKnown", wide: true },
            { name: "OidcAuthorizationEndpoint" },
            { name: "OidcTokenEndpoint" },
            { name: "OidcUserinfoEndpoint" },
          ]}
        />
      </Section>
      <Section title={t("sections.wechat")}>
        <OptionForm
          ctx={ctx}
          fields={[
            { name: "WeChatServerAddress" },
            { name: "WeChatServerToken", kind: "secret" },
            { name: "WeChatAccountQRCodeImageURL", wide: true },
          ]}
        />
      </Section>
      <Section title={t("sections.pusher")}>
        <OptionForm
          ctx={ctx}
          fields={[{ name: "MessagePusherAddress" }, { name: "MessagePusherToken", kind: "secret" }]}
        />
      </Section>
      <Section title={t("sections.turnstile")}>
        <OptionForm
          ctx={ctx}
          fields={[{ name: "TurnstileSiteKey" }, { name: "TurnstileSecretKey", kind: "secret" }]}
        />
      </Section>
    </>
  );
}
