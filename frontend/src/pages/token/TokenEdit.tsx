import { Title } from "@mantine/core";

// Placeholder: this page is being written.
export default function TokenEdit() {
  return <Title order={2}>TokenEdit</Title>;
}
