import { Title } from "@mantine/core";

// Placeholder: this page is being written.
export default function ResetConfirm() {
  return <Title order={2}>ResetConfirm</Title>;
}
