// The shell: header with navigation (a drawer on phones), language and theme
// switches, the user menu, and the operator's footer with our attribution.
import {
  ActionIcon,
  Alert,
  AppShell,
  Avatar,
  Box,
  Burger,
  Group,
  Image,
  Menu,
  NavLink,
  ScrollArea,
  SegmentedControl,
  Text,
  Tooltip,
  UnstyledButton,
  useComputedColorScheme,
  useMantineColorScheme,
} from "@mantine/core";
import { useDisclosure } from "@mantine/hooks";
import {
  IconBrandOpenai,
  IconChartBar,
  IconCoin,
  IconHome,
  IconInfoCircle,
  IconKey,
  IconListDetails,
  IconLogout,
  IconMessage,
  IconMoon,
  IconPlugConnected,
  IconSettings,
  IconSun,
  IconTicket,
  IconUser,
  IconUsers,
} from "@tabler/icons-react";
import DOMPurify from "dompurify";
import type { ReactNode } from "react";
import { useTranslation } from "react-i18next";
import { Link, Outlet, useLocation, useNavigate } from "react-router";

import { useAuth } from "../context/AuthContext";
import { useStatus } from "../context/StatusContext";

interface NavItem {
  to: string;
  label: string;
  icon: ReactNode;
  show: boolean;
}

export function Layout() {
  const { t, i18n } = useTranslation();
  const { user, isAdmin, signOut } = useAuth();
  const { status } = useStatus();
  const [opened, { toggle, close }] = useDisclosure();
  const location = useLocation();
  const navigate = useNavigate();
  const { setColorScheme } = useMantineColorScheme();
  const scheme = useComputedColorScheme("light");

  const items: NavItem[] = [
    { to: "/", label: t("nav.home"), icon: <IconHome size={18} />, show: true },
    { to: "/channel", label: t("nav.channels"), icon: <IconPlugConnected size={18} />, show: isAdmin },
    { to: "/token", label: t("nav.tokens"), icon: <IconKey size={18} />, show: !!user },
    { to: "/redemption", label: t("nav.redemptions"), icon: <IconTicket size={18} />, show: isAdmin },
    { to: "/topup", label: t("nav.topup"), icon: <IconCoin size={18} />, show: !!user },
    { to: "/user", label: t("nav.users"), icon: <IconUsers size={18} />, show: isAdmin },
    { to: "/dashboard", label: t("nav.dashboard"), icon: <IconChartBar size={18} />, show: !!user },
    { to: "/log", label: t("nav.logs"), icon: <IconListDetails size={18} />, show: !!user },
    { to: "/playground", label: t("nav.playground"), icon: <IconBrandOpenai size={18} />, show: !!user },
    { to: "/chat", label: t("nav.chat"), icon: <IconMessage size={18} />, show: !!status?.chat_link },
    { to: "/setting", label: t("nav.settings"), icon: <IconSettings size={18} />, show: !!user },
    { to: "/about", label: t("nav.about"), icon: <IconInfoCircle size={18} />, show: true },
  ];

  const isActive = (to: string) =>
    to === "/" ? location.pathname === "/" : location.pathname === to || location.pathname.startsWith(`${to}/`);
  const language = i18n.resolvedLanguage === "zh" ? "zh" : "en";
  const systemName = status?.system_name || "One API";

  return (
    <AppShell
      header={{ height: 56 }}
      navbar={{ width: 220, breakpoint: "sm", collapsed: { mobile: !opened } }}
      padding="md"
    >
      <AppShell.Header>
        <Group h="100%" px="md" justify="space-between" wrap="nowrap">
          <Group gap="sm" wrap="nowrap">
            <Burger opened={opened} onClick={toggle} hiddenFrom="sm" size="sm" aria-label="menu" />
            <UnstyledButton component={Link} to="/" aria-label={systemName}>
              <Group gap="xs" wrap="nowrap">
                <Image src={status?.logo || "/favicon.svg"} alt="" w={28} h={28} fit="contain" />
                <Text fw={700} truncate>
                  {systemName}
                </Text>
              </Group>
            </UnstyledButton>
          </Group>
          <Group gap="xs" wrap="nowrap">
            <SegmentedControl
              size="xs"
              aria-label={t("language.label")}
              value={language}
              onChange={(lng) => void i18n.changeLanguage(lng)}
              data={[
                { value: "en", label: "EN" },
                { value: "zh", label: "中文" },
              ]}
            />
            <Tooltip label={t("theme.toggle")}>
              <ActionIcon
                variant="default"
                size="lg"
                aria-label={t("theme.toggle")}
                onClick={() => setColorScheme(scheme === "dark" ? "light" : "dark")}
              >
                {scheme === "dark" ? <IconSun size={18} /> : <IconMoon size={18} />}
              </ActionIcon>
            </Tooltip>
            {user ? (
              <Menu position="bottom-end">
                <Menu.Target>
                  <UnstyledButton aria-label={user.username} data-testid="user-menu">
                    <Avatar size="sm" color="blue">
                      {(user.display_name || user.username).slice(0, 1).toUpperCase()}
                    </Avatar>
                  </UnstyledButton>
                </Menu.Target>
                <Menu.Dropdown>
                  <Menu.Label>{user.display_name || user.username}</Menu.Label>
                  <Menu.Item leftSection={<IconUser size={16} />} onClick={() => navigate("/setting")}>
                    {t("nav.profile")}
                  </Menu.Item>
                  <Menu.Item
                    leftSection={<IconLogout size={16} />}
                    onClick={() => void signOut().finally(() => navigate("/login"))}
                  >
                    {t("nav.logout")}
                  </Menu.Item>
                </Menu.Dropdown>
              </Menu>
            ) : (
              <NavLink component={Link} to="/login" label={t("nav.login")} w="auto" />
            )}
          </Group>
        </Group>
      </AppShell.Header>

      <AppShell.Navbar p="xs" aria-label="main navigation">
        <ScrollArea>
          {items
            .filter((item) => item.show)
            .map((item) => (
              <NavLink
                key={item.to}
                component={Link}
                to={item.to}
                label={item.label}
                leftSection={item.icon}
                active={isActive(item.to)}
                onClick={close}
              />
            ))}
        </ScrollArea>
      </AppShell.Navbar>

      <AppShell.Main style={{ display: "flex", flexDirection: "column" }}>
        <Box style={{ flex: 1 }}>
          {__APP_VERSION__ && status?.version && status.version !== __APP_VERSION__ ? (
            <Alert color="yellow" mb="md" data-testid="version-banner">
              {t("newVersion", { version: status.version })}
            </Alert>
          ) : null}
          <Outlet />
        </Box>
        {/* In the page flow, not fixed: phones keep their whole height for content. */}
        <Box component="footer" mt="xl" py="sm">
          <Footer html={status?.footer_html ?? ""} />
        </Box>
      </AppShell.Main>
    </AppShell>
  );
}

/** The operator's footer HTML (sanitised), always followed by the attribution link. */
function Footer({ html }: { html: string }) {
  const { t } = useTranslation();
  return (
    <Group px="md" justify="center" gap="xs">
      {html ? (
        <Text size="xs" c="dimmed" span dangerouslySetInnerHTML={{ __html: DOMPurify.sanitize(html) }} />
      ) : null}
      <Text size="xs" c="dimmed" span data-testid="attribution">
        {t("footer.poweredBy")}
        <a href="https://github.com/songquanpeng/one-api" target="_blank" rel="noreferrer">
          songquanpeng/one-api
        </a>
      </Text>
    </Group>
  );
}
