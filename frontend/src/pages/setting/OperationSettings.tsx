// Operation tab (root): quota, ratios, logs, channel monitoring and general options.
import { Button, Group, Text, TextInput } from "@mantine/core";
import { IconTrash } from "@tabler/icons-react";
import { useState } from "react";
import { useTranslation } from "react-i18next";

import { api } from "../../api/client";
import { confirmAction } from "../../lib/confirm";
import { notifyError, notifySuccess } from "../../lib/notify";
import { localToUnix } from "../log/logTypes";
import { OptionForm, OptionSwitch, OptionSwitches, Section } from "./OptionFields";
import type { OptionsApi } from "./useOptions";

function PurgeLogs() {
  const { t } = useTranslation("setting");
  const [before, setBefore] = useState("");
  const [busy, setBusy] = useState(false);
  const purge = async () => {
    const target = localToUnix(before);
    if (!target) return;
    if (!(await confirmAction({ title: t("purge.confirmTitle"), message: t("purge.confirmText", { date: before }) })))
      return;
    setBusy(true);
    try {
      const removed = await api.del<number>("/api/log/", { target_timestamp: target });
      notifySuccess(t("purge.done", { count: removed ?? 0 }));
    } catch (error) {
      notifyError(error);
    } finally {
      setBusy(false);
    }
  };
  return (
    <Group align="flex-end" gap="sm" wrap="wrap">
      <TextInput
        label={t("purge.before")}
        type="datetime-local"
        value={before}
        onChange={(e) => setBefore(e.currentTarget.value)}
      />
      <Button
        color="red"
        variant="light"
        leftSection={<IconTrash size={16} />}
        onClick={() => void purge()}
        loading={busy}
        disabled={!localToUnix(before)}
      >
        {t("purge.action")}
      </Button>
    </Group>
  );
}

export default function OperationSettings({ ctx }: { ctx: OptionsApi }) {
  const { t } = useTranslation("setting");
  return (
    <>
      <Section title={t("sections.general")}>
        <OptionForm
          ctx={ctx}
          fields={[
            { name: "TopUpLink" },
            { name: "ChatLink" },
            { name: "QuotaPerUnit", kind: "number" },
            { name: "RetryTimes", kind: "number" },
          ]}
        />
        <OptionSwitches ctx={ctx} names={["DisplayInCurrencyEnabled", "DisplayTokenStatEnabled", "ApproximateTokenEnabled"]} />
      </Section>
      <Section title={t("sections.quota")}>
        <OptionForm
          ctx={ctx}
          fields={[
            { name: "QuotaForNewUser", kind: "number" },
            { name: "PreConsumedQuota", kind: "number" },
            { name: "QuotaForInviter", kind: "number" },
            { name: "QuotaForInvitee", kind: "number" },
          ]}
        />
      </Section>
      <Section title={t("sections.monitoring")}>
        <OptionForm
          ctx={ctx}
          fields={[
            { name: "ChannelDisableThreshold", kind: "number" },
            { name: "QuotaRemindThreshold", kind: "number" },
          ]}
        />
        <OptionSwitches ctx={ctx} names={["AutomaticDisableChannelEnabled", "AutomaticEnableChannelEnabled"]} />
      </Section>
      <Section title={t("sections.logs")}>
        <OptionSwitch ctx={ctx} name="LogConsumeEnabled" />
        <OptionForm ctx={ctx} fields={[{ name: "LogRetentionDays", kind: "number" }]} />
        <Text size="sm" c="dimmed">
          {t("purge.hint")}
        </Text>
        <PurgeLogs />
      </Section>
      <Section title={t("sections.ratios")}>
        <OptionForm
          ctx={ctx}
          cols={1}
          fields={[
            { name: "ModelRatio", kind: "ratio" },
            { name: "CompletionRatio", kind: "ratio" },
            { name: "GroupRatio", kind: "ratio" },
          ]}
        />
      </Section>
    </>
  );
}
