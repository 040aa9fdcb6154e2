import { Title } from "@mantine/core";

// Placeholder: this page is being written.
export default function ChannelList() {
  return <Title order={2}>ChannelList</Title>;
}
