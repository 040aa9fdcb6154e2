import { Title } from "@mantine/core";

// Placeholder: this page is being written.
export default function LogList() {
  return <Title order={2}>LogList</Title>;
}
