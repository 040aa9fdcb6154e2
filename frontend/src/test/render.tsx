// Render a component inside the providers the app gives it (for Vitest).
import { MantineProvider } from "@mantine/core";
import { ModalsProvider } from "@mantine/modals";
import { Notifications } from "@mantine/notifications";
import { render, type RenderResult } from "@testing-library/react";
import type { ReactElement } from "react";
import { MemoryRouter } from "react-router";

import { AuthProvider } from "../context/AuthContext";
import { StatusProvider } from "../context/StatusContext";
import { theme } from "../theme";

export function renderWithProviders(ui: ReactElement, { route = "/" }: { route?: string } = {}): RenderResult {
  return render(
    <MantineProvider theme={theme}>
      <ModalsProvider>
        <Notifications />
        <MemoryRouter initialEntries={[route]}>
          <StatusProvider>
            <AuthProvider>{ui}</AuthProvider>
          </StatusProvider>
        </MemoryRouter>
      </ModalsProvider>
    </MantineProvider>
  );
}
