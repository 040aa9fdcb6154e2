// Chat: the operator's ChatLink (e.g. a ChatGPT-Next-Web deployment) in a frame.
import { Alert, Box } from "@mantine/core";
import { useTranslation } from "react-i18next";

import { useStatus } from "../context/StatusContext";

export default function Chat() {
  const { t } = useTranslation("home");
  const { status } = useStatus();
  const link = status?.chat_link ?? "";
  if (!link) return <Alert color="yellow">{t("chat.none")}</Alert>;
  return (
    <Box
      component="iframe"
      src={link}
      title={t("chat.title")}
      style={{ width: "100%", height: "calc(100vh - 140px)", border: "none" }}
    />
  );
}
