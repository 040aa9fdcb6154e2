// The caller's usage over the last 7 or 30 days: summary cards, per-day requests,
// quota (stacked by model) and tokens, and each model's share of the quota.
import { AreaChart, BarChart, DonutChart } from "@mantine/charts";
import {
  Group,
  Loader,
  Paper,
  SegmentedControl,
  SimpleGrid,
  Stack,
  Table,
  Text,
  Title,
} from "@mantine/core";
import { useEffect, useMemo, useState, type ReactNode } from "react";
import { useTranslation } from "react-i18next";

import { api } from "../../api/client";
import { PageHeader } from "../../components/PageHeader";
import { useAuth } from "../../context/AuthContext";
import { useStatus } from "../../context/StatusContext";
import { notifyError } from "../../lib/notify";
import { renderNumber, renderQuota } from "../../lib/quota";
import { chartedModels, dayPoints, modelShares, OTHER, utcDays, type DashboardRow } from "./aggregate";

const COLORS = ["blue.6", "teal.6", "orange.6", "grape.6", "cyan.6", "lime.7", "pink.6", "gray.6"];

function Stat({ label, value, testId }: { label: string; value: string; testId: string }) {
  return (
    <Paper withBorder p="md" radius="md">
      <Text size="xs" c="dimmed" tt="uppercase" fw={700}>
        {label}
      </Text>
      <Text fw={700} size="xl" data-testid={testId} style={{ overflowWrap: "anywhere" }}>
        {value}
      </Text>
    </Paper>
  );
}

function ChartCard({ title, children }: { title: string; children: ReactNode }) {
  return (
    <Paper withBorder p="md" radius="md">
      <Title order={4} mb="sm">
        {title}
      </Title>
      {children}
    </Paper>
  );
}

export default function Dashboard() {
  const { t } = useTranslation("dashboard");
  const { user, refresh } = useAuth();
  const { quotaDisplay } = useStatus();
  const [days, setDays] = useState("7");
  const [rows, setRows] = useState<DashboardRow[] | null>(null);

  useEffect(() => {
    void refresh();
  }, [refresh]);

  useEffect(() => {
    const abort = new AbortController();
    setRows(null);
    api
      .get<DashboardRow[]>("/api/user/dashboard", { days }, abort.signal)
      .then((data) => setRows(data ?? []))
      .catch((error: unknown) => {
        notifyError(error);
        if (!abort.signal.aborted) setRows([]);
      });
    return () => abort.abort();
  }, [days]);

  const view = useMemo(() => {
    const list = rows ?? [];
    const shares = modelShares(list);
    const models = chartedModels(shares);
    const points = dayPoints(list, utcDays(Number(days)), models);
    const totals = points.reduce(
      (sum, p) => ({
        requests: sum.requests + p.requests,
        quota: sum.quota + p.quota,
        tokens: sum.tokens + p.prompt + p.completion,
      }),
      { requests: 0, quota: 0, tokens: 0 },
    );
    return { shares, models, points, totals };
  }, [rows, days]);

  const modelLabel = (model: string) => (model === OTHER ? t("other") : model);
  const quota = (value: number) => renderQuota(value, quotaDisplay, 4);
  const series = view.models.map((model, i) => ({
    name: model,
    label: modelLabel(model),
    color: COLORS[i % COLORS.length],
  }));
  const donut = view.shares.slice(0, COLORS.length).map((share, i) => ({
    name: share.model,
    value: share.quota,
    color: COLORS[i % COLORS.length],
  }));

  return (
    <>
      <PageHeader title={t("title")}>
        <SegmentedControl
          aria-label={t("period")}
          value={days}
          onChange={setDays}
          data={[
            { value: "7", label: t("days", { count: 7 }) },
            { value: "30", label: t("days", { count: 30 }) },
          ]}
        />
      </PageHeader>
      <SimpleGrid cols={{ base: 2, md: 3, lg: 6 }} mb="md">
        <Stat label={t("balance")} value={user ? renderQuota(user.quota, quotaDisplay) : "-"} testId="stat-balance" />
        <Stat label={t("used")} value={user ? renderQuota(user.used_quota, quotaDisplay) : "-"} testId="stat-used" />
        <Stat label={t("requests")} value={user ? renderNumber(user.request_count) : "-"} testId="stat-requests" />
        <Stat label={t("periodRequests")} value={renderNumber(view.totals.requests)} testId="stat-period-requests" />
        <Stat label={t("periodQuota")} value={quota(view.totals.quota)} testId="stat-period-quota" />
        <Stat label={t("periodTokens")} value={renderNumber(view.totals.tokens)} testId="stat-period-tokens" />
      </SimpleGrid>
      {rows === null ? (
        <Group justify="center" p="xl">
          <Loader aria-label={t("common:loading")} />
        </Group>
      ) : (
        <Stack gap="md">
          {rows.length === 0 ? (
            <Text c="dimmed" ta="center">
              {t("noData")}
            </Text>
          ) : null}
          <SimpleGrid cols={{ base: 1, md: 2 }}>
            <ChartCard title={t("charts.requests")}>
              <AreaChart
                h={240}
                data={view.points}
                dataKey="day"
                series={[{ name: "requests", label: t("series.requests"), color: "blue.6" }]}
                curveType="monotone"
                yAxisProps={{ allowDecimals: false }}
                data-testid="chart-requests"
              />
            </ChartCard>
            <ChartCard title={t("charts.tokens")}>
              <AreaChart
                h={240}
                data={view.points}
                dataKey="day"
                type="stacked"
                series={[
                  { name: "prompt", label: t("series.prompt"), color: "teal.6" },
                  { name: "completion", label: t("series.completion"), color: "orange.6" },
                ]}
                curveType="monotone"
                withLegend
                yAxisProps={{ allowDecimals: false }}
                valueFormatter={renderNumber}
              />
            </ChartCard>
            <ChartCard title={t("charts.quota")}>
              <BarChart
                h={260}
                data={view.points}
                dataKey="day"
                type="stacked"
                series={series.length ? series : [{ name: "quota", label: t("series.quota"), color: "blue.6" }]}
                withLegend={series.length > 0}
                valueFormatter={quota}
                data-testid="chart-quota"
              />
            </ChartCard>
            <ChartCard title={t("charts.models")}>
              {donut.length ? (
                <Group align="center" justify="center" gap="lg" wrap="wrap">
                  <DonutChart data={donut} withTooltip valueFormatter={quota} chartLabel={quota(view.totals.quota)} />
                  <Table.ScrollContainer minWidth={260}>
                    <Table verticalSpacing={4} fz="sm">
                      <Table.Thead>
                        <Table.Tr>
                          <Table.Th>{t("table.model")}</Table.Th>
                          <Table.Th>{t("table.requests")}</Table.Th>
                          <Table.Th>{t("table.quota")}</Table.Th>
                        </Table.Tr>
                      </Table.Thead>
                      <Table.Tbody>
                        {view.shares.map((share) => (
                          <Table.Tr key={share.model}>
                            <Table.Td>{share.model}</Table.Td>
                            <Table.Td>{share.requests}</Table.Td>
                            <Table.Td>{quota(share.quota)}</Table.Td>
                          </Table.Tr>
                        ))}
                      </Table.Tbody>
                    </Table>
                  </Table.ScrollContainer>
                </Group>
              ) : (
                <Text c="dimmed" size="sm">
                  {t("noData")}
                </Text>
              )}
            </ChartCard>
          </SimpleGrid>
        </Stack>
      )}
    </>
  );
}
