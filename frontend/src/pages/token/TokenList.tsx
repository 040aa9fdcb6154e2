// The caller's tokens (spec 11: /token): paged list, search, sort, enable/disable,
// delete, copy the key (also as a chat-app link) and open it in a chat app.
import { ActionIcon, Badge, Button, Group, Menu, Select, Table, Tooltip } from "@mantine/core";
import {
  IconChevronDown,
  IconCopy,
  IconMessageCircle,
  IconPencil,
  IconTrash,
} from "@tabler/icons-react";
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
import { CHAT_APPS, chatUrl, serverAddress, type ChatApp } from "./chatLinks";
import { copyOrShow } from "./CopyFallback";
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
  const [keyword, setKeyword] = useState("");
  const [order, setOrder] = useState("");
  const { busy, run } = useRowAction();

  const paged = usePaged<Token>(
    (p, size, signal) =>
      keyword
        ? api.get<Token[]>("/api/token/search", { keyword, p, size }, signal)
        : api.get<Token[]>("/api/token/", { p, size, order }, signal),
    [keyword, order],
  );

  const server = serverAddress(status?.server_address);

  const copy = (text: string) => copyOrShow(text, t("copied"), t("copyManually"));

  const open = (app: ChatApp, token: Token) => {
    window.open(chatUrl(app, token.key, server, status?.chat_link), "_blank", "noopener");
  };

  const toggle = (token: Token) =>
    run(token.id, async () => {
      const next = token.status === TOKEN_ENABLED ? TOKEN_DISABLED : TOKEN_ENABLED;
      const updated = await api.put<Token>("/api/token/", { id: token.id, status: next }, { status_only: true });
      paged.setItems((items) => items.map((item) => (item.id === token.id ? { ...item, ...updated } : item)));
      notifySuccess(t("updated"));
    });

  const remove = async (token: Token) => {
    if (!(await confirmAction({ title: t("deleteTitle", { name: token.name }) }))) return;
    await run(token.id, async () => {
      await api.del(`/api/token/${token.id}`);
      notifySuccess(t("deleted"));
      await paged.reload();
    });
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
      <ListHeader
        title={t("title")}
        addTo="/token/add"
        addLabel={t("add")}
        loading={paged.loading}
        onRefresh={() => void paged.reload()}
      />
      <SearchBar label={t("search")} placeholder={t("searchPlaceholder")} onSearch={setKeyword}>
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
      </SearchBar>
      <ListTable
        minWidth={900}
        style={{ whiteSpace: "nowrap" }}
        loading={paged.loading}
        rows={rows}
        headers={[
          t("fields.name"),
          t("fields.status"),
          t("fields.used"),
          t("fields.remaining"),
          t("fields.created"),
          t("fields.expiresAt"),
          t("fields.actions"),
        ]}
      />
      <Pager page={paged.page} hasNext={paged.hasNext} onChange={paged.setPage} />
    </>
  );
}
