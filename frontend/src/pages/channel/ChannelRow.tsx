// One row of the channels table: status, test, balance, inline priority/weight, actions.
import { ActionIcon, Badge, Button, Group, Menu, NumberInput, Select, Table, Text, Tooltip } from "@mantine/core";
import { IconCopy, IconDots, IconPencil, IconPlayerPlay, IconRefresh, IconTrash } from "@tabler/icons-react";
import { useRef, useState } from "react";
import { useTranslation } from "react-i18next";
import { Link, useNavigate } from "react-router";

import { api, request } from "../../api/client";
import { confirmAction } from "../../lib/confirm";
import { notifyError, notifySuccess } from "../../lib/notify";
import { timestampToString } from "../../lib/quota";
import { type Channel, splitList } from "./form";
import { BALANCE_TYPES, channelType, typeLabel } from "./types";

// Badges in a table cell would otherwise be squeezed to an ellipsis.
const WHOLE = { minWidth: "max-content" } as const;

/** "850 ms" under a second, else "1.23 s". */
function duration(ms: number, t: (key: string, values: Record<string, string>) => string): string {
  return ms < 1000 ? t("list.ms", { ms: String(Math.round(ms)) }) : t("list.seconds", { seconds: (ms / 1000).toFixed(2) });
}

/** Colour of a response time in ms (0 = not tested or the last test failed). */
export function responseTimeColor(ms: number): string {
  if (ms <= 0) return "gray";
  if (ms <= 1000) return "green";
  if (ms <= 3000) return "lime";
  if (ms <= 5000) return "yellow";
  return "red";
}

function StatusBadge({ status }: { status: number }) {
  const { t } = useTranslation("channel");
  if (status === 1) return <Badge style={WHOLE} color="green">{t("status.enabled")}</Badge>;
  if (status === 2) {
    return (
      <Tooltip label={t("status.manualHint")}>
        <Badge style={WHOLE} color="gray" variant="outline">
          {t("status.manual")}
        </Badge>
      </Tooltip>
    );
  }
  if (status === 3) {
    return (
      <Tooltip label={t("status.autoHint")}>
        <Badge style={WHOLE} color="orange">{t("status.auto")}</Badge>
      </Tooltip>
    );
  }
  return <Badge style={WHOLE} color="gray">{t("status.unknown")}</Badge>;
}

/** A number cell saved on blur or Enter, when it changed. */
function InlineNumber({
  label,
  value,
  min,
  onSave,
}: {
  label: string;
  value: number;
  min?: number;
  onSave: (value: number) => Promise<void>;
}) {
  const [draft, setDraft] = useState<string | number>(value);
  const [saving, setSaving] = useState(false);
  // Enter then blur (or blur while a save is under way) must not send it twice.
  const pending = useRef<number | null>(null);
  const [shown, setShown] = useState(value);
  if (shown !== value) {
    // the row was reloaded: show the stored value
    setShown(value);
    setDraft(value);
  }
  const save = async () => {
    const next = typeof draft === "number" ? draft : Number.parseInt(draft, 10);
    if (!Number.isFinite(next)) {
      setDraft(value);
      return;
    }
    if (next === value || next === pending.current) return;
    pending.current = next;
    setSaving(true);
    try {
      await onSave(next);
    } catch (error) {
      notifyError(error);
      setDraft(value);
    } finally {
      pending.current = null;
      setSaving(false);
    }
  };
  return (
    <NumberInput
      aria-label={label}
      value={draft}
      onChange={setDraft}
      onBlur={() => void save()}
      onKeyDown={(event) => {
        if (event.key === "Enter") void save();
      }}
      allowDecimal={false}
      min={min}
      disabled={saving}
      size="xs"
      w={60}
      hideControls
    />
  );
}

interface RowProps {
  channel: Channel;
  onChange: (channel: Channel) => void;
  onPatch: (id: number, change: Partial<Channel>) => void;
  onDelete: (id: number) => void;
}

export function ChannelRow({ channel, onChange, onPatch, onDelete }: RowProps) {
  const { t, i18n } = useTranslation("channel");
  const navigate = useNavigate();
  const [model, setModel] = useState<string | null>(null);
  const [testing, setTesting] = useState(false);
  const [lastTest, setLastTest] = useState<number | null>(null);
  const [balanceLoading, setBalanceLoading] = useState(false);
  const [toggling, setToggling] = useState(false);
  const type = channelType(channel.type);
  const models = splitList(channel.models);
  const name = channel.name || `#${channel.id}`;

  const update = async (change: Partial<Channel>) => {
    onChange(await api.put<Channel>("/api/channel/", { id: channel.id, ...change }));
  };

  const test = async () => {
    setTesting(true);
    try {
      const reply = await request<unknown>("GET", `/api/channel/test/${channel.id}`, { query: { model: model ?? "" } });
      const seconds = typeof reply.time === "number" ? reply.time : 0;
      setLastTest(seconds);
      onPatch(channel.id, { response_time: Math.round(seconds * 1000), test_time: Math.floor(Date.now() / 1000) });
      notifySuccess(t("list.testOk", { name, seconds: seconds.toFixed(2) }));
    } catch (error) {
      setLastTest(null);
      onPatch(channel.id, { response_time: 0 });
      notifyError(error);
    } finally {
      setTesting(false);
    }
  };

  const refreshBalance = async () => {
    setBalanceLoading(true);
    try {
      const reply = await request<unknown>("GET", `/api/channel/update_balance/${channel.id}`);
      const balance = typeof reply.balance === "number" ? reply.balance : 0;
      onPatch(channel.id, { balance, balance_updated_time: Math.floor(Date.now() / 1000) });
      notifySuccess(t("list.balanceOk", { name, balance: balance.toFixed(2) }));
    } catch (error) {
      notifyError(error);
    } finally {
      setBalanceLoading(false);
    }
  };

  const toggle = async () => {
    setToggling(true);
    try {
      await update({ status: channel.status === 1 ? 2 : 1 });
    } catch (error) {
      notifyError(error);
    } finally {
      setToggling(false);
    }
  };

  const remove = async () => {
    if (!(await confirmAction({ message: t("list.deleteText", { name }) }))) return;
    try {
      await api.del(`/api/channel/${channel.id}`);
      onDelete(channel.id);
      notifySuccess(t("list.deleted", { name }));
    } catch (error) {
      notifyError(error);
    }
  };

  const responseTime = channel.response_time;
  return (
    <Table.Tr data-testid={`channel-row-${channel.id}`}>
      <Table.Td>{channel.id}</Table.Td>
      <Table.Td>
        <Text size="sm" fw={500}>
          {channel.name}
        </Text>
        <Group gap={4} mt={2} aria-label={t("fields.group")}>
          {splitList(channel.group).map((group) => (
            <Badge key={group} style={WHOLE} variant="light" size="xs" tt="none">
              {group}
            </Badge>
          ))}
        </Group>
      </Table.Td>
      <Table.Td>
        <Badge style={WHOLE} color={type.color} variant="light" size="sm" tt="none">
          {typeLabel(type, i18n.language)}
        </Badge>
      </Table.Td>
      <Table.Td>
        <StatusBadge status={channel.status} />
      </Table.Td>
      <Table.Td>
        <Tooltip label={channel.test_time ? t("list.testedAt", { time: timestampToString(channel.test_time) }) : t("list.neverTested")}>
          <Badge style={WHOLE} color={responseTimeColor(responseTime)} variant="light" tt="none" data-testid="response-time">
            {responseTime > 0 ? duration(responseTime, t) : t("list.notTested")}
          </Badge>
        </Tooltip>
      </Table.Td>
      <Table.Td>
        {BALANCE_TYPES.has(channel.type) ? (
          <Group gap={4} wrap="nowrap">
            <Tooltip label={channel.balance_updated_time ? t("list.balanceAt", { time: timestampToString(channel.balance_updated_time) }) : t("list.balanceNever")}>
              <Text size="sm" data-testid="balance">
                ${channel.balance.toFixed(2)}
              </Text>
            </Tooltip>
            <ActionIcon
              variant="subtle"
              size="sm"
              aria-label={t("list.refreshBalanceOf", { name })}
              onClick={() => void refreshBalance()}
              loading={balanceLoading}
            >
              <IconRefresh size={14} />
            </ActionIcon>
          </Group>
        ) : (
          <Tooltip label={t("list.balanceUnsupported")}>
            <Text size="sm" c="dimmed">
              -
            </Text>
          </Tooltip>
        )}
      </Table.Td>
      <Table.Td>
        <InlineNumber label={t("list.priorityOf", { name })} value={channel.priority ?? 0} onSave={(priority) => update({ priority })} />
      </Table.Td>
      <Table.Td>
        <InlineNumber label={t("list.weightOf", { name })} value={channel.weight ?? 0} min={0} onSave={(weight) => update({ weight })} />
      </Table.Td>
      <Table.Td>
        <Group gap={4} wrap="nowrap">
          <Select
            aria-label={t("list.testModelOf", { name })}
            placeholder={t("list.defaultModel")}
            data={models}
            value={model}
            onChange={setModel}
            clearable
            searchable
            size="xs"
            w={120}
            comboboxProps={{ withinPortal: true }}
          />
          <Button size="xs" variant="light" leftSection={<IconPlayerPlay size={14} />} onClick={() => void test()} loading={testing} aria-label={t("list.testOf", { name })}>
            {lastTest !== null ? duration(lastTest * 1000, t) : t("common:actions.test")}
          </Button>
          <Button size="xs" variant="default" color={channel.status === 1 ? "orange" : "green"} onClick={() => void toggle()} loading={toggling} aria-label={t(channel.status === 1 ? "list.disableOf" : "list.enableOf", { name })}>
            {channel.status === 1 ? t("common:actions.disable") : t("common:actions.enable")}
          </Button>
          <ActionIcon component={Link} to={`/channel/edit/${channel.id}`} variant="subtle" aria-label={t("list.editOf", { name })}>
            <IconPencil size={16} />
          </ActionIcon>
          <Menu position="bottom-end" withinPortal>
            <Menu.Target>
              <ActionIcon variant="subtle" aria-label={t("list.moreOf", { name })}>
                <IconDots size={16} />
              </ActionIcon>
            </Menu.Target>
            <Menu.Dropdown>
              <Menu.Item leftSection={<IconCopy size={14} />} onClick={() => navigate(`/channel/add?copy=${channel.id}`)}>
                {t("list.copy")}
              </Menu.Item>
              <Menu.Item color="red" leftSection={<IconTrash size={14} />} onClick={() => void remove()}>
                {t("common:actions.delete")}
              </Menu.Item>
            </Menu.Dropdown>
          </Menu>
        </Group>
      </Table.Td>
    </Table.Tr>
  );
}
