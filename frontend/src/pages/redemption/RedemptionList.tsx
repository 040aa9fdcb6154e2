// Redemption codes (admin; spec 11: /redemption): paged list, search, copy,
// enable/disable, edit, delete.
import { ActionIcon, Badge, Button, Group, Table, Text, Tooltip } from "@mantine/core";
import { IconCopy, IconPencil, IconTrash } from "@tabler/icons-react";
import { useState } from "react";
import { useTranslation } from "react-i18next";
import { Link } from "react-router";

import { api } from "../../api/client";
import { ListTable } from "../../components/ListTable";
import { ListHeader } from "../../components/PageHeader";
import { Pager } from "../../components/Pager";
import { SearchBar } from "../../components/SearchBar";
import { useStatus } from "../../context/StatusContext";
import { confirmAction } from "../../lib/confirm";
import { notifySuccess } from "../../lib/notify";
import { renderQuota, timestampToString } from "../../lib/quota";
import { usePaged } from "../../lib/usePaged";
import { useRowAction } from "../../lib/useRowAction";
import { copyOrShow } from "../token/CopyFallback";
import { REDEMPTION_DISABLED, REDEMPTION_ENABLED, REDEMPTION_USED, type Redemption } from "./types";

const STATUS: Record<number, { key: string; color: string }> = {
  [REDEMPTION_ENABLED]: { key: "status.unused", color: "green" },
  [REDEMPTION_DISABLED]: { key: "status.disabled", color: "red" },
  [REDEMPTION_USED]: { key: "status.used", color: "gray" },
};

export default function RedemptionList() {
  const { t } = useTranslation("redemption");
  const { quotaDisplay } = useStatus();
  const [keyword, setKeyword] = useState("");
  const { busy, run } = useRowAction();

  const paged = usePaged<Redemption>(
    (p, size, signal) =>
      keyword
        ? api.get<Redemption[]>("/api/redemption/search", { keyword, p, size }, signal)
        : api.get<Redemption[]>("/api/redemption/", { p, size }, signal),
    [keyword],
  );

  const copy = (key: string) => copyOrShow(key, t("copied"), t("copyManually"));

  const toggle = (row: Redemption) =>
    run(row.id, async () => {
      const next = row.status === REDEMPTION_ENABLED ? REDEMPTION_DISABLED : REDEMPTION_ENABLED;
      const updated = await api.put<Redemption>("/api/redemption/", { id: row.id, status: next }, { status_only: true });
      paged.setItems((items) => items.map((item) => (item.id === row.id ? { ...item, ...updated } : item)));
      notifySuccess(t("updated"));
    });

  const remove = async (row: Redemption) => {
    if (!(await confirmAction({ title: t("deleteTitle", { name: row.name }) }))) return;
    await run(row.id, async () => {
      await api.del(`/api/redemption/${row.id}`);
      notifySuccess(t("deleted"));
      await paged.reload();
    });
  };

  const rows = paged.items.map((row) => {
    const state = STATUS[row.status] ?? { key: "status.unknown", color: "gray" };
    return (
      <Table.Tr key={row.id}>
        <Table.Td>{row.id}</Table.Td>
        <Table.Td>{row.name}</Table.Td>
        <Table.Td>
          <Text ff="monospace" size="xs">
            {row.key}
          </Text>
        </Table.Td>
        <Table.Td>
          <Badge miw="max-content" color={state.color} variant="light">
            {t(state.key)}
          </Badge>
        </Table.Td>
        <Table.Td>{renderQuota(row.quota, quotaDisplay)}</Table.Td>
        <Table.Td>{timestampToString(row.created_time)}</Table.Td>
        <Table.Td>{row.redeemed_time ? timestampToString(row.redeemed_time) : t("notRedeemed")}</Table.Td>
        <Table.Td>
          <Group gap={4} wrap="nowrap">
            <Tooltip label={t("common:actions.copy")}>
              <ActionIcon variant="light" aria-label={t("common:actions.copy")} onClick={() => void copy(row.key)}>
                <IconCopy size={16} />
              </ActionIcon>
            </Tooltip>
            <Button
              size="compact-sm"
              variant="default"
              loading={busy === row.id}
              disabled={row.status === REDEMPTION_USED}
              onClick={() => void toggle(row)}
            >
              {row.status === REDEMPTION_ENABLED ? t("common:actions.disable") : t("common:actions.enable")}
            </Button>
            <Tooltip label={t("common:actions.edit")}>
              <ActionIcon
                component={Link}
                to={`/redemption/edit/${row.id}`}
                variant="subtle"
                aria-label={t("common:actions.edit")}
              >
                <IconPencil size={16} />
              </ActionIcon>
            </Tooltip>
            <Tooltip label={t("common:actions.delete")}>
              <ActionIcon color="red" variant="subtle" aria-label={t("common:actions.delete")} onClick={() => void remove(row)}>
                <IconTrash size={16} />
              </ActionIcon>
            </Tooltip>
          </Group>
        </Table.Td>
      </Table.Tr>
    );
  });

  return (
    <>
      <ListHeader
        title={t("title")}
        addTo="/redemption/add"
        addLabel={t("add")}
        loading={paged.loading}
        onRefresh={() => void paged.reload()}
      />
      <SearchBar label={t("search")} placeholder={t("searchPlaceholder")} onSearch={setKeyword} />
      <ListTable
        minWidth={960}
        horizontalSpacing="xs"
        style={{ whiteSpace: "nowrap" }}
        loading={paged.loading}
        rows={rows}
        headers={[
          t("fields.id"),
          t("fields.name"),
          t("fields.key"),
          t("fields.status"),
          t("fields.quota"),
          t("fields.created"),
          t("fields.redeemed"),
          t("fields.actions"),
        ]}
      />
      <Pager page={paged.page} hasNext={paged.hasNext} onChange={paged.setPage} />
    </>
  );
}
