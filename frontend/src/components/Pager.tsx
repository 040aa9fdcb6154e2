import { Button, Group, Text } from "@mantine/core";
import { IconChevronLeft, IconChevronRight } from "@tabler/icons-react";
import { useTranslation } from "react-i18next";

/** Previous / next for list endpoints that have no total count. */
export function Pager({ page, hasNext, onChange }: { page: number; hasNext: boolean; onChange: (page: number) => void }) {
  const { t } = useTranslation();
  return (
    <Group justify="flex-end" gap="xs" mt="sm">
      <Button
        variant="default"
        size="xs"
        leftSection={<IconChevronLeft size={14} />}
        disabled={page === 0}
        onClick={() => onChange(page - 1)}
      >
        {t("pagination.previous")}
      </Button>
      <Text size="sm" aria-live="polite">
        {t("pagination.page", { page: page + 1 })}
      </Text>
      <Button
        variant="default"
        size="xs"
        rightSection={<IconChevronRight size={14} />}
        disabled={!hasNext}
        onClick={() => onChange(page + 1)}
      >
        {t("pagination.next")}
      </Button>
    </Group>
  );
}
