// /channel (spec 11): the channels table with search, tests, balances and inline edits.
import {
  ActionIcon,
  Badge,
  Button,
  Group,
  Progress,
  Stack,
  Table,
  Text,
  TextInput,
  Tooltip,
} from "@mantine/core";
import { IconPlus, IconRefresh, IconSearch } from "@tabler/icons-react";
import { useEffect, useRef, useState } from "react";
import { useTranslation } from "react-i18next";
import { Link } from "react-router";

import { api } from "../../api/client";
import { PageHeader } from "../../components/PageHeader";
import { Pager } from "../../components/Pager";
import { confirmAction } from "../../lib/confirm";
import { notifyError, notifySuccess } from "../../lib/notify";
import { usePaged } from "../../lib/usePaged";
import { ChannelRow } from "./ChannelRow";
import type { Channel } from "./form";

const POLL_MS = 1500;
const SNAPSHOT_PAGE = 100;

interface TestAllProgress {
  scope: "all" | "disabled";
  done: number;
  total: number;
}

/** Every channel (the list route pages at most 100 at a time). */
async function allChannels(signal?: AbortSignal): Promise<Channel[]> {
  const rows: Channel[] = [];
  for (let page = 0; ; page += 1) {
    const batch = await api.get<Channel[]>("/api/channel/", { p: page, size: SNAPSHOT_PAGE }, signal);
    rows.push(...batch);
    if (batch.length < SNAPSHOT_PAGE) return rows;
  }
}

export default function ChannelList() {
  const { t } = useTranslation("channel");
  const [keyword, setKeyword] = useState("");
  const [searchText, setSearchText] = useState("");
  const [progress, setProgress] = useState<TestAllProgress | null>(null);
  const [busy, setBusy] = useState<string | null>(null);
  const polling = useRef<AbortController | null>(null);

  const paged = usePaged<Channel>(
    (page, size, signal) =>
      keyword ? api.get<Channel[]>("/api/channel/search", { keyword }, signal) : api.get<Channel[]>("/api/channel/", { p: page, size }, signal),
    [keyword],
  );

  useEffect(() => () => polling.current?.abort(), []);

  const replace = (channel: Channel) => paged.setItems((items) => items.map((item) => (item.id === channel.id ? channel : item)));
  const patch = (id: number, change: Partial<Channel>) =>
    paged.setItems((items) => items.map((item) => (item.id === id ? { ...item, ...change } : item)));
  const remove = (id: number) => paged.setItems((items) => items.filter((item) => item.id !== id));

  // The server tests in the background and has no progress route: a channel is done
  // once its test_time moves past the value it had when the run started.
  const testAll = async (scope: "all" | "disabled") => {
    polling.current?.abort();
    const controller = new AbortController();
    polling.current = controller;
    setBusy(`test-${scope}`);
    try {
      const before = (await allChannels(controller.signal)).filter((item) => scope === "all" || item.status !== 1);
      const started = new Map(before.map((item) => [item.id, item.test_time]));
      await api.get("/api/channel/test", { scope });
      notifySuccess(t("list.testStarted", { count: started.size }));
      setProgress({ scope, done: 0, total: started.size });
      while (started.size > 0 && !controller.signal.aborted) {
        await new Promise((resolve) => setTimeout(resolve, POLL_MS));
        if (controller.signal.aborted) return;
        const now = await allChannels(controller.signal);
        const done = now.filter((item) => started.has(item.id) && item.test_time !== started.get(item.id)).length;
        const gone = [...started.keys()].filter((id) => !now.some((item) => item.id === id)).length;
        setProgress({ scope, done: done + gone, total: started.size });
        if (done + gone >= started.size) break;
      }
      if (!controller.signal.aborted) {
        notifySuccess(t("list.testFinished"));
        await paged.reload();
      }
    } catch (error) {
      notifyError(error);
    } finally {
      if (!controller.signal.aborted) {
        setProgress(null);
        setBusy(null);
      }
    }
  };

  const refreshAllBalances = async () => {
    setBusy("balances");
    try {
      const report = await api.get<{ updated: number; failed: number; skipped: number }>("/api/channel/update_balance");
      notifySuccess(t("list.balancesUpdated", report));
      await paged.reload();
    } catch (error) {
      notifyError(error);
    } finally {
      setBusy(null);
    }
  };

  const deleteDisabled = async () => {
    if (!(await confirmAction({ title: t("list.deleteDisabledTitle"), message: t("list.deleteDisabledText") }))) return;
    setBusy("delete-disabled");
    try {
      const count = await api.del<number>("/api/channel/disabled");
      notifySuccess(t("list.deletedDisabled", { count }));
      await paged.reload();
    } catch (error) {
      notifyError(error);
    } finally {
      setBusy(null);
    }
  };

  const testing = progress !== null;
  return (
    <Stack gap="sm">
      <PageHeader title={t("list.title")}>
        <Button component={Link} to="/channel/add" leftSection={<IconPlus size={16} />}>
          {t("list.add")}
        </Button>
      </PageHeader>
      <form
        onSubmit={(event) => {
          event.preventDefault();
          setKeyword(searchText.trim());
        }}
      >
        <Group gap="xs" align="flex-end">
          <TextInput
            label={t("list.search")}
            placeholder={t("list.searchPlaceholder")}
            value={searchText}
            onChange={(event) => setSearchText(event.currentTarget.value)}
            style={{ flex: 1, minWidth: 200 }}
          />
          <Button type="submit" variant="default" leftSection={<IconSearch size={16} />}>
            {t("common:actions.search")}
          </Button>
        </Group>
      </form>
      <Group gap="xs">
        <Button variant="light" onClick={() => void testAll("all")} loading={busy === "test-all"} disabled={testing && busy !== "test-all"}>
          {t("list.testAll")}
        </Button>
        <Button
          variant="light"
          onClick={() => void testAll("disabled")}
          loading={busy === "test-disabled"}
          disabled={testing && busy !== "test-disabled"}
        >
          {t("list.testDisabled")}
        </Button>
        <Button variant="light" leftSection={<IconRefresh size={16} />} onClick={() => void refreshAllBalances()} loading={busy === "balances"}>
          {t("list.refreshBalances")}
        </Button>
        <Button variant="light" color="red" onClick={() => void deleteDisabled()} loading={busy === "delete-disabled"}>
          {t("list.deleteDisabled")}
        </Button>
        <Tooltip label={t("common:actions.refresh")}>
          <ActionIcon variant="default" size="lg" aria-label={t("common:actions.refresh")} onClick={() => void paged.reload()} loading={paged.loading}>
            <IconRefresh size={16} />
          </ActionIcon>
        </Tooltip>
      </Group>
      {progress ? (
        <Stack gap={4} data-testid="test-progress">
          <Text size="sm">{t("list.testProgress", { done: progress.done, total: progress.total })}</Text>
          <Progress value={progress.total ? (100 * progress.done) / progress.total : 100} animated aria-label={t("list.testProgressLabel")} />
        </Stack>
      ) : null}
      <Table.ScrollContainer minWidth={1020}>
        <Table striped highlightOnHover verticalSpacing="xs" style={{ whiteSpace: "nowrap" }}>
          <Table.Thead>
            <Table.Tr>
              <Table.Th>{t("fields.id")}</Table.Th>
              <Table.Th>{t("fields.nameGroup")}</Table.Th>
              <Table.Th>{t("fields.type")}</Table.Th>
              <Table.Th>{t("fields.status")}</Table.Th>
              <Table.Th>{t("fields.responseTime")}</Table.Th>
              <Table.Th>{t("fields.balance")}</Table.Th>
              <Table.Th>{t("fields.priority")}</Table.Th>
              <Table.Th>{t("fields.weight")}</Table.Th>
              <Table.Th>{t("list.actions")}</Table.Th>
            </Table.Tr>
          </Table.Thead>
          <Table.Tbody>
            {paged.items.map((channel) => (
              <ChannelRow key={channel.id} channel={channel} onChange={replace} onPatch={patch} onDelete={remove} />
            ))}
          </Table.Tbody>
        </Table>
      </Table.ScrollContainer>
      {paged.items.length === 0 && !paged.loading ? (
        <Text c="dimmed" ta="center">
          {t("common:pagination.empty")}
        </Text>
      ) : null}
      {keyword ? (
        <Group justify="flex-end">
          <Badge variant="light">{t("list.searchResults", { count: paged.items.length })}</Badge>
          <Button
            size="xs"
            variant="default"
            onClick={() => {
              setSearchText("");
              setKeyword("");
            }}
          >
            {t("list.clearSearch")}
          </Button>
        </Group>
      ) : (
        <Pager page={paged.page} hasNext={paged.hasNext} onChange={paged.setPage} />
      )}
    </Stack>
  );
}
