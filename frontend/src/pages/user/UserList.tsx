// Users (admin; spec 11: /user): paged list, search, sort, and the /api/user/manage
// actions (promote, demote, enable, disable, delete).
import { ActionIcon, Badge, Button, Group, Menu, Select, Stack, Table, Text, Tooltip } from "@mantine/core";
import { IconDots, IconPencil } from "@tabler/icons-react";
import { useState } from "react";
import { useTranslation } from "react-i18next";
import { Link } from "react-router";

import { api } from "../../api/client";
import { ROLE_ADMIN, ROLE_COMMON, ROLE_ROOT, type User } from "../../api/types";
import { ListTable } from "../../components/ListTable";
import { ListHeader } from "../../components/PageHeader";
import { Pager } from "../../components/Pager";
import { SearchBar } from "../../components/SearchBar";
import { useAuth } from "../../context/AuthContext";
import { useStatus } from "../../context/StatusContext";
import { confirmAction } from "../../lib/confirm";
import { notifySuccess } from "../../lib/notify";
import { renderNumber, renderQuota } from "../../lib/quota";
import { usePaged } from "../../lib/usePaged";
import { useRowAction } from "../../lib/useRowAction";
import { USER_DISABLED, USER_ENABLED } from "./userForm";

type Action = "promote" | "demote" | "enable" | "disable" | "delete";

function roleBadge(role: number, t: (key: string) => string) {
  if (role >= ROLE_ROOT) return <Badge miw="max-content" color="orange">{t("roles.root")}</Badge>;
  if (role >= ROLE_ADMIN) return <Badge miw="max-content" color="yellow">{t("roles.admin")}</Badge>;
  if (role >= ROLE_COMMON) return <Badge miw="max-content" variant="light">{t("roles.common")}</Badge>;
  return <Badge miw="max-content" color="gray">{t("roles.guest")}</Badge>;
}

function statusBadge(status: number, t: (key: string) => string) {
  if (status === USER_ENABLED) return <Badge miw="max-content" color="green" variant="light">{t("status.enabled")}</Badge>;
  if (status === USER_DISABLED) return <Badge miw="max-content" color="red" variant="light">{t("status.disabled")}</Badge>;
  return <Badge miw="max-content" color="gray" variant="light">{t("status.unknown")}</Badge>;
}

export default function UserList() {
  const { t } = useTranslation("user");
  const { isRoot } = useAuth();
  const { quotaDisplay } = useStatus();
  const [keyword, setKeyword] = useState("");
  const [order, setOrder] = useState("");
  const { busy, run } = useRowAction();

  const paged = usePaged<User>(
    (p, size, signal) =>
      keyword
        ? api.get<User[]>("/api/user/search", { keyword }, signal)
        : api.get<User[]>("/api/user/", { p, size, order }, signal),
    [keyword, order],
  );

  const manage = async (user: User, action: Action) => {
    if (action === "delete" && !(await confirmAction({ title: t("deleteTitle", { name: user.username }) }))) return;
    await run(user.id, async () => {
      const result = await api.post<{ role: number; status: number }>("/api/user/manage", {
        username: user.username,
        action,
      });
      notifySuccess(t(`done.${action}`));
      if (action === "delete") await paged.reload();
      else
        paged.setItems((items) =>
          items.map((item) => (item.id === user.id ? { ...item, role: result.role, status: result.status } : item)),
        );
    });
  };

  const rows = paged.items.map((user) => (
    <Table.Tr key={user.id}>
      <Table.Td>{user.id}</Table.Td>
      <Table.Td>
        <Stack gap={0}>
          <Text size="sm" fw={500}>
            {user.username}
          </Text>
          {user.display_name && user.display_name !== user.username && (
            <Text size="xs" c="dimmed">
              {user.display_name}
            </Text>
          )}
        </Stack>
      </Table.Td>
      <Table.Td>{user.group}</Table.Td>
      <Table.Td>{renderQuota(user.quota, quotaDisplay)}</Table.Td>
      <Table.Td>{renderQuota(user.used_quota, quotaDisplay)}</Table.Td>
      <Table.Td>{renderNumber(user.request_count)}</Table.Td>
      <Table.Td>{roleBadge(user.role, t)}</Table.Td>
      <Table.Td>{statusBadge(user.status, t)}</Table.Td>
      <Table.Td>
        <Group gap={4} wrap="nowrap">
          <Button
            size="compact-sm"
            variant="default"
            loading={busy === user.id}
            disabled={user.role >= ROLE_ROOT}
            onClick={() => void manage(user, user.status === USER_ENABLED ? "disable" : "enable")}
          >
            {user.status === USER_ENABLED ? t("common:actions.disable") : t("common:actions.enable")}
          </Button>
          <Tooltip label={t("common:actions.edit")}>
            <ActionIcon component={Link} to={`/user/edit/${user.id}`} variant="subtle" aria-label={t("common:actions.edit")}>
              <IconPencil size={16} />
            </ActionIcon>
          </Tooltip>
          <Menu position="bottom-end" withinPortal>
            <Menu.Target>
              <ActionIcon variant="subtle" aria-label={t("moreActions", { name: user.username })} disabled={user.role >= ROLE_ROOT}>
                <IconDots size={16} />
              </ActionIcon>
            </Menu.Target>
            <Menu.Dropdown>
              {isRoot && user.role < ROLE_ADMIN && (
                <Menu.Item onClick={() => void manage(user, "promote")}>{t("actions.promote")}</Menu.Item>
              )}
              {user.role >= ROLE_ADMIN && user.role < ROLE_ROOT && (
                <Menu.Item onClick={() => void manage(user, "demote")}>{t("actions.demote")}</Menu.Item>
              )}
              <Menu.Item color="red" onClick={() => void manage(user, "delete")}>
                {t("common:actions.delete")}
              </Menu.Item>
            </Menu.Dropdown>
          </Menu>
        </Group>
      </Table.Td>
    </Table.Tr>
  ));

  return (
    <>
      <ListHeader
        title={t("title")}
        addTo="/user/add"
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
            { value: "quota", label: t("sort.quota") },
            { value: "used_quota", label: t("sort.used") },
            { value: "request_count", label: t("sort.requests") },
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
          t("fields.id"),
          t("fields.username"),
          t("fields.group"),
          t("fields.quota"),
          t("fields.used"),
          t("fields.requests"),
          t("fields.role"),
          t("fields.status"),
          t("fields.actions"),
        ]}
      />
      {!keyword && <Pager page={paged.page} hasNext={paged.hasNext} onChange={paged.setPage} />}
    </>
  );
}
