import { Title } from "@mantine/core";

// Placeholder: this page is being written.
export default function RedemptionList() {
  return <Title order={2}>RedemptionList</Title>;
}
