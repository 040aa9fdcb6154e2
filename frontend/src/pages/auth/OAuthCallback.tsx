import { Title } from "@mantine/core";

// Placeholder: this page is being written.
export default function OAuthCallback() {
  return <Title order={2}>OAuthCallback</Title>;
}
