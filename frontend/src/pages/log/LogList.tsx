// Usage and event logs: admins see everyone's (/api/log/), users their own
// (/api/log/self), with filters and the quota the matching consume logs used.
import { Badge, Button, Group, Paper, Select, SimpleGrid, Table, Text, TextInput, Tooltip } from "@mantine/core";
import { IconRefresh, IconSearch } from "@tabler/icons-react";
import { useCallback, useEffect, useState, type FormEvent } from "react";
import { useTranslation } from "react-i18next";

import { api } from "../../api/client";
import { PageHeader } from "../../components/PageHeader";
import { Pager } from "../../components/Pager";
import { useAuth } from "../../context/AuthContext";
import { useStatus } from "../../context/StatusContext";
import { notifyError } from "../../lib/notify";
import { renderQuota, timestampToString } from "../../lib/quota";
import { usePaged } from "../../lib/usePaged";
import { EMPTY_FILTERS, filterQuery, LOG_TYPE_COLORS, LOG_TYPES, type LogFilters } from "./logTypes";

interface LogRow {
  id: number;
  created_at: number;
  type: number;
  content: string;
  username: string;
  token_name: string;
  model_name: string;
  quota: number;
  prompt_tokens: number;
  completion_tokens: number;
  channel: number;
  elapsed_time: number;
  is_stream: boolean;
  system_prompt_reset: boolean;
}

export default function LogList() {
  const { t } = useTranslation("log");
  const { isAdmin } = useAuth();
  const { quotaDisplay } = useStatus();
  const [form, setForm] = useState<LogFilters>(EMPTY_FILTERS);
  const [applied, setApplied] = useState<LogFilters>(EMPTY_FILTERS);
  const [usedQuota, setUsedQuota] = useState<number | null>(null);
  const base = isAdmin ? "/api/log/" : "/api/log/self";
  const key = JSON.stringify(applied);

  const paged = usePaged<LogRow>(
    (p, size, signal) => api.get<LogRow[]>(base, { ...filterQuery(applied, isAdmin), p, size }, signal),
    [key, base],
  );

  const loadStat = useCallback(
    async (signal?: AbortSignal) => {
      try {
        const stat = await api.get<{ quota: number }>(
          isAdmin ? "/api/log/stat" : "/api/log/self/stat",
          filterQuery(applied, isAdmin),
          signal,
        );
        setUsedQuota(stat.quota);
      } catch (error) {
        notifyError(error);
      }
    },
    // eslint-disable-next-line react-hooks/exhaustive-deps
    [key, isAdmin],
  );
  useEffect(() => {
    const abort = new AbortController();
    void loadStat(abort.signal);
    return () => abort.abort();
  }, [loadStat]);

  const field = (name: keyof LogFilters) => ({
    value: form[name],
    onChange: (e: { currentTarget: { value: string } }) => {
      const value = e.currentTarget.value;
      setForm((f) => ({ ...f, [name]: value }));
    },
  });
  const submit = (e: FormEvent) => {
    e.preventDefault();
    setApplied({ ...form });
  };
  const refresh = () => {
    void paged.reload();
    void loadStat();
  };

  return (
    <>
      <PageHeader title={t("title")}>
        <Button variant="default" leftSection={<IconRefresh size={16} />} onClick={refresh} loading={paged.loading}>
          {t("common:actions.refresh")}
        </Button>
      </PageHeader>
      <Paper withBorder p="md" mb="md" component="form" onSubmit={submit}>
        <SimpleGrid cols={{ base: 1, sm: 2, md: 4 }} spacing="sm">
          <Select
            label={t("filters.type")}
            data={[
              { value: "0", label: t("types.0") },
              ...LOG_TYPES.map((v) => ({ value: String(v), label: t(`types.${v}`) })),
            ]}
            value={form.type}
            onChange={(value) => setForm((f) => ({ ...f, type: value ?? "0" }))}
            allowDeselect={false}
          />
          {isAdmin ? <TextInput label={t("filters.username")} {...field("username")} /> : null}
          <TextInput label={t("filters.token")} {...field("token_name")} />
          <TextInput label={t("filters.model")} {...field("model_name")} />
          {isAdmin ? <TextInput label={t("filters.channel")} inputMode="numeric" {...field("channel")} /> : null}
          <TextInput label={t("filters.start")} type="datetime-local" {...field("start")} />
          <TextInput label={t("filters.end")} type="datetime-local" {...field("end")} />
        </SimpleGrid>
        <Group justify="space-between" mt="sm">
          <Text size="sm" data-testid="log-stat">
            {t("usedQuota")}: <b>{usedQuota === null ? "-" : renderQuota(usedQuota, quotaDisplay, 4)}</b>
          </Text>
          <Group gap="xs">
            <Button
              variant="default"
              onClick={() => {
                setForm(EMPTY_FILTERS);
                setApplied(EMPTY_FILTERS);
              }}
            >
              {t("common:actions.reset")}
            </Button>
            <Button type="submit" leftSection={<IconSearch size={16} />}>
              {t("common:actions.search")}
            </Button>
          </Group>
        </Group>
      </Paper>
      <Table.ScrollContainer minWidth={isAdmin ? 1200 : 1000}>
        <Table striped highlightOnHover verticalSpacing="xs" data-testid="log-table">
          <Table.Thead>
            <Table.Tr>
              <Table.Th>{t("columns.time")}</Table.Th>
              {isAdmin ? <Table.Th>{t("columns.channel")}</Table.Th> : null}
              <Table.Th>{t("columns.type")}</Table.Th>
              <Table.Th>{t("columns.model")}</Table.Th>
              {isAdmin ? <Table.Th>{t("columns.user")}</Table.Th> : null}
              <Table.Th>{t("columns.token")}</Table.Th>
              <Table.Th>{t("columns.prompt")}</Table.Th>
              <Table.Th>{t("columns.completion")}</Table.Th>
              <Table.Th>{t("columns.quota")}</Table.Th>
              <Table.Th>{t("columns.detail")}</Table.Th>
            </Table.Tr>
          </Table.Thead>
          <Table.Tbody>
            {paged.items.length === 0 ? (
              <Table.Tr>
                <Table.Td colSpan={isAdmin ? 10 : 8}>
                  <Text c="dimmed" ta="center" size="sm">
                    {paged.loading ? t("common:loading") : t("common:pagination.empty")}
                  </Text>
                </Table.Td>
              </Table.Tr>
            ) : null}
            {paged.items.map((row) => (
              <Table.Tr key={row.id}>
                <Table.Td style={{ whiteSpace: "nowrap" }}>{timestampToString(row.created_at)}</Table.Td>
                {isAdmin ? <Table.Td>{row.channel || ""}</Table.Td> : null}
                <Table.Td style={{ whiteSpace: "nowrap" }}>
                  <Badge color={LOG_TYPE_COLORS[row.type] ?? "gray"} variant="light" style={{ minWidth: "max-content" }}>
                    {t(`types.${row.type}`, { defaultValue: t("types.unknown") })}
                  </Badge>
                </Table.Td>
                <Table.Td>{row.model_name}</Table.Td>
                {isAdmin ? <Table.Td>{row.username}</Table.Td> : null}
                <Table.Td>{row.token_name}</Table.Td>
                <Table.Td>{row.prompt_tokens || ""}</Table.Td>
                <Table.Td>{row.completion_tokens || ""}</Table.Td>
                <Table.Td style={{ whiteSpace: "nowrap" }}>
                  {row.quota ? renderQuota(row.quota, quotaDisplay, 6) : ""}
                </Table.Td>
                <Table.Td miw={260}>
                  <Group gap={4} wrap="wrap">
                    {row.elapsed_time > 0 ? (
                      <Tooltip label={t("badges.elapsedHint")}>
                        <Badge variant="outline" color={row.elapsed_time > 10000 ? "red" : "gray"}>
                          {t("badges.elapsed", { ms: row.elapsed_time })}
                        </Badge>
                      </Tooltip>
                    ) : null}
                    {row.is_stream ? <Badge variant="outline">{t("badges.stream")}</Badge> : null}
                    {row.system_prompt_reset ? (
                      <Badge variant="outline" color="orange">
                        {t("badges.systemPromptReset")}
                      </Badge>
                    ) : null}
                  </Group>
                  <Text size="sm" style={{ wordBreak: "break-word" }}>
                    {row.content}
                  </Text>
                </Table.Td>
              </Table.Tr>
            ))}
          </Table.Tbody>
        </Table>
      </Table.ScrollContainer>
      <Pager page={paged.page} hasNext={paged.hasNext} onChange={paged.setPage} />
    </>
  );
}
