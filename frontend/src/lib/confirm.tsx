import { Text } from "@mantine/core";
import { modals } from "@mantine/modals";

import i18n from "../i18n";

/** Ask before a destructive action; resolves true when confirmed. */
export function confirmAction(options: { title?: string; message?: string; danger?: boolean } = {}): Promise<boolean> {
  return new Promise((resolve) => {
    modals.openConfirmModal({
      title: options.title ?? i18n.t("confirmDelete.title"),
      children: <Text size="sm">{options.message ?? i18n.t("confirmDelete.text")}</Text>,
      labels: { confirm: i18n.t("actions.confirm"), cancel: i18n.t("actions.cancel") },
      confirmProps: { color: options.danger === false ? "blue" : "red" },
      onConfirm: () => resolve(true),
      onCancel: () => resolve(false),
      onClose: () => resolve(false),
    });
  });
}
