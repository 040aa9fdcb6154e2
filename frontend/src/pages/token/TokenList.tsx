import { Title } from "@mantine/core";

// Placeholder: this page is being written.
export default function TokenList() {
  return <Title order={2}>TokenList</Title>;
}
