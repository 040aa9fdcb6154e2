import { Title } from "@mantine/core";

// Placeholder: this page is being written.
export default function About() {
  return <Title order={2}>About</Title>;
}
