import { Group, Title } from "@mantine/core";
import type { ReactNode } from "react";

/** A page title with the page's main actions on the right (wraps on phones). */
export function PageHeader({ title, children }: { title: string; children?: ReactNode }) {
  return (
    <Group justify="space-between" mb="md" gap="sm">
      <Title order={2}>{title}</Title>
      {children ? <Group gap="xs">{children}</Group> : null}
    </Group>
  );
}
