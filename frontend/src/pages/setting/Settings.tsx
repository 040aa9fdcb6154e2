// /setting (and /user/edit): the Personal tab for everyone; Operation, System and
// Other (runtime options, /api/option/) for the root user only. The tab is in ?tab=.
import { Stack, Tabs } from "@mantine/core";
import { IconAdjustments, IconServerCog, IconUser, IconWorld } from "@tabler/icons-react";
import { useTranslation } from "react-i18next";
import { useSearchParams } from "react-router";

import { PageHeader } from "../../components/PageHeader";
import { useAuth } from "../../context/AuthContext";
import OperationSettings from "./OperationSettings";
import OtherSettings from "./OtherSettings";
import PersonalSettings from "./PersonalSettings";
import SystemSettings from "./SystemSettings";
import { useOptions } from "./useOptions";

const ROOT_TABS = ["operation", "system", "other"] as const;

export default function Settings() {
  const { t } = useTranslation("setting");
  const { isRoot } = useAuth();
  const [params, setParams] = useSearchParams();
  const ctx = useOptions(isRoot);
  const requested = params.get("tab") ?? "personal";
  const tab = isRoot && (ROOT_TABS as readonly string[]).includes(requested) ? requested : "personal";

  return (
    <>
      <PageHeader title={t("title")} />
      <Tabs
        value={tab}
        onChange={(next) => setParams(next && next !== "personal" ? { tab: next } : {}, { replace: true })}
        keepMounted={false}
      >
        <Tabs.List mb="md">
          <Tabs.Tab value="personal" leftSection={<IconUser size={16} />}>
            {t("tabs.personal")}
          </Tabs.Tab>
          {isRoot ? (
            <>
              <Tabs.Tab value="operation" leftSection={<IconAdjustments size={16} />}>
                {t("tabs.operation")}
              </Tabs.Tab>
              <Tabs.Tab value="system" leftSection={<IconServerCog size={16} />}>
                {t("tabs.system")}
              </Tabs.Tab>
              <Tabs.Tab value="other" leftSection={<IconWorld size={16} />}>
                {t("tabs.other")}
              </Tabs.Tab>
            </>
          ) : null}
        </Tabs.List>
        <Tabs.Panel value="personal">
          <PersonalSettings />
        </Tabs.Panel>
        {isRoot ? (
          <>
            <Tabs.Panel value="operation">
              <Stack gap="md">
                <OperationSettings ctx={ctx} />
              </Stack>
            </Tabs.Panel>
            <Tabs.Panel value="system">
              <Stack gap="md">
                <SystemSettings ctx={ctx} />
              </Stack>
            </Tabs.Panel>
            <Tabs.Panel value="other">
              <Stack gap="md">
                <OtherSettings ctx={ctx} />
              </Stack>
            </Tabs.Panel>
          </>
        ) : null}
      </Tabs>
    </>
  );
}
