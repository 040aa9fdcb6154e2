import { Title } from "@mantine/core";

// Placeholder: this page is being written.
export default function Playground() {
  return <Title order={2}>Playground</Title>;
}
