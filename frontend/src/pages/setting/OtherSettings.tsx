// Other tab (root): what visitors see - notice, branding, home page, about, footer.
import { useTranslation } from "react-i18next";

import { OptionForm, Section } from "./OptionFields";
import type { OptionsApi } from "./useOptions";

export default function OtherSettings({ ctx }: { ctx: OptionsApi }) {
  const { t } = useTranslation("setting");
  return (
    <>
      <Section title={t("sections.branding")}>
        <OptionForm
          ctx={ctx}
          fields={[
            { name: "SystemName" },
            { name: "Logo" },
            { name: "Theme", kind: "select", choices: ["default", "berry", "air"] },
          ]}
        />
      </Section>
      <Section title={t("sections.notice")}>
        <OptionForm ctx={ctx} cols={1} fields={[{ name: "Notice", kind: "markdown" }]} />
      </Section>
      <Section title={t("sections.homePage")}>
        <OptionForm ctx={ctx} cols={1} fields={[{ name: "HomePageContent", kind: "markdown" }]} />
      </Section>
      <Section title={t("sections.about")}>
        <OptionForm ctx={ctx} cols={1} fields={[{ name: "About", kind: "markdown" }]} />
      </Section>
      <Section title={t("sections.footer")}>
        <OptionForm ctx={ctx} cols={1} fields={[{ name: "Footer", kind: "markdown" }]} />
      </Section>
    </>
  );
}
