// WeChat sign-in / bind: the user scans the operator's official-account QR code,
// gets a verification code from it and types it here.
import { Button, Image, Modal, Stack, Text, TextInput } from "@mantine/core";
import { useState, type FormEvent } from "react";
import { useTranslation } from "react-i18next";

export function WeChatModal({
  opened,
  onClose,
  qrCode,
  onSubmit,
}: {
  opened: boolean;
  onClose: () => void;
  qrCode: string;
  onSubmit: (code: string) => Promise<void>;
}) {
  const { t } = useTranslation("auth");
  const [code, setCode] = useState("");
  const [busy, setBusy] = useState(false);

  const submit = async (event: FormEvent) => {
    event.preventDefault();
    if (!code.trim()) return;
    setBusy(true);
    try {
      await onSubmit(code.trim());
    } finally {
      setBusy(false);
    }
  };

  return (
    <Modal opened={opened} onClose={onClose} title={t("wechat.title")} centered>
      <form onSubmit={(e) => void submit(e)}>
        <Stack>
          {qrCode ? <Image src={qrCode} alt={t("wechat.qrAlt")} maw={240} mx="auto" /> : null}
          <Text size="sm" c="dimmed">
            {t("wechat.hint")}
          </Text>
          <TextInput label={t("wechat.code")} value={code} onChange={(e) => setCode(e.currentTarget.value)} required />
          <Button type="submit" loading={busy}>
            {t("wechat.submit")}
          </Button>
        </Stack>
      </form>
    </Modal>
  );
}
