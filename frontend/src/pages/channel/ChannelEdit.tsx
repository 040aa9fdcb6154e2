import { Title } from "@mantine/core";

// Placeholder: this page is being written.
export default function ChannelEdit() {
  return <Title order={2}>ChannelEdit</Title>;
}
