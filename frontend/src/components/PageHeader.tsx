import { Button, Group, Title } from "@mantine/core";
import { IconPlus, IconRefresh } from "@tabler/icons-react";
import type { ReactNode } from "react";
import { useTranslation } from "react-i18next";
import { Link } from "react-router";

/** A page title with the page's main actions on the right (wraps on phones). */
export function PageHeader({ title, children }: { title: string; children?: ReactNode }) {
  return (
    <Group justify="space-between" mb="md" gap="sm">
      <Title order={2}>{title}</Title>
      {children ? <Group gap="xs">{children}</Group> : null}
    </Group>
  );
}

/** A list page's header: its title, an "add" link and a refresh button. */
export function ListHeader({
  title,
  addTo,
  addLabel,
  loading,
  onRefresh,
}: {
  title: string;
  addTo: string;
  addLabel: string;
  loading: boolean;
  onRefresh: () => void;
}) {
  const { t } = useTranslation();
  return (
    <PageHeader title={title}>
      <Button component={Link} to={addTo} leftSection={<IconPlus size={16} />}>
        {addLabel}
      </Button>
      <Button variant="default" leftSection={<IconRefresh size={16} />} loading={loading} onClick={onRefresh}>
        {t("actions.refresh")}
      </Button>
    </PageHeader>
  );
}
