import { Container, Paper, Title } from "@mantine/core";
import type { ReactNode } from "react";

/** The narrow card the sign-in pages share (full width on phones). */
export function AuthCard({ title, children }: { title: string; children: ReactNode }) {
  return (
    <Container size={420} px={0} my="xl">
      <Title order={2} ta="center" mb="md">
        {title}
      </Title>
      <Paper withBorder shadow="sm" p={{ base: "md", sm: "xl" }} radius="md">
        {children}
      </Paper>
    </Container>
  );
}
