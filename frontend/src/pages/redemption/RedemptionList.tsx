// Redemption codes (admin; spec 11: /redemption): paged list, search, copy,
// enable/disable, edit, delete.
import { ActionIcon, Badge, Button, Group, Table, Text, TextInput, Tooltip } from "@mantine/core";
import { IconCopy, IconPencil, IconPlus, IconRefresh, IconSearch, IconTrash } from "@tabler/icons-react";
import { useState, type FormEvent } from "react";
import { useTranslation } from "react-i18next";
import { Link } from "react-router";

import { api } from "../../api/client";
import { PageHeader } from "../../components/PageHeader";
import { Pager } from "../../components/Pager";
import { useStatus } from "../../context/StatusContext";
import { confirmAction } from "../../lib/confirm";
import { notifyError, notifySuccess } from "../../lib/notify";
import { renderQuota, timestampToString } from "../../lib/quota";
import { usePaged } from "../../lib/usePaged";
import { showCopyFallback } from "../token/CopyFallback";
import { copyText } from "../token/clipboard";
import { REDEMPTION_DISABLED, REDEMPTION_ENABLED, REDEMPTION_USED, type Redemption } from "./types";

const STATUS: Record<number, { key: string; color: string }> = {
  [REDEMPTION_ENABLED]: { key: "status.unused", color: "green" },
  [REDEMPTION_DISABLED]: { key: "status.disabled", color: "red" },
  [REDEMPTION_USED]: { key: "status.used", color: "gray" },
};

export default function RedemptionList() {
  const { t } = useTranslation("redemption");
  const { quotaDisplay } = useStatus();
  const [input, setInput] = useState("");
  const [keyword, setKeyword] = useState("");
  const [busy, setBusy] = useState<number | null>(null);

  const paged = usePaged<Redemption>(
    (p, size, signal) =>
      keyword
        ? api.get<Redemption[]>("/api/redemption/search", { keyword, p, size }, signal)
        : api.get<Redemption[]>("/api/redemption/", { p, size }, signal),
    [keyword],
  );

  const copy = async (key: string) => {
    if (await copyText(key)) notifySuccess(t("copied"));
    else showCopyFallback(t("copyManually"), key);
  };

  const toggle = async (row: Redemption) => {
    setBusy(row.id);
    try {
      const next = row.status === REDEMPTION_ENABLED ? REDEMPTION_DISABLED : REDEMPTION_ENABLED;
      const updated = await api.put<Redemption>("/api/redemption/", { id: row.id, status: next }, { status_only: true });
      paged.setItems((items) => items.map((item) => (item.id === row.id ? { ...item, ...updated } : item)));
      notifySuccess(t("updated"));
    } catch (error) {
      notifyError(error);
    } finally {
      setBusy(null);
    }
  };

  const remove = async (row: Redemption) => {
    if (!(await confirmAction({ title: t("deleteTitle", { name: row.name }) }))) return;
    setBusy(row.id);
    try {
      await api.del(`/api/redemption/${row.id}`);
      notifySuccess(t("deleted"));
      await paged.reload();
    } catch (error) {
      notifyError(error);
    } finally {
      setBusy(null);
    }
  };

  const search = (event: FormEvent) => {
    event.preventDefault();
    setKeyword(input.trim());
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
      <PageHeader title={t("title")}>
        <Button component={Link} to="/redemption/add" leftSection={<IconPlus size={16} />}>
          {t("add")}
        </Button>
        <Button
          variant="default"
          leftSection={<IconRefresh size={16} />}
          loading={paged.loading}
          onClick={() => void paged.reload()}
        >
          {t("common:actions.refresh")}
        </Button>
      </PageHeader>
      <Group component="form" onSubmit={search} align="flex-end" gap="sm" mb="md">
        <TextInput
          label={t("search")}
          placeholder={t("searchPlaceholder")}
          value={input}
          onChange={(e) => setInput(e.currentTarget.value)}
          leftSection={<IconSearch size={16} />}
          style={{ flex: "1 1 240px" }}
        />
        <Button type="submit" variant="light">
          {t("common:actions.search")}
        </Button>
      </Group>
      <Table.ScrollContainer minWidth={960}>
        <Table striped highlightOnHover verticalSpacing="xs" horizontalSpacing="xs" style={{ whiteSpace: "nowrap" }}>
          <Table.Thead>
            <Table.Tr>
              <Table.Th>{t("fields.id")}</Table.Th>
              <Table.Th>{t("fields.name")}</Table.Th>
              <Table.Th>{t("fields.key")}</Table.Th>
              <Table.Th>{t("fields.status")}</Table.Th>
              <Table.Th>{t("fields.quota")}</Table.Th>
              <Table.Th>{t("fields.created")}</Table.Th>
              <Table.Th>{t("fields.redeemed")}</Table.Th>
              <Table.Th>{t("fields.actions")}</Table.Th>
            </Table.Tr>
          </Table.Thead>
          <Table.Tbody>
            {rows.length > 0 ? (
              rows
            ) : (
              <Table.Tr>
                <Table.Td colSpan={8}>
                  <Text c="dimmed" ta="center" py="md">
                    {paged.loading ? t("common:loading") : t("common:pagination.empty")}
                  </Text>
                </Table.Td>
              </Table.Tr>
            )}
          </Table.Tbody>
        </Table>
      </Table.ScrollContainer>
      <Pager page={paged.page} hasNext={paged.hasNext} onChange={paged.setPage} />
    </>
  );
}
