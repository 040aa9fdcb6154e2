// The codes a batch create returned, with "copy all" and "download .txt" (the
// reference downloads them; showing them too lets the admin check the batch).
import { Button, Code, Group, Modal, ScrollArea, Stack, Text } from "@mantine/core";
import { IconCopy, IconDownload } from "@tabler/icons-react";
import { useTranslation } from "react-i18next";

import { copyOrShow } from "../token/CopyFallback";
import { keysFile } from "./redemptionForm";

function download(name: string, text: string): void {
  const url = URL.createObjectURL(new Blob([text], { type: "text/plain;charset=utf-8" }));
  const link = document.createElement("a");
  link.href = url;
  link.download = name;
  document.body.appendChild(link);
  link.click();
  link.remove();
  URL.revokeObjectURL(url);
}

export function CreatedKeys({ name, keys, onClose }: { name: string; keys: string[] | null; onClose: () => void }) {
  const { t } = useTranslation("redemption");
  const text = keysFile(keys ?? []);

  const copyAll = () => copyOrShow(text, t("copied"), t("copyManually"));

  return (
    <Modal opened={keys !== null} onClose={onClose} title={t("createdTitle", { count: keys?.length ?? 0 })} size="lg">
      <Stack gap="sm">
        <Text size="sm" c="dimmed">
          {t("createdHint")}
        </Text>
        <ScrollArea.Autosize mah={320}>
          <Stack gap={4}>
            {(keys ?? []).map((key) => (
              <Code key={key} block data-testid="created-key">
                {key}
              </Code>
            ))}
          </Stack>
        </ScrollArea.Autosize>
        <Group justify="flex-end">
          <Button variant="default" leftSection={<IconCopy size={16} />} onClick={() => void copyAll()}>
            {t("copyAll")}
          </Button>
          <Button
            leftSection={<IconDownload size={16} />}
            onClick={() => download(`redemption-${name || "codes"}.txt`, text)}
          >
            {t("download")}
          </Button>
          <Button variant="light" onClick={onClose}>
            {t("common:actions.close")}
          </Button>
        </Group>
      </Stack>
    </Modal>
  );
}
