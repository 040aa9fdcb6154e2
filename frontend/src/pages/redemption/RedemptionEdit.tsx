import { Title } from "@mantine/core";

// Placeholder: this page is being written.
export default function RedemptionEdit() {
  return <Title order={2}>RedemptionEdit</Title>;
}
