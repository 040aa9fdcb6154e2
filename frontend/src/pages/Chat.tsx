import { Title } from "@mantine/core";

// Placeholder: this page is being written.
export default function Chat() {
  return <Title order={2}>Chat</Title>;
}
