import { Title } from "@mantine/core";

// Placeholder: this page is being written.
export default function TopUp() {
  return <Title order={2}>TopUp</Title>;
}
