// The caller's tokens (spec 11: /token): paged list, search, sort, enable/disable,
// delete, copy the key (also as a chat-app link) and open it in a chat app.
import { ActionIcon, Badge, Button, Group, Menu, Select, Table, Text, TextInput, Tooltip } from "@mantine/core";
import {
  IconChevronDown,
  IconCopy,
  IconMessageCircle,
  IconPencil,
  IconPlus,
  IconRefresh,
  IconSearch,
  IconTrash,
} from "@tabler/icons-react";
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
import { CHAT_APPS, chatUrl, serverAddress, type ChatApp } from "./chatLinks";
import { showCopyFallback } from "./CopyFallback";
import { copyText } from "./clipboard";
import { TOKEN_DISABLED, TOKEN_ENABLED, TOKEN_EXHAUSTED, TOKEN_EXPIRED, type Token } from "./types";

const STATUS: Record<number, { key: string; color: string }> = {
  [TOKEN_ENABLED]: { key: "status.enabled", color: "green" },
  [TOKEN_DISABLED]: { key: "status.disabled", color: "red" },
  [TOKEN_EXPIRED]: { key: "status.expired", color: "yellow" },
  [TOKEN_EXHAUSTED]: { key: "status.exhausted", color: "gray" },
};

export default function TokenList() {
  const { t } = useTranslation("token");
  const { status, quotaDisplay } = useStatus();
  const [input, setInput] = useState("");
  const [keyword, setKeyword] = useState("");
  const [order, setOrder] = useState("");
  const [busy, setBusy] = useState<number | null>(null);

  const paged = usePaged<Token>(
    (p, size, signal) =>
      keyword
        ? api.get<Token[]>("/api/token/search", { keyword, p, size }, signal)
        : api.get<Token[]>("/api/token/", { p, size, order }, signal),
    [keyword, order],
  );

  const server = serverAddress(status?.server_address);

  const copy = async (text: string) => {
    if (await copyText(text)) notifySuccess(t("copied"));
    else showCopyFallback(t("copyManually"), text);
  };

  const open = (app: ChatApp, token: Token) => {
    window.open(chatUrl(app, token.key, server, status?.chat_link), "_blank", "noopener");
  };

  const toggle = async (token: Token) => {
    setBusy(token.id);
    try {
      const next = token.status === TOKEN_ENABLED ? TOKEN_DISABLED : TOKEN_ENABLED;
      const updated = await api.put<Token>("/api/token/", { id: token.id, status: next }, { status_only: true });
      paged.setItems((items) => items.map((item) => (item.id === token.id ? { ...item, ...updated } : item)));
      notifySuccess(t("updated"));
    } catch (error) {
      notifyError(error);
    } finally {
      setBusy(null);
    }
  };

  const remove = async (token: Token) => {
    if (!(await confirmAction({ title: t("deleteTitle", { name: token.name }) }))) return;
    setBusy(token.id);
    try {
      await api.del(`/api/token/${token.id}`);
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

  const rows = paged.items.map((token) => {
    const state = STATUS[token.status] ?? { key: "status.unknown", color: "gray" };
    return (
      <Table.Tr key={token.id}>
        <Table.Td>{token.name || t("noName")}</Table.Td>
        <Table.Td>
          <Badge miw="max-content" color={state.color} variant="light">
            {t(state.key)}
          </Badge>
        </Table.Td>
        <Table.Td>{renderQuota(token.used_quota, quotaDisplay)}</Table.Td>
        <Table.Td>{token.unlimited_quota ? t("unlimited") : renderQuota(token.remain_quota, quotaDisplay)}</Table.Td>
        <Table.Td>{timestampToString(token.created_time)}</Table.Td>
        <Table.Td>{token.expired_time === -1 ? t("neverExpires") : timestampToString(token.expired_time)}</Table.Td>
        <Table.Td>
          <Group gap={4} wrap="nowrap">
            <Button.Group>
              <Button size="compact-sm" leftSection={<IconCopy size={14} />} onClick={() => void copy(`sk-${token.key}`)}>
                {t("common:actions.copy")}
              </Button>
              <Menu position="bottom-end" withinPortal>
                <Menu.Target>
                  <Button size="compact-sm" aria-label={t("copyAs")} px={6}>
                    <IconChevronDown size={14} />
                  </Button>
                </Menu.Target>
                <Menu.Dropdown>
                  <Menu.Label>{t("copyAs")}</Menu.Label>
                  {CHAT_APPS.map((app) => (
                    <Menu.Item
                      key={app.value}
                      onClick={() => void copy(chatUrl(app.value, token.key, server, status?.chat_link))}
                    >
                      {app.label}
                    </Menu.Item>
                  ))}
                </Menu.Dropdown>
              </Menu>
            </Button.Group>
            <Menu position="bottom-end" withinPortal>
              <Menu.Target>
                <Button
                  size="compact-sm"
                  variant="light"
                  leftSection={<IconMessageCircle size={14} />}
                  rightSection={<IconChevronDown size={12} />}
                >
                  {t("chat")}
                </Button>
              </Menu.Target>
              <Menu.Dropdown>
                <Menu.Label>{t("openIn")}</Menu.Label>
                {CHAT_APPS.map((app) => (
                  <Menu.Item key={app.value} onClick={() => open(app.value, token)}>
                    {app.label}
                  </Menu.Item>
                ))}
              </Menu.Dropdown>
            </Menu>
            <Button
              size="compact-sm"
              variant="default"
              loading={busy === token.id}
              onClick={() => void toggle(token)}
            >
              {token.status === TOKEN_ENABLED ? t("common:actions.disable") : t("common:actions.enable")}
            </Button>
            <Tooltip label={t("common:actions.edit")}>
              <ActionIcon
                component={Link}
                to={`/token/edit/${token.id}`}
                variant="subtle"
                aria-label={t("common:actions.edit")}
              >
                <IconPencil size={16} />
              </ActionIcon>
            </Tooltip>
            <Tooltip label={t("common:actions.delete")}>
              <ActionIcon
                color="red"
                variant="subtle"
                aria-label={t("common:actions.delete")}
                onClick={() => void remove(token)}
              >
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
        <Button component={Link} to="/token/add" leftSection={<IconPlus size={16} />}>
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
      <Group component="form" onSubmit={search} align="flex-end" gap="sm" mb="md" wrap="wrap">
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
        <Select
          label={t("sort.label")}
          value={order}
          onChange={(value) => setOrder(value ?? "")}
          allowDeselect={false}
          disabled={keyword !== ""}
          data={[
            { value: "", label: t("sort.default") },
            { value: "remain_quota", label: t("sort.remain") },
            { value: "used_quota", label: t("sort.used") },
          ]}
          w={200}
        />
      </Group>
      <Table.ScrollContainer minWidth={900}>
        <Table striped highlightOnHover verticalSpacing="xs" style={{ whiteSpace: "nowrap" }}>
          <Table.Thead>
            <Table.Tr>
              <Table.Th>{t("fields.name")}</Table.Th>
              <Table.Th>{t("fields.status")}</Table.Th>
              <Table.Th>{t("fields.used")}</Table.Th>
              <Table.Th>{t("fields.remaining")}</Table.Th>
              <Table.Th>{t("fields.created")}</Table.Th>
              <Table.Th>{t("fields.expiresAt")}</Table.Th>
              <Table.Th>{t("fields.actions")}</Table.Th>
            </Table.Tr>
          </Table.Thead>
          <Table.Tbody>
            {rows.length > 0 ? (
              rows
            ) : (
              <Table.Tr>
                <Table.Td colSpan={7}>
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
